"""The API of the clients' side: an item's status link (new, revoked) and satisfaction ratings."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.models import Item, Survey
from db.types import utcnow
from reports.render import iso_utc
from review import actions
from review.actions import NotFound
from review.api_actions import json_error
from review.context import Context
from review.guard import viewer
from review.params import item_ref, shown

MAX_LIST = 500


def survey_json(survey: Survey, ref: str) -> dict[str, Any]:
    """A survey as the API shows it."""
    return {"ref": ref, "status": survey.status, "scheduled_for": iso_utc(survey.scheduled_for),
            "rating": survey.rating, "rated_at": iso_utc(survey.rated_at), "comment": survey.comment}


def routes(ctx: Context) -> list[Route]:
    """/api/items/{ref}/status-link (POST: a new link, DELETE: revoke), /api/items/{ref}/survey,
    /api/surveys."""
    base_url = ctx.client_mail.base_url if ctx.client_mail is not None else ""

    async def status_link(request: Request) -> Response:
        ref = item_ref(request.path_params["ref"])
        if ref is None:
            return json_error(404, f"no item with the reference {shown(request.path_params['ref'])}")
        me = viewer(request)
        try:
            if request.method == "DELETE":
                revoked = await run_in_threadpool(actions.revoke_status_links, ctx.write, me, ref)
                return JSONResponse({"ref": ref, "revoked": revoked})
            url, revoked = await run_in_threadpool(actions.new_status_link, ctx.write, me, ref, base_url)
        except NotFound:
            return json_error(404, f"no item with the reference {ref}")
        # Shown this once: only the token's hash is kept.
        return JSONResponse({"ref": ref, "url": url, "token": url.rpartition("/")[2], "revoked": revoked},
                            status_code=201)

    def item_survey(request: Request) -> Response:
        ref = item_ref(request.path_params["ref"])
        if ref is None:
            return json_error(404, f"no item with the reference {shown(request.path_params['ref'])}")
        query = select(Survey).join(Item, Item.id == Survey.item_id).where(Item.ref == ref)
        with ctx.read() as session:
            item = session.scalar(select(Item).where(Item.ref == ref))
            if item is None or not viewer(request).may_see(item):
                return json_error(404, f"no item with the reference {ref}")
            survey = session.scalar(query)
            return JSONResponse({"ref": ref, "survey": None if survey is None else survey_json(survey, ref)})

    def surveys(request: Request) -> Response:
        """The newest surveys within what the viewer may see; ?rated=1 keeps those with a rating."""
        query = select(Survey, Item.ref).join(Item, Item.id == Survey.item_id)
        scope = viewer(request).item_filter()
        if scope is not None:
            query = query.where(scope)
        rated = request.query_params.get("rated", "")
        if rated not in ("", "0", "1"):
            return json_error(400, "rated: use 1 (rated only) or 0 (all)")
        if rated == "1":
            query = query.where(Survey.rating.is_not(None))
        with ctx.read() as session:
            rows = [survey_json(s, ref) for s, ref in
                    session.execute(query.order_by(Survey.id.desc()).limit(MAX_LIST))]
        return JSONResponse({"surveys": rows, "as_of": iso_utc(utcnow())})

    return [
        Route("/api/items/{ref}/status-link", status_link, methods=["POST", "DELETE"],
              name="api_status_link"),
        Route("/api/items/{ref}/survey", item_survey, methods=["GET"], name="api_item_survey"),
        Route("/api/surveys", surveys, methods=["GET"], name="api_surveys"),
    ]
