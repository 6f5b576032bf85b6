"""Sign-in and CSRF: every page needs a session, every API call a token, every form post a CSRF token."""
from __future__ import annotations

import hmac
import json
import secrets
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.types import utcnow
from review.i18n import N_
from review.user_sessions import SEEN_RESOLUTION, OpenSession, find_session, note_seen, save_flash
from review.viewer import TOKEN_USE_RESOLUTION, Viewer, note_token_use, token_owner

# Reachable without signing in; everything else needs a session (pages) or a token (API).
PUBLIC_PATHS = ("/login", "/healthz", "/readyz", "/metrics")
# The clients' status and survey pages: their token in the address is the only key (review.client_pages).
PUBLIC_PREFIXES = ("/static/", "/s/", "/r/")
# Never read a session (health checks, metrics and stylesheets need no database round trip); /metrics exists
# only when enabled, and asks for its own token when one is set (review.metrics).
SESSIONLESS_PATHS = ("/healthz", "/readyz", "/metrics")
CSRF_FIELD = "csrf_token"
# The one thing the signed cookie holds for a signed-in browser: the session's random key.
SESSION_KEY = "sid"
# Where the request's OpenSession, and the session cookie's data, are kept in the ASGI scope.
SESSION_SCOPE = "intake.session"
COOKIE_SCOPE = "intake.session_cookie"
# Shown on the error page in the request's language (translated where it is shown, see
# pages.http_error_message).
CSRF_FAILED = N_("This form has expired or was not sent from this site. Go back, reload the page and try "
                 "again.")


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class RequireViewer:
    """Puts the Viewer in scope["viewer"]; anonymous requests get a sign-in redirect (pages) or 401 (API).

    A page request is signed in when the key in its signed cookie names a live row of user_sessions. While the
    request runs, request.session is that session's working data (its CSRF token and flash, read from the
    row); as the response starts, a changed flash is saved in the row and the cookie is set to the key alone
    (a Set-Cookie goes out only when the key changed: sign-in, password change, sign-out)."""

    def __init__(self, app: ASGIApp, read: sessionmaker[Session], write: sessionmaker[Session]) -> None:
        self.app = app
        self.read = read
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in SESSIONLESS_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if is_api(path):  # tokens only: a session cookie sent along is neither read nor changed
            viewer = await run_in_threadpool(self._from_token, conn.headers.get("authorization", ""))
            if viewer is None:
                await _send(send, 401, "application/json",
                            json.dumps({"error": "send Authorization: Bearer <token>; create one with "
                                                 "`intake user token EMAIL`"}).encode(),
                            [(b"www-authenticate", b'Bearer realm="client-intake"')])
                return
            scope["viewer"] = viewer
            await self.app(scope, receive, send)
            return
        cookie = scope[COOKIE_SCOPE] = conn.session  # what SessionMiddleware read from the signed cookie
        key = cookie.get(SESSION_KEY)
        opened = await run_in_threadpool(self._from_session, key) if isinstance(key, str) else None
        if opened is None:
            cookie.pop(SESSION_KEY, None)  # anonymous: the cookie holds at most the sign-in form's CSRF token
            if path not in PUBLIC_PATHS:
                target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"]
                                 else "")
                location = "/login?next=" + quote(target, safe="")
                await _send(send, 303, "text/plain; charset=utf-8", b"Sign in first.",
                            [(b"location", location.encode("latin-1"))])
                return
        else:
            _open(scope, opened)
            if path not in PUBLIC_PATHS:
                scope["viewer"] = opened.viewer
        await self.app(scope, receive, self._settling(scope, send))

    def _settling(self, scope: Scope, send: Send) -> Send:
        async def settle(message: Message) -> None:
            opened = scope.get(SESSION_SCOPE)
            if message["type"] == "http.response.start" and isinstance(opened, OpenSession):
                cookie, data = scope[COOKIE_SCOPE], scope["session"]
                if opened.ended:
                    cookie.clear()
                else:
                    flash = str(data.get("flash") or "")
                    if flash != opened.flash:  # set by a form post, or shown by this page
                        await run_in_threadpool(self._save_flash, opened.id, flash)
                    if dict(cookie) != {SESSION_KEY: opened.key}:
                        cookie.clear()
                        cookie[SESSION_KEY] = opened.key
                scope["session"] = cookie  # SessionMiddleware writes the cookie from it, next
            await send(message)

        return settle

    def _from_session(self, key: str) -> OpenSession | None:
        now = utcnow()
        with self.read() as db:
            found = find_session(db, key, now)
        if found is None:
            return None
        row, owner = found
        if now - row.last_seen_at >= SEEN_RESOLUTION:
            with self.write.begin() as db:
                note_seen(db, row.id, now)
        return OpenSession(id=row.id, key=key, viewer=owner, csrf=row.csrf_secret, flash=row.flash or "")

    def _save_flash(self, session_id: int, flash: str) -> None:
        with self.write.begin() as db:
            save_flash(db, session_id, flash)

    def _from_token(self, header: str) -> Viewer | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        now = utcnow()
        with self.read() as db:
            found = token_owner(db, token.strip(), now)
        if found is None:
            return None
        owner, token_id, last_used = found
        if last_used is None or now - last_used >= TOKEN_USE_RESOLUTION:
            with self.write.begin() as db:
                note_token_use(db, token_id, now)
        return owner


def _open(scope: Scope, opened: OpenSession) -> None:
    """Makes OPENED the session of the request in SCOPE: request.session becomes its working data (its CSRF
    token and flash), never written to the cookie."""
    scope[SESSION_SCOPE] = opened
    scope["session"] = {"csrf": opened.csrf, **({"flash": opened.flash} if opened.flash else {})}


async def _send(send: Send, status: int, content_type: str, body: bytes,
                extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def viewer(request: Request) -> Viewer:
    """The signed-in user of REQUEST (RequireViewer guarantees one outside the public paths)."""
    found = request.scope.get("viewer")
    if not isinstance(found, Viewer):
        raise HTTPException(401, N_("sign in first"))
    return found


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's; 403 otherwise."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    # isascii first: compare_digest raises TypeError for a str with other characters ("²" as the token).
    if not (isinstance(sent, str) and isinstance(expected, str) and sent.isascii()
            and hmac.compare_digest(sent, expected)):
        raise HTTPException(403, CSRF_FAILED)
    return form


def current_session(request: Request) -> OpenSession | None:
    """The session REQUEST runs in, or None when it is not signed in."""
    found = request.scope.get(SESSION_SCOPE)
    return found if isinstance(found, OpenSession) and not found.ended else None


def sign_in(request: Request, opened: OpenSession) -> None:
    """Makes OPENED (a session just started) the browser's: the cookie will carry its key, and nothing of the
    session before (its CSRF token included) survives."""
    _open(request.scope, opened)


def sign_out(request: Request) -> None:
    """Drops the browser's cookie (the caller ends the session's row)."""
    opened = request.scope.get(SESSION_SCOPE)
    if isinstance(opened, OpenSession):
        opened.ended = True
    request.session.clear()


def safe_next(target: str | None) -> str:
    """TARGET when it is a path on this site, else the queue: a login link cannot send users elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
