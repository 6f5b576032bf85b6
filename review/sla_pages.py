"""The admin's SLA policies page: the policies, tiers, targets and calendars the config file sets,
read-only."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.models import CATEGORIES
from reports.policy import MEASURES
from review.archive_queries import tier_counts
from review.context import Context
from review.guard import viewer
from review.i18n import _
from review.pages import error_page
from review.sla_view import calendar_rows, policy_rows

POLICIES = "/sla/policies"


def routes(ctx: Context) -> list[Route]:
    """The SLA routes, bound to CTX; admins only."""

    def policies(request: Request) -> Response:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 403, _("Only admins see the SLA policies."))
        with ctx.read() as session:
            tiers = tier_counts(session)
        sla = ctx.sla
        return ctx.templates.TemplateResponse(request, "sla_policies.html", {
            "policies": policy_rows(sla, tiers), "calendars": calendar_rows(sla), "default": sla.default,
            "at_risk_share": sla.at_risk_share, "pause_statuses": sla.pause_statuses, "measures": MEASURES,
            "categories": CATEGORIES,
        })

    return [Route(POLICIES, policies, methods=["GET"], name="sla_policies")]
