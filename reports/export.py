"""Exports every tracker item, one record each, as JSON lines or CSV, streamed from the database.

Records are ordered by ``received_at`` then id and have the fields in :data:`FIELDS`:
``message_id`` and ``sender`` come from the item's first inbound message (lowest message id, the
one that opened the item; ``sender`` falls back to the item's contact when there is none), times
are ISO 8601 UTC with ``Z`` (``null`` in JSON / empty in CSV when unset), ``confidence`` is rounded
to 4 places, ``needs_review`` is a boolean (``true``/``false`` in CSV). ``organization`` is the client
organization's name, ``assignee`` the assignee's email, ``sla_state`` and ``sla_due_at`` the state and due
time the worker's last SLA check stored. CSV starts with a UTF-8 byte-order mark unless asked not to.

CSV guards against spreadsheet formula injection: a text cell starting with =, +, -, @, tab or CR
gets a leading apostrophe (see :func:`reports.render.spreadsheet_safe`). JSON lines are left as is.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Contact, Item, Message, Organization, User
from reports.render import iso_utc, spreadsheet_safe

FORMATS = ("jsonl", "csv")
FIELDS = ("ref", "message_id", "received_at", "sender", "subject", "category", "confidence", "needs_review",
          "status", "lang", "acknowledged_at", "first_response_at", "resolved_at", "model_version",
          "organization", "assignee", "sla_state", "sla_due_at")
_TEXT = frozenset(("ref", "message_id", "sender", "subject", "category", "status", "lang", "model_version",
                   "organization", "assignee", "sla_state"))
BOM = "\ufeff"  # lets spreadsheet programs (Excel) read the CSV as UTF-8 rather than the local code page
_YIELD_PER = 1000


def iter_records(session: Session) -> Iterator[dict[str, Any]]:
    """Every item as an export record, in order, fetched in batches rather than all at once."""
    first_in = (
        select(Message.item_id, func.min(Message.id).label("first_id"))
        .where(Message.direction == "in", Message.item_id.is_not(None))
        .group_by(Message.item_id)
        .subquery()
    )
    stmt = (
        select(Item.ref, Message.message_id, Item.received_at, Message.sender, Contact.email, Item.subject,
               Item.category, Item.confidence, Item.needs_review, Item.status, Item.lang,
               Item.acknowledged_at,
               Item.first_response_at, Item.resolved_at, Item.model_version,
               Organization.name.label("organization"), User.email.label("assignee"), Item.sla_state,
               Item.sla_due_at)
        .outerjoin(first_in, first_in.c.item_id == Item.id)
        .outerjoin(Message, Message.id == first_in.c.first_id)
        .outerjoin(Contact, Contact.id == Item.contact_id)
        .outerjoin(Organization, Organization.id == Contact.organization_id)
        .outerjoin(User, User.id == Item.assignee_id)
        .order_by(Item.received_at, Item.id)
        .execution_options(yield_per=_YIELD_PER)
    )
    for row in session.execute(stmt):
        yield {
            "ref": row.ref or "",
            "message_id": row.message_id or "",
            "received_at": iso_utc(row.received_at),
            "sender": row.sender or row.email or "",
            "subject": row.subject or "",
            "category": row.category,
            "confidence": round(row.confidence or 0.0, 4),
            "needs_review": bool(row.needs_review),
            "status": row.status,
            "lang": row.lang or "",
            "acknowledged_at": iso_utc(row.acknowledged_at),
            "first_response_at": iso_utc(row.first_response_at),
            "resolved_at": iso_utc(row.resolved_at),
            "model_version": row.model_version or "",
            "organization": row.organization or "",
            "assignee": row.assignee or "",
            "sla_state": row.sla_state or "",
            "sla_due_at": iso_utc(row.sla_due_at),
        }


def _csv_cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_safe(value) if name in _TEXT else value


def write_export(session: Session, fmt: str, out: TextIO, bom: bool = False) -> int:
    """Writes every item to OUT as FMT ("jsonl" or "csv"; CSV after a byte-order mark with BOM); returns the
    number of records written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    n = 0
    if fmt == "jsonl":
        for rec in iter_records(session):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
        return n
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for rec in iter_records(session):
        writer.writerow([_csv_cell(k, rec[k]) for k in FIELDS])
        n += 1
    return n
