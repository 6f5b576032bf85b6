"""Reads what a request carries (ids, numbers, pages, days, choices, texts, the queue filter) strictly."""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date

from db.models import CATEGORIES, ITEM_STATUSES
from review.i18n import N_, Explained, gettext
from review.queries import SLA_STATES, SORTS, QueueFilter

MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number names nothing
MAX_PAGE = 1_000_000
# The days a request may name: far enough for any real filter or report, and far from date's own limits
# (9999-12-31 plus a day, or 0001-01-01 minus one, raises OverflowError).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_SEARCH = 200
MAX_REF = 32        # items.ref's length: a longer reference names no item
MAX_SHOWN = 40      # how much of a bad value an error message repeats
SPACE = " \t\r\n"   # stripped around query and form values (never Unicode spaces, never inside)

# ASCII digits only: str.isdigit() also takes "²" and "١٢", which int() refuses or reads as another number,
# and int() itself takes " 1", "+1", "1_000" and digits of every script.
_DIGITS = re.compile(r"[0-9]+")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks allowed
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class InvalidInput(Explained):
    """A request value a user can fix; the message says which and how (str(): English, for the API;
    translated(): in the request's language, for pages)."""


def shown(value: object) -> str:
    """VALUE as an error message repeats it: quoted, escaped, at most MAX_SHOWN characters."""
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…")


def whole_number(raw: object, low: int, high: int) -> int | None:
    """RAW as a whole number from LOW to HIGH when it is ASCII digits alone; None otherwise."""
    # The length check first: int() of thousands of digits is slow, and refused beyond 4,300.
    if not isinstance(raw, str) or len(raw) > len(str(high)) or not _DIGITS.fullmatch(raw):
        return None
    number = int(raw)
    return number if low <= number <= high else None


def path_id(raw: str) -> int | None:
    """The row id (1..MAX_ID) RAW names in a path, or None when it names none (the page then answers 404)."""
    return whole_number(raw, 1, MAX_ID)


def field_id(raw: object) -> int | None:
    """The row id a query or form value names (spaces around it allowed), or None when it is not one."""
    return whole_number(raw.strip(SPACE), 1, MAX_ID) if isinstance(raw, str) else None


def item_ref(raw: str) -> str | None:
    """RAW when it could be an item's reference (1..MAX_REF characters, no control characters); None when no
    item can have it (a 404), so a hostile value never reaches a query."""
    return raw if 0 < len(raw) <= MAX_REF and not _CONTROL.search(raw) else None


def _value(query: Mapping[str, object], name: str) -> str:
    """QUERY[NAME] without the spaces around it; "" when absent or not text (a file in a form)."""
    raw = query.get(name, "")
    return raw.strip(SPACE) if isinstance(raw, str) else ""


def number_param(query: Mapping[str, object], name: str, high: int, default: int) -> int:
    """QUERY[NAME] as a whole number from 1 to HIGH, DEFAULT when absent or empty; InvalidInput otherwise."""
    raw = _value(query, name)
    if not raw:
        return default
    number = whole_number(raw, 1, high)
    if number is None:
        raise InvalidInput(N_("%(name)s: expected a whole number from 1 to %(max)s, not %(value)s"),
                           name=name,
                           max=high, value=shown(raw))
    return number


def page_param(query: Mapping[str, object], name: str = "page") -> int:
    """The page number QUERY[NAME] (1..MAX_PAGE; 1 when absent or empty); InvalidInput otherwise."""
    return number_param(query, name, MAX_PAGE, 1)


def day_param(query: Mapping[str, object], name: str) -> date | None:
    """The day QUERY[NAME] gives (YYYY-MM-DD, FIRST_DAY..LAST_DAY), None when empty; InvalidInput
    otherwise."""
    raw = _value(query, name)
    if not raw:
        return None
    try:
        # The pattern first: fromisoformat also reads "20261123" and week dates such as "2026-W47-1".
        day = date.fromisoformat(raw) if _DAY.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput(N_("%(name)s: expected a date like 2026-11-23, not %(value)s"), name=name,
                           value=shown(raw))
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(N_("%(name)s: expected a day from %(first)s to %(last)s, not %(value)s"),
                           name=name,
                           first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat(), value=shown(raw))
    return day


def period_params(query: Mapping[str, object]) -> tuple[date | None, date | None]:
    """The days QUERY's since and until give (either may be None); InvalidInput when the first comes after the
    last."""
    since, until = day_param(query, "since"), day_param(query, "until")
    if since and until and since > until:
        raise InvalidInput(N_("since: the first day comes after the last day"))
    return since, until


