"""`intake user ...`: add PMs and admins, list them, set their organizations and passwords, manage API
tokens."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime
from typing import Any

from cli.shell import UserError, open_factory
from intake.config import Config


def _read_password(args: argparse.Namespace, prompt: str = "Password") -> str:
    """The new password: from $ARGS.password_env, stdin (--password-stdin), or prompted twice on a
    terminal."""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UserError(f"password: environment variable {args.password_env} is not set")
        return value
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("password: no terminal to ask on; use --password-stdin or --password-env NAME")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass(f"{prompt} again: ") != first:
        raise UserError("password: the two entries differ; nothing was changed")
    return first


def _user(session: Any, email: str) -> Any:
    from review.accounts import find_user

    user = find_user(session, email)
    if user is None:
        raise UserError(f"user: no user {email.strip().lower()}; add one with `intake user add`")
    return user


def cmd_user_add(cfg: Config, args: argparse.Namespace) -> int:
    from review.accounts import AccountError, create_user, organizations_by_domain, set_organizations
    from review.auth import WeakPassword, check_password_rules

    factory = open_factory(cfg)
    password = _read_password(args)
    try:
        check_password_rules(password)
        with factory.begin() as session:
            user = create_user(session, args.email, args.name, args.role, password)
            if args.org:
                set_organizations(user, organizations_by_domain(session, args.org,
                                                                cfg.tracker.free_mail_domains))
            line = f"added {user.role} {user.email}" + (f" ({', '.join(args.org)})" if args.org else "")
    except (AccountError, WeakPassword) as exc:
        raise UserError(str(exc)) from None
    print(line)
    return 0


def cmd_user_list(cfg: Config, args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from db.models import User

    with open_factory(cfg, readonly=True)() as session:
        users = session.scalars(select(User).options(selectinload(User.organizations)).order_by(User.email))
        for u in users:
            orgs = "all organizations" if u.role == "admin" else (
                ", ".join(o.domain for o in u.organizations) or "no organizations")
            state = "" if u.active else "  [disabled]"
            print(f"{u.email}\t{u.role}\t{u.name}\t{orgs}{state}")
    return 0


def cmd_user_orgs(cfg: Config, args: argparse.Namespace) -> int:
    from review.accounts import AccountError, organizations_by_domain, set_organizations

    try:
        with open_factory(cfg).begin() as session:
            user = _user(session, args.email)
            current = set(user.organizations)
            current |= set(organizations_by_domain(session, args.add, cfg.tracker.free_mail_domains))
            current -= set(organizations_by_domain(session, args.remove))
            set_organizations(user, current)
            line = f"{user.email}: " + (", ".join(o.domain for o in user.organizations) or "no organizations")
    except AccountError as exc:
        raise UserError(str(exc)) from None
    print(line)
    return 0


def cmd_user_password(cfg: Config, args: argparse.Namespace) -> int:
    from review.accounts import set_password
    from review.auth import WeakPassword

    factory = open_factory(cfg)
    password = _read_password(args, "New password")
    try:
        with factory.begin() as session:
            user = _user(session, args.email)
            ended = set_password(user, password)
    except WeakPassword as exc:
        raise UserError(str(exc)) from None
    print(f"password changed for {args.email.strip().lower()}; ended {_count(ended.sessions, 'session')} and "
          f"revoked {_count(ended.tokens, 'API token')}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def cmd_user_token(cfg: Config, args: argparse.Namespace) -> int:
    from review.accounts import AccountError, issue_token, parse_lifetime

    try:
        lifetime = parse_lifetime(args.expires_in) if args.expires_in else None
    except AccountError as exc:
        raise UserError(str(exc)) from None
    with open_factory(cfg).begin() as session:
        token = issue_token(session, _user(session, args.email), args.name, lifetime)
    print(token)
    print("This is the only time the token is shown; keep it in a secret store.", file=sys.stderr)
    return 0


def _when(value: datetime | None, none: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else none


def cmd_user_tokens(cfg: Config, args: argparse.Namespace) -> int:
    from db.types import utcnow
    from review.accounts import token_state, tokens_of

    with open_factory(cfg, readonly=True)() as session:
        user = _user(session, args.email)
        tokens = tokens_of(session, user.id)
        now = utcnow()
        print("id\tname\tcreated\tlast used\texpires\trevoked")
        for t in tokens:
            expires = _when(t.expires_at) + (" (expired)" if token_state(t, now) == "expired" else "")
            print(f"{t.id}\t{t.name or '-'}\t{_when(t.created_at)}\t{_when(t.last_used_at)}\t{expires}\t"
                  f"{_when(t.revoked_at, 'no')}")
    if not tokens:
        print(f"{user.email} has no API tokens", file=sys.stderr)
    return 0


def cmd_user_revoke_token(cfg: Config, args: argparse.Namespace) -> int:
    from db.models import ApiToken
    from review.accounts import revoke_token

    with open_factory(cfg).begin() as session:
        token = session.get(ApiToken, args.id)
        if token is None:
            raise UserError(f"token: no API token with the id {args.id}; see `intake user tokens EMAIL`")
        already = token.revoked_at is not None
        revoke_token(session, token.id)
        what = f"API token {token.id} ({token.name or 'no name'}) of {token.user.email}"
        line = (f"{what} was already revoked at {_when(token.revoked_at)}" if already else
                f"revoked {what}; it stopped working at {_when(token.revoked_at)}")
    print(line)
    return 0


def _password_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    p.add_argument("--password-env", metavar="NAME", help="read the password from environment variable NAME")


def add_user_commands(sub: Any) -> None:
    """Adds `intake user` and its subcommands to SUB."""
    user = sub.add_parser("user", help="PM and admin accounts").add_subparsers(dest="user_command",
                                                                               required=True)
    add = user.add_parser("add", help="add a PM or admin (the password is asked for)")
    add.add_argument("email")
    add.add_argument("--name", default="")
    add.add_argument("--role", choices=["pm", "admin"], default="pm")
    add.add_argument("--org", action="append", default=[], metavar="DOMAIN",
                     help="an organization (by email domain) this PM works on; repeatable")
    _password_options(add)
    add.set_defaults(func=cmd_user_add)
    user.add_parser("list", help="list users and their organizations").set_defaults(func=cmd_user_list)
    orgs = user.add_parser("orgs", help="add or remove a PM's organizations")
    orgs.add_argument("email")
    orgs.add_argument("--add", action="append", default=[], metavar="DOMAIN")
    orgs.add_argument("--remove", action="append", default=[], metavar="DOMAIN")
    orgs.set_defaults(func=cmd_user_orgs)
    pw = user.add_parser("password",
                         help="set a user's password (ends their sessions, revokes their API tokens)")
    pw.add_argument("email")
    _password_options(pw)
    pw.set_defaults(func=cmd_user_password)
    tok = user.add_parser("token", help="create an API token for a user and print it once")
    tok.add_argument("email")
    tok.add_argument("--name", default="", help="what the token is for")
    tok.add_argument("--expires-in", metavar="LIFETIME", default="",
                     help="days or hours until the token stops working, such as 90d or 12h (default: never)")
    tok.set_defaults(func=cmd_user_token)
    tokens = user.add_parser("tokens", help="list a user's API tokens (never the tokens themselves)")
    tokens.add_argument("email")
    tokens.set_defaults(func=cmd_user_tokens)
    revoke = user.add_parser("revoke-token",
                             help="revoke an API token at once (its id from `intake user tokens`)")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_user_revoke_token)
