"""Renders an SLA report as JSON, CSV or a standalone HTML page, plus the cell formatting exports share.

JSON shape (``"version": 1``; times ISO 8601 UTC with ``Z``; durations in seconds as numbers or
``null`` when nothing was acknowledged; shares as ratios 0..1 or ``null`` when nothing is measured)::

    {
      "report": "sla",
      "version": 1,
      "generated_at": "2026-11-23T08:00:00Z",
      "target_minutes": 5.0,
      "target_seconds": 300.0,
      "period": {"since": "2026-11-01T00:00:00Z" | null, "until": "..." | null},
      "categories": [                      # issue, change_request, question, feedback (+ others)
        {"category": "issue", "items": 12, "acknowledged": 10, "pending": 1, "overdue": 1,
         "within_target": 5, "measured": 11, "within_target_share": 0.454545...,
         "ack_seconds": {"p50": 330.0, "p90": 546.0, "max": 600.0}},
        ...
      ],
      "all": {"category": "all", ...same keys...}
    }

CSV: a header row, then one row per category and the ``all`` row last, with the columns in
:data:`CSV_COLUMNS`; durations in seconds with one decimal, the share as a ratio with four
decimals, empty cells for "none".
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reports.sla import CategorySla, SlaReport

FORMATS = ("json", "csv", "html")
CSV_COLUMNS = ("category", "items", "acknowledged", "pending", "overdue", "within_target", "measured",
               "within_target_share", "p50_seconds", "p90_seconds", "max_seconds", "target_minutes")
TEMPLATES = Path(__file__).with_name("templates")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
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


def human_duration(seconds: float | None) -> str:
    """SECONDS for people: "0.4 s", "45 s", "1 min 12 s", "2 h 5 min", "3 d 4 h"; "—" for None."""
    if seconds is None:
        return "—"
    tenths = round(seconds, 1)
    if tenths < 10 and tenths != int(tenths):
        return f"{tenths:.1f} s"
    total = int(round(seconds))
    if total < 60:
        return f"{total} s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [(days, "d"), (hours, "h")]
    elif hours:
        parts = [(hours, "h"), (minutes, "min")]
    else:
        parts = [(minutes, "min"), (secs, "s")]
    return " ".join([f"{parts[0][0]} {parts[0][1]}"] + [f"{n} {u}" for n, u in parts[1:] if n])


def percent(share: float | None) -> str:
    """A share 0..1 as a percentage with one decimal, "—" for None."""
    return "—" if share is None else f"{share * 100:.1f}%"


def _row_dict(row: CategorySla) -> dict[str, Any]:
    return {
        "category": row.category,
        "items": row.items,
        "acknowledged": row.acknowledged,
        "pending": row.pending,
        "overdue": row.overdue,
        "within_target": row.within_target,
        "measured": row.measured,
        "within_target_share": row.within_target_share,
        "ack_seconds": {"p50": row.p50_seconds, "p90": row.p90_seconds, "max": row.max_seconds},
    }


def sla_to_dict(report: SlaReport) -> dict[str, Any]:
    """The report as the JSON-ready dictionary described in this module's docstring."""
    return {
        "report": "sla",
        "version": 1,
        "generated_at": iso_utc(report.generated_at),
        "target_minutes": report.target_minutes,
        "target_seconds": report.target_seconds,
        "period": {"since": iso_utc(report.since), "until": iso_utc(report.until)},
        "categories": [_row_dict(r) for r in report.categories],
        "all": _row_dict(report.total),
    }


def _render_json(report: SlaReport) -> str:
    return json.dumps(sla_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _render_csv(report: SlaReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        share = r.within_target_share
        writer.writerow([spreadsheet_safe(r.category), r.items, r.acknowledged, r.pending, r.overdue,
                         r.within_target, r.measured, "" if share is None else f"{share:.4f}",
                         _secs(r.p50_seconds), _secs(r.p90_seconds), _secs(r.max_seconds),
                         f"{report.target_minutes:g}"])
    return buf.getvalue()


def _chart(report: SlaReport) -> dict[str, Any]:
    """Geometry of the horizontal bar chart: one bar per row, width = share within target."""
    label_w, bar_w, bar_h, gap, top = 130, 400, 22, 10, 24
    bars = []
    for i, r in enumerate(report.rows):
        share = r.within_target_share
        bars.append({"label": r.category, "y": top + i * (bar_h + gap), "width": round((share or 0) * bar_w, 1),
                     "text": percent(share) if share is not None else "no data", "total": r.category == "all"})
    height = top + len(bars) * (bar_h + gap) + 8
    return {"label_w": label_w, "bar_w": bar_w, "bar_h": bar_h, "width": label_w + bar_w + 80,
            "height": height, "bars": bars, "ticks": [(p, label_w + bar_w * p / 100) for p in (0, 50, 100)]}


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _render_html(report: SlaReport) -> str:
    rows = [{"category": r.category, "items": r.items, "acknowledged": r.acknowledged, "pending": r.pending,
             "overdue": r.overdue, "within_target": r.within_target, "share": percent(r.within_target_share),
             "p50": human_duration(r.p50_seconds), "p90": human_duration(r.p90_seconds),
             "max": human_duration(r.max_seconds), "total": r.category == "all"} for r in report.rows]
    return _env.get_template("sla.html").render(
        target=human_duration(report.target_seconds),
        since=_stamp(report.since), until=_stamp(report.until), generated_at=_stamp(report.generated_at),
        rows=rows, chart=_chart(report))


def render_sla(report: SlaReport, fmt: str) -> str:
    """REPORT rendered as FMT: "json", "csv" or "html" (a standalone page)."""
    if fmt == "json":
        return _render_json(report)
    if fmt == "csv":
        return _render_csv(report)
    if fmt == "html":
        return _render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
