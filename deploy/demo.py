"""The demo: local Dovecot and SMTP sink, sample client mail, the intake worker and the PM queue, on
loopback."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from deploy.mailserver import Dovecot, free_port
from deploy.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(__file__).with_name("samples")
PASSWORD_ENV = "INTAKE_DEMO_IMAP_PASSWORD"
DEMO_USER = "pm@intake.localhost"


def _config(workdir: Path, imap_port: int, smtp_port: int, web_port: int = 8025) -> Path:
    path = workdir / "intake.toml"
    path.write_text(f'''# Written by the demo; see deploy/intake.example.toml for every key.
[database]
url = "sqlite:///{workdir / 'intake.db'}"

[[mailboxes]]
name = "support"
host = "127.0.0.1"
port = {imap_port}
security = "none"   # loopback demo only
username = "support"
password_env = "{PASSWORD_ENV}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "Demo Support <support@intake.localhost>"

[acknowledgment]
team_name = "The demo project team"
team_names = {{ zh = "演示项目团队" }}

[surveys]
delay_minutes = 1   # the survey follows a minute after an item is resolved (60 by default)

[web]
port = {web_port}   # the status links in the demo's mail point here
secret_key_file = "{workdir / 'web.key'}"
''', encoding="utf-8")
    key = workdir / "web.key"
    if not key.exists():
        key.touch(mode=0o600)
        key.write_text(os.urandom(32).hex(), encoding="utf-8")
    return path


def _demo_user(cfg: Path) -> str:
    """Creates (or resets the password of) the demo's PM account, an admin; returns its password."""
    password = os.urandom(9).hex()
    env = {**os.environ, "INTAKE_DEMO_PM_PASSWORD": password}
    added = subprocess.run(_intake(cfg, "user", "add", DEMO_USER, "--name", "Demo PM", "--role", "admin",
                                   "--password-env", "INTAKE_DEMO_PM_PASSWORD"),
                           cwd=ROOT, env=env, capture_output=True, text=True)
    if added.returncode != 0:  # a demo run before this one made the account
        subprocess.run(_intake(cfg, "user", "password", DEMO_USER, "--password-env",
                               "INTAKE_DEMO_PM_PASSWORD"),
                       cwd=ROOT, env=env, check=True, capture_output=True)
    return password


def _port_taken(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:PORT (the web app could not start there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _stored_items(cfg: Path) -> int:
    """How many items the demo's database holds (0 before the first run)."""
    from sqlalchemy import func, select

    from db.engine import make_engine
    from db.models import Item
    from intake.config import load_config

    engine = make_engine(load_config(cfg).database.url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Item)) or 0)
    finally:
        engine.dispose()


def _history(cfg: Path) -> str:
    """Seeds the demo's six weeks of history unless an earlier run did; says which."""
    from db.engine import make_engine, make_sessionmaker
    from deploy.demo_history import seed, seeded
    from intake.config import load_config

    config = load_config(cfg)
    engine = make_engine(config.database.url)
    try:
        factory = make_sessionmaker(engine)
        held = seeded(factory)
        if held:
            return f"demo history: {held} items from an earlier run, kept"
        made = seed(factory, config)
        return (f"seeded {made} items of demo history over the past six weeks (made-up clients marked "
                f"(demo) or (演示), each item with a note saying it is demo data)")
    finally:
        engine.dispose()


def _intake(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "intake", "--config", str(cfg), *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=str(ROOT / ".demo"), help="where the demo keeps its state")
    parser.add_argument("--web-port", type=int, default=8025)
    parser.add_argument("--no-web", action="store_true", help="process the samples and exit")
    args = parser.parse_args(argv)
    if not args.no_web and _port_taken(args.web_port):
        print(f"demo: port {args.web_port} on 127.0.0.1 is taken (another demo or program); choose another "
              f"with --web-port, e.g. deploy/demo.sh --web-port {args.web_port + 1}", file=sys.stderr)
        return 1
    # Ctrl-C and SIGTERM both end the demo, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    password = os.urandom(12).hex()
    os.environ[PASSWORD_ENV] = password

    dovecot = Dovecot(workdir / "dovecot", {"support": password}, port=free_port())
    sink = SmtpSink(port=free_port(), spool=workdir / "sent")
    dovecot.start()
    sink.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cfg = _config(workdir, dovecot.port, sink.port, args.web_port)
        subprocess.run(_intake(cfg, "db", "upgrade"), check=True, cwd=ROOT)
        samples = sorted(SAMPLES.glob("*.eml"))
        found = _stored_items(cfg)
        print(_history(cfg), flush=True)
        if found:
            # The samples were taken in by an earlier run: delivering them again would only make copies the
            # worker recognizes and skips, and there would be no acknowledgment to wait for.
            print(f"reusing the demo state in {workdir}: {found} items from an earlier run "
                  f"(delete {workdir} to start clean)")
        else:
            for path in samples:
                dovecot.deliver("support", path.read_bytes())
            print(f"delivered {len(samples)} sample client emails to the demo mailbox "
                  f"(IMAP 127.0.0.1:{dovecot.port})")
        if args.no_web:
            subprocess.run(_intake(cfg, "run", "--once"), check=True, cwd=ROOT)
            print(f"items: {_stored_items(cfg)}; acknowledgments received by the demo SMTP server this run: "
                  f"{len(sink.messages)} (in {sink.spool})")
            return 0
        procs.append(subprocess.Popen(_intake(cfg, "run"), cwd=ROOT))
        if not found:
            deadline = time.monotonic() + 60
            while len(sink.messages) < len(samples) and time.monotonic() < deadline:
                time.sleep(0.2)
            print(f"acknowledgments sent: {len(sink.messages)} (copies in {sink.spool})")
        secret = workdir / "pm-password"
        secret.touch(mode=0o600)
        secret.write_text(_demo_user(cfg) + "\n", encoding="utf-8")
        print(f"\n  PM queue:  http://127.0.0.1:{args.web_port}/\n"
              f"  sign in:   {DEMO_USER}, password in {secret} (new every demo run)\n"
              f"  mailbox:   imap://support@127.0.0.1:{dovecot.port} (the worker is watching it with IDLE)\n"
              f"  config:    {cfg}\n"
              f"  commands:  .venv/bin/intake --config {cfg} ... (e.g. export --format csv)\n"
              f"  SLA:       http://127.0.0.1:{args.web_port}/reports/sla, or .venv/bin/intake --config "
              f"{cfg} "
              f"report sla --by organization --format html --out sla.html\n"
              f"  Stop with Ctrl-C.\n", flush=True)
        web = subprocess.Popen(_intake(cfg, "web", "--port", str(args.web_port)), cwd=ROOT)
        procs.append(web)
        if web.wait() != 0:
            print(f"demo: the web app stopped (exit code {web.returncode}); if the port was taken, choose "
                  f"another with --web-port", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        sink.stop()
        dovecot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
