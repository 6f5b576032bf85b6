"""`intake user`: adding users with a prompted or piped password, organizations, tokens, clear errors."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from db.models import ApiToken, Organization, User
from intake.cli import main
from review.auth import token_hash, verify_password


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
    assert _run(cfg, monkeypatch, "add", "A@example.com", "--password-stdin", stdin="another long pass\n") == 1
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
    assert _run(cfg, monkeypatch, "password", "a@example.com", "--password-stdin", stdin="changed passphrase\n") == 0
    with cfg.factory() as s:
        user = s.scalar(select(User))
        assert verify_password(user.password_hash, "changed passphrase") and user.session_epoch == 1
