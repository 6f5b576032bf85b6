"""Renders the SLA report as JSON, CSV, a standalone HTML page or an HTML fragment, plus shared cell
formatting.

Rounding, the same in every format: durations are seconds rounded to 0.1 s, compliance a ratio 0..1
rounded to 4 decimals (the HTML shows it as a percentage with one decimal and the duration for people,
with the exact rounded figure in each cell's ``data-value``); counts are exact. "None" is ``null``
in JSON, an empty CSV cell, "—" (``data-value=""``) in HTML.

JSON shape (``"version": 2``; instants ISO 8601 UTC with ``Z``, days ``YYYY-MM-DD``)::

    {
      "report": "sla", "version": 2,
      "generated_at": "2026-11-23T12:00:00Z",          # "now": running clocks are measured up to it
      "period": {"since": "2026-11-09", "until": "2026-11-22", "timezone": "UTC",
                 "start": "2026-11-09T00:00:00Z", "end": "2026-11-23T00:00:00Z"},   # [start, end)
      "by": "category",                                 # category | organization | assignee | week
      "organizations": null | [3, 5],                   # the report's limit to organizations' ids
      "clocks": ["acknowledge", "first_response", "resolution"],
      "rounding": {"seconds_decimals": 1, "compliance_decimals": 4},
      "groups": [GROUP, ...],                           # in report order
      "all": GROUP,                                     # the total, key "all"
      "charts": {
        "response_times": {"buckets": [{"label": "< 1 h", "from_seconds": 0, "to_seconds": 3600}, ...],
                           "counts": {"acknowledge": [7, 0, ...], "first_response": [...], "resolution":
                           [...]}},
        "weekly_compliance": [{"week": "2026-W47", "since": "2026-11-16", "until": "2026-11-22",
                               "first_response": {"met": 5, "measured": 8, "compliance": 0.625},
                               "resolution": {...}}, ...],
        "breached_by_organization": [{"id": 3 | null, "name": "Acme", "breached_items": 2}, ...]
      }
    }
    GROUP = {"key": "issue", "label": "issue", "id": null | 12, "since": "...", "until": "...",
             "items": 4, "breached_items": 1,
             "links": {"items": "<base>/?category=issue&since=...&until=...", "breached": "...&sla=breached"}
             | null, "clocks": {"acknowledge": CLOCK, "first_response": CLOCK, "resolution": CLOCK}, "csat":
             CSAT}
    CSAT = {"surveys_sent": 10, "responses": 6, "response_rate": 0.6, "average": 4.1667, "satisfied_share":
    0.8333} (reports.csat defines them; the report's "csat" lists each group's and the total's, the same
    figures.) CLOCK = {"items": 4, "measured": 4, "met": 3, "missed": 1, "breached_open": 0, "at_risk": 0,
    "on_track": 0,
             "no_target": 0, "stopped": 4, "compliance": 0.75, "seconds": {"p50": 210.0, "p90": 366.0, "max":
             420.0}}

CSV: a header (:data:`CSV_COLUMNS`), then one row per group and clock, in report order, then the three
``all`` rows (``group_by`` = "all"); ``breached_items`` and the ``csat_*`` figures are the group's, repeated
on its three rows.

HTML: an overview table (items, breached items, each clock's compliance per group) and one table per clock;
every figure cell has ``data-figure`` (a CLOCK key, ``items`` or ``breached_items``) and ``data-value`` (the
figure as in CSV), its row ``data-group`` (the group's key), and the clock is the table's ``data-clock`` (the
overview's compliance cells carry their own). :func:`render_sla_fragment` is the body alone, for the web app.

Links (HTML, and ``links`` in JSON) open the PM queue filtered to the items behind a figure: the group's
category / ``org`` / ``assignee`` (``none`` for unassigned) and its days, plus ``sla=breached`` for
missed, breached_open and breached_items. Zero counts, "—" and groups the queue cannot select (no
organization, an unknown category) have no link. The queue filters on UTC days: with a report time
zone other than UTC a link's days are the report's local days.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reports.charts import sla_charts
from reports.csat import CsatFigures
from reports.csat import as_dict as csat_dict
from reports.policy import MEASURES
from reports.sla_groups import (
    BUCKETS,
    CATEGORY_NAMES,
    NO_ORGANIZATION,
    UNASSIGNED,
    ClockFigures,
    Group,
    SlaReport,
    queue_href,
)

FORMATS = ("json", "csv", "html")
CSV_COLUMNS = ("group_by", "group", "group_id", "clock", "items", "measured", "met", "missed",
               "breached_open",
               "at_risk", "on_track", "no_target", "stopped", "compliance", "p50_seconds", "p90_seconds",
               "max_seconds", "breached_items", "since", "until", "csat_sent", "csat_responses",
               "csat_response_rate", "csat_average", "csat_satisfied_share")
COUNTS = ("items", "measured", "met", "missed", "breached_open", "at_risk", "on_track", "no_target",
          "stopped")
BREACH_FIGURES = frozenset(("missed", "breached_open", "breached_items"))
SECONDS_DECIMALS, SHARE_DECIMALS = 1, 4
TEMPLATES = Path(__file__).with_name("templates")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Shared and never changed after creation: each render passes its own _() in the context, so
# concurrent renders in different languages cannot mix.
STATIC = Path(__file__).with_name("static")
_env = Environment(loader=FileSystemLoader([str(TEMPLATES), str(STATIC)]), autoescape=True,
                   undefined=StrictUndefined,
                   keep_trailing_newline=True)


def iso_utc(value: datetime | None) -> str | None:
    """VALUE as ISO 8601 in UTC with a ``Z`` suffix (microseconds only when non-zero); None stays None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def spreadsheet_safe(text: str) -> str:
    """TEXT with a leading apostrophe when it starts with =, +, -, @, tab or CR.

    Spreadsheets run such a cell as a formula (CSV/formula injection); the apostrophe makes them
    show it as text. Use it on text cells only, never on numbers.
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


# Units of human_duration per language: days, hours, minutes, seconds.
UNITS = {"en": ("d", "h", "min", "s"), "zh": ("天", "小时", "分钟", "秒")}


def human_duration(seconds: float | None, lang: str = "en") -> str:
    """SECONDS for people: "0.4 s", "45 s", "1 min 12 s", "2 h 5 min", "3 d 4 h" (in Chinese "3 天 4 小时");
    "—" for None."""
    if seconds is None:
        return "—"
    d, h, m, s = UNITS.get(lang, UNITS["en"])
    tenths = round(seconds, 1)
    if tenths < 10 and tenths != int(tenths):
        return f"{tenths:.1f} {s}"
    total = int(round(seconds))
    if total < 60:
        return f"{total} {s}"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, d), (hours, h)]
    elif hours:
        parts = [(hours, h), (minutes, m)]
    else:
        parts = [(minutes, m), (secs, s)]
    return " ".join([f"{parts[0][0]} {parts[0][1]}"] + [f"{n} {u}" for n, u in parts[1:] if n])


def percent(share: float | None) -> str:
    """A share 0..1 as a percentage with one decimal, "—" for None."""
    return "—" if share is None else f"{share * 100:.1f}%"


def seconds_figure(value: float | None) -> float | None:
    """A duration as every format shows it: seconds rounded to 0.1."""
    return None if value is None else round(value, SECONDS_DECIMALS)


def share_figure(value: float | None) -> float | None:
    """A compliance ratio as every format shows it: rounded to 4 decimals."""
    return None if value is None else round(value, SHARE_DECIMALS)


def _durations(c: ClockFigures) -> dict[str, float | None]:
    return {"p50": seconds_figure(c.p50_seconds), "p90": seconds_figure(c.p90_seconds),
            "max": seconds_figure(c.max_seconds)}


def _links(g: Group, base_url: str) -> dict[str, str | None] | None:
    items = queue_href(base_url, g.queue_params())
    return None if items is None else {"items": items, "breached": queue_href(base_url, g.queue_params(True))}


def _group_dict(g: Group, base_url: str) -> dict[str, Any]:
    return {"key": g.key, "label": g.label, "id": g.id, "since": g.since.isoformat(),
            "until": g.until.isoformat(),
            "items": g.items, "breached_items": g.breached_items, "links": _links(g, base_url),
            "clocks": {c.clock: {**{k: getattr(c, k) for k in COUNTS},
                                 "compliance": share_figure(c.compliance),
                                 "seconds": _durations(c)} for c in g.clocks},
            "csat": csat_dict(g.csat)}


def sla_to_dict(report: SlaReport, base_url: str = "") -> dict[str, Any]:
    """The report as the JSON-ready dictionary described in this module's docstring."""
    weekly = [{"week": w.key, "since": w.since.isoformat(), "until": w.until.isoformat(),
               **{m: {"met": w.clock(m).met, "measured": w.clock(m).measured,
                      "compliance": share_figure(w.clock(m).compliance)} for m in ("first_response",
                                                                                   "resolution")}}
              for w in report.weeks]
    return {
        "report": "sla",
        "version": 2,
        "generated_at": iso_utc(report.generated_at),
        "period": {"since": report.since.isoformat(), "until": report.until.isoformat(),
                   "timezone": report.tz,
                   "start": iso_utc(report.start), "end": iso_utc(report.end)},
        "by": report.by,
        "organizations": None if report.organizations is None else list(report.organizations),
        "clocks": list(MEASURES),
        "rounding": {"seconds_decimals": SECONDS_DECIMALS, "compliance_decimals": SHARE_DECIMALS},
        "groups": [_group_dict(g, base_url) for g in report.groups],
        "all": _group_dict(report.total, base_url),
        # Satisfaction surveys per group (reports.csat), also inside each group above.
        "csat": {"groups": [{"key": g.key, "label": g.label, **csat_dict(g.csat)} for g in report.groups],
                 "total": csat_dict(report.total.csat)},
        "charts": {
            "response_times": {"buckets": [{"label": b.label, "from_seconds": b.low, "to_seconds": b.high}
                                           for b in BUCKETS],
                               "counts": {m: list(report.distributions[m]) for m in MEASURES}},
            "weekly_compliance": weekly,
            "breached_by_organization": [{"id": o.id, "name": o.name, "breached_items": o.breached_items}
                                         for o in report.breached_by_organization],
        },
    }


