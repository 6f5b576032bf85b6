"""`intake quarantine` in-process: what reaches the terminal is escaped and aligned, bad arguments are usage
errors."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from cli.main import build_parser, main
from cli.quarantine_commands import _cut, _printable, _width
from db.models import Mailbox, Message

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
HOSTILE = "报表导出错误 \x1b[2J\x1b]0;owned\x07 \u202eevil\tTab"
RAW = f"From: li@client.cn\r\nSubject: {HOSTILE}\r\n".encode() + b"X-Bytes: \xff\r\n\r\nbody"


@pytest.fixture
def cfg(cli_db):
    with cli_db.factory.begin() as s:
        box = Mailbox(name="support", uidvalidity=7, last_uid=2)
        s.add(box)
        s.flush()
        s.add_all([Message(direction="in", mailbox_id=box.id, uidvalidity=7, uid=uid,
                           message_id=f"<q{uid}@x>",
                           received_at=T0.replace(minute=uid), size=len(RAW), raw=RAW, sender="li@client.cn",
                           subject=HOSTILE if uid == 2 else "Plain",
                           status="retry" if uid == 2 else "quarantined",
                           error=f"{HOSTILE}\nsecond line") for uid in (1, 2)])
    return cli_db


def run(cfg, capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(["--config", str(cfg.path), "quarantine", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_list_escapes_what_the_sender_wrote_and_keeps_columns_aligned(cfg, capsys):
    code, out, _err = run(cfg, capsys, "list")
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out and "\t" not in out and "\x07" not in out
    lines = out.splitlines()
    assert lines[-1] == "2 quarantined messages" and len(lines) == 4
    assert "\\x1b[2J" in lines[1] and "retry requested" in lines[1] and "retry requested" not in lines[2]
    # The reason column starts at the same terminal column on every line, Chinese characters counting two.
    starts = {_width(line[:line.rindex(marker)]) for line, marker in zip(lines, ("REASON", "报表", "报表"),
                                                                         strict=False)}
    assert len(starts) == 1, lines


def test_json_lines_carry_every_field(cfg, capsys):
    code, out, _err = run(cfg, capsys, "list", "--format", "json", "--limit", "1")
    [entry] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and entry["subject"] == HOSTILE and entry["retry_requested"] is True
    assert entry["received_at"] == "2026-12-01T09:02:00+00:00" and entry["uid"] == 2


def test_show_prints_the_reason_in_full_and_the_header_escaped(cfg, capsys):
    code, out, _err = run(cfg, capsys, "show", "#2")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    assert "status:      quarantined, retry requested" in out
    assert "reason:\n  报表导出错误 \\x1b[2J" in out and "\n  second line\n" in out
    assert "header (3 lines):\n  From: li@client.cn\n  Subject: 报表导出错误 \\x1b[2J" in out
    assert "X-Bytes: \\xff" in out
    assert "subject:     报表导出错误 \\x1b[2J\\x1b]0;owned\\x07 \\u202eevil\\x09Tab\n" in out  # one line
    assert "\\u202eevil\tTab\n  X-Bytes" in out  # free text keeps its tabs


@pytest.mark.parametrize("args", [["show", "x"], ["show", "0"], ["delete", "99999999999999999999"],
                                  ["retry"], ["retry", "1", "--all"], ["retry", "\u00b2"],
                                  ["list", "--limit", "0"], ["list", "--offset", "-1"]])
def test_bad_arguments_are_usage_errors(cfg, args):
    with pytest.raises(SystemExit) as stopped:
        main(["--config", str(cfg.path), "quarantine", *args])
    assert stopped.value.code == 2


def test_unknown_ids_are_one_line_errors_and_retry_all_of_nothing_is_fine(cfg, capsys):
    assert run(cfg, capsys, "show", "9")[1:] == ("", "intake: quarantine: no quarantined message 9\n")
    assert run(cfg, capsys, "delete", "9")[1:] == ("", "intake: quarantine: no quarantined message 9\n")
    # once, and no model loaded
    assert run(cfg, capsys, "retry", "9", "9") == (0, "#9: not in quarantine\n", "")
    assert run(cfg, capsys, "delete", "1")[1].startswith("deleted #1 (support:1, ")
    assert run(cfg, capsys, "delete", "2")[0] == 0
    assert run(cfg, capsys, "list") == (0, "no quarantined messages\n", "")
    assert run(cfg, capsys, "retry", "--all") == (0, "no quarantined messages to retry\n", "")


def test_every_subcommand_explains_itself(capsys):
    parser = build_parser()
    for command in ("list", "show", "retry", "delete"):
        with pytest.raises(SystemExit):
            parser.parse_args(["quarantine", command, "--help"])
        assert capsys.readouterr().out.startswith(f"usage: intake quarantine {command}")


def test_list_show_and_delete_do_not_load_spacy():
    # The classifiers package itself is light (labels, and keeping GPU frameworks out); the classifier is not.
    code = ("import sys, cli.main, cli.quarantine_commands; "
            "sys.exit('spacy' in sys.modules or 'classifiers.model' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_terminal_helpers():
    assert _printable("a\x1bb\u202ec\n") == "a\\x1bb\\u202ec\\x0a"
    assert _printable("a\nb\tc\x1b", layout=True) == "a\nb\tc\\x1b"
    assert _width("报表ab") == 6 and _cut("报表导出错误", 5) == "报表\u2026" and _cut("abc", 3) == "abc"
