"""PM corrections teach the classifier: `intake train` learns from them, and never activates a worse model."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from classifiers import LABELS, load_classifier
from classifiers.corpus import REAL_DIR, read_real, read_split
from classifiers.store import ModelStore
from db.engine import make_engine, make_sessionmaker
from db.models import Item
from review.corrections import correct_category
from tests.integration.conftest import run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

# An email no corpus example resembles, so what the model says about it comes from the correction.
SUBJECT = "Quarterly zebra harbour ledger"
BODY = "Zebra harbour ledger for the quarter, zebra harbour figures attached as usual."


def _write(path: Path, rows) -> Path:  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps({"subject": e.subject, "body": e.body, "label": e.label,
                                        "lang": e.lang},
                                       ensure_ascii=False) + "\n" for e in rows), encoding="utf-8")
    return path


def _sample(split: str, per_class: int) -> list:  # type: ignore[type-arg]
    rows = read_split(split)
    random.Random(5).shuffle(rows)
    picked = []
    for lang in ("en", "zh"):
        for label in LABELS:
            picked += [e for e in rows if e.lang == lang and e.label == label][:per_class]
    return picked


def _version_dir(stdout: str) -> Path:
    found = re.search(r"model \S+ written to (\S+)", stdout)
    assert found, stdout
    return Path(found.group(1))


def test_a_correction_changes_what_train_learns(sqlite_url, dovecot, smtp_sink, config_for, tmp_path):
    cfg = config_for(sqlite_url)
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    dovecot.deliver("support", bytes(client_email(1, SUBJECT, BODY, "en")))
    ran = run_intake(cfg, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        item = s.scalars(select(Item)).one()
        predicted = item.category
        assert item.model_version == load_classifier().version  # every item records its model
    target = next(label for label in ("feedback", "question", "issue") if label != predicted)
    assert correct_category(factory, item.ref, target, "pm@example.com") is not None
    engine.dispose()

    train = _write(tmp_path / "train.jsonl", _sample("train", 25))
    dev = _write(tmp_path / "dev.jsonl", _sample("dev", 8))
    plain = run_intake(cfg, "train", "--data", str(train), "--dev", str(dev), "--out", str(tmp_path / "a"),
                       "--no-corrections")
    taught = run_intake(cfg, "train", "--data", str(train), "--dev", str(dev), "--out", str(tmp_path / "b"))
    for done in (plain, taught):
        # 3: trained, not activated (worse than the shipped model)
        assert done.returncode in (0, 3), done.stderr
    assert "learning from 1 emails corrected by PMs" in taught.stderr
    assert "train en" in taught.stderr and "epoch" in taught.stderr  # the progress bar

    before = load_classifier(_version_dir(plain.stdout)).predict(SUBJECT, BODY)
    after = load_classifier(_version_dir(taught.stdout)).predict(SUBJECT, BODY)
    assert after.scores[target] > before.scores[target] + 0.1, (before, after)
    assert after.label == target


def test_a_worse_model_is_not_activated(sqlite_url, config_for, tmp_path):
    cfg = config_for(sqlite_url)
    rows = _sample("train", 20)
    # Every label rotated by one: a model that learned the wrong categories.
    wrong = [type(e)(e.subject, e.body, LABELS[(LABELS.index(e.label) + 1) % 4], e.lang) for e in rows]
    data = _write(tmp_path / "wrong.jsonl", wrong)
    root = tmp_path / "models"
    done = run_intake(cfg, "train", "--data", str(data), "--out", str(root), "--no-corrections")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "not activated: worse on the dev split" in done.stdout
    store = ModelStore(root)
    assert store.active() is None and len(store.versions()) == 1
    # Workers pointed at ROOT keep the shipped model.
    shipped = load_classifier()
    assert load_classifier(root).version == shipped.version

    forced = run_intake(cfg, "train", "--data", str(data), "--out", str(root), "--no-corrections", "--force")
    assert forced.returncode == 0, forced.stderr
    assert store.active() == _version_dir(forced.stdout).name


def test_eval_command_prints_per_class_and_per_language_figures(sqlite_url, config_for, tmp_path):
    cfg = config_for(sqlite_url)
    data = _write(tmp_path / "eval.jsonl", _sample("dev", 5))
    text = run_intake(cfg, "eval", str(data))
    assert text.returncode == 0, text.stderr
    for needle in ("precision", "recall", "confusion", "== lang en", "== lang zh", "macro-F1", "flagged"):
        assert needle in text.stdout
    machine = run_intake(cfg, "eval", str(data), "--json")
    figures = json.loads(machine.stdout)
    assert figures["total"] == 40 and set(figures["by_lang"]) == {"en", "zh"}
    assert set(figures["per_label"]) == set(LABELS)
    assert sum(sum(row.values()) for row in figures["confusion"].values()) == 40
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subject": "x", "body": "y", "label": "bug", "lang": "en"}\n')
    refused = run_intake(cfg, "eval", str(bad))
    assert refused.returncode == 1 and "bad.jsonl:1: label must be one of" in refused.stderr


def test_eval_command_reports_each_source_of_a_real_text_file(sqlite_url, config_for, tmp_path):
    rows = [{**r, "source": "big-set" if n < 12 else f"tracker-{n}"}
            for n, r in enumerate(json.loads(line) for line in
                                  (REAL_DIR / "en.jsonl").read_text(encoding="utf-8").splitlines()[:15])]
    data = tmp_path / "real.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    cfg = config_for(sqlite_url)
    text = run_intake(cfg, "eval", str(data))
    assert text.returncode == 0, text.stderr
    assert "== per source" in text.stdout
    assert re.search(r"^big-set\s+12\s", text.stdout, re.M), text.stdout
    assert re.search(r"^3 sources under 10 texts each\s+3\s", text.stdout, re.M), text.stdout
    figures = json.loads(run_intake(cfg, "eval", str(data), "--json").stdout)
    assert {s: v["total"] for s, v in figures["by_source"].items()} == {
        "big-set": 12, "tracker-12": 1, "tracker-13": 1, "tracker-14": 1}


def test_eval_command_reads_the_shipped_real_test_split_per_source(sqlite_url, config_for):
    cfg = config_for(sqlite_url)
    figures = json.loads(run_intake(cfg, "eval", "--real", "test", "--json").stdout)
    assert figures["total"] == len(read_real("test")) and set(figures["by_lang"]) == {"en", "zh"}
    assert figures["by_source"]["ibm-twitter-cdp"]["total"] == 55
    assert 0 < figures["flagged_share"] < 1
    text = run_intake(cfg, "eval", "--real", "test")
    assert (text.returncode == 0 and "flagged for review (below" in text.stdout
            and "== per source" in text.stdout)
    none = run_intake(cfg, "eval")
    assert none.returncode == 1 and "no examples" in none.stderr
