"""The HTML pages: the queue, one item with its thread and history, and the category form's target."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import CATEGORIES, ITEM_STATUSES
from review.context import Context
from review.corrections import correct_category
from review.guard import checked_form, viewer
from review.params import InvalidInput, parse_category, parse_queue_filter
from review.present import history, item_url, latest_event, scores, thread
from review.queries import QueueFilter, item_detail, queue_page


def queue_url(f: QueueFilter, page: int | None = None) -> str:
    """The queue's path for filter F, on PAGE (default: F's page), leaving out what is default."""
    params: dict[str, str | int] = {}
    if f.category:
        params["category"] = f.category
    if f.status:
        params["status"] = f.status
    if f.review_only:
        params["review"] = 1
    page = f.page if page is None else page
    if page != 1:
        params["page"] = page
    return "/" + ("?" + urlencode(params) if params else "")


def error_page(ctx: Context, request: Request, status: int, message: str, back: str = "/") -> Response:
    """The error page for STATUS with a one-line MESSAGE and a way back."""
    titles = {400: "Bad request", 401: "Sign in first", 403: "Not allowed", 404: "Not found",
              405: "Method not allowed", 413: "Request too large", 429: "Too many requests",
              500: "Something went wrong"}
    return ctx.templates.TemplateResponse(
        request, "error.html",
        {"status": status, "title": titles.get(status, "Error"), "message": message, "back": back},
        status_code=status,
    )


def routes(ctx: Context) -> list[Route]:
    """The HTML routes, bound to CTX."""

    def queue(request: Request) -> Response:
        try:
            f = parse_queue_filter(request.query_params)
        except InvalidInput as exc:
            return error_page(ctx, request, 400, str(exc))
        with ctx.read() as session:
            page = queue_page(session, f, scope=viewer(request).item_filter())
        filtered = bool(f.category or f.status or f.review_only)
        return ctx.templates.TemplateResponse(request, "queue.html", {
            "f": f, "page": page, "filtered": filtered, "categories": CATEGORIES, "statuses": ITEM_STATUSES,
            "queue_url": queue_url, "review_url": queue_url(replace(f, review_only=True, page=1)),
        })

    def item_page(request: Request) -> Response:
        ref = request.path_params["ref"]
        with ctx.read() as session:
            item = item_detail(session, ref)
        if item is None or not viewer(request).may_see(item):
            return error_page(ctx, request, 404, f"There is no item with the reference {ref}.")
        return ctx.templates.TemplateResponse(request, "item.html", {
            "item": item, "messages": thread(item.messages), "events": history(item.events),
            "scores": scores(latest_event(item.events, "classified")), "categories": CATEGORIES,
        })

    async def change_category(request: Request) -> Response:
        ref = request.path_params["ref"]
        form = await checked_form(request)
        try:
            category = parse_category(form.get("category"))
        except InvalidInput as exc:
            return error_page(ctx, request, 400, str(exc), back=item_url(ref))
        me = viewer(request)
        result = await run_in_threadpool(correct_category, ctx.write, ref, category, me.email, me.item_filter())
        if result is None:
            return error_page(ctx, request, 404, f"There is no item with the reference {ref}.")
        return RedirectResponse(item_url(ref), status_code=303)

    return [
        Route("/", queue, methods=["GET"], name="queue"),
        Route("/items/{ref}", item_page, methods=["GET"], name="item"),
        Route("/items/{ref}/category", change_category, methods=["POST"], name="change_category"),
    ]
