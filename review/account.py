"""The signed-in user's own account page: where they are signed in, their API tokens, their password."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import ApiToken, User, UserSession
from db.types import utcnow
from review.accounts import issue_token, parse_lifetime, revoke_token, token_state, tokens_of
from review.context import Context
from review.guard import checked_form, current_session, sign_out, viewer
from review.i18n import N_, Explained, _, ngettext, translated
from review.pages import error_page
from review.params import has_control, path_id
from review.timezones import valid_zone, zone_choices
from review.user_sessions import end_session, end_sessions, sessions_of

log = logging.getLogger(__name__)
ACCOUNT = "/account"
# What the token form offers: no expiry (the default, as on the command line) or one of these lifetimes.
TOKEN_LIFETIMES = ("", "30d", "90d", "365d")
MAX_TOKEN_NAME = 100
NO_SESSION = N_("There is no session with the number %(number)s.")
NO_TOKEN = N_("There is no API token with the number %(number)s.")


class AccountInput(Explained):
    """A token form that cannot be done as sent; the message says why (translated() for the page)."""


@dataclass(frozen=True)
class Access:
    """A user's live sessions and API tokens (each with its state: active, revoked or expired)."""

    sessions: list[UserSession]
    tokens: list[tuple[ApiToken, str]]


def access_of(session: Session, user_id: int, now: datetime) -> Access:
    """What the account and person pages list for USER_ID at NOW."""
    return Access(sessions=sessions_of(session, user_id, now),
                  tokens=[(t, token_state(t, now)) for t in tokens_of(session, user_id)])


def token_request(form: FormData) -> tuple[str, timedelta | None]:
    """The name and lifetime (None: no expiry) a token form asks for; AccountInput when it is not one
    offered."""
    lifetime = str(form.get("expires_in", ""))
    if lifetime not in TOKEN_LIFETIMES:
        raise AccountInput(N_("expires: choose one of the lifetimes offered"))
    name = str(form.get("name", "")).strip()[:MAX_TOKEN_NAME]
    if has_control(name):
        raise AccountInput(N_("%(what)s: must not contain control characters"), what="name")
    return name, parse_lifetime(lifetime) if lifetime else None


def create_token(ctx: Context, user_id: int, name: str, lifetime: timedelta | None) -> str | None:
    """A new API token for USER_ID (shown once by the caller); None when there is no such user."""
    with ctx.write.begin() as session:
        user = session.get(User, user_id)
        return issue_token(session, user, name, lifetime) if user is not None else None


def revoke(ctx: Context, user_id: int, token_id: int) -> bool:
    """Revokes USER_ID's API token TOKEN_ID; False when they have no such token."""
    with ctx.write.begin() as session:
        return revoke_token(session, token_id, user_id) is not None


def end_one(ctx: Context, user_id: int, session_id: int) -> bool:
    """Ends USER_ID's session SESSION_ID; False when they have no such session."""
    with ctx.write.begin() as session:
        return end_session(session, session_id, user_id)


def end_all(ctx: Context, user_id: int, keep: int | None = None) -> int:
    """Ends USER_ID's sessions but KEEP; how many were live."""
    with ctx.write.begin() as session:
        return end_sessions(session, user_id, utcnow(), keep=keep)


def page(ctx: Context, request: Request, problem: str = "", new_token: str = "",
         status: int = 200) -> Response:
    """The account page of the signed-in user; PROBLEM says what went wrong, NEW_TOKEN is shown this once."""
    me = viewer(request)
    with ctx.read() as session:
        access = access_of(session, me.id, utcnow())
    opened = current_session(request)
    response = ctx.templates.TemplateResponse(request, "account.html", {
        "me": me, "access": access, "current": opened.id if opened else None, "lifetimes": TOKEN_LIFETIMES,
        "flash": request.session.pop("flash", None), "problem": problem, "new_token": new_token,
        "zones": zone_choices(), "default_zone": ctx.report_timezone,
    }, status_code=status)
    if new_token:
        response.headers["cache-control"] = "no-store"  # the token must not be kept by the browser's cache
    return response


