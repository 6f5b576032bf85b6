"""Imports between the packages follow the README's arrow table (section "Architecture")."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Known imports the table does not allow, each with why it is still there. Keep this list short.
EXCEPTIONS = {
    # The `python -m intake` entry point, kept for scripts and tests that start the command that way;
    # nothing imports it.
    ("intake/__main__.py", "cli"),
    # Loading the configuration checks the [sla] policies with reports.policy, so a mistake stops the program
    # at start. The configuration is still one object read by every package.
    ("intake/config.py", "reports"),
    # They take that one configuration object (only for its type) instead of settings of their own.
    ("responders/weekly_digest.py", "intake"),
    ("responders/sla_warnings.py", "intake"),
}


def arrow_table() -> dict[str, set[str] | None]:
    """Package -> the packages it may import (None: any), read from the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str] | None] = {}
    for line in section.splitlines():
        m = re.fullmatch(r"\| `(\w+)/` \| (.+) \|", line.strip())
        if m:
            allowed = m.group(2)
            table[m.group(1)] = (None if allowed.startswith("everything")
                                 else set(re.findall(r"`(\w+)`", allowed)))
    return table


def imported_packages(path: Path) -> set[str]:
    """The top-level names PATH imports absolutely, wherever in the module the import is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def forbidden_imports(table: dict[str, set[str] | None]) -> list[str]:
    """Every import of one of our packages that the table forbids, as 'module imports package' lines."""
    found = []
    for package, allowed in sorted(table.items()):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = path.relative_to(ROOT).as_posix()
            for name in sorted(imported_packages(path) & table.keys() - {package}):
                shell_import = table[name] is None  # nothing imports the shell
                if (shell_import or (allowed is not None and name not in allowed)) \
                        and (module, name) not in EXCEPTIONS:
                    found.append(f"{module} imports {name}")
    return found


def test_the_table_names_every_package():
    table = arrow_table()
    assert set(table) == {"db", "classifiers", "reports", "responders", "intake", "review", "cli"}
    assert table["db"] == set() and table["cli"] is None
    assert table["intake"] == {"db", "classifiers", "responders"}


def test_packages_import_only_what_the_table_allows():
    assert forbidden_imports(arrow_table()) == []


def test_the_exceptions_are_still_needed():
    # An exception whose import is gone is removed, so it cannot hide a new import later.
    stale = [f"{m} -> {n}" for m, n in sorted(EXCEPTIONS) if n not in imported_packages(ROOT / m)]
    assert stale == []


def test_a_forbidden_import_is_found(tmp_path, monkeypatch):
    # The check itself: a module of reports/ importing review/ is reported, one importing db/ is not.
    for package in ("reports", "review", "db"):
        (tmp_path / package).mkdir()
    (tmp_path / "reports" / "bad.py").write_text("def f():\n    from review.app import create_app\n")
    (tmp_path / "reports" / "good.py").write_text("import db.models\nfrom . import good\n")
    (tmp_path / "review" / "ok.py").write_text("from reports.bad import f\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    table = {"db": set(), "reports": {"db"}, "review": {"db", "reports"}}
    assert forbidden_imports(table) == ["reports/bad.py imports review"]
