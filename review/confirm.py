"""The second page that asks before a risky change (reject, close, large bulk changes): a form, no script."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, raiseload
from starlette.requests import Request
from starlette.responses import Response

from db.models import Item, User
from review.context import Context
from review.i18n import _
from review.params import field_id
from review.present import label_text
from review.viewer import Viewer


def confirm_page(ctx: Context, request: Request, *, question: str, details: Sequence[str], action: str,
                 fields: Sequence[tuple[str, str]], button: str, back: str) -> Response:
    """A page asking QUESTION (DETAILS below it) whose button posts FIELDS and confirm=1 to ACTION again;
    Cancel goes BACK. The CSRF token is the session's, as on every form."""
    return ctx.templates.TemplateResponse(request, "confirm.html", {
        "question": question, "details": details, "action": action, "fields": fields, "button": button,
        "back": back,
    })


def visible_item(session: Session, ref: str, viewer: Viewer) -> Item | None:
    """The item REF when VIEWER may see it (its contact loaded), else None."""
    item = session.scalar(select(Item).where(Item.ref == ref)
                          .options(joinedload(Item.contact), raiseload("*")))
    return item if item is not None and viewer.may_see(item) else None


def bulk_action_text(ctx: Context, kind: str, value: str) -> str:
    """A bulk action ("status", "closed") as the bulk list names it, in the request's language."""
    if kind == "category":
        return _("Set category: %(category)s", category=label_text(value))
    if kind == "status":
        return _("Set status: %(status)s", status=label_text(value))
    person = field_id(value)
    if person is None:
        return _("Assign to nobody")
    with ctx.read() as session:
        user = session.get(User, person)
    return _("Assign to %(person)s", person=(user.name or user.email) if user else value)
