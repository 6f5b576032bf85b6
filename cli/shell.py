"""What every `intake` subcommand shares: the user-facing error and the checked database connection."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from intake.config import Config


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 1."""


def open_factory(cfg: Config, readonly: bool = False) -> sessionmaker[Session]:
    """A session factory for the configured database, refusing a schema that is not at the code's revision."""
    from db.engine import make_engine, make_sessionmaker
    from db.revision import HEAD_REVISION, stored_revision

    engine = make_engine(cfg.database.url, cfg.database.echo)
    try:
        rev = stored_revision(engine)
    except Exception as exc:
        raise UserError(f"database: cannot connect to {engine.url.render_as_string()}: {exc}") from None
    if rev != HEAD_REVISION:
        raise UserError(f"database: schema is at {rev or 'nothing'}, code needs {HEAD_REVISION}; "
                        "run `intake db upgrade`")
    return make_sessionmaker(engine, readonly=readonly)
