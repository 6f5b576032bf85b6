"""db.events: every event kind is named there, and it is the one place that makes event rows."""
from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest

from db import events
from db.models import Event

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cli", "classifiers", "db", "intake", "reports", "responders", "review")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_every_named_kind_is_known_and_distinct():
    named = {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str) and k != "SYSTEM"}
    assert named == events.KINDS
    assert len(named) == len([k for k, v in vars(events).items() if k.isupper() and isinstance(v, str)]) - 1
    assert all(len(kind) <= Event.kind.type.length for kind in events.KINDS)  # the column's width


def test_a_row_and_an_event_carry_the_same_values():
    row = events.event_row(7, events.NOTE, NOW, {"text": "hello"})
    assert row == {"item_id": 7, "kind": "note", "actor": "system", "created_at": NOW,
                   "data": {"text": "hello"}}
    assert events.event_row(7, events.CSAT_RATED, NOW, actor="client")["data"] == {}

    class Recorder:
        def __init__(self) -> None:
            self.added: list[Event] = []

        def add(self, obj: Event) -> None:
            self.added.append(obj)

    session = Recorder()
    event = events.add_event(session, 7, events.REPLIED, NOW, {"via": "mail"}, actor="pm@example.com")
    assert session.added == [event]
    assert (event.item_id, event.kind, event.actor, event.created_at, event.data) == \
        (7, "replied", "pm@example.com", NOW, {"via": "mail"})


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown event kind 'clasified'"):
        events.event_row(1, "clasified", NOW)


def test_no_module_but_db_events_builds_an_event():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "db" / "events.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Event":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
