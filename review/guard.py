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
from starlette.types import ASGIApp, Receive, Scope, Send

from db.types import utcnow
from review.i18n import N_
from review.viewer import TOKEN_USE_RESOLUTION, Viewer, load_viewer, note_token_use, token_owner

# Reachable without signing in; everything else needs a session (pages) or a token (API).
PUBLIC_PATHS = ("/login", "/healthz")
PUBLIC_PREFIXES = ("/static/",)
CSRF_FIELD = "csrf_token"
# Shown on the error page in the request's language (translated where it is shown, see pages.http_error_message).
CSRF_FAILED = N_("This form has expired or was not sent from this site. Go back, reload the page and try again.")


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class RequireViewer:
    """Puts the Viewer in scope["viewer"]; anonymous requests get a sign-in redirect (pages) or 401 (API)."""

    def __init__(self, app: ASGIApp, read: sessionmaker[Session], write: sessionmaker[Session]) -> None:
        self.app = app
        self.read = read
        self.write = write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if is_api(path):
            viewer = await run_in_threadpool(self._from_token, conn.headers.get("authorization", ""))
            if viewer is None:
                await _send(send, 401, "application/json",
                            json.dumps({"error": "send Authorization: Bearer <token>; create one with "
                                                 "`intake user token EMAIL`"}).encode(),
                            [(b"www-authenticate", b'Bearer realm="client-intake"')])
                return
        else:
            viewer = await run_in_threadpool(self._from_session, conn.session)
            if viewer is None:
                conn.session.pop("uid", None)
                target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
                location = "/login?next=" + quote(target, safe="")
                await _send(send, 303, "text/plain; charset=utf-8", b"Sign in first.",
                            [(b"location", location.encode("latin-1"))])
                return
        scope["viewer"] = viewer
        await self.app(scope, receive, send)

    def _from_session(self, session: dict) -> Viewer | None:
        uid, epoch = session.get("uid"), session.get("epoch")
        if not isinstance(uid, int) or not isinstance(epoch, int):
            return None
        with self.read() as db:
            return load_viewer(db, uid, epoch)

    def _from_token(self, header: str) -> Viewer | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with self.read() as db:
            found = token_owner(db, token.strip())
        if found is None:
            return None
        owner, token_id, last_used = found
        now = utcnow()
        if last_used is None or now - last_used >= TOKEN_USE_RESOLUTION:
            with self.write.begin() as db:
                note_token_use(db, token_id, now)
        return owner


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
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, CSRF_FAILED)
    return form


def sign_in(request: Request, user_id: int, epoch: int) -> None:
    """Starts a fresh session for USER_ID (a new session and CSRF token, so nothing survives from before)."""
    request.session.clear()
    request.session.update({"uid": user_id, "epoch": epoch, "csrf": secrets.token_urlsafe(32)})


def safe_next(target: str | None) -> str:
    """TARGET when it is a path on this site, else the queue: a login link cannot send users elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
