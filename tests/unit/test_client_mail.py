"""Client mail settings and texts: the config keys, the survey links, CSAT in the weekly summary."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from intake.client_settings import client_mail_settings
from intake.config import ConfigError, parse_config
from reports.csat import CsatFigures, CsatTally
from reports.digest import ClientDigest, DigestItem
from reports.render import percent
from responders.links import SurveyLinks, status_url
from responders.notices import render_notice


def test_defaults_and_a_category_left_out_keeps_its_statuses():
    cfg = parse_config({"updates": {"statuses": {"issue": ["in_progress", "resolved"]}}})
    settings = client_mail_settings(cfg)
    assert settings.update_statuses["issue"] == ("in_progress", "resolved")
    assert settings.update_statuses["question"] == ("answered",)
    assert settings.survey_links is None  # without a database nothing can be signed: no survey is sent
    off = client_mail_settings(parse_config({"updates": {"enabled": False}}))
    assert off.update_statuses == {} and not off.category_updates


@pytest.mark.parametrize("data, key", [
    ({"updates": {"statuses": {"bug": ["resolved"]}}}, "updates.statuses.bug"),
    ({"updates": {"statuses": {"issue": ["answered"]}}}, "updates.statuses.issue"),
    ({"updates": {"statuses": {"issue": "resolved"}}}, "updates.statuses.issue"),
    ({"surveys": {"statuses": ["done"]}}, "surveys.statuses[0]"),
    ({"surveys": {"delay_minutes": -1}}, "surveys.delay_minutes"),
    ({"surveys": {"valid_days": 0}}, "surveys.valid_days"),
    ({"surveys": {"secret_key_env": "A", "secret_key_file": "b"}}, "surveys.secret_key_env"),
    ({"client_view": {"requests_per_minute": 0}}, "client_view.requests_per_minute"),
    ({"surveys": {"password": "x"}}, "surveys.password"),
])
def test_a_wrong_key_is_named(data, key):
    with pytest.raises(ConfigError, match=f"^{key.replace('[', '.').replace(']', '.')}"):
        parse_config(data)


def test_survey_tokens_are_signed_single_item_and_expire():
    links = SurveyLinks("a" * 48, max_age=3600)
    token = links.token(7, 42)
    assert links.read(token) == (7, 42)
    assert SurveyLinks("b" * 48).read(token) is None
    assert SurveyLinks("a" * 48, max_age=-1).read(token) is None
    # The second-last character: the last one of a base64 signature has padding bits a change may miss.
    assert links.read(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]) is None
    assert links.read("") is None and links.read("x" * 1000) is None and links.read("é") is None
    urls = links.urls("https://intake.example.com/", token)
    assert urls["ratings"][2] == f"https://intake.example.com/r/{token}/2"
    assert status_url("https://intake.example.com/", "abc") == "https://intake.example.com/s/abc"
    assert status_url("https://intake.example.com", "") == ""


def test_csat_counts_only_what_reached_the_client():
    tally = CsatTally()
    for delivered, rating in ((True, 5), (True, 2), (True, None), (False, None), (False, 4)):
        tally.add(delivered, rating)
    f = tally.figures()
    assert (f.surveys_sent, f.responses) == (4, 3)
    assert (f.response_rate == 0.75 and f.average == pytest.approx(11 / 3)
            and f.satisfied_share == pytest.approx(2 / 3))
    assert CsatFigures().average is None and CsatFigures().response_rate is None


@pytest.mark.parametrize("lang, line", [
    ("en", "Client satisfaction: 3 of 4 surveys answered (75.0%), average 3.7 of 5, 66.7% rated 4-5."),
    ("zh", "客户满意度：4 份调查中 3 份有回复（75.0%），平均 3.7 分（满分 5 分），66.7% 评 4–5 分。"),
])
def test_the_weekly_summary_gives_the_csat_figures(lang, line):
    total = SimpleNamespace(items=4, breached_items=0, csat=CsatFigures(4, 3, 11, 2))
    text = render_notice("team_summary", lang, name="", team="T", period="W", tz="UTC", total=total,
                         previous=None, clocks=[], organizations=[], open_breached=[], open_breached_total=0,
                         base_url="", report_url="", attachment="a.html", share=percent, duration=str)
    assert line in text


@pytest.mark.parametrize("lang, line", [
    ("en", 'our one-question survey "How did we do on CI-000007?" still awaits your answer'),
    ("zh", "满意度调查“您对 CI-000007 的处理满意吗？”尚待您回复"),
])
def test_the_client_digest_mentions_an_open_survey(lang, line):
    when = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    done = DigestItem("CI-000007", "Export", "issue", "resolved", when, when, survey_open=True)
    answered = DigestItem("CI-000008", "Import", "issue", "resolved", when, when)
    d = ClientDigest(1, "anna@acme.example", "Anna", "Acme", lang, (), (done, answered))
    text = render_notice("client_digest", lang, d=d, team="T", period="W", day=lambda v: v.date().isoformat())
    assert text.count(line) == 1


@pytest.mark.parametrize("lang, told", [("en", "Send my rating"), ("zh", "提交评分")])
def test_the_survey_mail_says_a_rating_is_sent_from_the_page(lang, told):
    """A rating link only opens the page (mail scanners open links too): both parts of the mail say so."""
    from responders.compose import jinja_env

    links = SurveyLinks("a" * 48).urls("https://intake.example.com", "t0k")
    context = dict(name="Ann", ref="CI-000001", subject="Export", links=links, team="T")
    for part in ("txt", "html"):
        text = jinja_env.get_template(f"{lang}/survey.{part}.j2").render(context)
        assert told in text and "One click" not in text and "点击一次" not in text
        assert all(f"https://intake.example.com/r/t0k/{n}" in text for n in range(1, 6))
