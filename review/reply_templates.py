"""Reply templates for an item: which ones it is offered, and one filled in with its reference and client."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Item, ReplyTemplate

# What a template may name; filled in when a PM inserts it (anything else in braces stays as written).
PLACEHOLDERS = ("{ref}", "{name}")


def fill(body: str, item: Item) -> str:
    """BODY with the item's reference and the client's name put in for the placeholders."""
    name = item.contact.name if item.contact and item.contact.name else ""
    return body.replace("{ref}", item.ref or "").replace("{name}", name)


def templates_for(session: Session, category: str, lang: str) -> Sequence[ReplyTemplate]:
    """The templates for an item of CATEGORY in LANG (those for every category included), by name."""
    return session.scalars(select(ReplyTemplate)
                           .where(ReplyTemplate.category.in_(("", category)), ReplyTemplate.lang == lang)
                           .order_by(ReplyTemplate.name, ReplyTemplate.id)).all()


def chosen_template(session: Session, template_id: int | None, item: Item) -> str:
    """The filled text of template TEMPLATE_ID when it is one for ITEM; "" otherwise."""
    if template_id is None:
        return ""
    found = session.get(ReplyTemplate, template_id)
    if found is None or found.category not in ("", item.category):
        return ""
    return fill(found.body, item)
