"""Creates engines and sessions: SQLite in WAL mode by default, PostgreSQL for several workers."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_setup(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take it over (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once (no busy wait) when another
        # writer committed in between; so writers take the lock up front and only readers defer.
        mode = "DEFERRED" if conn.get_execution_options().get("intake_readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, echo: bool = False) -> Engine:
    """Returns an engine for URL, configured for its backend."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        # A server that stops answering must fail the call, not hang the worker.
        kwargs["connect_args"] = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                                  "keepalives_interval": 10, "keepalives_count": 3}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


@contextmanager
def read_session(url: str) -> Iterator[Session]:
    """A read-only session on URL over an engine of its own, disposed afterwards (for tools and checks that
    look at a database another process writes)."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine, readonly=True)() as session:
            yield session
    finally:
        engine.dispose()


def make_sessionmaker(engine: Engine, readonly: bool = False) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit.

    READONLY sessions must not write; on SQLite they read without blocking the writers.
    """
    bind = engine.execution_options(intake_readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)
