"""Config loading: defaults, validation errors that name the key, secrets by reference only."""
from __future__ import annotations

import pytest

from cli.main import main
from intake.config import ConfigError, load_config, parse_config

BOX = {"name": "support", "host": "imap.example.com", "username": "support@example.com",
       "password_env": "SUPPORT_PW"}


def test_defaults_without_file(monkeypatch):
    monkeypatch.delenv("INTAKE_CONFIG", raising=False)
    cfg = load_config(None)
    assert cfg.database.url == "sqlite:///intake.db"
    assert cfg.sla.ack_target_minutes == 5.0
    assert cfg.mailboxes == ()


def test_full_config_parses(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "postgresql://x@h/db"\n[[mailboxes]]\nname = "support"\n'
                    'host = "imap.example.com"\nusername = "support@example.com"\npassword_env = "PW"\n'
                    'on_processed = "seen"\n[smtp]\nhost = "smtp.example.com"\nport = 587\nsecurity = '
                    '"starttls"\n'
                    'from_address = "Support <support@example.com>"\n')
    cfg = load_config(path)
    assert cfg.mailboxes[0].on_processed == "seen"
    assert cfg.smtp.port == 587
    assert cfg.own_addresses() == {"support@example.com"}


@pytest.mark.parametrize("data, key", [
    ({"database": {"urll": "x"}}, "database.urll: unknown key"),
    ({"mailboxes": [{**BOX, "security": "tls"}]}, "mailboxes[0].security: must be one of"),
    ({"mailboxes": [{k: v for k, v in BOX.items() if k != "host"}]},
     "mailboxes[0].host: missing required key"),
    ({"mailboxes": [{**BOX, "port": "993"}]}, "mailboxes[0].port: expected a whole number"),
    ({"mailboxes": [{**BOX, "password": "hunter2"}]}, "mailboxes[0].password: passwords are not allowed"),
    ({"mailboxes": [{**BOX, "on_processed": "move"}]}, "mailboxes[0].move_to: required"),
    ({"mailboxes": [BOX, BOX]}, "mailboxes[1].name: duplicate"),
    ({"classifier": {"review_threshold": 2}}, "classifier.review_threshold: must be between 0 and 1"),
    ({"smtp": {"from_address": "nobody"}}, "smtp.from_address: must be an email address"),
    ({"worker": {"lease_seconds": 8, "heartbeat_seconds": 5}},
     "worker.lease_seconds: must be at least twice"),
    ({"worker": {"heartbeat_seconds": 0.1}}, "worker.heartbeat_seconds: must be at least 0.5"),
    ({"worker": {"resync_seconds": 0}}, "worker.resync_seconds: must be at least 1"),
])
def test_bad_keys_are_named(data, key):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert key in str(err.value)


def test_secret_from_env_and_file(tmp_path, monkeypatch):
    cfg = parse_config({"mailboxes": [BOX]})
    with pytest.raises(ConfigError, match="SUPPORT_PW is not set"):
        monkeypatch.delenv("SUPPORT_PW", raising=False)
        cfg.mailboxes[0].secret.read("mailboxes.support.password")
    monkeypatch.setenv("SUPPORT_PW", "s3cret")
    assert cfg.mailboxes[0].secret.read("x") == "s3cret"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    cfg2 = parse_config({"mailboxes": [{**{k: v for k, v in BOX.items() if k != "password_env"},
                                        "password_file": str(secret)}]})
    assert cfg2.mailboxes[0].secret.read("x") == "from-file"


def test_cli_reports_config_error_in_one_line_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[smtp]\nport = "twenty-five"\n')
    assert main(["--config", str(path), "export"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['intake: config error: smtp.port: expected a whole number, not \'twenty-five\'']


def test_cli_missing_config_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml"), "export"]) == 2
    assert "config: file not found" in capsys.readouterr().err


def test_cli_invalid_toml(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[database\n")
    assert main(["--config", str(path), "export"]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_xoauth2_needs_exactly_one_token_source():
    box = {k: v for k, v in BOX.items() if k != "password_env"}
    with pytest.raises(ConfigError, match=r"mailboxes\[0\].oauth2_token_command: with auth"):
        parse_config({"mailboxes": [{**box, "auth": "xoauth2"}]})
    cfg = parse_config({"mailboxes": [{**box, "auth": "xoauth2", "oauth2_token_file": "/run/token"}]})
    assert cfg.mailboxes[0].token.file == "/run/token"


def test_token_source_reads_fresh_and_reports_failures(tmp_path):
    from intake.config import TokenError, TokenSource

    path = tmp_path / "t"
    path.write_text("abc\n")
    assert TokenSource(file=str(path)).read() == "abc"
    path.write_text("def\n")
    assert TokenSource(file=str(path)).read() == "def"
    assert TokenSource(command="echo tok").read() == "tok"
    with pytest.raises(TokenError, match="exited with 1"):
        TokenSource(command="false").read()
    with pytest.raises(TokenError, match="empty token"):
        TokenSource(command="true").read()


def test_web_secret_key_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    from cli.main import web_settings
    from cli.shell import UserError

    key = tmp_path / "web.key"
    key.write_text("k" * 40 + "\n")
    cfg = parse_config({"web": {"secret_key_file": str(key), "secure_cookies": True, "session_hours": 2}})
    settings = web_settings(cfg)
    assert settings.secret_key == "k" * 40 and settings.https_only and settings.session_seconds == 7200
    assert "k" * 40 not in repr(settings)
    monkeypatch.setenv("WEB_KEY", "short")
    with pytest.raises(UserError, match="at least 32 characters"):
        web_settings(parse_config({"web": {"secret_key_env": "WEB_KEY"}}))
    with pytest.raises(ConfigError, match="web.secret_key_env: give secret_key_env or secret_key_file"):
        parse_config({"web": {"secret_key_env": "WEB_KEY", "secret_key_file": str(key)}})
    a, b = web_settings(parse_config({})), web_settings(parse_config({}))
    assert a.secret_key != b.secret_key and len(a.secret_key) >= 32
