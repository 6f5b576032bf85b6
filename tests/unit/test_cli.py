"""The command line: classify, eval, db upgrade, and clear one-line errors."""
from __future__ import annotations

import json

from cli.main import main


def test_classify_text(capsys):
    assert main(["classify", "The export crashes above 1,000 rows"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["label"] in ("issue", "change_request", "question", "feedback")
    assert out["lang"] == "en" and 0 < out["confidence"] <= 1 and "unusual" not in out
    # Text unlike the training texts says why it goes to a PM.
    assert main(["classify",
                 "Bonjour, je voudrais savoir comment changer mon mot de passe sur votre site."]) == 0
    assert json.loads(capsys.readouterr().out)["unusual"] == "language"


def test_classify_jsonl_keeps_line_order_and_reports_bad_lines(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"subject": "登录错误", "body": "为什么登录后一直显示500错误？"}\n'
                   "not json\n"
                   '{"subject": "Logo", "body": "We would like the logo in dark blue instead."}\n'
                   '["a list"]\n', encoding="utf-8")
    assert main(["classify", "--jsonl", str(src)]) == 1
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["lang"] == "zh" and lines[2]["lang"] == "en"
    assert lines[1]["line"] == 2 and "error" in lines[1]
    assert lines[3]["error"] == "expected a JSON object"
    assert "intake: line 2:" in captured.err


def test_classify_missing_file(tmp_path, capsys):
    assert main(["classify", "--jsonl", str(tmp_path / "nope.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_export_before_upgrade_says_what_to_do(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert main(["--config", str(cfg), "export"]) == 1
    assert "run `intake db upgrade`" in capsys.readouterr().err
    assert main(["--config", str(cfg), "db", "upgrade"]) == 0
    assert main(["--config", str(cfg), "export"]) == 0


def test_run_without_mailboxes_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n')
    assert main(["--config", str(cfg), "run", "--once"]) == 2
    assert "mailboxes: no mailbox configured" in capsys.readouterr().err
