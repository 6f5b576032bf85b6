"""Each category's workflow: its statuses, the moves a PM may make, and which statuses end the work."""
from __future__ import annotations

WORKFLOWS: dict[str, tuple[str, ...]] = {
    "issue": ("new", "in_progress", "resolved", "closed"),
    "question": ("new", "answered", "closed"),
    "feedback": ("new", "acknowledged", "closed"),
    "change_request": ("new", "impact_assessed", "awaiting_approval", "approved", "rejected", "implemented",
                       "closed"),
}

# Reopening is always possible; "awaiting_approval" is entered by sending the assessment to the client,
# and left by the client's answer (or a PM recording it), never by the status menu alone.
TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "issue": {"new": ("in_progress", "resolved", "closed"), "in_progress": ("resolved", "closed"),
              "resolved": ("closed", "in_progress"), "closed": ("in_progress",)},
    "question": {"new": ("answered", "closed"), "answered": ("closed", "new"), "closed": ("new",)},
    "feedback": {"new": ("acknowledged", "closed"), "acknowledged": ("closed",), "closed": ("new",)},
    "change_request": {"new": ("rejected", "closed"), "impact_assessed": ("rejected", "closed"),
                       "awaiting_approval": ("approved", "rejected", "impact_assessed"),
                       "approved": ("implemented",), "rejected": ("closed", "impact_assessed"),
                       "implemented": ("closed",), "closed": ("new",)},
}

# The step that moves the work on from a status, offered as the page's main button. A change request that is
# new or impact assessed moves on by its assessment (saved, then sent), one awaiting approval by the client's
# answer: they have none here.
FORWARD: dict[str, dict[str, str]] = {
    "issue": {"new": "in_progress", "in_progress": "resolved", "resolved": "closed"},
    "question": {"new": "answered", "answered": "closed"},
    "feedback": {"new": "acknowledged", "acknowledged": "closed"},
    "change_request": {"approved": "implemented", "implemented": "closed", "rejected": "closed"},
}
# Moves a person confirms on a second page before they are made: they end the work or turn the client down.
CONFIRMED_MOVES = frozenset({"rejected", "closed"})

# The clock of "time to resolution" stops on entering one of these.
DONE = frozenset({"resolved", "answered", "closed", "implemented", "rejected"})
ALL_STATUSES: tuple[str, ...] = tuple(dict.fromkeys(s for flow in WORKFLOWS.values() for s in flow))


class WorkflowError(ValueError):
    """A status change the item's workflow does not allow; the message names the allowed ones."""


def statuses(category: str) -> tuple[str, ...]:
    """The statuses of CATEGORY's workflow, in order."""
    return WORKFLOWS.get(category, WORKFLOWS["issue"])


def next_statuses(category: str, status: str) -> tuple[str, ...]:
    """Where a PM may move an item of CATEGORY that is in STATUS."""
    return TRANSITIONS.get(category, {}).get(status, ())


def forward_status(category: str, status: str) -> str:
    """The status that moves an item of CATEGORY in STATUS on ("" when another step does), one of
    next_statuses."""
    return FORWARD.get(category, {}).get(status, "")


def check_move(category: str, status: str, to: str) -> None:
    """Raises WorkflowError unless an item of CATEGORY may move from STATUS to TO."""
    allowed = next_statuses(category, status)
    if to not in allowed:
        choices = ", ".join(allowed) or "nothing (this status changes by other steps)"
        raise WorkflowError(f"status: {category} items in {status!r} can move to {choices}; not {to!r}")


def status_for_category(category: str, status: str) -> str:
    """STATUS when CATEGORY's workflow has it, else where that workflow starts (after a re-categorization)."""
    return status if status in statuses(category) else "new"
