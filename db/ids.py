"""Gives new rows their primary keys before a flush, so that a batch is inserted in one statement per table.

An INSERT that must hand back generated keys is run row by row on SQLite (it cannot say which key went to
which row of a multi-row INSERT), and rows that reference each other need those keys. Keys taken in advance
make both unnecessary: the ORM then sends each table's rows with one executemany, and an item's reference,
which is made from its key, is known before the item is written.

On SQLite the caller holds the write lock (the engine begins writers with BEGIN IMMEDIATE), so the next keys
after the largest one are free until the transaction ends; on PostgreSQL they come from the column's sequence.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import Base


def reserve(session: Session, model: type[Base], count: int) -> list[int]:
    """COUNT primary keys of MODEL's table that no row has or will be given by anyone else."""
    if count < 1:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                    "FROM generate_series(1, :count)"), {"table": table.name, "count": count})
        return sorted(row[0] for row in rows)
    # Rows added earlier in this session but not yet written hold keys above the stored maximum.
    pending = [o.id for o in session.new if isinstance(o, model) and o.id is not None]
    top = max([session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0, *pending])
    return list(range(top + 1, top + 1 + count))


def assign(session: Session, models: tuple[type[Base], ...]) -> None:
    """Gives every new object of MODELS in SESSION that has no key yet one, table by table in one query
    each."""
    with session.no_autoflush:  # a flush now would write the rows with generated keys, one by one
        _assign(session, models)


def _assign(session: Session, models: tuple[type[Base], ...]) -> None:
    waiting: dict[type[Base], list[Base]] = defaultdict(list)
    for obj in session.new:
        kind = type(obj)
        if kind in models and getattr(obj, "id", None) is None:
            waiting[kind].append(obj)
    for kind, objs in waiting.items():
        # In the order they were made, so keys follow the batch's order (session.new has none).
        objs.sort(key=lambda o: o._sa_instance_state.insert_order)  # type: ignore[attr-defined]
        for obj, key in zip(objs, reserve(session, kind, len(objs)), strict=True):
            obj.id = key  # type: ignore[attr-defined]
