"""The SLA report's three charts as inline SVG: response-time buckets, weekly compliance, breaches per client.

Plain SVG made here (no JavaScript, no external assets): colours and fonts are presentation attributes
and class names, never ``style``, so the charts work under a ``style-src 'self'`` CSP. Every label is
escaped, and every user-visible string goes through the GETTEXT given (``_(msgid, **values)``).
Bars are ``<rect class="bar ...">``; counts and shares are those of the report (see reports.sla).
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from reports.sla_groups import BUCKETS, NO_ORGANIZATION, SlaReport, queue_href

Gettext = Callable[..., str]
FONT = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
INK, MUTED, GRID = "#1f2328", "#59636e", "#d1d9e0"
COLOURS = {"first_response": "#1f6feb", "resolution": "#8250df", "breached": "#cf222e"}
_TEXT_W = 6.6  # average width of a 12 px character, to keep labels from overlapping


def _text_width(text: str) -> float:
    """About how wide TEXT is at 12 px: a Chinese (wide) character takes about two Latin ones' room."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text) * _TEXT_W


def nice_ticks(top: float, intervals: int = 5) -> list[float]:
    """Round tick values from 0 to at least TOP: steps of 1, 2 or 5 times a power of ten (at least 1)."""
    if top <= 0:
        return [0, 1]
    raw = top / intervals
    power = 10 ** math.floor(math.log10(raw))
    step = max(1, next(m * power for m in (1, 2, 5, 10) if m * power >= raw))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _attrs(**values: object) -> str:
    # class_ -> class; values escaped for attributes (and so for XML too)
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(_fmt(v) if isinstance(v, float) else v)}"'
                    for k, v in values.items() if v is not None)


def _text(x: float, y: float, label: str, anchor: str = "middle", size: int = 12, fill: str = INK,
          cls: str = "label", weight: str | None = None) -> str:
    attrs = _attrs(x=float(x), y=float(y), text_anchor=anchor, font_size=size, fill=fill, class_=cls,
                   font_weight=weight)
    return (f"<text {attrs}>"
            f"{escape(label)}</text>")


def _bar(x: float, y: float, w: float, h: float, fill: str, cls: str, tip: str, href: str | None) -> str:
    attrs = _attrs(class_=cls, x=float(x), y=float(y), width=float(max(w, 0.0)), height=float(max(h, 0.0)),
                   fill=fill)
    rect = (f"<rect {attrs}>"
            f"<title>{escape(tip)}</title></rect>")
    return f"<a {_attrs(href=href)}>{rect}</a>" if href else rect


def _svg(width: float, height: float, title: str, body: list[str], cls: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" '
            f"{_attrs(class_='sla-chart ' + cls, width=float(width), height=float(height))} "
            f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" role="img" font-family="{escape(FONT)}">'
            f"<title>{escape(title)}</title>")
    return Markup(head + "".join(body) + "</svg>")


def _y_axis(ticks: Sequence[float], left: float, right: float, y_of: Callable[[float], float],
            label: Callable[[float], str]) -> list[str]:
    out = []
    for t in ticks:
        y = y_of(t)
        grid = _attrs(x1=float(left), y1=y, x2=float(right), y2=y, stroke=GRID, class_="grid")
        out.append(f"<line {grid}/>")
        out.append(_text(left - 6, y + 4, label(t), anchor="end", fill=MUTED, cls="tick"))
    return out


def response_time_chart(report: SlaReport, _: Gettext, clock: str = "first_response") -> Markup:
    """Vertical bars: the stopped CLOCK clocks per bucket of counted time."""
    counts = report.distributions[clock]
    left, right, top, bottom, band = 52, 16, 34, 46, 80
    width, plot_h = left + band * len(BUCKETS) + right, 180
    height = top + plot_h + bottom
    ticks = nice_ticks(max(counts))

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * v / ticks[-1]

    body = _y_axis(ticks, left, width - right, y_of, lambda t: str(int(t)))
    body.append(_text(left - 6, top - 14, _("Items"), anchor="end", fill=MUTED, cls="axis-title"))
    for i, (bucket, n) in enumerate(zip(BUCKETS, counts, strict=True)):
        x = left + i * band
        name = _(bucket.label)
        body.append(_bar(x + band * 0.18, y_of(n), band * 0.64, y_of(0) - y_of(n), COLOURS["first_response"],
                         "bar",
                         _("%(bucket)s: %(count)s", bucket=name, count=n), None))
        body.append(_text(x + band / 2, y_of(n) - 5, str(n), cls="value"))
        body.append(_text(x + band / 2, top + plot_h + 18, name))
    axis = _attrs(x1=float(left), y1=y_of(0), x2=float(width - right), y2=y_of(0), stroke=MUTED)
    body.append(f"<line {axis}/>")
    body.append(_text(left + band * len(BUCKETS) / 2, height - 8, _("Counted time to first response"),
                      fill=MUTED, cls="axis-title"))
    return _svg(width, height, _("Time to first response: stopped clocks per range of counted time"), body,
                "sla-chart-times")


