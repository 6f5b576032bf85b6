"""Attachment downloads, and the response every download of client bytes uses: a download, never rendered."""
from __future__ import annotations

from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from db.models import Attachment, Item, Message
from review.context import Context
from review.guard import viewer
from review.i18n import _
from review.pages import error_page
from review.params import item_ref, path_id, shown


def content_disposition(filename: str) -> str:
    """An attachment disposition: an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;%' else "_"
                       for c in filename) or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_response(data: bytes | IO[bytes], filename: str) -> Response:
    """DATA as a download named FILENAME: opaque bytes whatever the client declared, since a browser must
    never render mail content from this site (no sniffing, a sandboxing policy should it open it anyway).
    DATA may be an open file, sent in chunks and closed when sent."""
    headers = {"content-disposition": content_disposition(filename), "cache-control": "private, no-store",
               "content-security-policy": "sandbox; default-src 'none'"}
    if isinstance(data, bytes):
        return Response(data, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(_chunks(data), media_type="application/octet-stream", headers=headers)


def _chunks(source: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    with source:
        while chunk := source.read(size):
            yield chunk


def routes(ctx: Context) -> list[Route]:
    """The download route, bound to CTX."""

    def download(request: Request) -> Response:
        ref = item_ref(request.path_params["ref"])
        missing = _("There is no such attachment on item %(ref)s.",
                    ref=ref or shown(request.path_params["ref"]))
        attachment_id = path_id(request.path_params["attachment_id"])
        if ref is None or attachment_id is None:
            return error_page(ctx, request, 404, missing)
        with ctx.read() as session:
            found = session.execute(
                select(Attachment, Message.raw, Item, Message.raw_purged_at)
                .join(Message, Attachment.message_id == Message.id).join(Item, Message.item_id == Item.id)
                .where(Attachment.id == attachment_id, Item.ref == ref)
                .options(joinedload(Item.contact))
            ).first()
            if found is None or not viewer(request).may_see(found[2]):
                return error_page(ctx, request, 404, missing)
            attachment, raw = found[0], found[1]
            filename, sha256 = attachment.filename, attachment.sha256
            if found[3] is not None:
                return error_page(ctx, request, 410,
                                  _("The attachment %(filename)s was removed with the raw message "
                                                       "on %(day)s, as the data retention rules ask.",
                                                       filename=filename, day=found[3].strftime("%Y-%m-%d")))
        data = ctx.read_attachment(raw, sha256) if ctx.read_attachment else None
        if data is None:
            return error_page(ctx, request, 404,
                              _("The attachment %(filename)s could not be read from the stored "
                                                   "message.", filename=filename))
        return download_response(data, filename)

    return [Route("/items/{ref}/attachments/{attachment_id}", download, methods=["GET"], name="attachment")]
