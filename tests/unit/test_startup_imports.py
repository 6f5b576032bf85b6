"""Commands that do not classify start without spaCy; the worker imports it only in its model-loading
thread, and the reading processes import no ORM."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Runs the real entry point (python -m intake) and reports at exit which of the heavy modules got imported.
PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("LOADED", sorted({m.split(".")[0] for m in sys.modules} & {"spacy", "thinc"}),
                              file=sys.stderr))
sys.argv = ["intake", *sys.argv[1:]]
runpy.run_module("intake", run_name="__main__")
"""


def loaded(*args: str) -> tuple[int, list[str], str]:
    """Runs `intake ARGS` in a fresh interpreter: exit code, heavy modules imported, stderr."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED "))
    return proc.returncode, eval(line[len("LOADED "):]), proc.stderr  # noqa: S307 (our own repr of a list)


@pytest.fixture
def config(tmp_path) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    return str(path)


@pytest.mark.parametrize("command", [["db", "upgrade"], ["user", "list"], ["export"], ["quarantine", "list"],
                                     ["report", "sla"], ["purge", "--dry-run", "--days", "30"], ["--help"]])
def test_commands_that_do_not_classify_do_not_import_spacy(config, command):
    if command != ["--help"]:
        assert loaded("--config", config, "db", "upgrade")[0] == 0
    code, heavy, err = loaded("--config", config, *command)
    assert code == 0, err
    assert heavy == [], f"`intake {' '.join(command)}` imported {heavy}"


def test_classify_does_import_spacy(config):
    """The probe sees spaCy when it is there (so the test above can fail)."""
    code, heavy, err = loaded("--config", config, "classify", "The export crashes above 1,000 rows")
    assert code == 0, err
    assert "spacy" in heavy


def imported(modules: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of HEAVY a fresh interpreter holds after importing MODULES (comma-separated)."""
    code = f"import sys, {modules}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip())  # noqa: S307 (our own repr of a list)


def test_the_worker_modules_import_without_spacy():
    """The worker connects its mailboxes first; spaCy comes with the model, loaded in a thread beside them."""
    assert imported("intake.worker, cli.serve, cli.processes, cli.main", ("spacy", "thinc")) == []


def test_the_reading_processes_import_no_orm():
    """The reading processes of a drain import no ORM: their start is on the way to the first batch read."""
    assert imported("intake.prepare", ("sqlalchemy", "db.models")) == []
    # and the probe sees it where it is imported (so the line above can fail): the worker's storing step
    assert imported("intake.batch_store", ("sqlalchemy", "db.models")) == ["db.models", "sqlalchemy"]


def test_the_fast_schema_check_agrees_with_alembic(tmp_path):
    """open_factory reads the revision without Alembic; its idea of the newest one must be Alembic's."""
    from db.engine import make_engine
    from db.migrate import current_revision, head_revision, upgrade
    from db.revision import HEAD_REVISION, stored_revision

    assert HEAD_REVISION == head_revision()
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert stored_revision(engine) is None
    upgrade(engine)
    assert stored_revision(engine) == current_revision(engine) == HEAD_REVISION
    engine.dispose()
