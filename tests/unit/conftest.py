"""Fixtures the unit tests share: the review app with an admin signed in, a config file over a migrated
database."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from cli.main import main
from db.engine import make_engine, make_sessionmaker
from review.app import create_app
from tests.web import signed_in


@pytest.fixture
def app(factory):
    return create_app(factory)


@pytest.fixture
def admin(app, factory):
    with TestClient(app) as c:
        yield signed_in(c, factory, email="lead@example.com", role="admin")


@pytest.fixture
def cli_db(tmp_path) -> SimpleNamespace:
    """A config file (PATH) over an SQLite database migrated with `intake db upgrade`, and its FACTORY."""
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    return SimpleNamespace(path=path,
                           factory=make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'x.db'}")))