def _csat_cells(f: CsatFigures) -> list[str | int]:
    return [f.surveys_sent, f.responses, _cell(f.response_rate, SHARE_DECIMALS),
            _cell(f.average, SHARE_DECIMALS),
            _cell(f.satisfied_share, SHARE_DECIMALS)]


def _cell(value: float | None, decimals: int) -> str:
    return "" if value is None else f"{value:.{decimals}f}"


def _render_csv(report: SlaReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for g in report.rows:
        for c in g.clocks:
            d = _durations(c)
            writer.writerow([g.by, spreadsheet_safe(g.label), "" if g.id is None else g.id, c.clock,
                             *(getattr(c, k) for k in COUNTS),
                             _cell(share_figure(c.compliance), SHARE_DECIMALS),
                             _cell(d["p50"], 1), _cell(d["p90"], 1), _cell(d["max"], 1), g.breached_items,
                             g.since.isoformat(), g.until.isoformat(), *_csat_cells(g.csat)])
    return buf.getvalue()


# --- HTML --------------------------------------------------------------------------------------------

Gettext = Callable[..., str]


def _gettext(gettext: Callable[..., str] | None) -> Gettext:
    """_(msgid, **values): GETTEXT(msgid) (identity by default) with %(name)s placeholders filled in."""
    def _(message: str, **values: Any) -> str:
        text = gettext(message) if gettext is not None else message
        return text % values if values else text
    return _


def _label(g: Group, _: Gettext) -> str:
    if g.by == "all":
        return _("All items")
    if g.id is None and g.label in (NO_ORGANIZATION, UNASSIGNED):
        return _(g.label)
    if g.by == "category" and g.key in CATEGORY_NAMES:
        return _(CATEGORY_NAMES[g.key])
    return g.label


def _figure(name: str, value: float | None, text: str, g: Group, base_url: str) -> dict[str, Any]:
    # A count of 0 has no items behind it; a share or duration of 0 does.
    linked = value is not None and (value != 0 or name not in (*COUNTS, "breached_items"))
    href = queue_href(base_url, g.queue_params(name in BREACH_FIGURES)) if linked else None
    if value is None:
        data = ""
    elif name == "compliance":
        data = _cell(value, SHARE_DECIMALS)
    elif isinstance(value, float):
        data = _cell(value, SECONDS_DECIMALS)
    else:
        data = str(value)
    return {"figure": name, "value": data, "text": text, "href": href}


def _clock_cells(g: Group, c: ClockFigures, base_url: str) -> list[dict[str, Any]]:
    cells = [_figure(k, getattr(c, k), str(getattr(c, k)), g, base_url) for k in COUNTS]
    share = share_figure(c.compliance)
    cells.insert(COUNTS.index("stopped"), _figure("compliance", share, percent(share), g, base_url))
    cells += [_figure(k, v, human_duration(v), g, base_url) for k, v in _durations(c).items()]
    return cells


def _csat_figures(f: CsatFigures) -> list[dict[str, Any]]:
    """The CSAT cells of a row: counts, the response rate and share as percentages, the average to 0.01."""
    def cell(name: str, value: float | int | None, text: str) -> dict[str, Any]:
        shown = "" if value is None else (str(value) if isinstance(value,
                                                                   int) else _cell(value, SHARE_DECIMALS))
        return {"figure": name, "value": shown, "text": text, "href": None}

    return [cell("csat_sent", f.surveys_sent, str(f.surveys_sent)),
            cell("csat_responses", f.responses, str(f.responses)),
            cell("csat_response_rate", f.response_rate, percent(f.response_rate)),
            cell("csat_average", f.average, "—" if f.average is None else f"{f.average:.2f}"),
            cell("csat_satisfied_share", f.satisfied_share, percent(f.satisfied_share))]


def _row(g: Group, cells: list[dict[str, Any]], _: Gettext) -> dict[str, Any]:
    return {"key": g.key, "label": _label(g, _), "total": g.by == "all", "cells": cells,
            "dates": f"{g.since.isoformat()} – {g.until.isoformat()}" if g.by == "week" else ""}


def _context(report: SlaReport, base_url: str, _: Gettext) -> dict[str, Any]:
    titles = {"acknowledge": _("Time to acknowledge"), "first_response": _("Time to first response"),
              "resolution": _("Time to resolution")}
    overview = [_row(g, [_figure("items", g.items, str(g.items), g, base_url),
                         _figure("breached_items", g.breached_items, str(g.breached_items), g, base_url),
                         *(dict(_figure("compliance", share_figure(c.compliance),
                                        percent(share_figure(c.compliance)),
                                        g, base_url), clock=c.clock) for c in g.clocks)], _)
                for g in report.rows]
    tables = [{"clock": m, "title": titles[m],
               "rows": [_row(g, _clock_cells(g, g.clock(m), base_url),
                             _) for g in report.rows]} for m in MEASURES]
    csat = [_row(g, _csat_figures(g.csat), _) for g in report.rows]
    by_titles = {"category": _("Category"), "organization": _("Organization"), "assignee": _("Assignee"),
                 "week": _("Week")}
    return {"_": _, "report": report, "by_title": by_titles[report.by], "titles": titles,
            "overview": overview,
            "tables": tables, "charts": sla_charts(report, _, base_url), "csat": csat,
            "since": report.since.isoformat(), "until": report.until.isoformat(),
            "generated_at": report.generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def render_sla_fragment(report: SlaReport, base_url: str = "",
                        gettext: Callable[[str], str] | None = None) -> Markup:
    """The report's body (headings, tables, charts) for embedding in a page: no <html>, <head> or <style>,
    no style attributes (fine under ``style-src 'self'``). GETTEXT(msgid) translates every visible string."""
    _ = _gettext(gettext)
    return Markup(_env.get_template("sla_body.html").render(_context(report, base_url, _)))


def _render_html(report: SlaReport, base_url: str, gettext: Callable[[str], str] | None) -> str:
    _ = _gettext(gettext)
    body = Markup(_env.get_template("sla_body.html").render(_context(report, base_url, _)))
    return _env.get_template("sla.html").render(_=_, body=body)


def render_sla(report: SlaReport, fmt: str, base_url: str = "",
               gettext: Callable[[str], str] | None = None) -> str:
    """REPORT rendered as FMT: "json", "csv" or "html" (a standalone page); links go to BASE_URL's queue
    (relative links without it). GETTEXT translates the HTML page's text (English by default)."""
    if fmt == "json":
        return json.dumps(sla_to_dict(report, base_url), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _render_csv(report)
    if fmt == "html":
        return _render_html(report, base_url, gettext)
    raise ValueError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
