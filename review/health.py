"""Health endpoints for load balancers and service managers: /healthz (the process answers) and /readyz (the
database is reachable and at the code's schema revision)."""
from __future__ import annotations

import logging

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.revision import schema_problem
from review.context import Context

log = logging.getLogger(__name__)


def routes(ctx: Context) -> list[Route]:
    """The two health routes; neither needs a session nor tells anything about the data."""

    def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    def problem() -> str | None:
        with ctx.read() as session:
            bind = session.get_bind()
            return schema_problem(bind if isinstance(bind, Engine) else bind.engine)

    async def readyz(request: Request) -> Response:
        found = await run_in_threadpool(problem)
        if found is not None:
            log.warning("event=not_ready database=%r", found)
            # The address is public: the reason stays in the log, the answer only says which kind.
            kind = "unreachable" if found.startswith("cannot connect") else "not migrated"
            return JSONResponse({"ok": False, "database": kind}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return [Route("/healthz", healthz, methods=["GET"], name="healthz"),
            Route("/readyz", readyz, methods=["GET"], name="readyz")]