def routes(ctx: Context) -> list[Route]:
    """The account page and its session and token forms, bound to CTX (the password form is in
    review.login)."""

    def account(request: Request) -> Response:
        return page(ctx, request)

    async def end_session_form(request: Request) -> Response:
        await checked_form(request)
        me, opened = viewer(request), current_session(request)
        session_id = path_id(request.path_params["session_id"])
        if session_id is None or not await run_in_threadpool(end_one, ctx, me.id, session_id):
            return error_page(ctx, request, 404, _(NO_SESSION, number=request.path_params["session_id"]),
                              back=ACCOUNT)
        log.info("event=session_ended email=%s session=%s by=%s", me.email, session_id, me.email)
        if opened is not None and opened.id == session_id:
            sign_out(request)
            return RedirectResponse("/login", status_code=303)
        request.session["flash"] = _("That session is signed out.")
        return RedirectResponse(ACCOUNT, status_code=303)

    async def end_others(request: Request) -> Response:
        await checked_form(request)
        me, opened = viewer(request), current_session(request)
        ended = await run_in_threadpool(end_all, ctx, me.id, opened.id if opened else None)
        log.info("event=sessions_ended email=%s count=%s by=%s", me.email, ended, me.email)
        request.session["flash"] = ngettext("Signed out %(num)s other session.",
                                            "Signed out %(num)s other sessions.",
                                            ended)
        return RedirectResponse(ACCOUNT, status_code=303)

    async def new_token(request: Request) -> Response:
        form = await checked_form(request)
        me = viewer(request)
        try:
            name, lifetime = token_request(form)
        except AccountInput as exc:
            return await run_in_threadpool(page, ctx, request, translated(exc), "", 400)
        token = await run_in_threadpool(create_token, ctx, me.id, name, lifetime)
        log.info("event=token_created email=%s by=%s", me.email, me.email)
        # Shown in this response and never again: no redirect, so the token is in no URL, cookie or table.
        return await run_in_threadpool(page, ctx, request, "", token or "")

    async def revoke_form(request: Request) -> Response:
        await checked_form(request)
        me = viewer(request)
        token_id = path_id(request.path_params["token_id"])
        if token_id is None or not await run_in_threadpool(revoke, ctx, me.id, token_id):
            return error_page(ctx, request, 404, _(NO_TOKEN, number=request.path_params["token_id"]),
                              back=ACCOUNT)
        log.info("event=token_revoked email=%s token=%s by=%s", me.email, token_id, me.email)
        request.session["flash"] = _("API token %(number)s is revoked; it no longer works.", number=token_id)
        return RedirectResponse(ACCOUNT, status_code=303)

    def save_zone(user_id: int, zone: str) -> None:
        with ctx.write.begin() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.time_zone = zone

    async def time_zone(request: Request) -> Response:
        form = await checked_form(request)
        zone = str(form.get("time_zone", "")).strip()
        if zone and not valid_zone(zone):
            return await run_in_threadpool(page, ctx, request, _("time zone: choose one from the list"), "",
                                           400)
        await run_in_threadpool(save_zone, viewer(request).id, zone)
        request.session["flash"] = (_("Times are now shown in %(zone)s.", zone=zone) if zone else
                                    _("Times are now shown in the team's time zone, %(zone)s.",
                                      zone=ctx.report_timezone))
        return RedirectResponse(ACCOUNT, status_code=303)

    return [
        Route(ACCOUNT, account, methods=["GET"], name="account"),
        Route(ACCOUNT + "/time-zone", time_zone, methods=["POST"], name="account_time_zone"),
        Route(ACCOUNT + "/sessions/end-others", end_others, methods=["POST"], name="account_end_others"),
        Route(ACCOUNT + "/sessions/{session_id}/end", end_session_form, methods=["POST"],
              name="account_end_session"),
        Route(ACCOUNT + "/tokens", new_token, methods=["POST"], name="account_new_token"),
        Route(ACCOUNT + "/tokens/{token_id}/revoke", revoke_form, methods=["POST"],
              name="account_revoke_token"),
    ]
