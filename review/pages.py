"""The HTML pages: the queue, and one item with its thread, history and forms."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.models import CATEGORIES, ITEM_STATUSES
from db.workflow import next_statuses
from review.context import Context
from review.guard import viewer
from review.params import InvalidInput, parse_queue_filter
from review.present import history, latest_event, scores, thread
from review.queries import SORTS, QueueFilter, assignable_users, filter_choices, item_detail, queue_page


def queue_url(f: QueueFilter, page: int | None = None) -> str:
    """The queue's path for filter F, on PAGE (default: F's page), leaving out what is default."""
    params: dict[str, str | int] = {}
    for key, value in (("q", f.q), ("category", f.category), ("status", f.status), ("assignee", f.assignee),
                       ("org", f.organization), ("since", f.since), ("until", f.until)):
        if value not in ("", None):
            params[key] = str(value)
    if f.review_only:
        params["review"] = 1
    if f.follow_up:
        params["follow_up"] = 1
    if f.sort != "newest":
        params["sort"] = f.sort
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
            f = parse_queue_filter(request.query_params, me=viewer(request).id)
        except InvalidInput as exc:
            return error_page(ctx, request, 400, str(exc))
        me = viewer(request)
        with ctx.read() as session:
            page = queue_page(session, f, scope=me.item_filter())
            organizations, people = filter_choices(session, me.org_limit)
        filtered = f != QueueFilter(page=f.page, sort=f.sort)
        return ctx.templates.TemplateResponse(request, "queue.html", {
            "f": f, "page": page, "filtered": filtered, "categories": CATEGORIES, "statuses": ITEM_STATUSES,
            "organizations": organizations, "people": people, "sorts": SORTS,
            "queue_url": queue_url, "review_url": queue_url(replace(f, review_only=True, page=1)),
            "flash": request.session.pop("flash", None),
        })

    def item_page(request: Request) -> Response:
        ref = request.path_params["ref"]
        with ctx.read() as session:
            item = item_detail(session, ref)
            if item is None or not viewer(request).may_see(item):
                return error_page(ctx, request, 404, f"There is no item with the reference {ref}.")
            assignees = assignable_users(session, item.contact.organization_id if item.contact else None)
        return ctx.templates.TemplateResponse(request, "item.html", {
            "item": item, "messages": thread(item.messages), "events": history(item.events),
            "scores": scores(latest_event(item.events, "classified")), "categories": CATEGORIES,
            "next_statuses": next_statuses(item.category, item.status), "assignees": assignees,
        })

    return [
        Route("/", queue, methods=["GET"], name="queue"),
        Route("/items/{ref}", item_page, methods=["GET"], name="item"),
    ]
