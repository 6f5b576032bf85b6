"""The classifier takes any text: empty, blank, symbols only, garbage, huge, and any mix of them in one
batch."""
from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers import LABELS, load_classifier
from classifiers.prediction import NO_TEXT
from intake.config import ClassifierConfig

THRESHOLD = ClassifierConfig().review_threshold
ODD = ["", " ", "\n\t \r\n", "!!!", "。。？", "🙂🙂🙂", "\x00\x01", "\ud800", "a\udfffb", "x", "中",
       "\u200b", "x" * 1_000_000, "error " * 100_000, bytes(range(256)).decode("latin-1")]


def _valid(pred) -> None:
    assert pred.label in LABELS
    assert set(pred.scores) == set(LABELS)
    assert all(0.0 <= v <= 1.0 and math.isfinite(v) for v in pred.scores.values())
    assert abs(sum(pred.scores.values()) - 1.0) < 1e-6
    assert pred.confidence == max(pred.scores.values()) == pred.scores[pred.label]


def test_an_empty_email_among_normal_ones_is_scored_alone():
    clf = load_classifier()
    batch = [("hello", "the export crashes"), ("", ""), ("Could you add a PO field?", "")]
    preds = clf.predict_many(batch)
    assert len(preds) == 3
    for p in preds:
        _valid(p)
    assert preds[1].lang == NO_TEXT and preds[1].confidence == 0.25 and preds[1].needs_review(THRESHOLD)
    # The neighbours get exactly what they get alone: the empty text does not disturb the batch.
    assert preds[0] == clf.predict(*batch[0]) and preds[2] == clf.predict(*batch[2])


def test_odd_texts_alone_and_mixed_in_one_batch():
    clf = load_classifier()
    alone = [clf.predict(s, "") for s in ODD] + [clf.predict("", b) for b in ODD]
    mixed = clf.predict_many([(s, b) for s in ODD for b in ODD[:4]])
    for p in alone + mixed:
        _valid(p)
    for text in ("", " ", "!!!", "🙂🙂🙂", "\x00\x01", "\u200b"):
        p = clf.predict(text, text)
        assert p.lang == NO_TEXT and p.needs_review(THRESHOLD), text


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.text(max_size=300), st.text(max_size=2000)), max_size=12))
def test_any_batch_of_any_strings_gives_one_valid_prediction_each(emails):
    preds = load_classifier().predict_many(emails)
    assert len(preds) == len(emails)
    for p in preds:
        _valid(p)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_binary_garbage_decoded_any_way_is_classified(blobs):
    texts = [b.decode("utf-8", "surrogateescape") for b in blobs] + [b.decode("latin-1") for b in blobs]
    for p in load_classifier().predict_many([(t[:50], t) for t in texts]):
        _valid(p)