def choice_param(query: Mapping[str, object], name: str, choices: Collection[str], message: str,
                 default: str = "") -> str:
    """QUERY[NAME] when it is one of CHOICES, DEFAULT when absent or empty; otherwise InvalidInput with
    MESSAGE (a msgid that may use %(value)s and %(choices)s)."""
    raw = _value(query, name)
    if not raw:
        return default
    if raw not in choices:
        raise InvalidInput(message, name=name, value=shown(raw), choices=", ".join(choices))
    return raw


def flag_param(query: Mapping[str, object], name: str) -> bool:
    """QUERY[NAME] as yes (1, true, yes, on) or no (absent, empty, 0, false, no, off); InvalidInput
    otherwise."""
    raw = _value(query, name).lower()
    if raw not in _TRUE + _FALSE:
        raise InvalidInput(N_("%(name)s: expected 1 or 0, not %(value)s"), name=name, value=shown(raw))
    return raw in _TRUE


def has_control(text: str) -> bool:
    """Whether TEXT holds a control character (NUL among them, which PostgreSQL refuses in text)."""
    return bool(_CONTROL.search(text))


def text_value(raw: object, name: str, max_chars: int | None, lines: bool = False, label: str = "") -> str:
    """RAW as text of at most MAX_CHARS characters (None: the caller counts them) and no control characters
    (LINES allows tabs and line breaks), spaces around it removed; not text (a file in a form) counts as
    empty. InvalidInput naming NAME otherwise (on pages LABEL, a msgid, names it in the request's
    language)."""
    text = raw.strip(SPACE) if isinstance(raw, str) else ""
    local = {"what": lambda: gettext(label)} if label else None
    # No NUL and the like: PostgreSQL refuses NUL in text, and no person types the others.
    if (_CONTROL_IN_LINES if lines else _CONTROL).search(text):
        raise InvalidInput(N_("%(what)s: must not contain control characters"), local=local, what=name)
    if max_chars is not None and len(text) > max_chars:
        raise InvalidInput(N_("%(what)s: at most %(max)s characters"), local=local, what=name, max=max_chars)
    return text


def parse_category(value: object) -> str:
    """VALUE when it is one of the categories; InvalidInput otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(N_("category: missing; choose one of %(choices)s"), choices=", ".join(CATEGORIES))
    value = value.strip()
    if value not in CATEGORIES:
        raise InvalidInput(N_("category: unknown category %(value)s; choose one of %(choices)s"),
                           value=shown(value),
                           choices=", ".join(CATEGORIES))
    return value


def parse_queue_filter(query: Mapping[str, object], me: int | None = None) -> QueueFilter:
    """The queue filter from QUERY; empty values mean "any". ME is the viewer's id, for assignee=me."""
    org_raw = _value(query, "org")
    org = field_id(org_raw) if org_raw else None
    if org_raw and org is None:
        raise InvalidInput(N_("org: expected an organization id, not %(value)s"), value=shown(org_raw))
    assignee = _value(query, "assignee").lower()
    if assignee == "me" and me is not None:
        assignee = str(me)
    if assignee not in ("", "none"):
        person = field_id(assignee)
        if person is None:
            raise InvalidInput(N_("assignee: expected a person's id, me or none, not %(value)s"),
                               value=shown(assignee))
        assignee = str(person)  # "007" and "7" are one person
    since, until = period_params(query)
    q = " ".join(text_value(query.get("q", ""), "q", None, lines=True).split())
    if len(q) > MAX_SEARCH:  # counted once runs of spaces are one
        raise InvalidInput(N_("q: search for at most %(max)s characters"), max=MAX_SEARCH)
    return QueueFilter(
        category=choice_param(query, "category", CATEGORIES,
                              N_("category: unknown category %(value)s; use one of %(choices)s")),
        status=choice_param(query, "status", ITEM_STATUSES,
                            N_("status: unknown status %(value)s; use one of %(choices)s")),
        review_only=flag_param(query, "review"), page=page_param(query), organization=org, assignee=assignee,
        since=since, until=until, q=q, follow_up=flag_param(query, "follow_up"),
        sort=choice_param(query, "sort", SORTS, N_("sort: use one of %(choices)s, not %(value)s"),
                          default="due"),
        sla=choice_param(query, "sla", SLA_STATES,
                         N_("sla: unknown SLA state %(value)s; use one of %(choices)s")),
        mine=me if flag_param(query, "mine") and me is not None else None,
    )

