"""The admins' client-data page: export everything held about a contact (a zip), erase a contact, and the
audit log of erasures, exports and purges."""
from __future__ import annotations

import logging
import re
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.audit import recent, record
from db.erasure import erase_contact, find_contact
from db.types import utcnow
from reports.contact_export import NoSuchContact, contact_export_file
from review.context import Context
from review.downloads import download_response
from review.guard import checked_form, viewer
from review.i18n import N_, _, translated
from review.pages import error_page
from review.params import InvalidInput, text_value

PRIVACY = "/privacy"
DONE = {"erase": N_("The contact was erased: their items stay, without their address, name or texts.")}
NO_CONTACT = N_("There is no contact with the address %(address)s.")

log = logging.getLogger(__name__)


def _address(raw: object) -> str:
    """The posted address, checked for shape only (the contact table says whether it exists)."""
    text = text_value(raw, "email", 320, label=N_("Email"))
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
        raise InvalidInput(N_("email: %(value)s is not an email address"), value=text)
    return text


def routes(ctx: Context) -> list[Route]:
    """The client-data routes, bound to CTX; admins only (to anyone else they do not exist)."""

    def hidden(request: Request) -> Response | None:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 404, _("There is no page at this address."))
        return None

    def page(request: Request) -> Response:
        if (refusal := hidden(request)) is not None:
            return refusal
        with ctx.read() as session:
            entries = list(recent(session, 50))
        done = request.query_params.get("done", "")
        return ctx.templates.TemplateResponse(request, "privacy.html", {
            "entries": entries, "flash": _(DONE[done]) if done in DONE else None})

    async def export(request: Request) -> Response:
        form = await checked_form(request)
        if (refusal := hidden(request)) is not None:
            return refusal
        try:
            address = _address(form.get("email"))
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc), back=PRIVACY)
        try:
            # Off the event loop: a client of many years is a long zip to write.
            data, contact_id = await run_in_threadpool(_export, address, viewer(request).email)
        except NoSuchContact:
            return error_page(ctx, request, 404, _(NO_CONTACT, address=address), back=PRIVACY)
        log.info("event=contact_exported contact=%s by=%s", contact_id, viewer(request).email)
        return download_response(data, f"{address.lower()}.zip")

    def _export(address: str, by: str) -> tuple[IO[bytes], int]:
        """The export zip of ADDRESS (an open file) and the contact's id, recorded in the audit log."""
        data: IO[bytes] | None = None
        try:
            with ctx.write.begin() as session:
                data, counts = contact_export_file(session, address)
                contact = find_contact(session, address)
                assert contact is not None
                contact_id = contact.id
                record(session, by, "export", {"contact": contact_id, **counts})
        except BaseException:
            if data is not None:
                data.close()  # the audit record failed: no download either
            raise
        return data, contact_id

    async def erase(request: Request) -> Response:
        form = await checked_form(request)
        if (refusal := hidden(request)) is not None:
            return refusal
        try:
            address, again = _address(form.get("email")), _address(form.get("confirm"))
        except InvalidInput as exc:
            return error_page(ctx, request, 400, translated(exc), back=PRIVACY)
        if address.lower() != again.lower():
            return error_page(ctx, request, 400, _("The two addresses differ; nothing was erased."),
                              back=PRIVACY)
        with ctx.write.begin() as session:
            erased = erase_contact(session, address, viewer(request).email, utcnow())
        if erased is None:
            return error_page(ctx, request, 404, _(NO_CONTACT, address=address), back=PRIVACY)
        log.warning("event=contact_erased contact=%s by=%s", erased.contact_id, viewer(request).email)
        return RedirectResponse(f"{PRIVACY}?done=erase", status_code=303)

    return [Route(PRIVACY, page, methods=["GET"], name="privacy"),
            Route(PRIVACY + "/export", export, methods=["POST"], name="privacy_export"),
            Route(PRIVACY + "/erase", erase, methods=["POST"], name="privacy_erase")]
