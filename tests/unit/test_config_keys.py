"""Every configuration key the code reads is in deploy/intake.example.toml and in the README's configuration
table; the example itself is a valid configuration."""
from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from pathlib import Path

from intake.config import Config, parse_config
from reports.policy import CALENDAR_KEYS, MEASURES, POLICY_KEYS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "intake.example.toml"
README = ROOT / "README.md"
# Tables whose keys are names the user chooses: the name is written NAME (CATEGORY for a policy's targets).
NAMED = {"sla.calendars": CALENDAR_KEYS, "sla.policies": POLICY_KEYS}


def _dataclass_keys(cls: type, prefix: str) -> set[str]:
    keys = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key, tp = prefix + f.name, hints[f.name]
        args = typing.get_args(tp)
        if dataclasses.is_dataclass(tp):
            keys |= _dataclass_keys(tp, key + ".")
        elif typing.get_origin(tp) is tuple and args and dataclasses.is_dataclass(args[0]):
            keys |= _dataclass_keys(args[0], key + "[].")
        elif key in NAMED:
            keys |= {f"{key}.NAME.{k}" for k in NAMED[key]}
        else:
            keys.add(key)
    return keys


def code_keys() -> set[str]:
    """Every key the configuration reads, named as the README names them (mailboxes[].host,
    sla.calendars.NAME.timezone), the SLA targets included."""
    return _dataclass_keys(Config, "") | {f"sla.policies.NAME.targets.CATEGORY.{m}" for m in MEASURES}


def normalized(path: list[str]) -> str:
    """A key's path with the user's names replaced: sla.policies.gold.targets.issue ->
    ...NAME.targets.CATEGORY."""
    out: list[str] = []
    for part in path:
        parent = ".".join(out)
        out.append("NAME" if parent in NAMED else "CATEGORY" if parent == "sla.policies.NAME.targets"
                   else part)
    return ".".join(out)


def _flatten(value: object, path: list[str]) -> set[str]:
    tables = isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
    found = {normalized(path)} if path and not tables else set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= _flatten(v, path + [k])
    elif tables:
        for v in value:
            found |= _flatten(v, path[:-1] + [path[-1] + "[]"])
    return found


def example_keys() -> set[str]:
    """The keys the example sets, and those it shows commented out (`# oauth2_token_file = ...` on a line of
    its own: choices that exclude each other)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    found = _flatten(tomllib.loads(text), [])
    section: list[str] = []
    for line in text.splitlines():
        header = re.match(r"^\s*(\[\[?)([^\]]+)\]", line)
        if header:
            section = header.group(2).strip().split(".")
            if header.group(1) == "[[":
                section[-1] += "[]"
            continue
        commented = re.match(r"^\s*#\s*([a-z_0-9]+)\s*=", line)
        if commented:
            found.add(normalized(section + [commented.group(1)]))
    return found


def readme_keys() -> set[str]:
    """The keys the README's configuration table names: `mailboxes[].port`, `security` is mailboxes[].port and
    mailboxes[].security; the keys of a NAME table are the words in backticks in its row."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip("|").split("|")]
        prefix = ""
        for token in re.findall(r"`([^`]+)`", cells[0]):
            key = token if "." in token else prefix + token
            prefix = key.rsplit(".", 1)[0] + "."
            found.add(key)
            if key.endswith(".NAME"):
                words = set(re.findall(r"[a-z_]+", " ".join(re.findall(r"`([^`]+)`", " ".join(cells[1:])))))
                found |= {f"{key}.{w}" for w in words}
                found |= {f"{key}.targets.CATEGORY.{w}" for w in words & set(MEASURES)}
    return found


def test_the_key_list_is_complete():
    keys = code_keys()
    assert {"database.url", "mailboxes[].host", "web.public_url", "sla.calendars.NAME.timezone",
            "sla.policies.NAME.targets.CATEGORY.resolution", "worker.health_address",
            "retention.raw_days"} <= keys
    assert not any(k.startswith(("sla.calendars.", "sla.policies.")) and ".NAME." not in k for k in keys)


def test_every_key_is_in_the_example_config():
    missing = sorted(code_keys() - example_keys())
    assert not missing, f"add to {EXAMPLE.name}: {', '.join(missing)}"


def test_every_key_is_in_the_readme_table():
    missing = sorted(code_keys() - readme_keys())
    assert not missing, f"add to the README's configuration table: {', '.join(missing)}"


def test_the_example_sets_no_key_the_code_does_not_read():
    keys = code_keys()
    # Sections and tables themselves, and what is inside a key's own value (hours = { weekdays = ... }).
    unknown = sorted(k for k in example_keys() - keys if not any(c.startswith(k + ".")
                                                                 or k.startswith(c + ".")
                                                                 for c in keys))
    assert not unknown


def test_the_example_is_a_valid_configuration():
    parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")))
