"""`intake doctor`: checks the configuration against the real servers and says, one line each, what works and
what does not, with a hint; exit code 0 only when nothing failed."""
from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from intake.checks import Check
from intake.config import Config, ConfigError, NotifyConfig, load_config
from intake.config_checks import web_address

SAMPLE = ("The export crashes", "Since this morning the CSV export fails with an error 500 above 1,000 rows.")


def cmd_doctor(_cfg: Config | None, args: argparse.Namespace) -> int:
    """Runs every check, printing each line as it is known; 0 when none failed, else 1."""
    failed = 0
    for check in run_checks(args.config):
        failed += check.status == "FAIL"
        print(line(check), flush=True)
    print("all checks passed" if not failed else f"{failed} check{'s' if failed != 1 else ''} failed")
    return 1 if failed else 0


def line(check: Any) -> str:
    """CHECK as the report prints it."""
    text = f"{check.status:<4}  {check.name}: {check.detail}"
    return text + (f"  -> {check.hint}" if check.hint and check.status in ("FAIL", "WARN") else "")


def run_checks(config_path: str | None) -> Iterator[Any]:
    """The checks in order; a config that cannot be read is the only one (nothing else can be checked)."""
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        yield Check("FAIL", "config", str(exc),
                    "fix the key it names; deploy/intake.example.toml lists them all")
        return
    source = config_path or os.environ.get("INTAKE_CONFIG") or "built-in defaults"
    count = len(cfg.mailboxes)
    yield Check("OK", "config", f"{source}: {count} mailbox{'es' if count != 1 else ''}")
    secrets = dict(_secrets(cfg))
    for problem in secrets.values():
        if isinstance(problem, ConfigError):
            yield Check("FAIL", "secret", str(problem), "set the variable in the service's environment, or "
                        "make the file readable by the user intake runs as")
    yield _database(cfg)
    if not cfg.mailboxes:
        yield Check("FAIL", "mailboxes", "none configured", "add a [[mailboxes]] table")
    for i, box in enumerate(cfg.mailboxes):
        password = secrets.get(f"mailboxes[{i}]")
        if isinstance(password, ConfigError):
            yield Check("SKIP", f"mailbox {box.name}", "not checked: its password cannot be read (see above)")
            continue
        from intake.imap_check import check_mailbox

        yield from check_mailbox(box, f"mailboxes[{i}]", password or "")
    yield from _smtp(cfg, secrets.get("smtp"))
    yield _model(cfg)
    yield from _web(cfg, secrets.get("web"))
    for n in cfg.notify:
        yield _notify(n, secrets.get(f"notify {n.name}"))


def _secrets(cfg: Config) -> Iterable[tuple[str, str | None | ConfigError]]:
    """Each configured secret read, or the ConfigError saying why it cannot be."""
    def read(key: str, fn: Callable[[], str | None]) -> tuple[str, str | None | ConfigError]:
        try:
            return key, fn()
        except ConfigError as exc:
            return key, exc

    for i, box in enumerate(cfg.mailboxes):
        if box.auth == "password":
            yield read(f"mailboxes[{i}]", lambda box=box, i=i: box.secret.read(f"mailboxes[{i}].password"))
    yield read("smtp", lambda: cfg.smtp.secret.read("smtp.password"))
    yield read("web", lambda: cfg.web.secret_key.read("web.secret_key"))
    for n in cfg.notify:
        yield read(f"notify {n.name}", lambda n=n: n.url.read(f"notify.{n.name}.url"))
        yield read(f"notify {n.name} secret", lambda n=n: n.secret.read(f"notify.{n.name}.secret"))


def _database(cfg: Config) -> Check:
    from db.engine import make_engine
    from db.revision import HEAD_REVISION, schema_problem

    engine = make_engine(cfg.database.url)
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not os.path.exists(path):
        # Connecting would make an empty file: a check must not change anything.
        return Check("FAIL", "database", f"{path} does not exist",
                     "check database.url, or create the database "
                     "with `intake db upgrade`")
    try:
        problem = schema_problem(engine)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string()
    if problem is None:
        return Check("OK", "database", f"{shown} at revision {HEAD_REVISION}")
    hint = ("run `intake db upgrade`" if problem.startswith("schema") else
            "check database.url, and that the server runs and lets this user in")
    return Check("FAIL", "database", f"{shown}: {problem.split('; run')[0]}", hint)


