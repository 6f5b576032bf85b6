"""The SLA report in the app: the same figures, charts and downloads as `intake report sla`, per viewer."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reports.render import render_sla, render_sla_fragment
from reports.sla import compute_sla
from reports.sla_groups import BY
from review.context import Context
from review.guard import viewer
from review.i18n import N_, gettext, translated
from review.pages import error_page
from review.params import FIRST_DAY, LAST_DAY, InvalidInput, choice_param, period_params

REPORT = "/reports/sla"
MAX_DAYS = 366 * 2
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
GROUP_NAMES = {"category": N_("Category"), "organization": N_("Client"), "assignee": N_("Assignee"),
               "week": N_("Week")}


def group_text(by: str) -> str:
    """The grouping BY in the request's language."""
    return gettext(GROUP_NAMES[by]) if by in GROUP_NAMES else by


@dataclass(frozen=True)
class ReportRequest:
    """What the report page was asked for."""

    since: date
    until: date
    by: str
    fmt: str


def parse_report_request(query: Mapping[str, str], today: date) -> ReportRequest:
    """The period (default: the four weeks up to TODAY), grouping and format from QUERY; InvalidInput if
    wrong."""
    since, until = period_params(query)
    until = until or min(today, LAST_DAY)
    # The default start stays within the days a request may name, so the weeks around it can be counted.
    since = since or max(until - timedelta(days=27), FIRST_DAY)
    if since > until:
        raise InvalidInput(N_("since: the first day comes after the last day"))
    if (until - since).days > MAX_DAYS:
        raise InvalidInput(N_("since: a report covers at most %(days)s days"), days=str(MAX_DAYS))
    by = choice_param(query, "by", BY, N_("by: unknown grouping %(value)s; use one of %(choices)s"),
                      default="category")
    fmt = choice_param(query, "format", ("html", *DOWNLOADS),
                       N_("format: unknown format %(value)s; use html, csv or json"), default="html")
    return ReportRequest(since, until, by, fmt)


def routes(ctx: Context) -> list[Route]:
    """The report route, bound to CTX: admins see every client, PMs the organizations they work on."""

    def report(request: Request) -> Response:
        now = ctx.now()
        tz = ctx.report_timezone
        try:
            asked = parse_report_request(request.query_params, now.astimezone(ZoneInfo(tz)).date())
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc))
        me = viewer(request)
        with ctx.read() as session:
            figures = compute_sla(session, ctx.sla, asked.since, asked.until, by=asked.by, now=now,
                                  organizations=me.org_limit, tz=tz)
        if asked.fmt in DOWNLOADS:
            name = f"sla-{asked.since.isoformat()}-{asked.until.isoformat()}-{asked.by}.{asked.fmt}"
            return Response(render_sla(figures, asked.fmt), media_type=DOWNLOADS[asked.fmt],
                            headers={"Content-Disposition": f'attachment; filename="{name}"',
                                     "Cache-Control": "no-store"})
        return ctx.templates.TemplateResponse(request, "sla_report.html", {
            "asked": asked, "by_choices": BY, "tz": tz, "limited": me.org_limit is not None,
            "report": render_sla_fragment(figures, "", gettext),
        })

    return [Route(REPORT, report, methods=["GET"], name="sla_report")]
