"""The reading processes of a drain import no ORM: their start is on the way to the first batch read."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reading_processes_import_no_sqlalchemy():
    code = ("import sys, intake.prepare; print(sorted(m for m in ('sqlalchemy', 'db.models') if m in "
            "sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_probe_sees_sqlalchemy_when_it_is_imported():
    """So that the test above can fail: the worker's storing step does import the models."""
    code = "import sys, intake.batch_store; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
