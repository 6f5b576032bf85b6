"""Compares intake with django-helpdesk (its peer in Python) on the same backlog, same Dovecot and same SMTP
sink.

Needs benchmarks/helpdesk/setup.sh run once (django-helpdesk in its own virtualenv, see
benchmarks/helpdesk/README.md).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from benchmarks.backlog import Drain, timed_drain
from benchmarks.backlog_mail import build_backlog
from benchmarks.common import Rig, load, machine, rig, run_measured
from benchmarks.maildir import fill_maildir
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER

HELPDESK = Path(__file__).resolve().parent / "helpdesk"
HELPDESK_PYTHON = HELPDESK / ".venv" / "bin" / "python"
HELPDESK_USER = "helpdesk"


def _manage(env: dict[str, str], *args: str) -> str:
    """Runs one django-helpdesk management command to its end (untimed setup); its output."""
    done = subprocess.run([str(HELPDESK_PYTHON), str(HELPDESK / "manage.py"), *args], env=env,
                          capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout


def helpdesk_env(r: Rig, workdir: Path) -> dict[str, str]:
    """The environment benchmarks/helpdesk/benchsite/settings.py reads: its data dir and the sink."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DJANGO"))}
    env.update(HELPDESK_BENCH_DIR=str(workdir), HELPDESK_SMTP_HOST=r.sink.host,
               HELPDESK_SMTP_PORT=str(r.sink.port))
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--attachments", type=float, default=0.10,
                        help="share of emails with binary attachments")
    parser.add_argument("--follow-ups", type=float, default=0.10,
                        help="share of emails answering an earlier one")
    parser.add_argument("--timeout", type=float, default=3600, help="longest one drain may take, in seconds")
    args = parser.parse_args(argv)
    if not HELPDESK_PYTHON.exists():
        sys.exit(f"no django-helpdesk: run {HELPDESK / 'setup.sh'} first")
    backlog = build_backlog(args.count, args.seed, args.attachments, args.follow_ups)
    with tempfile.TemporaryDirectory() as tmp, rig(Path(tmp), None) as r:
        r.dovecot.add_user(HELPDESK_USER, MAILBOX_PASSWORD)
        fill_maildir(r.dovecot, HELPDESK_USER, backlog.raws, backlog.chunk)
        fill_maildir(r.dovecot, MAILBOX_USER, backlog.raws, backlog.chunk)

        env = helpdesk_env(r, Path(tmp) / "helpdesk")
        _manage(env, "migrate", "--verbosity", "0")
        _manage(env, "bench_queue", "--host", r.dovecot.host, "--port", str(r.dovecot.port),
                "--user", HELPDESK_USER, "--password", MAILBOX_PASSWORD)
        helpdesk = timed_drain([str(HELPDESK_PYTHON), str(HELPDESK / "manage.py"), "get_email", "--quiet"],
                               r.sink, backlog, args.timeout, env=env)
        sample = _subject(r.sink.messages[0].raw) if r.sink.messages else "(none)"
        stored = _manage(env, "shell", "--no-imports", "-c",
                         "from helpdesk.models import Ticket, FollowUp, FollowUpAttachment; "
                         "print(Ticket.objects.count(), FollowUp.objects.count(), "
                         "FollowUpAttachment.objects.count())")

        upgrade = run_measured(r.intake("db", "upgrade"), timeout=600)
        if upgrade.returncode != 0:
            sys.exit(f"intake db upgrade failed: {upgrade.stderr.strip()}")
        time.sleep(1)  # let the machine settle after the migration
        intake = timed_drain(r.intake("run", "--once"), r.sink, backlog, args.timeout)
    print(f"machine: {machine()}; {load()} at the end")
    print(f"versions: {_versions()}")
    print(f"backlog (the same bytes in two mailboxes of one Dovecot): {backlog.describe()}")
    print(helpdesk.describe("django-helpdesk get_email"))
    tickets, followups, files = stored.split()[-3:]
    print(f"django-helpdesk stored {tickets} tickets, {followups} follow-ups, {files} attachments; "
          f"its first acknowledgment: {sample!r}")
    print(intake.describe("intake run --once"))
    print(_ratio(intake, helpdesk))


def _ratio(intake: Drain, helpdesk: Drain) -> str:
    return (f"intake / django-helpdesk: {intake.rate / helpdesk.rate:.2f}x the emails per second "
            f"({intake.rate:.1f} vs {helpdesk.rate:.1f}), peak RSS of all processes "
            f"{sum(intake.peaks_mib):.0f} vs "
            f"{sum(helpdesk.peaks_mib):.0f} MiB")


def _subject(raw: bytes) -> str:
    return str(BytesHeaderParser(policy=default_policy).parsebytes(raw).get("Subject", ""))


def _versions() -> str:
    code = ("from importlib.metadata import version as v; import sys; "
            "print(f\"django-helpdesk {v('django-helpdesk')}, Django {v('Django')}, Python "
            "{sys.version.split()[0]}\")")
    return subprocess.run([str(HELPDESK_PYTHON), "-c", code], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