def _smtp(cfg: Config, password: str | None | ConfigError) -> Iterable[Any]:
    from responders.sender import SmtpSettings
    from responders.smtp_check import check_smtp

    if isinstance(password, ConfigError):
        yield Check("SKIP", "smtp", "not checked: its password cannot be read (see above)")
        return
    s = cfg.smtp
    settings = SmtpSettings(host=s.host, port=s.port, security=s.security, username=s.username,
                            password=password,
                            ca_file=s.ca_file, timeout=min(s.timeout_seconds, 15.0))
    yield from check_smtp(settings, s.from_address)


def _model(cfg: Config) -> Check:
    try:
        from classifiers import load_classifier

        model = load_classifier(cfg.classifier.model_dir or None)
        found = model.predict(*SAMPLE)
    except Exception as exc:  # whatever breaks loading or classifying is the finding
        return Check("FAIL", "model", f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
                     "check classifier.model_dir and its ACTIVE file, or retrain with `intake train`")
    return Check("OK", "model", f"version {model.version} loads and classifies (a sample bug report: "
                 f"{found.label}, {found.confidence:.2f})")


def _notify(target: NotifyConfig, url: str | None | ConfigError) -> Check:
    """Whether the [[notify]] TARGET's URL is a web address whose host answers on its port. Nothing is posted
    (it would reach the team's chat), and the URL is never shown: it holds the credential."""
    name = f"notify {target.name}"
    if isinstance(url, ConfigError):
        return Check("SKIP", name, "not checked: its URL cannot be read (see above)")
    where = target.url_env or target.url_file
    hint = f"put the {target.target} webhook's full address (https://...) in {where}"
    bad = Check("FAIL", name, f"the URL read from {where} is not an http:// or https:// address", hint)
    try:
        host, port = web_address(url or "")
    except ValueError:
        return bad
    try:
        socket.create_connection((host, port), timeout=min(target.timeout_seconds, 10.0)).close()
    except OSError as exc:
        return Check("FAIL", name, f"cannot connect to {host}:{port}: {exc.strerror or exc}",
                     "check the host's name and this machine's outbound access to it (firewall, proxy)")
    return Check("OK", name, f"{target.target} at {host}:{port} answers (nothing was posted)")


def _web(cfg: Config, key: str | None | ConfigError) -> Iterable[Check]:
    if cfg.web.public_url:
        yield Check("OK", "web.public_url", cfg.web.public_url)
    else:
        yield Check("FAIL", "web.public_url",
                    f"not set: links in mail and reports point at {cfg.web.base_url}",
                    "set web.public_url to the address people use, e.g. \"https://intake.example.com\"")
    if isinstance(key, ConfigError):
        return  # reported with the secrets
    if key is None:
        yield Check("FAIL", "web.secret_key",
                    "not set: a random key is made at every start, so every restart "
                    "signs everyone out",
                    "set web.secret_key_env or web.secret_key_file (`openssl rand -hex 32`)")
    elif len(key) < 32:
        yield Check("FAIL", "web.secret_key", f"{len(key)} characters; at least 32 are needed",
                    "make a longer one with `openssl rand -hex 32`")
    else:
        yield Check("OK", "web.secret_key", "set")


def add_doctor_command(sub: Any) -> None:
    """Adds `intake doctor` to SUB."""
    doctor = sub.add_parser(
        "doctor", help="check the configuration against the real servers, one line per check",
        description="Checks the configuration against the real world: config keys and secrets, the database "
        "(reachable, at the latest migration), each mailbox (connect, TLS certificate, login, folder, IDLE, "
        "clock skew against the server), SMTP (connect, TLS, login, the from address accepted; nothing is "
        "sent), the model (loads and classifies), web.public_url and the web secret key, and each [[notify]] "
        "target's host (reached; nothing is posted). Exit code 0 only "
        "when no check failed.")
    doctor.set_defaults(func=cmd_doctor, reads_config_itself=True)

