"""Confidence as a calibrated band cut at the review threshold, the exact figure on hover and on the item
page; a quieter item page: our own messages without a screening note, the model version in the history
only."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from classifiers.model import DEFAULT_MODEL_DIR
from db.models import Message
from review.app import create_app
from review.present import confidence_band, exact_percent
from review.settings import WebSettings
from review.thresholds import ReviewThresholds
from tests.unit.test_review_app import T0, add_item
from tests.web import signed_in


@pytest.mark.parametrize("value, threshold, band", [
    (0.47, 0.8, "low"), (0.7999, 0.8, "low"), (0.8, 0.8, "medium"), (0.949, 0.8, "medium"),
    (0.95, 0.8, "high"),
    (1.0, 0.8, "high"), (0.6, 0.5, "medium"), (0.96, 0.97, "low"), (0.97, 0.97, "high"), (None, 0.8, ""),
])
def test_bands_are_cut_at_the_review_threshold(value, threshold, band):
    assert confidence_band(value, threshold) == band


def test_the_exact_figure_never_rounds_up_to_certainty():
    assert (exact_percent(0.9996) == "99.9%" and exact_percent(1.0) == "100.0%"
            and exact_percent(0.985) == "98.5%")


@pytest.fixture
def client(factory):
    with factory.begin() as s:
        add_item(s, 1, confidence=0.985, received=T0)
        add_item(s, 2, confidence=0.62, needs_review=True, received=T0 + timedelta(hours=1))
        item = add_item(s, 3, confidence=0.88, received=T0 + timedelta(hours=2))
        s.add(Message(item_id=item.id, direction="out", message_id="<ack3@example.com>",
                      sender="support@example.com",
                      recipients="anna@acme.example", subject="[CI-000003] Login page broken",
                      screening="ours",
                      received_at=T0 + timedelta(hours=2, minutes=1), body_text="Thank you.", raw=b"raw"))
    settings = replace(WebSettings(), review_threshold=0.7)
    with TestClient(create_app(factory, settings)) as c:
        yield signed_in(c, factory)


def test_the_queue_shows_bands_with_the_figure_on_hover(client):
    html = client.get("/").text
    assert '<span class="band band-high" title="98.5%">High</span>' in html
    assert '<span class="band band-low" title="62.0%">Low</span>' in html
    assert '<span class="band band-medium" title="88.0%">Medium</span>' in html
    zh = client.get("/", headers={"accept-language": "zh-CN"}).text
    assert '<span class="band band-high" title="98.5%">高</span>' in zh


def test_the_item_page_names_the_band_and_the_figure_and_keeps_the_model_for_the_history(client):
    html = client.get("/items/CI-000003").text
    facts = re.search(r'<dd id="confidence">(.*?)</dd>', html, re.S).group(1)
    assert "Medium" in facts and "88.0%" in facts and "spacy" not in facts
    history = html[html.index('id="history"'):]
    assert "model spacy-1.0" in history
    assert "Screening" not in html and "ours" not in html  # our acknowledgment carries no screening note


# A model version that chose a review threshold of its own for Chinese (as the shipped one does, 0.94).
VERSION = "20261206-000000-abcdef0123"


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / VERSION).mkdir()
    (tmp_path / VERSION / "meta.json").write_text(json.dumps({"version": VERSION,
                                                              "review_threshold": {"zh": 0.94}}))
    return tmp_path


def own_threshold_items(factory) -> None:
    """A Chinese and an English item at 0.90 by VERSION: the worker flags the Chinese one only."""
    with factory.begin() as s:
        for n, lang in ((1, "zh"), (2, "en")):
            item = add_item(s, n, confidence=0.90, needs_review=lang == "zh",
                            received=T0 + timedelta(hours=n))
            item.model_version, item.lang = VERSION, lang


@pytest.mark.parametrize("model_thresholds, zh_band", [(True, "low"), (False, "medium")])
def test_bands_are_cut_where_the_item_was_flagged_by_its_model_versions_own_threshold(
        factory, model_dir, model_thresholds, zh_band):
    own_threshold_items(factory)
    settings = replace(WebSettings(), review_threshold=0.8, model_thresholds=model_thresholds,
                       model_dir=str(model_dir))
    with TestClient(create_app(factory, settings)) as c:
        c = signed_in(c, factory)
        bands = {i["ref"]: i["confidence_band"] for i in c.get("/api/items").json()["items"]}
        assert bands == {"CI-000001": zh_band, "CI-000002": "medium"}
        assert c.get("/api/items/CI-000001").json()["confidence_band"] == zh_band
        html = c.get("/").text
        row = html.split('data-ref="CI-000001"')[1].split("</tr>")[0]
        assert f'class="band band-{zh_band}"' in row
        page = c.get("/items/CI-000001").text
        facts = re.search(r'<dd id="confidence">(.*?)</dd>', page, re.S).group(1)
        assert f'class="band band-{zh_band}"' in facts


def test_the_shipped_models_own_thresholds_count_without_a_model_dir():
    shipped = DEFAULT_MODEL_DIR / (DEFAULT_MODEL_DIR / "ACTIVE").read_text().strip()
    own = json.loads((shipped / "meta.json").read_text())["review_threshold"]
    thresholds = ReviewThresholds.configured_by(0.8, True, "")
    for lang in ("en", "zh"):
        assert thresholds.for_item(shipped.name, lang) == max(0.8, own.get(lang, 0.0))


def test_a_version_found_nowhere_or_named_outside_a_model_dir_has_no_threshold_of_its_own(model_dir):
    (model_dir / "inner").mkdir()
    thresholds = ReviewThresholds(0.7, True, [model_dir / "inner"])
    assert thresholds.for_item(VERSION, "zh") == 0.7
    assert thresholds.for_item(f"../{VERSION}", "zh") == 0.7 and thresholds.for_item("..", "zh") == 0.7
    assert thresholds.for_item("", "zh") == thresholds.for_item(None, None) == 0.7
    thresholds = ReviewThresholds(0.7, True, [model_dir])
    assert thresholds.for_item(VERSION, "zh") == 0.94 and thresholds.for_item(VERSION, "en") == 0.7
    assert ReviewThresholds(0.96, True, [model_dir]).for_item(VERSION, "zh") == 0.96
