"""The sign-in page, signing in with the failed-login limit, signing out, changing one's own password, and the
user's language."""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import User
from db.types import utcnow
from review import account
from review.accounts import Ended, find_user, set_password
from review.auth import (
    MIN_PASSWORD_LENGTH,
    LoginLimiter,
    WeakPassword,
    check_password_rules,
    hash_password,
    needs_rehash,
    verify_password,
)
from review.context import Context
from review.guard import checked_form, current_session, safe_next, sign_in, sign_out, viewer
from review.i18n import LANGUAGES, _, ngettext
from review.params import has_control
from review.user_sessions import OpenSession, end_session, start_session

log = logging.getLogger(__name__)
MAX_FIELD = 320
MAX_PASSWORD = 1024


def same_page(request: Request) -> str:
    """The page the request came from (the Referer on this site), so switching language stays on it."""
    try:
        came_from = urlsplit(request.headers.get("referer", ""))
    except ValueError:  # not a URL ("http://[::1": an unclosed IPv6 address)
        return "/"
    if came_from.netloc != request.url.netloc:
        return "/"
    return safe_next(came_from.path + ("?" + came_from.query if came_from.query else ""))


def client_of(request: Request) -> tuple[str, str]:
    """The address and user agent a session is started from (shown to its owner on the account page)."""
    return (request.client.host if request.client else "unknown"), request.headers.get("user-agent", "")


def too_many(wait: float) -> str:
    """The message for a refused password check, WAIT seconds before the next may be tried."""
    minutes = max(1, round(wait / 60))
    return ngettext("Too many failed sign-ins. Try again in about %(num)s minute.",
                    "Too many failed sign-ins. Try again in about %(num)s minutes.", minutes)


def routes(ctx: Context) -> list[Route]:
    """/login, /logout, the account's password form and /language, bound to CTX."""
    # One account limit for every password check (sign-in and password change), so the two cannot be
    # combined to guess more often.
    per_account = LoginLimiter(ctx.settings.login_failures, ctx.settings.login_window)
    per_address = LoginLimiter(ctx.settings.login_failures_per_address, ctx.settings.login_window)
    lifetime = timedelta(seconds=ctx.settings.session_seconds)

    def form(request: Request, error: str = "", email: str = "", status: int = 200) -> Response:
        return ctx.templates.TemplateResponse(request, "login.html", {
            "error": error, "email": email, "next": safe_next(request.query_params.get("next")),
        }, status_code=status)

    def check(email: str, password: str, request: Request) -> OpenSession | None:
        replacing = current_session(request)
        with ctx.write.begin() as session:
            user = find_user(session, email)
            ok = verify_password(user.password_hash if user else None, password)
            if not (ok and user is not None and user.active):
                return None
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            if replacing is not None:  # signing in again in the same browser replaces its session
                end_session(session, replacing.id, replacing.viewer.id)
            return start_session(session, user, lifetime, *client_of(request), utcnow())

    def login_page(request: Request) -> Response:
        return form(request)

    async def login(request: Request) -> Response:
        data = await checked_form(request)
        email = str(data.get("email", "")).strip().lower()[:MAX_FIELD]
        if has_control(email):
            email = ""  # no address holds one; the sign-in fails like any unknown address
        password = str(data.get("password", ""))[:MAX_PASSWORD]
        address = request.client.host if request.client else "unknown"
        keys = ("account:" + email, "address:" + address)
        wait = max(per_account.retry_after(keys[0]), per_address.retry_after(keys[1]))
        if wait > 0:
            log.warning("event=login_limited email=%s address=%s", email, address)
            return form(request, too_many(wait), email, status=429)
        found = await run_in_threadpool(check, email, password, request) if email and password else None
        if found is None:
            per_account.failed(keys[0])
            per_address.failed(keys[1])
            log.info("event=login_failed email=%s address=%s", email, address)
            return form(request, _("The email or password is not right."), email, status=401)
        per_account.succeeded(keys[0])
        sign_in(request, found)
        log.info("event=login email=%s address=%s", email, address)
        return RedirectResponse(safe_next(str(data.get("next", ""))), status_code=303)

    def save_language(user_id: int, language: str) -> None:
        with ctx.write.begin() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.language = language

    async def language(request: Request) -> Response:
        data = await checked_form(request)
        chosen = str(data.get("language", ""))
        if chosen not in LANGUAGES:
            raise HTTPException(400, _("language: must be one of %(choices)s", choices=", ".join(LANGUAGES)))
        await run_in_threadpool(save_language, viewer(request).id, chosen)
        return RedirectResponse(same_page(request), status_code=303)

    def end(opened: OpenSession) -> None:
        with ctx.write.begin() as session:
            end_session(session, opened.id, opened.viewer.id)

    async def logout(request: Request) -> Response:
        await checked_form(request)
        opened = current_session(request)
        if opened is not None:  # the row goes: a copy of the cookie taken before signs nobody in
            await run_in_threadpool(end, opened)
        sign_out(request)
        return RedirectResponse("/login", status_code=303)

    def change_password(user_id: int, current: str, new: str,
                        request: Request) -> tuple[OpenSession, Ended] | None:
        with ctx.write.begin() as session:
            user = session.get(User, user_id)
            if user is None or not verify_password(user.password_hash, current):
                return None
            ended = set_password(user, new)
            # Every session has ended, this one too (its cookie may be the leaked copy): this browser gets a
            # new one.
            return start_session(session, user, lifetime, *client_of(request), utcnow()), ended

    async def password(request: Request) -> Response:
        data = await checked_form(request)
        me = viewer(request)
        current, new = str(data.get("current", ""))[:MAX_PASSWORD], str(data.get("new", ""))[:MAX_PASSWORD]
        key = "account:" + me.email  # a wrong current password counts as a failed sign-in of the account

        async def refused(problem: str, status: int = 400) -> Response:
            return await run_in_threadpool(account.page, ctx, request, problem=problem, status=status)

        wait = per_account.retry_after(key)
        if wait > 0:
            log.warning("event=password_change_limited email=%s", me.email)
            return await refused(too_many(wait), status=429)
        if new != str(data.get("again", ""))[:MAX_PASSWORD]:
            return await refused(_("The two new passwords differ; nothing was changed."))
        try:
            check_password_rules(new)
        except WeakPassword:
            return await refused(_("Use at least %(num)s characters for the new password.",
                                   num=MIN_PASSWORD_LENGTH))
        found = await run_in_threadpool(change_password, me.id, current, new, request)
        if found is None:
            per_account.failed(key)
            log.info("event=password_change_failed email=%s", me.email)
            return await refused(_("The current password is not right; nothing was changed."))
        per_account.succeeded(key)
        opened, ended = found
        sign_in(request, opened)
        log.info("event=password_changed email=%s sessions_ended=%s tokens_revoked=%s", me.email,
                 ended.sessions,
                 ended.tokens)
        request.session["flash"] = ngettext(
            "Password changed. You were signed out everywhere else, and %(num)s API token was revoked.",
            "Password changed. You were signed out everywhere else, and %(num)s API tokens were revoked.",
            ended.tokens)
        return RedirectResponse(account.ACCOUNT, status_code=303)

    return [
        Route("/login", login_page, methods=["GET"], name="login_page"),
        Route("/login", login, methods=["POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route(account.ACCOUNT + "/password", password, methods=["POST"], name="account_password"),
        Route("/language", language, methods=["POST"], name="language"),
    ]
