"""An email the classifier is unsure of gets a category-neutral acknowledgment in the client's language
(received, the reference, when a person answers), sent over SMTP; a confident one gets its category's text."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from db.engine import make_engine, make_sessionmaker
from db.models import Item, Message
from responders.compose import CATEGORY_NAMES
from tests.integration.conftest import run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

UNSURE_EN = client_email(1, "A quick word",
                         "Could you take a look at the thing we talked about last week, whenever "
                         "you have a moment?", "en", msgid="<unsure-en@client.example>")
UNSURE_ZH = client_email(2, "合同", "关于合同的事情，我们再沟通一下。", "zh",
                         msgid="<unsure-zh@client.example>")
SURE_EN = client_email(3, "Export crashes",
                       "The export crashes with error 500 when the report has more than 1,000 "
                       "rows.", "en", msgid="<sure-en@client.example>")
# Category words the neutral text must not use (the category is the model's guess, not checked yet).
CATEGORY_WORDS = {"en": ["problem you reported", "change request", "question", "feedback", "issue report"],
                  "zh": list(CATEGORY_NAMES["zh"].values()) + ["您报告的问题"]}


def test_flagged_emails_get_the_neutral_acknowledgment_in_their_language(sqlite_url, dovecot, smtp_sink,
                                                                         config_for):
    cfg = config_for(sqlite_url)
    for mail in (UNSURE_EN, UNSURE_ZH, SURE_EN):
        dovecot.deliver("support", bytes(mail))
    for args in (("db", "upgrade"), ("run", "--once")):
        proc = run_intake(cfg, *args)
        assert proc.returncode == 0, proc.stderr
    acks = {message_from_bytes(m.raw,
                               policy=default)["In-Reply-To"]: message_from_bytes(m.raw, policy=default)
            for m in smtp_sink.wait_for(3, timeout=60)}

    factory = make_sessionmaker(make_engine(sqlite_url))
    with factory() as s:
        items = {m.message_id: m.item for m in s.scalars(select(Message).where(Message.direction == "in"))}
        flagged = {mid: (i.ref, i.needs_review, i.confidence) for mid, i in items.items()}
        assert s.scalar(select(Item.id).where(Item.needs_review.is_(True))) is not None
    # The premise: the model is unsure of the first two and sure of the third (default threshold 0.8).
    assert flagged["<unsure-en@client.example>"][1] and flagged["<unsure-zh@client.example>"][1], flagged
    assert not flagged["<sure-en@client.example>"][1], flagged

    en = acks["<unsure-en@client.example>"].get_body(("plain",)).get_content()
    ref = flagged["<unsure-en@client.example>"][0]
    assert f"recorded it under the reference {ref}" in en
    # The built-in policy's longest first-response target (change requests and feedback): 24 hours.
    assert "A member of the team will read it and get back to you within 24 hours." in en
    assert not [w for w in CATEGORY_WORDS["en"] if w in en.lower()], en

    zh_ack = acks["<unsure-zh@client.example>"]
    zh = zh_ack.get_body(("plain",)).get_content()
    assert zh_ack["Content-Language"] == "zh-CN"
    assert f"编号 {flagged['<unsure-zh@client.example>'][0]}" in zh
    assert "在 24 小时内与您联系" in zh
    assert not [w for w in CATEGORY_WORDS["zh"] if w in zh], zh
    html = zh_ack.get_body(("html",)).get_content()
    assert "在 24 小时内与您联系" in html

    sure = acks["<sure-en@client.example>"].get_body(("plain",)).get_content()
    assert "the problem you reported" in sure and "within 24 hours" not in sure
