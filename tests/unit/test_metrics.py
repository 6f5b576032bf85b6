"""intake.metrics: what a committed batch adds to the counters, and the configuration switching them on."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from intake import metrics
from intake.config import ConfigError, parse_config
from intake.pipeline import BatchResult


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_is_counted_by_outcome_screening_and_category():
    names = [("intake_messages_stored_total", {"mailbox": "unit", "outcome": o})
             for o in ("new_item", "follow_up", "recorded")]
    names += [("intake_messages_quarantined_total", {"mailbox": "unit"}),
              ("intake_messages_duplicate_total", {"mailbox": "unit"}),
              ("intake_messages_screened_total", {"mailbox": "unit", "reason": "bounce"}),
              ("intake_classifications_total", {"label": "issue"}),
              ("intake_classifications_flagged_total", {"label": "issue"}),
              ("intake_classifications_total", {"label": "question"}),
              ("intake_classifications_flagged_total", {"label": "question"})]
    before = [_value(n, **ls) for n, ls in names]
    result = BatchResult(new_items=["CI-1", "CI-2", "CI-3"], follow_ups=["CI-9"], recorded=2, quarantined=1,
                         duplicates=4, classified=[("issue", False), ("issue", True), ("question", False)],
                         screened=["bounce", "bounce"])
    metrics.batch_done("unit", result)
    added = [_value(n, **ls) - b for (n, ls), b in zip(names, before, strict=True)]
    assert added == [3, 1, 2, 1, 4, 2, 2, 1, 1, 0]


def test_ack_latencies_never_go_below_zero():
    before = _value("intake_ack_latency_seconds_bucket", le="1.0")
    count = _value("intake_ack_latency_seconds_count")
    metrics.acks_sent([-0.4, 0.5, 7.0])  # an internal date a little ahead of our clock counts as 0
    assert _value("intake_ack_latency_seconds_bucket", le="1.0") - before == 2
    assert _value("intake_ack_latency_seconds_count") - count == 3


def test_worker_metrics_need_the_health_address():
    with pytest.raises(ConfigError, match=r"^worker\.metrics: .*health_address"):
        parse_config({"worker": {"metrics": True}})
    cfg = parse_config({"worker": {"metrics": True, "health_address": "127.0.0.1:9101"}})
    assert cfg.worker.metrics and not parse_config({}).worker.metrics and not parse_config({}).web.metrics


def test_the_web_metrics_token_comes_from_one_place():
    with pytest.raises(ConfigError, match=r"^web\.metrics_token_env: "):
        parse_config({"web": {"metrics_token_env": "A", "metrics_token_file": "/b"}})
    with pytest.raises(ConfigError, match=r"web\.metrics_token: "):
        parse_config({"web": {"metrics_token": "in the file"}})


def test_the_dashboard_shows_documented_metrics_only():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    used = {re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"\bintake_[a-z_]+", exprs)}
    readme = (root / "README.md").read_text(encoding="utf-8")
    readme = readme.split("\n## Operations\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(intake_[a-z_]+)` \| (?:counter|gauge|histogram) \|", readme, re.M))
    assert used and used <= documented
    assert len(documented) >= 14
