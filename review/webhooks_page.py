"""The admin's delivery log of chat alerts and webhooks: each target's counts, every call's outcome, a
retry."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from db.models import WebhookDelivery
from db.types import utcnow
from db.webhook_deliveries import STATUSES, TargetCounts, counts_by_target, deliveries, retry_failed
from review.api_actions import json_error
from review.archive_queries import PER_PAGE, Slice
from review.context import Context
from review.guard import checked_form, viewer
from review.i18n import N_, _, translated
from review.pages import error_page
from review.params import InvalidInput, page_param, path_id, shown
from review.present import iso_utc

WEBHOOKS = "/webhooks"
MAX_TARGET = 100


@dataclass(frozen=True)
class Filter:
    """Which deliveries the log shows: one target's or all, one status or all, and the page."""

    target: str = ""
    status: str = ""
    page: int = 1


def parse_filter(query: Mapping[str, str]) -> Filter:
    """The log's filter from QUERY; InvalidInput names a bad value."""
    target = query.get("target", "").strip()
    if len(target) > MAX_TARGET or not target.isprintable():  # no target name holds a control character
        raise InvalidInput(N_("target: at most %(max)s characters, none of them control characters"),
                           max=MAX_TARGET)
    status = query.get("status", "").strip()
    if status and status not in STATUSES:
        raise InvalidInput(N_("status: one of %(choices)s, not %(value)s"), choices=", ".join(STATUSES),
                           value=shown(status))
    return Filter(target, status, page_param(query))


def log_url(f: Filter, page: int | None = None) -> str:
    """The log page's path for F on PAGE (default: F's)."""
    params: dict[str, str | int] = {k: v for k, v in (("target", f.target), ("status", f.status)) if v}
    page = f.page if page is None else page
    if page != 1:
        params["page"] = page
    return WEBHOOKS + ("?" + urlencode(params) if params else "")


def targets(ctx: Context, counts: dict[str, TargetCounts]) -> list[dict[str, Any]]:
    """The configured targets, then any others the log still holds (removed from the configuration)."""
    kinds = {r.name: r.target for r in ctx.alerts.routes}
    names = [*kinds, *sorted(n for n in counts if n not in kinds)]
    out = []
    for name in names:
        c = counts.get(name) or TargetCounts(name)
        out.append({"name": name, "target": kinds.get(name, ""), "configured": name in kinds,
                    "pending": c.pending, "sent": c.sent, "failed": c.failed,
                    "last_sent_at": c.last_sent_at})
    return out


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    """One delivery as the API shows it."""
    try:
        body = json.loads(d.body)
    except ValueError:
        body = d.body
    return {"id": d.id, "delivery_id": d.delivery_id, "target": d.target, "kind": d.kind, "event": d.event,
            "ref": d.item.ref if d.item is not None else None, "status": d.status, "attempts": d.attempts,
            "http_status": d.last_status, "last_error": d.last_error, "created_at": iso_utc(d.created_at),
            "sent_at": iso_utc(d.sent_at),
            "next_attempt_at": iso_utc(d.next_attempt_at) if d.status == "pending" else None, "payload": body}


def routes(ctx: Context) -> list[Route]:
    """The delivery log's page and API routes, bound to CTX; admins only."""

    def read(f: Filter) -> tuple[list[dict[str, Any]], Slice[WebhookDelivery]]:
        with ctx.read() as session:
            counts = counts_by_target(session)
            total, rows = deliveries(session, f.target or None, f.status or None, PER_PAGE,
                                     (f.page - 1) * PER_PAGE)
            for row in rows:  # loaded while the session is open: the page reads them after it closes
                _ = row.item
            session.expunge_all()
        return targets(ctx, counts), Slice(rows, total, f.page, PER_PAGE)

    def page(request: Request) -> Response:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 404, _("There is no page at this address."))
        try:
            f = parse_filter(request.query_params)
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc), back=WEBHOOKS)
        listed, entries = read(f)
        done = request.query_params.get("done", "")
        return ctx.templates.TemplateResponse(request, "webhooks.html", {
            "targets": listed, "entries": entries, "f": f, "statuses": STATUSES,
            "page_url": partial(log_url, f), "filter_url": lambda **kw: log_url(Filter(**{**f.__dict__, **kw,
                                                                                            "page": 1})),
            "flash": _("Retry requested: the worker delivers it within seconds.") if done == "retry"
            else None,
        })

    async def retry(request: Request) -> Response:
        await checked_form(request)
        if not viewer(request).is_admin:
            return error_page(ctx, request, 404, _("There is no page at this address."))
        row_id = path_id(request.path_params["delivery"])
        done = False
        if row_id is not None:
            with ctx.write.begin() as session:
                done = retry_failed(session, row_id, utcnow())
        if not done:
            return error_page(ctx, request, 404, _("There is no failed delivery with the number %(number)s.",
                                                   number=shown(request.path_params["delivery"])),
                              back=WEBHOOKS)
        return RedirectResponse(WEBHOOKS + "?status=pending&done=retry", status_code=303)

    def api_targets(request: Request) -> Response:
        if not viewer(request).is_admin:
            return json_error(403, "the delivery log is for admins")
        with ctx.read() as session:
            listed = targets(ctx, counts_by_target(session))
        return JSONResponse({"targets": [{**t, "last_sent_at": iso_utc(t["last_sent_at"])} for t in listed]})

    def api_deliveries(request: Request) -> Response:
        if not viewer(request).is_admin:
            return json_error(403, "the delivery log is for admins")
        try:
            f = parse_filter(request.query_params)
        except InvalidInput as exc:
            return json_error(400, str(exc))
        _listed, entries = read(f)
        return JSONResponse({"deliveries": [delivery_json(d) for d in entries.rows], "total": entries.total,
                             "page": entries.page, "per_page": entries.per_page})

    return [
        Route(WEBHOOKS, page, methods=["GET"], name="webhooks"),
        Route(WEBHOOKS + "/{delivery}/retry", retry, methods=["POST"], name="webhook_retry"),
        Route("/api/webhooks", api_targets, methods=["GET"], name="api_webhooks"),
        Route("/api/webhooks/deliveries", api_deliveries, methods=["GET"], name="api_webhook_deliveries"),
    ]
