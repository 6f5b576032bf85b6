"""The HTML pages: the queue, and one item with its thread, history and forms."""
from __future__ import annotations

from dataclasses import replace
from email.utils import parseaddr
from http import HTTPStatus
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.client_view import survey_of
from db.models import CATEGORIES, ITEM_STATUSES
from db.status_links import live_links
from db.workflow import forward_status, next_statuses
from review.context import Context
from review.guard import viewer
from review.i18n import _, translated
from review.params import InvalidInput, field_id, item_ref, parse_queue_filter, shown
from review.participants import thread_people
from review.present import history, latest_event, scores, thread
from review.queries import (
    SLA_STATES,
    SORTS,
    QueueFilter,
    assignable_users,
    filter_choices,
    item_detail,
    queue_page,
)
from review.reply_templates import chosen_template, templates_for
from review.sla_view import item_sla


def queue_url(f: QueueFilter, page: int | None = None) -> str:
    """The queue's path for filter F, on PAGE (default: F's page), leaving out what is default."""
    params: dict[str, str | int] = {}
    for key, value in (("q", f.q), ("category", f.category), ("status", f.status), ("sla", f.sla),
                       ("assignee", f.assignee), ("org", f.organization), ("since", f.since),
                       ("until", f.until)):
        if value not in ("", None):
            params[key] = str(value)
    if f.review_only:
        params["review"] = 1
    if f.follow_up:
        params["follow_up"] = 1
    if f.mine is not None:
        params["mine"] = 1
    if f.sort != "due":
        params["sort"] = f.sort
    page = f.page if page is None else page
    if page != 1:
        params["page"] = page
    return "/" + ("?" + urlencode(params) if params else "")


def error_page(ctx: Context, request: Request, status: int, message: str, back: str = "/") -> Response:
    """The error page for STATUS with a one-line MESSAGE (already in the request's language) and a way
    back."""
    titles = {400: _("Bad request"), 401: _("Sign in first"), 403: _("Not allowed"), 404: _("Not found"),
              405: _("Method not allowed"), 413: _("Request too large"), 429: _("Too many requests"),
              500: _("Something went wrong")}
    return ctx.templates.TemplateResponse(
        request, "error.html",
        {"status": status, "title": titles.get(status) or _("Error"), "message": message, "back": back},
        status_code=status,
    )


def http_error_message(exc: HTTPException) -> str:
    """The error page's line for an HTTPException, in the request's language: the app's own messages
    translated, a general line for what Starlette raises ("Not Found", "Method Not Allowed" and the like)."""
    general = {404: _("There is no page at this address."),
               405: _("This address does not take this kind of request."),
               413: _("The request is too large.")}
    if exc.status_code in general:
        return general[exc.status_code]
    detail = str(exc.detail)
    try:
        bare = detail == HTTPStatus(exc.status_code).phrase
    except ValueError:
        bare = False
    return _("The request could not be "
             "understood.") if bare and exc.status_code == 400 else translated(detail)


def routes(ctx: Context) -> list[Route]:
    """The HTML routes, bound to CTX."""

    def queue(request: Request) -> Response:
        try:
            f = parse_queue_filter(request.query_params, me=viewer(request).id)
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc))
        me = viewer(request)
        with ctx.read() as session:
            page = queue_page(session, f, scope=me.item_filter())
            organizations, people = filter_choices(session, me.org_limit, me.id)
        filtered = f != QueueFilter(page=f.page, sort=f.sort)
        return ctx.templates.TemplateResponse(request, "queue.html", {
            "f": f, "page": page, "filtered": filtered, "categories": CATEGORIES, "statuses": ITEM_STATUSES,
            "organizations": organizations, "people": people, "sorts": SORTS, "sla_states": SLA_STATES,
            "queue_url": queue_url, "review_url": queue_url(replace(f, review_only=True, page=1)),
            "flash": request.session.pop("flash", None), "now": ctx.now(),
        })

    def item_page(request: Request) -> Response:
        ref = item_ref(request.path_params["ref"])
        if ref is None:
            return error_page(ctx, request, 404, _("There is no item with the reference %(ref)s.",
                                                   ref=shown(request.path_params["ref"])))
        with ctx.read() as session:
            item = item_detail(session, ref)
            if item is None or not viewer(request).may_see(item):
                return error_page(ctx, request, 404, _("There is no item with the reference %(ref)s.",
                                                       ref=ref))
            assignees = assignable_users(session, item.contact.organization_id if item.contact else None)
            sla = item_sla(item, ctx.sla, ctx.now())
            # The participants a reply may copy, offered unticked: a reply goes to the contact alone by
            # default.
            copies = thread_people(session, item, own=[parseaddr(ctx.settings.from_address)[1]]).copies
            links, survey = live_links(session, item.id), survey_of(session, item.id)
            canned = templates_for(session, item.category, item.lang)
            reply_text = chosen_template(session, field_id(request.query_params.get("template", "")), item)
        return ctx.templates.TemplateResponse(request, "item.html", {
            "sla": sla, "copies": copies,
            "item": item, "messages": thread(item.messages), "events": history(item.events),
            "scores": scores(latest_event(item.events, "classified")), "categories": CATEGORIES,
            "next_statuses": next_statuses(item.category, item.status), "assignees": assignees,
            "live_links": links, "survey": survey,
            "forward": forward_status(item.category, item.status),
            "flash": request.session.pop("flash", None),
            "canned": canned, "reply_text": reply_text,
        })

    return [
        Route("/", queue, methods=["GET"], name="queue"),
        Route("/items/{ref}", item_page, methods=["GET"], name="item"),
    ]
