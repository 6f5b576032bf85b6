"""The JSON API: the queue, one item with its thread and history, category corrections, and a health check."""
from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr
from typing import Any

from sqlalchemy.orm import object_session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.models import Item
from review.api_actions import json_error
from review.api_json import item_detail_json, item_json, message_json
from review.context import Context
from review.corrections import correct_category
from review.guard import viewer
from review.json_body import InvalidBody, json_body
from review.openapi import OPENAPI
from review.params import InvalidInput, item_ref, parse_category, parse_queue_filter, shown
from review.participants import thread_people
from review.present import thread
from review.queries import item_detail, queue_page
from review.sla_view import clocks_json, item_sla


def routes(ctx: Context) -> list[Route]:
    """The API routes, bound to CTX."""
    threshold = ctx.thresholds  # where each item's confidence bands are cut

    def list_items(request: Request) -> Response:
        try:
            f = parse_queue_filter(request.query_params, me=viewer(request).id)
        except InvalidInput as exc:
            return json_error(400, str(exc))
        with ctx.read() as session:
            page = queue_page(session, f, scope=viewer(request).item_filter())
            items = [item_json(i, threshold) for i in page.items]
        return JSONResponse({"items": items, "total": page.total, "page": page.page,
                             "per_page": page.per_page})

    def one_item(request: Request, render: Callable[[Item], dict[str, Any]]) -> Response:
        ref = item_ref(request.path_params["ref"])
        if ref is None:
            return json_error(404, f"no item with the reference {shown(request.path_params['ref'])}")
        with ctx.read() as session:
            item = item_detail(session, ref)
            if item is None or not viewer(request).may_see(item):
                return json_error(404, f"no item with the reference {ref}")
            return JSONResponse(render(item))

    def get_item(request: Request) -> Response:
        def render(item: Item) -> dict[str, Any]:
            session = object_session(item)
            assert session is not None
            people = thread_people(session, item, own=[parseaddr(ctx.settings.from_address)[1]])
            return {**item_detail_json(item, threshold),
                    "sla": clocks_json(item_sla(item, ctx.sla, ctx.now())),
                    "reply_copies": [{"address": c.address, "name": c.name} for c in people.copies]}
        return one_item(request, render)

    async def change_category(request: Request) -> Response:
        ref = item_ref(request.path_params["ref"])
        if ref is None:
            return json_error(404, f"no item with the reference {shown(request.path_params['ref'])}")
        try:
            body = await json_body(request, '{"category": "question"}')
        except InvalidBody as exc:
            return json_error(exc.status, str(exc))
        try:
            category = parse_category(body.get("category"))
        except InvalidInput as exc:
            return json_error(400, str(exc))
        me = viewer(request)
        result = await run_in_threadpool(correct_category, ctx.write, ref, category, me.email,
                                         me.item_filter(),
                                         ctx.client_mail)
        if result is None:
            return json_error(404, f"no item with the reference {ref}")

        def read() -> Response:
            with ctx.read() as session:
                item = item_detail(session, ref)
                assert item is not None
                return JSONResponse({"changed": result.changed, "from": result.old, "to": result.new,
                                     "item": item_json(item, threshold)})

        return await run_in_threadpool(read)

    def messages(request: Request) -> Response:
        return one_item(request, lambda item: {"ref": item.ref,
                                               "messages": [message_json(m) for m in thread(item.messages)]})

    def schema(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    return [
        Route("/api/items", list_items, methods=["GET"], name="api_items"),
        Route("/api/items/{ref}", get_item, methods=["GET"], name="api_item"),
        Route("/api/items/{ref}/category", change_category, methods=["POST"], name="api_change_category"),
        Route("/api/items/{ref}/messages", messages, methods=["GET"], name="api_messages"),
        Route("/api/openapi.json", schema, methods=["GET"], name="api_schema"),
    ]
