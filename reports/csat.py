"""Satisfaction (CSAT) figures: surveys sent, answered, the response rate, the average rating, the share of
4-5.

A survey counts for the group of its item (the SLA report's groups: category, organization, assignee, week),
for items received in the report's period. **sent**: its mail was accepted by the SMTP server, or it was
answered; **responses**: surveys with a rating (a changed rating counts once, as its latest value);
**response_rate** = responses / sent; **average** = mean rating of the responses; **satisfied_share** = share
of responses rated 4 or 5. Shares and averages are None when their denominator is 0.
"""
from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Item, OutboxMail, Survey

SATISFIED = (4, 5)
_DELIVERED = ("sent", "handed")


@dataclass(frozen=True)
class CsatFigures:
    """One group's CSAT figures (see the module docstring)."""

    surveys_sent: int = 0
    responses: int = 0
    rating_sum: int = 0
    satisfied: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.surveys_sent if self.surveys_sent else None

    @property
    def average(self) -> float | None:
        return self.rating_sum / self.responses if self.responses else None

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.responses if self.responses else None


@dataclass
class CsatTally:
    """Counts surveys into CsatFigures."""

    sent: int = 0
    responses: int = 0
    rating_sum: int = 0
    satisfied: int = 0

    def add(self, delivered: bool, rating: int | None) -> None:
        if not delivered and rating is None:
            return  # scheduled, cancelled or withheld: never reached the client
        self.sent += 1
        if rating is not None:
            self.responses += 1
            self.rating_sum += rating
            self.satisfied += rating in SATISFIED

    def figures(self) -> CsatFigures:
        return CsatFigures(self.sent, self.responses, self.rating_sum, self.satisfied)


def surveys_in(session: Session, start: datetime, end: datetime,
               item_ids: Collection[int] | None = None) -> Iterator[tuple[int, bool, int | None]]:
    """(item id, delivered, rating) of every survey of items received in [START, END), of ITEM_IDS if
    given."""
    rows = session.execute(
        select(Survey.item_id, OutboxMail.status, Survey.rating)
        .join(Item, Item.id == Survey.item_id)
        .outerjoin(OutboxMail, OutboxMail.id == Survey.outbox_id)
        .where(Item.received_at >= start, Item.received_at < end))
    for item_id, mail_status, rating in rows:
        if item_ids is None or item_id in item_ids:
            yield item_id, mail_status in _DELIVERED, rating


def as_dict(f: CsatFigures) -> dict[str, float | int | None]:
    """The figures for JSON: counts, and shares and the average rounded to 4 decimals."""
    def r(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {"surveys_sent": f.surveys_sent, "responses": f.responses, "response_rate": r(f.response_rate),
            "average": r(f.average), "satisfied_share": r(f.satisfied_share)}
