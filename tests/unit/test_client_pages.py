"""The clients' status and survey pages over HTTP: what they show and hide, 404s, the rate limit, opting
out."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import ChangeAssessment, Event, Item, OutboxMail, StatusLink, Survey
from db.status_links import new_link, revoke_links, token_hash
from db.types import utcnow
from responders.client_mail import ClientMailSettings, schedule_survey, send_update
from responders.links import SurveyLinks
from review.app import create_app
from review.settings import WebSettings
from tests.unit.test_review_app import add_item
from tests.web import two_clients

KEY = "k" * 48
MAIL = ClientMailSettings(base_url="https://intake.example.com", from_address="Acme <support@team.example>",
                          survey_links=SurveyLinks(KEY), survey_delay=timedelta(minutes=30))


@pytest.fixture
def item_link(factory):
    """CI-000001 from Acme (with an internal note) and its status link; CI-000002 from Globex with its own."""
    with factory.begin() as s:
        acme, globex = two_clients(s)
        one = add_item(s, 1, subject="Export <b>fails</b>", body="Exporting 2,000 rows gives error 500.")
        two = add_item(s, 2, email="bo@globex.example", subject="Globex invoice question",
                       category="question")
        s.add(Event(item_id=one.id, kind="note", actor="mei@team.example", data={"text": "SECRET NOTE"}))
        return new_link(s, one.id, utcnow()), new_link(s, two.id, utcnow())


def app_for(factory, **settings):
    return create_app(factory, WebSettings(**settings), client_mail=MAIL)


def test_the_status_page_shows_the_item_and_nothing_internal(factory, item_link):
    token, other = item_link
    with TestClient(app_for(factory)) as c:
        page = c.get(f"/s/{token}")
        assert page.status_code == 200
        assert "CI-000001" in page.text and "Export &lt;b&gt;fails&lt;/b&gt;" in page.text
        assert "Exporting 2,000 rows" in page.text
        assert "SECRET NOTE" not in page.text and "CI-000002" not in page.text and "spacy" not in page.text
        assert (page.headers["x-robots-tag"] == "noindex, nofollow"
                and page.headers["cache-control"] == "no-store")
        assert "<script" not in page.text
        second = c.get(f"/s/{other}")
        assert "CI-000002" in second.text and "CI-000001" not in second.text


def test_unknown_tampered_and_revoked_links_are_the_same_404(factory, item_link):
    token, _other = item_link
    with TestClient(app_for(factory)) as c:
        tampered = token[:-1] + ("Q" if token[-1] != "Q" else "R")  # a token ending in Q came out whole
        answers = [c.get(f"/s/{bad}") for bad in (tampered, "short", "A" * 43, "é" * 43)]
        with factory.begin() as s:
            revoke_links(s, s.scalar(select(Item.id).where(Item.ref == "CI-000001")), utcnow())
        answers.append(c.get(f"/s/{token}"))
        assert {a.status_code for a in answers} == {404}
        assert len({a.text for a in answers}) == 1 and "CI-000001" not in answers[0].text


def test_only_the_hash_is_stored(factory, item_link):
    token, _other = item_link
    with factory() as s:
        hashes = set(s.scalars(select(StatusLink.token_hash)))
    assert len(hashes) == 2 and token_hash(token) in hashes and token not in hashes


def test_the_status_page_is_rate_limited_per_address(factory, item_link):
    token, _other = item_link
    with TestClient(app_for(factory, client_requests_per_minute=3)) as c:
        codes = [c.get(f"/s/{token}").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_a_change_request_shows_its_assessment_and_that_approval_is_awaited(factory):
    with factory.begin() as s:
        two_clients(s)
        item = add_item(s, 3, category="change_request", status="awaiting_approval", subject="Add SSO")
        s.add(ChangeAssessment(item_id=item.id, scope="Add SAML login", cost="5 days", schedule="+1 week",
                               sent_at=utcnow()))
        token = new_link(s, item.id, utcnow())
    with TestClient(app_for(factory)) as c:
        page = c.get(f"/s/{token}", headers={"accept-language": "zh-CN"}).text
    assert "Add SAML login" in page and "5 days" in page and "Waiting for your approval" in page


def _survey(factory, ref: str = "CI-000001") -> tuple[str, int]:
    with factory.begin() as s:
        item = s.scalar(select(Item).where(Item.ref == ref))
        item.status = "resolved"
        survey = schedule_survey(s, item, MAIL, utcnow())
        assert survey is not None and survey.status == "scheduled"
        return MAIL.survey_links.token(survey.id, item.id), survey.id


def test_opening_a_rating_link_records_nothing_until_the_page_is_confirmed(factory, item_link):
    """Mail scanners (Safe Links and the like) open every link of a mail: a GET only asks, a POST records."""
    token, _ = _survey(factory)
    with TestClient(app_for(factory)) as c:
        asked = c.get(f"/r/{token}/2")
        assert asked.status_code == 200 and asked.headers["x-robots-tag"] == "noindex, nofollow"
        assert f'<form method="post" action="/r/{token}/2" id="confirm"' in asked.text
        assert c.head(f"/r/{token}/2").status_code == 200
        with factory() as s:
            assert s.scalar(select(Survey.rating)) is None
            assert s.scalar(select(Event.id).where(Event.kind.in_(("csat_rated", "csat_negative")))) is None
        sent = c.post(f"/r/{token}/2", follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == f"/r/{token}/comment?rated=1"
        thanks = c.get(sent.headers["location"]).text
        assert 'id="thanks"' in thanks and "Thank you! Your rating: 2 of 5." in thanks
        # the rating it already has: nothing to confirm
        assert 'id="confirm"' not in c.get(f"/r/{token}/2").text
    with factory() as s:
        assert s.scalar(select(Survey.rating)) == 2


def test_a_comment_sent_from_the_asking_page_brings_its_rating(factory, item_link):
    token, _ = _survey(factory)
    with TestClient(app_for(factory)) as c:
        assert '<input type="hidden" name="rating" value="3">' in c.get(f"/r/{token}/3").text
        assert c.post(f"/r/{token}/comment", data={"comment": "ok", "rating": "9"}).status_code == 400
        with factory() as s:
            assert s.scalar(select(Survey.rating)) is None and s.scalar(select(Survey.comment)) == ""
        sent = c.post(f"/r/{token}/comment", data={"comment": "Fine, but slow.", "rating": "3"},
                      follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].endswith("/comment?saved=1")
    with factory() as s:
        assert (s.scalar(select(Survey.rating)), s.scalar(select(Survey.comment))) == (3, "Fine, but slow.")


def test_a_rating_is_recorded_by_a_post_and_a_second_one_changes_it(factory, item_link):
    token, _ = _survey(factory)
    with TestClient(app_for(factory)) as c:
        assert c.post(f"/r/{token}/5", follow_redirects=False).status_code == 303
        assert c.post(f"/r/{token}/1", follow_redirects=False).status_code == 303
        assert c.post(f"/r/{token}/6").status_code == 404
        assert c.post(f"/r/{token}/0").status_code == 404
        assert c.get(f"/r/{token}/6").status_code == 404
    with factory() as s:
        assert [sv.rating for sv in s.scalars(select(Survey))] == [1]
        item = s.scalar(select(Item).where(Item.ref == "CI-000001"))
        assert item.follow_up
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.item_id == item.id))]
        assert kinds.count("csat_rated") == 2 and kinds.count("csat_negative") == 1


def test_an_expired_or_foreign_survey_link_is_a_404(factory, item_link):
    token, survey_id = _survey(factory)
    expired = SurveyLinks(KEY, max_age=-1)
    with TestClient(app_for(factory)) as c:
        assert c.get(f"/r/{token}/comment").status_code == 200
        for method in (c.get, c.post):
            # another key
            assert method(f"/r/{SurveyLinks('x' * 48).token(survey_id, 1)}/5").status_code == 404
            assert method(f"/r/{MAIL.survey_links.token(survey_id, 2)}/5").status_code == 404  # another item
    with factory() as s:
        assert s.scalar(select(Survey.rating)) is None
    assert expired.read(token) is None


def test_a_survey_is_sent_once_per_item(factory, item_link):
    _survey(factory)
    with factory.begin() as s:
        item = s.scalar(select(Item).where(Item.ref == "CI-000001"))
        assert schedule_survey(s, item, MAIL, utcnow()) is None
        assert len(s.scalars(select(OutboxMail).where(OutboxMail.kind == "survey")).all()) == 1


def test_unsubscribing_stops_updates_and_surveys(factory, item_link):
    token, _ = _survey(factory)
    with TestClient(app_for(factory)) as c:
        assert "unsubscribe" in c.get(f"/r/{token}/unsubscribe").text
        assert c.post(f"/r/{token}/unsubscribe").status_code == 200
    with factory.begin() as s:
        item = s.scalar(select(Item).where(Item.ref == "CI-000001"))
        assert item.contact.opted_out_at is not None
        assert send_update(s, item, "resolved", MAIL, utcnow()) is None
        withheld = s.scalar(select(Event).where(Event.kind == "update_withheld"))
        assert withheld.data == {"status": "resolved", "reason": "opted_out"}


def test_no_update_or_survey_when_the_acknowledgment_was_suppressed(factory):
    with factory.begin() as s:
        two_clients(s)
        item = add_item(s, 4, status="resolved")
        s.add(Event(item_id=item.id, kind="ack_suppressed", data={"reason": "rate_limit"}))
        s.flush()
        assert send_update(s, item, "resolved", MAIL, utcnow()) is None
        assert schedule_survey(s, item, MAIL, utcnow()).status == "suppressed"
        assert s.scalar(select(OutboxMail.id)) is None


def test_a_comment_is_saved_and_hostile_text_refused(factory, item_link):
    token, _ = _survey(factory)
    with TestClient(app_for(factory)) as c:
        saved = c.post(f"/r/{token}/comment", data={"comment": "<script>alert(1)</script> thanks"},
                       follow_redirects=False)
        assert saved.status_code == 303
        page = c.get(saved.headers["location"]).text
        assert "&lt;script&gt;" in page and "<script>alert" not in page
        assert c.post(f"/r/{token}/comment", data={"comment": "x\x00y"}).status_code == 400
        assert c.post(f"/r/{token}/comment", data={"comment": "x" * 5001}).status_code == 400
    with factory() as s:
        assert s.scalar(select(Survey.comment)) == "<script>alert(1)</script> thanks"
