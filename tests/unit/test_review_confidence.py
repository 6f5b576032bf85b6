"""Confidence as a calibrated band cut at the review threshold, the exact figure on hover and on the item
page; a quieter item page: our own messages without a screening note, the model version in the history
only."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from db.models import Message
from review.app import create_app
from review.present import confidence_band, exact_percent
from review.settings import WebSettings
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
