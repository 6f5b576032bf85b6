"""`intake user`: adding users with a prompted or piped password, organizations, tokens and their lifetimes,
clear errors."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from cli.main import main
from db.models import ApiToken, Organization, User, UserSession
from db.types import utcnow
from review.accounts import find_user
from review.auth import token_hash, verify_password
from review.user_sessions import start_session


@pytest.fixture
def cfg(cli_db):
    with cli_db.factory.begin() as s:
        s.add_all([Organization(name="Acme", domain="acme.example"),
                   Organization(name="Globex", domain="globex.example")])
    return cli_db


def _run(cfg, monkeypatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(cfg.path), "user", *args])


def test_add_with_piped_password_and_organizations(cfg, monkeypatch, capsys):
    assert _run(cfg, monkeypatch, "add", "Mei@Example.com", "--name", "Mei Wang", "--org", "acme.example",
                "--password-stdin", stdin="a long enough secret\n") == 0
    assert "added pm mei@example.com (acme.example)" in capsys.readouterr().out
    with cfg.factory() as s:
        user = s.scalar(select(User))
        assert (user.email, user.name, user.role) == ("mei@example.com", "Mei Wang", "pm")
        assert verify_password(user.password_hash, "a long enough secret")
        assert [o.domain for o in user.organizations] == ["acme.example"]
    assert _run(cfg, monkeypatch, "orgs", "mei@example.com", "--add", "globex.example",
                "--remove", "acme.example") == 0
    assert capsys.readouterr().out.strip() == "mei@example.com: globex.example"
    assert _run(cfg, monkeypatch, "list") == 0
    assert "mei@example.com\tpm\tMei Wang\tglobex.example" in capsys.readouterr().out


def test_password_from_an_environment_variable_and_the_prompt(cfg, monkeypatch, capsys):
    monkeypatch.setenv("NEW_PW", "from the environment")
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--role", "admin", "--password-env", "NEW_PW") == 0
    answers = iter(["typed at the prompt", "typed at the prompt"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr("sys.stdin", type("Tty", (), {"isatty": lambda self: True})())
    assert main(["--config", str(cfg.path), "user", "add", "b@example.com"]) == 0
    with cfg.factory() as s:
        users = {u.email: u for u in s.scalars(select(User))}
    assert verify_password(users["a@example.com"].password_hash, "from the environment")
    assert users["a@example.com"].role == "admin"
    assert verify_password(users["b@example.com"].password_hash, "typed at the prompt")


@pytest.mark.parametrize("args,stdin,message", [
    (["add", "x@example.com", "--password-stdin"], "short\n", "at least 10 characters"),
    (["add", "not-an-address", "--password-stdin"], "long enough pass\n", "is not an email address"),
    (["add", "x@example.com", "--org", "nowhere.example", "--password-stdin"], "long enough pass\n",
     "no organization with the domain 'nowhere.example'"),
    (["add", "x@example.com"], "", "no terminal to ask on"),
    (["add", "x@example.com", "--password-env", "UNSET_PW_VAR"], "", "UNSET_PW_VAR is not set"),
    (["token", "nobody@example.com"], "", "no user nobody@example.com"),
    (["orgs", "nobody@example.com", "--add", "acme.example"], "", "no user nobody@example.com"),
])
def test_errors_are_one_clear_line_and_change_nothing(cfg, monkeypatch, capsys, args, stdin, message):
    assert _run(cfg, monkeypatch, *args, stdin=stdin) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    with cfg.factory() as s:
        assert s.scalar(select(User)) is None


def test_duplicate_user_is_refused(cfg, monkeypatch, capsys):
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--password-stdin", stdin="long enough pass\n") == 0
    assert _run(cfg, monkeypatch, "add", "A@example.com", "--password-stdin",
                stdin="another long pass\n") == 1
    assert "a user a@example.com already exists" in capsys.readouterr().err


def test_token_is_printed_once_and_stored_hashed(cfg, monkeypatch, capsys):
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--password-stdin", stdin="long enough pass\n") == 0
    capsys.readouterr()
    assert _run(cfg, monkeypatch, "token", "a@example.com", "--name", "reporting script") == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert token.startswith("cit_") and "only time" in captured.err
    with cfg.factory() as s:
        row = s.scalar(select(ApiToken))
        assert row.token_hash == token_hash(token) and row.name == "reporting script"


def test_password_change_from_the_command_line(cfg, monkeypatch, capsys):
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--password-stdin", stdin="long enough pass\n") == 0
    assert _run(cfg, monkeypatch, "token", "a@example.com", "--name", "kept?") == 0
    with cfg.factory.begin() as s:
        start_session(s, find_user(s, "a@example.com"), timedelta(hours=1), "192.0.2.1", "a browser",
                      utcnow())
    capsys.readouterr()
    assert _run(cfg, monkeypatch, "password", "a@example.com", "--password-stdin",
                stdin="changed passphrase\n") == 0
    assert capsys.readouterr().out.strip() == ("password changed for a@example.com; ended 1 session and "
                                               "revoked 1 API token")
    with cfg.factory() as s:
        user = s.scalar(select(User))
        assert verify_password(user.password_hash, "changed passphrase")
        assert s.scalar(select(UserSession)) is None and s.scalar(select(ApiToken)).revoked_at is not None


def _token_lines(out: str) -> list[list[str]]:
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert lines[0] == ["id", "name", "created", "last used", "expires", "revoked"]
    return lines[1:]


def test_tokens_are_listed_revoked_and_made_to_expire(cfg, monkeypatch, capsys):
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--password-stdin", stdin="long enough pass\n") == 0
    assert _run(cfg, monkeypatch, "token", "a@example.com", "--name", "weekly export", "--expires-in",
                "90d") == 0
    assert _run(cfg, monkeypatch, "token", "a@example.com", "--name", "one afternoon", "--expires-in",
                "4h") == 0
    assert _run(cfg, monkeypatch, "token", "a@example.com") == 0
    capsys.readouterr()
    with cfg.factory() as s:
        rows = {t.name: t for t in s.scalars(select(ApiToken))}
    assert rows["weekly export"].expires_at - rows["weekly export"].created_at == timedelta(days=90)
    assert rows["one afternoon"].expires_at - rows["one afternoon"].created_at == timedelta(hours=4)
    assert rows[""].expires_at is None
    assert _run(cfg, monkeypatch, "tokens", "A@example.com") == 0
    listed = _token_lines(capsys.readouterr().out)
    assert [line[1] for line in listed] == ["-", "one afternoon", "weekly export"]  # the newest first
    weekly = rows["weekly export"]
    assert listed[2] == [str(weekly.id), "weekly export", weekly.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                         "never", weekly.expires_at.strftime("%Y-%m-%d %H:%M UTC"), "no"]
    assert listed[0][4] == "never"

    assert _run(cfg, monkeypatch, "revoke-token", str(weekly.id)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"revoked API token {weekly.id} (weekly export) of a@example.com; it stopped "
                          "working at")
    assert _run(cfg, monkeypatch, "revoke-token", str(weekly.id)) == 0
    assert "was already revoked" in capsys.readouterr().out
    with cfg.factory.begin() as s:
        s.get(ApiToken, rows["one afternoon"].id).expires_at = utcnow() - timedelta(minutes=1)
    assert _run(cfg, monkeypatch, "tokens", "a@example.com") == 0
    listed = {line[1]: line for line in _token_lines(capsys.readouterr().out)}
    assert listed["weekly export"][5].endswith(" UTC") and listed["weekly export"][5] != "no"
    assert listed["one afternoon"][4].endswith("(expired)") and listed["-"][5] == "no"


@pytest.mark.parametrize("args,message", [
    (["token", "a@example.com", "--expires-in", "90"], "such as 90d or 12h, not '90'"),
    (["token", "a@example.com", "--expires-in", "0d"], "such as 90d or 12h, not '0d'"),
    (["token", "a@example.com", "--expires-in", "2w"], "such as 90d or 12h, not '2w'"),
    (["revoke-token", "4711"], "no API token with the id 4711"),
    (["tokens", "nobody@example.com"], "no user nobody@example.com"),
])
def test_token_errors_are_one_clear_line_and_make_nothing(cfg, monkeypatch, capsys, args, message):
    assert _run(cfg, monkeypatch, "add", "a@example.com", "--password-stdin", stdin="long enough pass\n") == 0
    capsys.readouterr()
    assert _run(cfg, monkeypatch, *args) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    with cfg.factory() as s:
        assert s.scalar(select(ApiToken)) is None
