"""The web app's Prometheus metrics: requests by route and status, answered on /metrics when enabled."""
from __future__ import annotations

import hmac

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()  # no `_created` series beside the counter
UNMATCHED = "(unmatched)"  # any address no route serves: one label value, however many such addresses come in


class HttpMetrics:
    """The app's own registry (an app per test or per process, each counting its own requests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("intake_http_requests", "HTTP requests answered, by route (the route's "
                                "template, such as /items/{ref}) and status", ["route", "status"],
                                registry=self.registry)

    def middleware(self, app: ASGIApp, routes: list[BaseRoute]) -> ASGIApp:
        """APP with every answer counted, redirects to the sign-in and errors included."""
        return _Counting(app, routes, self.requests)

    def route(self, token: str | None) -> Route:
        """GET /metrics; with TOKEN, only for requests bearing it (Authorization: Bearer TOKEN)."""
        expected = f"Bearer {token}".encode() if token else None

        async def metrics(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if expected is not None and not hmac.compare_digest(given, expected):
                return JSONResponse({"error": "send Authorization: Bearer <the metrics token>"},
                                    status_code=401, headers={"www-authenticate": 'Bearer realm="metrics"'})
            body = await run_in_threadpool(generate_latest, self.registry)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        return Route("/metrics", metrics, methods=["GET"], name="metrics")


class _Counting:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute], requests: Counter) -> None:
        self.app = app
        self.routes = routes
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets when the app fails before answering

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            self.requests.labels(self._template(scope), str(status)).inc()

    def _template(self, scope: Scope) -> str:
        """The template of the route that served SCOPE (the router notes it); for a request answered before
        the router (a sign-in redirect, a 401), the route it would have gone to."""
        route = scope.get("route")
        if route is None:
            probe = dict(scope)  # matching must not change the request
            partial = None
            for candidate in self.routes:
                match, _ = candidate.matches(probe)
                if match is Match.FULL:
                    route = candidate
                    break
                if match is Match.PARTIAL and partial is None:
                    partial = candidate
            route = route or partial
        return str(getattr(route, "path", "") or UNMATCHED)
