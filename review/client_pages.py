"""The clients' own pages, reached from our mail without signing in: an item's status, and its survey."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.client_view import exchanged_messages, item_of_survey, opt_out
from db.events import CSAT_COMMENT, add_event
from db.models import Item, Message, Survey
from db.status_links import item_for_token
from reports.policy import WALL_CLOCK
from reports.state import item_clocks, snapshot_of
from responders.client_mail import NEGATIVE, ClientMailSettings, rate
from responders.links import RATINGS, STATUS_PATH, SURVEY_PATH
from review.auth import LoginLimiter
from review.context import Context
from review.i18n import N_, gettext, scope_language, speaking
from review.item_actions import send_outbox_quietly
from review.params import InvalidInput, choice_param, text_value

log = logging.getLogger(__name__)
MAX_COMMENT = 5000
# Keeps search engines off pages whose address is their only key.
NOINDEX = {"X-Robots-Tag": "noindex, nofollow"}
# The tokens in our own mail, hidden where the page shows that mail: each page shows its own link only.
_TOKENS = re.compile(r"(/[sr]/)[A-Za-z0-9_.\-]{20,}")

STATUS_WORDS = {
    "new": N_("Received by the team"), "in_progress": N_("We are working on it"), "resolved": N_("Solved"),
    "closed": N_("Closed"), "answered": N_("Answered"), "acknowledged": N_("Noted"),
    "impact_assessed": N_("Impact assessed"), "awaiting_approval": N_("Waiting for your approval"),
    "approved": N_("Approved by you"), "rejected": N_("Not going ahead"), "implemented": N_("Done"),
}
CATEGORY_WORDS = {"issue": N_("Problem report"), "change_request": N_("Change request"),
                  "question": N_("Question"),
                  "feedback": N_("Feedback")}
# What happens next, by category and status; the category's line when the status has none of its own.
NEXT = {
    ("issue",
     "new"): N_("A member of the team will look into the problem. If we need more details, we will ask "
                         "you."),
    ("issue", "in_progress"): N_("We are working on a fix and will tell you when it is done."),
    ("issue", "resolved"): N_("We believe the problem is fixed. If it is not, reply to our last email."),
    ("question", "new"): N_("A member of the team will answer your question."),
    ("question", "answered"): N_("We have answered. If anything is unclear, reply to our last email."),
    ("feedback", "new"): N_("The team will read your feedback."),
    ("feedback", "acknowledged"): N_("Thank you: the team has noted your feedback."),
    ("change_request",
     "new"): N_("We will assess the impact of the change (scope, cost, schedule) and send it to "
                                  "you for approval before any work starts."),
    ("change_request",
     "impact_assessed"): N_("We have assessed the impact and will send it to you for approval."),
    ("change_request", "awaiting_approval"): N_("Please reply to our assessment email with \"approve\" or "
                                                "\"reject\". Nothing starts before your approval."),
    ("change_request",
     "approved"): N_("You approved the change: we are making it and will tell you when it is "
                                       "done."),
    ("change_request", "rejected"): N_("The change will not be made."),
    ("change_request",
     "implemented"): N_("The change is made. If anything is not as agreed, reply to our last "
                                          "email."),
}
CLOSED = N_("This request is closed. To reopen it, reply to our last email.")


def client_address(request: Request) -> str:
    """The address the rate limit counts by (the client's, behind a trusted proxy)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Promise:
    """When the client will hear from us next: the clock it comes from, its deadline as text, whether it
    passed."""

    clock: str
    when: str
    late: bool


def promise(item: Item, ctx: Context, now: datetime) -> Promise | None:
    """The SLA promise for ITEM: the first response while none was given, else the resolution; None when no
    running clock has a target (or the clock is paused, waiting for the client)."""
    if item.status in ctx.sla.pause_statuses:
        return None
    clocks = item_clocks(item, ctx.sla, now, item.events)
    snapshot = snapshot_of(item, ctx.sla)
    calendar = str(snapshot.get("calendar") or WALL_CLOCK)
    clock = ctx.sla.clock(calendar)
    configured = ctx.sla.calendars.get(calendar)
    zone = ZoneInfo(configured.timezone if configured is not None else ctx.report_timezone)
    for name in ("first_response", "resolution"):
        m = clocks[name]
        if m.stopped_at is not None or not m.target:
            continue
        remaining = m.target - m.elapsed
        if remaining <= 0:
            return Promise(name, "", True)
        due = clock.add_business_seconds(now, remaining).astimezone(zone)
        lang = "zh_CN" if item.lang == "zh" else "en"
        pattern = "M月d日 EEEE HH:mm zzzz" if item.lang == "zh" else "EEEE d MMMM, HH:mm zzzz"
        return Promise(name, format_datetime(due, pattern, tzinfo=zone, locale=lang), False)
    return None


def message_view(m: Message) -> dict[str, Any]:
    """One message of the client's view: who wrote it (them or us), when, and its text (our links hidden)."""
    text = (m.new_text or m.body_text or "") if m.direction == "in" else (m.body_text or "")
    return {"ours": m.direction == "out", "at": m.received_at, "subject": m.subject,
            "text": _TOKENS.sub(lambda found: found.group(1) + "…", text.strip())}


def status_context(session: Any, item: Item, ctx: Context, now: datetime) -> dict[str, Any]:
    """What the status page shows of ITEM: never its notes, history, scores or assignee."""
    assessment = item.assessment if item.category == "change_request" else None
    return {
        "item": item,
        "ref": item.ref,
        "subject": item.subject,
        "category": gettext(CATEGORY_WORDS.get(item.category, item.category)),
        "status": gettext(STATUS_WORDS.get(item.status, item.status)),
        "next": gettext(NEXT[(item.category, item.status)]) if (item.category, item.status) in NEXT
        else gettext(CLOSED),
        "assessment": assessment if assessment is not None and assessment.sent_at is not None else None,
        "awaiting": item.status == "awaiting_approval",
        "promise": promise(item, ctx, now),
        "messages": [message_view(m) for m in exchanged_messages(session, item.id)],
    }


def routes(ctx: Context) -> list[Route]:
    """GET /s/{token}; /r/{token}/{1-5} (GET asks to confirm, POST records), /r/{token}/comment (GET, POST),
    /r/{token}/unsubscribe (GET asks, POST does)."""
    # counts every request, not failures
    limiter = LoginLimiter(ctx.settings.client_requests_per_minute, 60.0)
    mail: ClientMailSettings | None = ctx.client_mail

    def page(request: Request, template: str, lang: str, context: dict[str, Any],
             status: int = 200) -> Response:
        with speaking(lang):
            response = ctx.templates.TemplateResponse(request, template, {"lang": lang, **context},
                                                      status_code=status)
        response.headers.update(NOINDEX)
        return response

    def not_found(request: Request) -> Response:
        # The same answer for a token that never existed, was revoked, expired or was tampered with.
        return page(request, "client_error.html", _browser_language(request), {"status": 404}, 404)

    def limited(request: Request) -> Response | None:
        key = "client:" + client_address(request)
        if limiter.retry_after(key) > 0:
            log.warning("event=client_page_limited address=%s", client_address(request))
            return page(request, "client_error.html", _browser_language(request), {"status": 429}, 429)
        limiter.failed(key)
        return None

    def status_page(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        now = ctx.now()
        with ctx.read() as session:
            item = item_for_token(session, request.path_params["token"])
            if item is None:
                return not_found(request)
            lang = item.lang if item.lang in ("en", "zh") else "en"
            with speaking(lang):
                context = status_context(session, item, ctx, now)
            return page(request, "client_status.html", lang, context)

    def _survey(token: str) -> tuple[int, int] | None:
        if mail is None or mail.survey_links is None:
            return None
        return mail.survey_links.read(token)

    def _rate(survey_id: int, item_id: int, rating: int | None, comment: str | None) -> dict[str, Any] | None:
        with ctx.write.begin() as session:
            found = item_of_survey(session, survey_id, item_id)
            if found is None:
                return None
            survey, item = found
            now = ctx.now()
            alerted = False
            if rating is not None:
                assert mail is not None
                before = survey.rating
                alerted = rate(session, survey, item, rating, mail, now, ctx.alerts) and rating in NEGATIVE \
                    and before not in NEGATIVE
            if comment is not None and comment != survey.comment:
                survey.comment = comment
                _note_comment(session, survey, item, now)
            return {**_survey_view(survey, item), "alerted": alerted}

    async def survey_page(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        token = request.path_params["token"]
        named = _survey(token)
        action = request.path_params["action"]
        rating = int(action) if action in {str(n) for n in RATINGS} else None
        if named is None or (rating is None and action != "comment"):
            return not_found(request)
        if request.method == "POST" and rating is not None:
            # Only a POST from the page records a rating: mail scanners (Safe Links and the like) open every
            # link of a mail with GET, and must not answer the survey for the client.
            view = await run_in_threadpool(_rate, *named, rating, None)
            if view is None:
                return not_found(request)
            response: Response = RedirectResponse(f"{SURVEY_PATH}{token}/comment?rated=1", status_code=303)
            response.headers.update(NOINDEX)
            if view["alerted"]:  # a poor rating: its assignee's email goes now, not at the worker's drain
                response.background = BackgroundTask(send_outbox_quietly, ctx)
            return response
        comment = None
        chosen = None  # the rating the page asked to confirm, sent along with the comment
        error = ""
        if request.method == "POST":
            form = await request.form()
            try:
                comment = text_value(form.get("comment"), "comment", MAX_COMMENT, lines=True,
                                     label=N_("comment"))
                given = choice_param(form, "rating", [str(n) for n in RATINGS], N_("rating: must be 1 to 5"))
                chosen = int(given) if given else None
            except InvalidInput as exc:
                error = str(exc)
        view = await run_in_threadpool(_rate, *named, None if error else chosen, None if error else comment)
        if view is None:
            return not_found(request)
        if request.method == "POST" and not error:
            response = RedirectResponse(f"{SURVEY_PATH}{token}/comment?saved=1", status_code=303)
            if view["alerted"]:
                response.background = BackgroundTask(send_outbox_quietly, ctx)
            return response
        lang = view["lang"]
        if error:
            with speaking(lang):
                error = gettext("Your comment could not be saved: at most %(max)s characters, no control "
                                "characters.", max=MAX_COMMENT)
        return page(request, "client_survey.html", lang, {
            **view, "token": token, "asked": rating, "error": error,
            "just_rated": request.query_params.get("rated") == "1",
            "saved": request.query_params.get("saved") == "1", "survey_path": SURVEY_PATH, "ratings": RATINGS,
        }, 400 if error else 200)

    async def unsubscribe(request: Request) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        named = _survey(request.path_params["token"])
        if named is None:
            return not_found(request)
        done = request.method == "POST"

        def run() -> str | None:
            with ctx.write.begin() as session:
                found = item_of_survey(session, *named)
                if found is None:
                    return None
                survey, item = found
                if done and item.contact_id is not None:
                    opt_out(session, item.contact_id, ctx.now())
                    log.info("event=client_opted_out ref=%s", item.ref)
                return item.lang if item.lang in ("en", "zh") else "en"

        lang = await run_in_threadpool(run)
        if lang is None:
            return not_found(request)
        return page(request, "client_unsubscribe.html", lang, {"done": done})

    return [
        Route(STATUS_PATH + "{token}", status_page, methods=["GET"], name="client_status"),
        Route(SURVEY_PATH + "{token}/unsubscribe", unsubscribe, methods=["GET", "POST"],
              name="client_unsubscribe"),
        Route(SURVEY_PATH + "{token}/{action}", survey_page, methods=["GET", "POST"], name="client_survey"),
    ]


def _browser_language(request: Request) -> str:
    return scope_language(request.scope)


def _survey_view(survey: Survey, item: Item) -> dict[str, Any]:
    return {"ref": item.ref, "subject": item.subject, "rating": survey.rating, "comment": survey.comment,
            "lang": item.lang if item.lang in ("en", "zh") else "en"}


def _note_comment(session: Any, survey: Survey, item: Item, now: datetime) -> None:
    add_event(session, item.id, CSAT_COMMENT, now, {"rating": survey.rating, "text": survey.comment[:500]},
              actor="client")
