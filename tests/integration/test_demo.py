"""The demo: a second run reuses what the first took in and says so; a taken web port is an error with a
hint."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.integration.conftest import intake_command

pytestmark = pytest.mark.integration


def demo(workdir, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "deploy.demo", "--workdir", str(workdir), *args],
                          capture_output=True, text=True, timeout=600)


def test_running_the_demo_twice_reuses_the_first_runs_items(tmp_path):
    workdir = tmp_path / "demo"
    first = demo(workdir, "--no-web")
    assert first.returncode == 0, first.stderr
    assert "delivered 14 sample client emails" in first.stdout
    assert "items: 14; acknowledgments received by the demo SMTP server this run: 14" in first.stdout
    second = demo(workdir, "--no-web")
    assert second.returncode == 0, second.stderr
    assert f"reusing the demo state in {workdir}: 14 items from an earlier run" in second.stdout
    assert "delivered" not in second.stdout and "items: 14;" in second.stdout
    # The intake commands the banner names work against the demo's config.
    listed = subprocess.run(intake_command(workdir / "intake.toml", "export", "--format", "jsonl"),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 14
    # Two of the samples are too vague to classify: Needs review has them.
    flagged = {r["message_id"] for r in map(json.loads, listed.stdout.splitlines()) if r["needs_review"]}
    assert {"<sample-13@contoso.example>", "<sample-14@jiahe.example>"} <= flagged


def test_a_taken_web_port_is_an_error_with_a_hint(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = demo(tmp_path / "demo", "--web-port", str(port))
    assert r.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in r.stderr and "--web-port" in r.stderr
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())
