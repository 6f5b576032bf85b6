"""Validates what a request asks for (queue filters, a category) and says in one line what is wrong."""
from __future__ import annotations

from collections.abc import Mapping

from db.models import CATEGORIES, ITEM_STATUSES
from review.queries import QueueFilter

MAX_PAGE = 1_000_000
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class InvalidInput(ValueError):
    """A request value a user can fix; the message says which and how."""


def parse_category(value: object) -> str:
    """VALUE when it is one of the categories; InvalidInput otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"category: missing; choose one of {', '.join(CATEGORIES)}")
    value = value.strip()
    if value not in CATEGORIES:
        raise InvalidInput(f"category: unknown category {value!r}; choose one of {', '.join(CATEGORIES)}")
    return value


def parse_queue_filter(query: Mapping[str, str]) -> QueueFilter:
    """The queue filter from QUERY (category, status, review, page); empty values mean "any"."""
    category = query.get("category", "").strip()
    if category and category not in CATEGORIES:
        raise InvalidInput(f"category: unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    status = query.get("status", "").strip()
    if status and status not in ITEM_STATUSES:
        raise InvalidInput(f"status: unknown status {status!r}; use one of {', '.join(ITEM_STATUSES)}")
    review = query.get("review", "").strip().lower()
    if review not in _TRUE + _FALSE:
        raise InvalidInput(f"review: expected 1 or 0, not {review!r}")
    raw_page = query.get("page", "").strip() or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise InvalidInput(f"page: expected a whole number from 1 to {MAX_PAGE}, not {raw_page!r}")
    return QueueFilter(category=category, status=status, review_only=review in _TRUE, page=int(raw_page))
