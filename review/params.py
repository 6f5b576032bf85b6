"""Validates what a request asks for (queue filters, a category) and says in one line what is wrong."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from db.models import CATEGORIES, ITEM_STATUSES
from review.i18n import N_, Explained
from review.queries import SLA_STATES, SORTS, QueueFilter

MAX_PAGE = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number in a path names nothing


def path_id(raw: str) -> int | None:
    """The row number RAW names in a path, or None when it is not one (the page then answers 404)."""
    # isascii: str.isdigit() also accepts "²" and "١٢", which int() refuses or reads as another number.
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID else None
MAX_SEARCH = 200
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class InvalidInput(Explained):
    """A request value a user can fix; the message says which and how (str(): English, for the API;
    translated(): in the request's language, for pages)."""


def parse_category(value: object) -> str:
    """VALUE when it is one of the categories; InvalidInput otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(N_("category: missing; choose one of %(choices)s"), choices=", ".join(CATEGORIES))
    value = value.strip()
    if value not in CATEGORIES:
        raise InvalidInput(N_("category: unknown category %(value)s; choose one of %(choices)s"), value=repr(value),
                           choices=", ".join(CATEGORIES))
    return value


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise InvalidInput(N_("%(name)s: expected 1 or 0, not %(value)s"), name=name, value=repr(value))
    return value in _TRUE


def day_param(query: Mapping[str, str], name: str) -> date | None:
    """The date QUERY[NAME] gives (YYYY-MM-DD), None when empty; InvalidInput naming NAME otherwise."""
    value = query.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("%(name)s: expected a date like 2026-11-23, not %(value)s"), name=name,
                           value=repr(value)) from None


def parse_queue_filter(query: Mapping[str, str], me: int | None = None) -> QueueFilter:
    """The queue filter from QUERY; empty values mean "any". ME is the viewer's id, for assignee=me."""
    base = _parse_basic(query)
    org = query.get("org", "").strip()
    if org and not org.isdigit():
        raise InvalidInput(N_("org: expected an organization id, not %(value)s"), value=repr(org))
    assignee = query.get("assignee", "").strip().lower()
    if assignee == "me" and me is not None:
        assignee = str(me)
    if assignee not in ("", "none") and not assignee.isdigit():
        raise InvalidInput(N_("assignee: expected a person's id, me or none, not %(value)s"), value=repr(assignee))
    since, until = day_param(query, "since"), day_param(query, "until")
    if since and until and since > until:
        raise InvalidInput(N_("since: the first day comes after the last day"))
    q = " ".join(query.get("q", "").split())
    if len(q) > MAX_SEARCH:
        raise InvalidInput(N_("q: search for at most %(max)s characters"), max=MAX_SEARCH)
    sort = query.get("sort", "").strip() or "newest"
    if sort not in SORTS:
        raise InvalidInput(N_("sort: use one of %(choices)s, not %(value)s"), choices=", ".join(SORTS), value=repr(sort))
    sla = query.get("sla", "").strip()
    if sla and sla not in SLA_STATES:
        raise InvalidInput(N_("sla: unknown SLA state %(value)s; use one of %(choices)s"), value=repr(sla),
                           choices=", ".join(SLA_STATES))
    return replace(base, organization=int(org) if org else None, assignee=assignee, since=since, until=until,
                   q=q, follow_up=_flag(query, "follow_up"), sort=sort, sla=sla)


def _parse_basic(query: Mapping[str, str]) -> QueueFilter:
    category = query.get("category", "").strip()
    if category and category not in CATEGORIES:
        raise InvalidInput(N_("category: unknown category %(value)s; use one of %(choices)s"), value=repr(category),
                           choices=", ".join(CATEGORIES))
    status = query.get("status", "").strip()
    if status and status not in ITEM_STATUSES:
        raise InvalidInput(N_("status: unknown status %(value)s; use one of %(choices)s"), value=repr(status),
                           choices=", ".join(ITEM_STATUSES))
    review = _flag(query, "review")
    raw_page = query.get("page", "").strip() or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise InvalidInput(N_("%(name)s: expected a whole number from 1 to %(max)s, not %(value)s"), name="page",
                           max=MAX_PAGE, value=repr(raw_page))
    return QueueFilter(category=category, status=status, review_only=review, page=int(raw_page))
