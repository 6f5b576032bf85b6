"""The demo: weeks of history and the samples; a second run reuses what the first made and says so; a taken
web
port is an error with a hint."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from db.models import CATEGORIES
from deploy.demo_history import WEEKS
from tests.integration.conftest import intake_command

pytestmark = pytest.mark.integration
HISTORY = 7 * WEEKS  # one item a day


def demo(workdir, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "deploy.demo", "--workdir", str(workdir), *args],
                          capture_output=True, text=True, timeout=600)


def test_running_the_demo_twice_reuses_the_first_runs_items(tmp_path):
    workdir = tmp_path / "demo"
    first = demo(workdir, "--no-web")
    assert first.returncode == 0, first.stderr
    assert f"seeded {HISTORY} items of demo history over the past six weeks" in first.stdout
    assert "delivered 14 sample client emails" in first.stdout
    assert (f"items: {HISTORY + 14}; acknowledgments received by the demo SMTP server this run: 14"
            in first.stdout)
    listed = subprocess.run(intake_command(workdir / "intake.toml", "export", "--format", "jsonl"),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    second = demo(workdir, "--no-web")
    assert second.returncode == 0, second.stderr
    assert f"demo history: {HISTORY} items from an earlier run, kept" in second.stdout
    assert f"reusing the demo state in {workdir}: {HISTORY + 14} items from an earlier run" in second.stdout
    assert "delivered" not in second.stdout and "seeded" not in second.stdout
    assert f"items: {HISTORY + 14};" in second.stdout
    # The intake commands the banner names work against the demo's config.
    assert len(rows) == HISTORY + 14
    # Two of the samples are too vague to classify: Needs review has them.
    flagged = {r["message_id"] for r in rows if r["needs_review"]}
    assert {"<sample-13@contoso.example>", "<sample-14@jiahe.example>"} <= flagged
    history = [r for r in rows if r["message_id"].startswith("<demo-history-")]
    assert len(history) == HISTORY
    assert {r["category"] for r in history} == set(CATEGORIES) and {r["lang"]
                                                                    for r in history} == {"en", "zh"}
    assert all(r["organization"].endswith(("(demo)", "(演示)")) for r in history)
    assert all(r["received_at"] < rows[-1]["received_at"] for r in history)  # weeks before the samples
    assert any(r["needs_review"] for r in history)
    states = {r["sla_state"] for r in history}
    assert {"breached", "met"} <= states and states & {"on_track", "at_risk"}
    assert sum(r["acknowledged_at"] is not None for r in history) == HISTORY
    assert sum(r["first_response_at"] is not None for r in history) > HISTORY // 2
    assert sum(r["resolved_at"] is not None for r in history) > HISTORY // 3
    assert "awaiting_approval" in {r["status"] for r in history}

    # The SLA report's figures and charts have content.
    report = subprocess.run(intake_command(workdir / "intake.toml", "report", "sla", "--format", "json"),
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    sla = json.loads(report.stdout)
    clocks = sla["all"]["clocks"]
    assert clocks["first_response"]["met"] > 0 and clocks["first_response"]["breached_open"] > 0
    assert clocks["resolution"]["met"] > 0 and clocks["acknowledge"]["measured"] > 14
    assert sum(sum(c) for c in sla["charts"]["response_times"]["counts"].values()) > 0
    assert sum(w["first_response"]["measured"] for w in sla["charts"]["weekly_compliance"]) > 0
    assert any(o["breached_items"] for o in sla["charts"]["breached_by_organization"])
    assert sla["csat"]["total"]["responses"] > 0


def test_a_taken_web_port_is_an_error_with_a_hint(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = demo(tmp_path / "demo", "--web-port", str(port))
    assert r.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in r.stderr and "--web-port" in r.stderr
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())
