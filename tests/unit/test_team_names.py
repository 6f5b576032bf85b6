"""The team's name per client language (acknowledgment.team_names): Chinese mail signed in Chinese."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import OutboxMail
from intake.config import ConfigError, parse_config
from responders.compose import AckRequest, ack_mail
from review.app import create_app
from review.settings import WebSettings
from tests.unit.test_review_app import T0, add_item
from tests.web import signed_in

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def test_the_name_per_language_falls_back_to_team_name():
    cfg = parse_config({"acknowledgment": {"team_name": "The demo project team",
                                           "team_names": {"zh": "演示项目团队"}}})
    ack = cfg.acknowledgment
    assert ack.team_for("zh") == "演示项目团队" and ack.team_for("en") == "The demo project team"
    assert ack.team_for("ja") == "The demo project team"  # written in English
    with pytest.raises(ConfigError, match="acknowledgment.team_names.fr"):
        parse_config({"acknowledgment": {"team_names": {"fr": "L'équipe"}}})
    with pytest.raises(ConfigError, match="acknowledgment.team_names.zh"):
        parse_config({"acknowledgment": {"team_names": {"zh": ""}}})


def test_a_chinese_acknowledgment_is_signed_with_the_chinese_name():
    cfg = parse_config({"acknowledgment": {"team_name": "The demo project team",
                                           "team_names": {"zh": "演示项目团队"}}})
    req = AckRequest(ref="CI-000001", category="question", lang="zh", to_address="li@example.cn",
                     to_name="李雷",
                     subject="发票", in_reply_to="", references=())
    text = ack_mail(req, "Support <support@team.example>", cfg.acknowledgment.team_for(req.lang), NOW).text
    assert "此致\n演示项目团队" in text.replace("\r\n", "\n")
    assert "The demo project team" not in text


def test_a_reply_from_the_app_is_signed_in_the_clients_language(factory):
    with factory.begin() as s:
        item = add_item(s, 1, subject="发票抬头", received=T0, email="li@example.cn", name="李雷")
        item.lang = "zh"
    settings = replace(WebSettings(), team="The demo project team", team_names={"zh": "演示项目团队"})
    with TestClient(create_app(factory, settings)) as client:
        signed_in(client, factory)
        r = client.post("/items/CI-000001/reply", data={"csrf_token": client.csrf,
                                                        "text": "您好，可以修改。"},
                        follow_redirects=False)
        assert r.status_code == 303
    with factory() as s:
        raw = s.scalar(select(OutboxMail.raw))
    body = message_from_bytes(raw, policy=default).get_body(("plain",)).get_content()
    assert "演示项目团队" in body and "The demo project team" not in body


def test_updates_and_surveys_to_a_chinese_client_are_signed_with_the_chinese_name(factory):
    from db.models import Item
    from intake.client_settings import client_mail_settings
    from responders.client_mail import item_moved

    cfg = parse_config({"acknowledgment": {"team_name": "The demo project team",
                                           "team_names": {"zh": "演示项目团队"}}})
    settings = client_mail_settings(cfg, factory)
    with factory.begin() as s:
        item = add_item(s, 1, subject="发票抬头", received=T0, email="li@example.cn", name="李雷")
        item.lang, item.status = "zh", "resolved"
        item_moved(s, s.get(Item, item.id), settings, NOW)
    with factory() as s:
        mails = {m.kind: m.raw for m in s.scalars(select(OutboxMail))}
    assert sorted(mails) == ["survey", "update"]
    for raw in mails.values():
        body = message_from_bytes(raw, policy=default).get_body(("plain",)).get_content()
        assert "演示项目团队" in body and "The demo project team" not in body
