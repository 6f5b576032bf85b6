"""Builds the PM review web app: pages, JSON API, sign-in, static files, error pages and security headers."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.engine import make_sessionmaker
from db.types import utcnow
from reports.policy import SlaPolicies
from responders.alerts import Alerts
from responders.client_mail import ClientMailSettings
from responders.recipients import deliverable
from review import (
    account,
    api,
    api_actions,
    archive,
    canned,
    client_api,
    client_pages,
    downloads,
    health,
    i18n,
    item_actions,
    login,
    pages,
    people,
    present,
    privacy_page,
    quarantine_page,
    sla_pages,
    sla_report_page,
    sla_view,
    timezones,
    webhooks_page,
)
from review.context import Context
from review.guard import CSRF_FIELD, RequireViewer, csrf_token
from review.html import safe_html_markup
from review.metrics import HttpMetrics
from review.settings import WebSettings
from review.thresholds import ReviewThresholds

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# the SLA report's stylesheet, shared with the standalone page
REPORT_STATIC = HERE.parent / "reports" / "static"
MAX_BODY_BYTES = 64 * 1024

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
NO_STORE = (b"cache-control", b"no-store")
STATIC_PREFIX = "/static/"  # the stylesheets: the only answers a cache may keep

log = logging.getLogger(__name__)


class SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends to every response, errors included (no script runs,
    ever), and keeps every answer but the static files out of caches: pages and API answers show client
    data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        cacheable = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                has_cache_control = any(name.lower() == b"cache-control" for name, _value in headers)
                message["headers"] = headers + SECURITY_HEADERS + ([] if cacheable or has_cache_control
                                                                   else [NO_STORE])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's error handler answers, then raises again for the server's log. Should the handler
            # itself fail, the client still gets a plain 500 with the headers, never the server's bare one.
            if not started:
                await send_with_headers({"type": "http.response.start", "status": 500,
                                         "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send_with_headers({"type": "http.response.body", "body": b"Internal Server Error"})
            raise


class ReviewApp(Starlette):
    """Starlette with the security headers outside everything, its own error handling included: Starlette puts
    that handling (the 500 answer) outside any middleware given to it, so a 500 would go out without them. The
    request counter (HTTP_METRICS, when set) sits there too, to count those 500s and the sign-in redirects."""

    http_metrics: HttpMetrics | None = None

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        if self.http_metrics is not None:
            app = self.http_metrics.middleware(app, self.routes)
        return SecurityHeaders(app)


def csrf_input(request: Request) -> Markup:
    """The hidden CSRF field every form carries."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">')


def template_env() -> Environment:
    """The Jinja2 environment: autoescaped, strict about undefined names, with the display filters."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        utc=timezones.local_text, iso=present.iso_utc, pct=present.percent, exact_pct=present.exact_percent,
        band_text=present.band_text, size=present.file_size,
        label=present.label_text, event_label=present.event_label, actor=present.actor_text,
        code=present.code_text,
        contact=present.contact_text, sender=present.sender_text,
        item_url=present.item_url, email=present.breakable_email, summary=present.event_summary_text,
        body=present.body_text, safe_html=safe_html_markup,
        sla_state=sla_view.state_text, clock=sla_view.clock_text, calendar=sla_view.calendar_text,
        duration=sla_view.duration_text, time_left=sla_view.time_left_text, age=sla_view.age_text,
        report_group=sla_report_page.group_text,
        replyable=lambda address: deliverable(address or "") is not None,
    )
    env.globals.update(csrf_input=csrf_input, current_zone=timezones.current_zone)
    i18n.install(env)
    return env


def _read_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    bind = factory.kw.get("bind")
    return make_sessionmaker(bind, readonly=True) if isinstance(bind, Engine) else factory


def create_app(factory: sessionmaker[Session], settings: WebSettings | None = None,
               send_outbox: Callable[[], object] | None = None,
               read_attachment: Callable[[bytes, str], bytes | None] | None = None,
               sla: SlaPolicies | None = None, now: Callable[[], datetime] | None = None,
               report_timezone: str = "UTC", client_mail: ClientMailSettings | None = None,
               alerts: Alerts | None = None) -> Starlette:
    """The review app over the database behind FACTORY; SEND_OUTBOX sends queued replies at once,
    READ_ATTACHMENT(raw, sha256) extracts an attachment for download, SLA holds the configured SLA policies
    (default: the built-in one), NOW gives the current time (for tests; default: the system clock), and the
    SLA report's days begin at midnight in REPORT_TIMEZONE; CLIENT_MAIL (the worker's settings) sends clients
    their updates and surveys when PMs move items, and reads the survey links of the clients' pages; ALERTS:
    the chat and webhook targets."""
    settings = settings or WebSettings()
    ctx = Context(write=factory, read=_read_factory(factory),
                  templates=Jinja2Templates(env=template_env()), settings=settings, send_outbox=send_outbox,
                  read_attachment=read_attachment, sla=sla or sla_view.builtin_policies(), now=now or utcnow,
                  report_timezone=report_timezone, client_mail=client_mail, alerts=alerts or Alerts(),
                  thresholds=ReviewThresholds.configured_by(settings.review_threshold,
                                                            settings.model_thresholds, settings.model_dir))

    # Confidence bands are cut at the review threshold the worker flagged the item by (its model version's
    # own for its language, where that is higher than the configured one).
    ctx.templates.env.filters["band"] = lambda item: present.item_band(item, ctx.thresholds)
    # The admin's top bar counts quarantined messages; templates ask only when an admin is signed in.
    ctx.templates.env.globals["quarantine_count"] = quarantine_page.counter(ctx)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/"):
            return api.json_error(exc.status_code, str(exc.detail))
        return pages.error_page(ctx, request, exc.status_code, pages.http_error_message(exc))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("event=request_failed path=%s error=%s", request.url.path, exc.__class__.__name__)
        if request.url.path.startswith("/api/"):
            return api.json_error(500, "internal error; see the server log")
        # This handler runs outside the Language middleware: it sets the request's language itself.
        with i18n.speaking(i18n.scope_language(request.scope)):
            message = i18n.gettext("The page could not be shown; the error was logged.")
            return pages.error_page(ctx, request, 500, message)

    routes = [*login.routes(ctx), *pages.routes(ctx), *item_actions.routes(ctx), *archive.routes(ctx),
              *downloads.routes(ctx), *people.routes(ctx), *quarantine_page.routes(ctx),
              *sla_pages.routes(ctx),
              *sla_report_page.routes(ctx), *webhooks_page.routes(ctx), *api.routes(ctx),
              *api_actions.routes(ctx), *client_api.routes(ctx), *client_pages.routes(ctx),
              *account.routes(ctx),
              *health.routes(ctx), *privacy_page.routes(ctx), *canned.routes(ctx),
              Mount("/static/reports", StaticFiles(directory=str(REPORT_STATIC)), name="report_static"),
              Mount("/static", StaticFiles(directory=str(STATIC)), name="static")]
    http_metrics = HttpMetrics() if settings.metrics else None
    if http_metrics is not None:
        routes.insert(0, http_metrics.route(settings.metrics_token))
    app = ReviewApp(
        routes=routes,
        middleware=[
            Middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="intake_session",
                       max_age=settings.session_seconds, same_site="lax", https_only=settings.https_only),
            Middleware(RequireViewer, read=ctx.read, write=ctx.write),
            Middleware(i18n.Language),
            Middleware(timezones.TimeZone, default=report_timezone),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        max_body_size=MAX_BODY_BYTES,
    )
    app.http_metrics = http_metrics
    return app
