"""The admin's quarantine page: messages no code could read or store, their raw bytes, retry and delete."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.quarantine import (
    count_quarantined,
    delete_quarantined,
    quarantined,
    quarantined_message,
    request_retry,
)
from review.archive_queries import PER_PAGE, Slice
from review.context import Context
from review.downloads import download_response
from review.guard import checked_form, viewer
from review.i18n import N_, _, translated
from review.pages import error_page
from review.params import InvalidInput, page_param, path_id, shown

QUARANTINE = "/quarantine"
NOT_FOUND = N_("There is no quarantined message with the number %(number)s.")
# The one-line confirmation after a POST, named in the redirect's ?done= (unknown names show nothing).
DONE = {"retry": N_("Retry requested: the worker runs the message through the current code within seconds."),
        "delete": N_("Deleted the message and its raw bytes.")}

EVENTS = {"retry": "retry_requested", "delete": "deleted"}

log = logging.getLogger(__name__)


def _back_page(value: object) -> int:
    """The list page a form was posted from (its hidden "page" field), 1 when missing or not a page number."""
    try:
        return page_param({"page": value})
    except InvalidInput:
        return 1


def page_url(page: int = 1, done: str = "") -> str:
    """The quarantine page's path on PAGE, with the confirmation DONE."""
    params = [f"page={page}"] if page != 1 else []
    params += [f"done={done}"] if done else []
    return QUARANTINE + ("?" + "&".join(params) if params else "")


def counter(ctx: Context) -> Callable[[], int]:
    """How many messages are quarantined, for the admin's top bar."""

    def count() -> int:
        try:
            with ctx.read() as session:
                return count_quarantined(session)
        except SQLAlchemyError:  # a badge must not turn a page (or the error page itself) into a 500
            log.warning("event=quarantine_count_failed")
            return 0

    return count


def routes(ctx: Context) -> list[Route]:
    """The quarantine routes, bound to CTX; admins only (to anyone else they do not exist)."""

    def hidden(request: Request) -> Response | None:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 404, _("There is no page at this address."))
        return None

    def message_number(request: Request) -> int | Response:
        """The path's message id, or the 404 page for an id that names nothing."""
        raw = request.path_params["message_id"]
        message_id = path_id(raw)
        if message_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=shown(raw)), back=QUARANTINE)
        return message_id

    def listing(request: Request) -> Response:
        if (refusal := hidden(request)) is not None:
            return refusal
        try:
            page = page_param(request.query_params)
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc), back=QUARANTINE)
        with ctx.read() as session:
            total = count_quarantined(session)
            rows = quarantined(session, PER_PAGE, (page - 1) * PER_PAGE) if total else []
        done = request.query_params.get("done", "")
        return ctx.templates.TemplateResponse(request, "quarantine.html", {
            "entries": Slice(rows, total, page, PER_PAGE), "page_url": page_url,
            "flash": _(DONE[done]) if done in DONE else None,
        })

    def raw(request: Request) -> Response:
        if (refusal := hidden(request)) is not None:
            return refusal
        message_id = message_number(request)
        if isinstance(message_id, Response):
            return message_id
        with ctx.read() as session:
            found = quarantined_message(session, message_id)
            data = bytes(found[0].raw or b"") if found is not None else None
        if data is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=message_id), back=QUARANTINE)
        return download_response(data, f"message-{message_id}.eml")

    def action(name: str, apply: Callable[[Session, int], object]) -> Callable[[Request],
                                                                               Awaitable[Response]]:
        """The POST handler that APPLIES an admin's action to one message, then shows the page again."""

        async def post(request: Request) -> Response:
            form = await checked_form(request)
            if (refusal := hidden(request)) is not None:
                return refusal
            message_id = message_number(request)
            if isinstance(message_id, Response):
                return message_id
            with ctx.write.begin() as session:
                done = apply(session, message_id)
            if not done:
                return error_page(ctx, request, 404, _(NOT_FOUND, number=message_id), back=QUARANTINE)
            log.log(logging.WARNING if name == "delete" else logging.INFO,
                    "event=quarantine_%s message=%s by=%s",
                    EVENTS[name], message_id, viewer(request).email)
            return RedirectResponse(page_url(_back_page(form.get("page")), name), status_code=303)

        return post

    return [
        Route(QUARANTINE, listing, methods=["GET"], name="quarantine"),
        Route(QUARANTINE + "/{message_id}/raw", raw, methods=["GET"], name="quarantine_raw"),
        Route(QUARANTINE + "/{message_id}/retry", action("retry", request_retry), methods=["POST"],
              name="quarantine_retry"),
        Route(QUARANTINE + "/{message_id}/delete", action("delete", delete_quarantined), methods=["POST"],
              name="quarantine_delete"),
    ]
