"""The sign-in page, signing in with the failed-login limit, signing out, and the user's language."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import User
from review.accounts import find_user
from review.auth import LoginLimiter, hash_password, needs_rehash, verify_password
from review.context import Context
from review.guard import checked_form, safe_next, sign_in, viewer
from review.i18n import LANGUAGES, _, ngettext

log = logging.getLogger(__name__)
MAX_FIELD = 320


def same_page(request: Request) -> str:
    """The page the request came from (the Referer on this site), so switching language stays on it."""
    came_from = urlsplit(request.headers.get("referer", ""))
    if came_from.netloc != request.url.netloc:
        return "/"
    return safe_next(came_from.path + ("?" + came_from.query if came_from.query else ""))


def routes(ctx: Context) -> list[Route]:
    """/login and /logout, bound to CTX."""
    per_account = LoginLimiter(ctx.settings.login_failures, ctx.settings.login_window)
    per_address = LoginLimiter(ctx.settings.login_failures_per_address, ctx.settings.login_window)

    def form(request: Request, error: str = "", email: str = "", status: int = 200) -> Response:
        return ctx.templates.TemplateResponse(request, "login.html", {
            "error": error, "email": email, "next": safe_next(request.query_params.get("next")),
        }, status_code=status)

    def check(email: str, password: str) -> tuple[int, int] | None:
        with ctx.write.begin() as session:
            user = find_user(session, email)
            ok = verify_password(user.password_hash if user else None, password)
            if not (ok and user is not None and user.active):
                return None
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return user.id, user.session_epoch

    def login_page(request: Request) -> Response:
        return form(request)

    async def login(request: Request) -> Response:
        data = await checked_form(request)
        email = str(data.get("email", "")).strip().lower()[:MAX_FIELD]
        password = str(data.get("password", ""))[:1024]
        address = request.client.host if request.client else "unknown"
        keys = ("account:" + email, "address:" + address)
        wait = max(per_account.retry_after(keys[0]), per_address.retry_after(keys[1]))
        if wait > 0:
            log.warning("event=login_limited email=%s address=%s", email, address)
            minutes = max(1, round(wait / 60))
            return form(request, ngettext("Too many failed sign-ins. Try again in about %(num)s minute.",
                                          "Too many failed sign-ins. Try again in about %(num)s minutes.", minutes),
                        email, status=429)
        found = await run_in_threadpool(check, email, password) if email and password else None
        if found is None:
            per_account.failed(keys[0])
            per_address.failed(keys[1])
            log.info("event=login_failed email=%s address=%s", email, address)
            return form(request, _("The email or password is not right."), email, status=401)
        per_account.succeeded(keys[0])
        sign_in(request, *found)
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

    async def logout(request: Request) -> Response:
        await checked_form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    return [
        Route("/login", login_page, methods=["GET"], name="login_page"),
        Route("/login", login, methods=["POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/language", language, methods=["POST"], name="language"),
    ]
