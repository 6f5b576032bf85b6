"""The JSON API's changes besides corrections: status, assignee, notes, replies; and the corrections list."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.models import Event, Item
from review import actions
from review.actions import ActionError, NotFound, Outgoing
from review.api_json import event_json
from review.context import Context
from review.guard import viewer
from review.item_actions import send_outbox_quietly
from review.json_body import InvalidBody, json_body
from review.params import MAX_ID, InvalidInput, item_ref, shown
from review.viewer import Viewer

MAX_LIST = 500


def json_error(status: int, message: str) -> JSONResponse:
    """{"error": MESSAGE} with STATUS."""
    return JSONResponse({"error": message}, status_code=status)


Change = Callable[[Viewer, str, dict], object]


def routes(ctx: Context) -> list[Route]:
    """The API routes that change items, bound to CTX."""
    out = Outgoing(ctx.settings.from_address, ctx.settings.team, client=ctx.client_mail,
                   team_names=ctx.settings.team_names)

    def change(do: Change, example: str, sends: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ref = item_ref(request.path_params["ref"])
            if ref is None:
                return json_error(404, f"no item with the reference {shown(request.path_params['ref'])}")
            try:
                body = await json_body(request, example)
                result = await run_in_threadpool(do, viewer(request), ref, body)
            except InvalidBody as exc:
                return json_error(exc.status, str(exc))
            except NotFound:
                return json_error(404, f"no item with the reference {ref}")
            except (ActionError, InvalidInput) as exc:
                return json_error(400, str(exc))
            task = BackgroundTask(send_outbox_quietly, ctx) if sends else None
            return JSONResponse({"ref": ref, "result": result}, background=task)
        return endpoint

    def status(me: Viewer, ref: str, body: dict) -> object:
        to = body.get("status")
        if not isinstance(to, str):
            raise ActionError('status: send {"status": "in_progress"}')
        old = actions.change_status(ctx.write, me, ref, to, client=ctx.client_mail, alerts=ctx.alerts)
        return {"from": old, "to": to}

    def assignee(me: Viewer, ref: str, body: dict) -> object:
        value = body.get("assignee", "missing")
        # A JSON number may have thousands of digits; an id is 1..MAX_ID (a larger one overflows the
        # database's).
        if value is not None and (isinstance(value, bool) or not isinstance(value,
                                                                            int) or not 1 <= value <= MAX_ID):
            raise ActionError('assignee: send {"assignee": USER_ID} or {"assignee": null}')
        return {"assignee": actions.assign(ctx.write, me, ref, value) or None}

    def note(me: Viewer, ref: str, body: dict) -> object:
        actions.add_note(ctx.write, me, ref, body.get("text") if isinstance(body.get("text"), str) else "")
        return {"noted": True}

    def reply(me: Viewer, ref: str, body: dict) -> object:
        text = body.get("text") if isinstance(body.get("text"), str) else ""
        cc = body.get("cc", [])
        if not isinstance(cc, list) or not all(isinstance(a, str) for a in cc):
            raise ActionError('cc: send a list of addresses from the item\'s "reply_copies", like '
                              '{"text": "...", "cc": ["ann@client.example"]}')
        return {"message_id": actions.reply(ctx.write, me, ref, text, out, cc)}

    def corrections(request: Request) -> Response:
        me = viewer(request)
        query = (select(Event, Item.ref).join(Item, Event.item_id == Item.id)
                 .where(Event.kind.in_(("corrected", "confirmed"))).order_by(Event.id.desc()).limit(MAX_LIST))
        scope = me.item_filter()
        if scope is not None:
            query = query.where(scope)
        with ctx.read() as session:
            rows = [{"ref": ref, **event_json(e)} for e, ref in session.execute(query)]
        return JSONResponse({"corrections": rows})

    return [
        Route("/api/items/{ref}/status", change(status, '{"status": "in_progress"}', sends=True),
              methods=["POST"],
              name="api_status"),
        Route("/api/items/{ref}/assignee", change(assignee, '{"assignee": 3}'), methods=["POST"],
              name="api_assignee"),
        Route("/api/items/{ref}/notes", change(note, '{"text": "..."}'), methods=["POST"], name="api_note"),
        Route("/api/items/{ref}/replies", change(reply, '{"text": "...", "cc": []}', sends=True),
              methods=["POST"],
              name="api_reply"),
        Route("/api/corrections", corrections, methods=["GET"], name="api_corrections"),
    ]
