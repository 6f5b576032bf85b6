"""The demo: local Dovecot and SMTP sink, sample client mail, the intake worker and the PM queue, on loopback."""
from __future__ import annotations

import argparse
import os
import signal
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


def _config(workdir: Path, imap_port: int, smtp_port: int) -> Path:
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

[web]
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
        subprocess.run(_intake(cfg, "user", "password", DEMO_USER, "--password-env", "INTAKE_DEMO_PM_PASSWORD"),
                       cwd=ROOT, env=env, check=True, capture_output=True)
    return password


def _intake(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "intake", "--config", str(cfg), *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=str(ROOT / ".demo"), help="where the demo keeps its state")
    parser.add_argument("--web-port", type=int, default=8025)
    parser.add_argument("--no-web", action="store_true", help="process the samples and exit")
    args = parser.parse_args(argv)
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
        cfg = _config(workdir, dovecot.port, sink.port)
        subprocess.run(_intake(cfg, "db", "upgrade"), check=True, cwd=ROOT)
        samples = sorted(SAMPLES.glob("*.eml"))
        for path in samples:
            dovecot.deliver("support", path.read_bytes())
        print(f"delivered {len(samples)} sample client emails to the demo mailbox (IMAP 127.0.0.1:{dovecot.port})")
        if args.no_web:
            subprocess.run(_intake(cfg, "run", "--once"), check=True, cwd=ROOT)
            print(f"acknowledgments received by the demo SMTP server: {len(sink.messages)} (in {sink.spool})")
            return 0
        procs.append(subprocess.Popen(_intake(cfg, "run"), cwd=ROOT))
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
              f"  SLA:       http://127.0.0.1:{args.web_port}/reports/sla, or .venv/bin/intake --config {cfg} "
              f"report sla --by organization --format html --out sla.html\n"
              f"  Stop with Ctrl-C.\n", flush=True)
        web = subprocess.Popen(_intake(cfg, "web", "--port", str(args.web_port)), cwd=ROOT)
        procs.append(web)
        web.wait()
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