def weekly_compliance_chart(report: SlaReport, _: Gettext, base_url: str = "") -> Markup:
    """Grouped vertical bars per ISO week: first-response and resolution compliance (0..100%)."""
    series = (("first_response", _("First response")), ("resolution", _("Resolution")))
    weeks = report.weeks
    band = max(30.0, min(110.0, 780 / max(len(weeks), 1)))
    left, right, top, bottom, plot_h = 52, 16, 40, 52, 180
    width = max(left + band * len(weeks) + right, 360)
    height = top + plot_h + bottom

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * v

    body = _y_axis([0, 0.25, 0.5, 0.75, 1.0], left, width - right, y_of, lambda t: f"{t * 100:.0f}%")
    every = max(1, math.ceil(44 / band))  # a label every EVERY weeks, so week labels never overlap
    bar_w = band * 0.34
    for i, week in enumerate(weeks):
        x = left + i * band
        href = queue_href(base_url, week.queue_params())
        for j, (clock, name) in enumerate(series):
            share = week.clock(clock).compliance
            bx = x + band * 0.14 + j * bar_w
            if share is None:  # nothing measured that week: no bar, a dash on the axis
                body.append(_text(bx + bar_w / 2, y_of(0) - 4, "–", fill=MUTED, cls="empty"))
                continue
            share = round(share, 4)
            tip = _("%(week)s, %(clock)s: %(share)s", week=week.key, clock=name, share=f"{share * 100:.1f}%")
            body.append(_bar(bx, y_of(share), bar_w, y_of(0) - y_of(share), COLOURS[clock],
                             f"bar bar-{clock}",
                             tip, href))
            if bar_w >= 26:
                body.append(_text(bx + bar_w / 2, y_of(share) - 4, f"{share * 100:.0f}%", size=10,
                                  cls="value"))
        if i % every == 0:
            body.append(_text(x + band / 2, top + plot_h + 17, week.key[-3:]))
            if band >= 44:  # the week's first day in the period: a range would not fit under a bar pair
                body.append(_text(x + band / 2, top + plot_h + 31, f"{week.since:%m-%d}", size=10,
                                  fill=MUTED))
    axis = _attrs(x1=float(left), y1=y_of(0), x2=float(width - right), y2=y_of(0), stroke=MUTED)
    body.append(f"<line {axis}/>")
    lx = left
    for clock, name in series:  # legend, above the plot
        key = _attrs(x=float(lx), y=10.0, width=12.0, height=12.0, fill=COLOURS[clock], class_="legend")
        body.append(f"<rect {key}/>")
        body.append(_text(lx + 17, 20, name, anchor="start"))
        lx += 17 + _text_width(name) + 24
    body.append(_text(left + band * len(weeks) / 2, height - 6, _("ISO week items were received in"),
                      fill=MUTED,
                      cls="axis-title"))
    return _svg(width, height, _("Compliance per week: first response and resolution"), body,
                "sla-chart-weekly")


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def breaches_chart(report: SlaReport, _: Gettext, base_url: str = "") -> Markup:
    """Horizontal bars: breached items per client organization, most first (top 15)."""
    rows = report.breached_by_organization
    left, right, top, row_h = 200, 48, 30, 26
    width = 640
    if not rows:
        return _svg(width, 50, _("Breached items per client organization"),
                    [_text(width / 2, 30, _("No breached items in this period."), fill=MUTED, cls="empty")],
                    "sla-chart-orgs")
    height = top + row_h * len(rows) + 12
    ticks = nice_ticks(max(r.breached_items for r in rows))
    plot_w = width - left - right

    def x_of(v: float) -> float:
        return left + plot_w * v / ticks[-1]

    body = []
    for t in ticks:
        x = x_of(t)
        grid = _attrs(x1=x, y1=float(top - 6), x2=x, y2=float(height - 8), stroke=GRID, class_="grid")
        body.append(f"<line {grid}/>")
        body.append(_text(x, top - 12, str(int(t)), fill=MUTED, cls="tick"))
    for i, row in enumerate(rows):
        y = top + i * row_h
        name = _(NO_ORGANIZATION) if row.id is None else row.name
        tip = _("%(organization)s: %(count)s breached items", organization=name, count=row.breached_items)
        body.append(_text(left - 8, y + row_h / 2 + 4, _short(name), anchor="end"))
        body.append(_bar(left, y + 4, x_of(row.breached_items) - left, row_h - 8, COLOURS["breached"], "bar",
                         tip,
                         queue_href(base_url, row.queue_params())))
        body.append(_text(x_of(row.breached_items) + 5, y + row_h / 2 + 4, str(row.breached_items),
                          anchor="start",
                          cls="value"))
    axis = _attrs(x1=float(left), y1=float(top - 6), x2=float(left), y2=float(height - 8), stroke=MUTED)
    body.append(f"<line {axis}/>")
    return _svg(width, height, _("Breached items per client organization"), body, "sla-chart-orgs")


def sla_charts(report: SlaReport, _: Gettext, base_url: str = "") -> dict[str, Markup]:
    """The three charts of REPORT: "times", "weekly" and "organizations"."""
    return {"times": response_time_chart(report, _), "weekly": weekly_compliance_chart(report, _, base_url),
            "organizations": breaches_chart(report, _, base_url)}
