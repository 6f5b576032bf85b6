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
# Modules read from a file: the stand-in for spaCy's command line (classifiers.lean_import) is not spaCy.
atexit.register(lambda: print("LOADED", sorted({m.split(".")[0] for m, mod in sys.modules.items()
                                                if getattr(mod, "__file__", None)} & {"spacy", "thinc"}),
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


def python(*args: str, env: dict[str, str] | None = None) -> str:
    """Runs `python ARGS` from the checkout in a fresh interpreter (ENV, else ours with the checkout on the
    path); fails the test if it fails, else returns what it printed."""
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env=env or {**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return out.stdout


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


def held_after(statement: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of HEAVY a fresh interpreter holds after running STATEMENT."""
    code = f"import sys; {statement}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    return eval(python("-c", code).strip())  # noqa: S307 (our own repr of a list)


def imported(modules: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of HEAVY a fresh interpreter holds after importing MODULES (comma-separated)."""
    return held_after(f"import {modules}", heavy)


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


@pytest.fixture
def fake_torch(tmp_path) -> tuple[dict[str, str], Path]:
    """An environment whose PyTorch is a stand-in that leaves a mark when imported (and then fails to import,
    as a broken install would: thinc takes that as "not installed")."""
    mark = tmp_path / "torch-imported"
    package = tmp_path / "site" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"open({str(mark)!r}, 'w').close()\nraise ImportError('stand-in')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "site")])}
    return env, mark


def test_spacy_imports_an_installed_pytorch(fake_torch):
    """Without a guard, importing spaCy imports PyTorch when it is installed (so the tests below can fail)."""
    env, mark = fake_torch
    python("-c", "import spacy", env=env)
    assert mark.exists()


def test_classifying_commands_do_not_import_an_installed_pytorch(fake_torch, config):
    env, mark = fake_torch
    out = python("-m", "intake", "--config", config, "classify", "The export crashes above 1,000 rows",
                 env=env)
    assert '"label": "issue"' in out
    assert not mark.exists(), "`intake classify` imported PyTorch"


def test_the_reading_processes_do_not_import_an_installed_pytorch(fake_torch):
    env, mark = fake_torch
    code = ("from intake.config import parse_config; from intake.prepare import _start, _classifier; "
            "_start(parse_config({})); print(_classifier().predict('Could you add a dark mode?').label)")
    assert python("-c", code, env=env).strip() == "change_request"
    assert not mark.exists(), "the reading process imported PyTorch"


def test_blocked_frameworks_stay_out_of_sys_modules(fake_torch):
    """A blocked framework fails to import yet leaves no entry a library could take for the module itself
    (scipy reads `sys.modules["torch"]` once the name is there)."""
    env, mark = fake_torch
    code = ("import sys; from classifiers.lean_import import block_gpu_frameworks; block_gpu_frameworks(); "
            "block_gpu_frameworks()\n"
            "for name in ('torch', 'torch.nn', 'cupy'):\n"
            "    try:\n        __import__(name)\n"
            "    except ImportError as e:\n        print(type(e).__name__)\n"
            "print('torch' in sys.modules, 'cupy' in sys.modules, "
            "sum(type(f).__name__ == '_FrameworkBlock' for f in sys.meta_path))")
    assert python("-c", code, env=env).split() == ["ModuleNotFoundError"] * 3 + ["False", "False", "1"]
    assert not mark.exists()


CLI_MODULES = ("spacy.cli.download", "typer", "requests", "httpx", "weasel")


def test_spacy_alone_imports_its_command_line():
    """Without the stand-in, importing spaCy imports its command line (so the tests below can fail)."""
    assert imported("spacy", CLI_MODULES) == sorted(CLI_MODULES)


def test_the_reading_processes_classify_without_spacys_command_line():
    code = ("import sys; from intake.config import parse_config; "
            "from intake.prepare import _start, _classifier; _start(parse_config({})); "
            "print(_classifier().predict('Could you add a dark mode?').label); "
            f"print(sorted(m for m in {CLI_MODULES!r} if m in sys.modules))")
    assert python("-c", code).split("\n")[:2] == ["change_request", "[]"]


def test_spacys_command_modules_still_import_by_name_after_the_stand_in():
    """Only the package's import of every command is left out: a module of it asked for by name loads."""
    code = ("from classifiers.lean_import import skip_spacy_cli; skip_spacy_cli(); import spacy; "
            "from spacy.cli._util import app; import spacy.cli.init_config as c; "
            "print(app.info.name, callable(c.init_config))")
    assert python("-c", code).strip() == "spacy True"


HEAVY_FOR_A_SPAWNED_PROCESS = ("cli.main", "sqlalchemy", "sqlalchemy.orm")


def rerun_as_spawn_does(script: Path) -> list[str]:
    """Which heavy modules a process started with spawn holds after running SCRIPT again as `__mp_main__`,
    as multiprocessing does with the file of the program that started it."""
    return held_after(f"import runpy; runpy.run_path({str(script)!r}, run_name='__mp_main__')",
                      HEAVY_FOR_A_SPAWNED_PROCESS)


def test_processes_spawned_by_the_intake_command_do_not_import_its_command_line():
    """The reading processes and `--processes N` workers of `intake run` (the console script) start lean."""
    script = Path(sys.executable).parent / "intake"
    assert script.exists(), "the project is installed, with its console script"
    assert rerun_as_spawn_does(script) == []


def test_a_script_that_imports_the_command_line_shows_in_the_probe(tmp_path):
    """The probe above sees the imports of a console script pointed at cli.main (so that test can fail)."""
    script = tmp_path / "intake"
    script.write_text("import sys\nfrom cli.main import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    assert rerun_as_spawn_does(script) == sorted(HEAVY_FOR_A_SPAWNED_PROCESS)
