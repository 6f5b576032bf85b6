"""Everything held about one contact (GDPR / PIPL access request), as a zip: contact.json, items.json (with
their histories), messages.json (texts, addresses, attachments' metadata), each message's raw .eml, and the
mail we sent them (sent/*.eml)."""
from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, load_only, selectinload

from db.erasure import contact_item_ids, contact_message_ids, find_contact
from db.models import Item, Message, OutboxMail
from reports.render import iso_utc


class NoSuchContact(LookupError):
    """No contact has the address asked for."""


def _when(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def write_contact_export(session: Session, email: str, out: IO[bytes]) -> dict[str, int]:
    """Writes the zip for the contact EMAIL to OUT; returns how many items, messages and sent mails it holds.
    NoSuchContact when there is none."""
    contact = find_contact(session, email)
    if contact is None:
        raise NoSuchContact(email)
    item_ids = contact_item_ids(session, contact.id)
    message_ids = contact_message_ids(session, contact.email, item_ids)
    items = session.scalars(select(Item).where(Item.id.in_(item_ids)).options(selectinload(Item.events))
                            .order_by(Item.id)).all()
    refs = {i.id: i.ref for i in items}
    # The raw mail is read a chunk at a time as it is written (below), not all at once: a client of many
    # years can have gigabytes of it.
    messages = session.scalars(select(Message).where(Message.id.in_(message_ids)).options(
        selectinload(Message.attachments), selectinload(Message.item)).order_by(Message.id)).all()
    to_contact = func.lower(OutboxMail.to_address) == contact.email.lower()
    sent = session.scalars(select(OutboxMail).where(or_(OutboxMail.item_id.in_(item_ids), to_contact))
                           .options(load_only(OutboxMail.item_id, OutboxMail.kind, OutboxMail.to_address,
                                              OutboxMail.status, OutboxMail.created_at, OutboxMail.sent_at))
                           .order_by(OutboxMail.id)).all()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        def put(name: str, value: Any) -> None:
            z.writestr(name, json.dumps(value, ensure_ascii=False, indent=2) + "\n")

        put("contact.json", {"email": contact.email, "name": contact.name,
                             "created_at": _when(contact.created_at),
                             "organization": contact.organization.name if contact.organization else None})
        put("items.json", [{
            "ref": i.ref, "subject": i.subject, "category": i.category, "status": i.status, "lang": i.lang,
            "received_at": _when(i.received_at), "acknowledged_at": _when(i.acknowledged_at),
            "first_response_at": _when(i.first_response_at), "resolved_at": _when(i.resolved_at),
            "history": [{"kind": e.kind, "actor": e.actor, "at": _when(e.created_at), "data": e.data}
                        for e in i.events]} for i in items])
        message_emls = _write_raws(z, session, Message, [m.id for m in messages], "messages")
        listed = []
        for m in messages:
            eml = message_emls.get(m.id)
            listed.append({
                "id": m.id, "item": m.item.ref if m.item else None, "direction": m.direction,
                "message_id": m.message_id, "sender": m.sender, "sender_name": m.sender_name,
                "recipients": m.recipients, "subject": m.subject, "sent_at": _when(m.sent_at),
                "received_at": _when(m.received_at), "text": m.new_text, "body_text": m.body_text,
                "status": m.status, "eml": eml, "raw_removed_at": _when(m.raw_purged_at),
                "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                                 "sha256": a.sha256} for a in m.attachments]})
        put("messages.json", listed)
        sent_emls = _write_raws(z, session, OutboxMail, [row.id for row in sent], "sent")
        put("sent.json", [{"id": row.id, "item": refs.get(row.item_id or 0), "kind": row.kind,
                           "to": row.to_address,
                           "status": row.status, "created_at": _when(row.created_at),
                           "sent_at": _when(row.sent_at),
                           "eml": sent_emls.get(row.id)} for row in sent])
    return {"items": len(items), "messages": len(messages), "sent": len(sent)}


RAW_CHUNK = 50  # raw mails read per query while the zip is written


_Mail = type[Message] | type[OutboxMail]


def _write_raws(z: zipfile.ZipFile, session: Session, model: _Mail, ids: list[int],
                folder: str) -> dict[int, str]:
    """Writes the raw mail of the rows IDS of MODEL as FOLDER/ID.eml, RAW_CHUNK rows read at a time; the name
    of each one written (rows whose bytes were purged have none)."""
    names = {}
    for start in range(0, len(ids), RAW_CHUNK):
        for row_id, raw in session.execute(select(model.id, model.raw)
                                           .where(model.id.in_(ids[start:start + RAW_CHUNK]))
                                           .order_by(model.id)):
            if raw:
                names[row_id] = f"{folder}/{row_id}.eml"
                z.writestr(names[row_id], bytes(raw))
    return names


# An export up to this size stays in memory; a larger one goes to a temporary file while it is downloaded.
SPOOL_BYTES = 16 * 1024 * 1024


def contact_export_file(session: Session, email: str) -> tuple[IO[bytes], dict[str, int]]:
    """The zip of write_contact_export in a temporary file (in memory while small), at its start, and its
    counts; the caller closes it."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        counts = write_contact_export(session, email, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, counts  # type: ignore[return-value]
