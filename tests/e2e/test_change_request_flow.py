"""A change request from the client's email to approval, in Chromium, with real Dovecot, SMTP and the worker.

The client writes; the worker files and acknowledges it; a PM signs in, finds it, corrects the category
if needed, assesses the impact and sends it; the client answers "同意" by email; the worker moves the
item to approved with that message as evidence; the PM replies, and the reply reaches the SMTP server
in the item's thread.
"""
from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from cli.main import web_settings
from db.claims import worker_name
from db.engine import make_engine, make_sessionmaker
from db.models import ChangeAssessment, Message, Organization
from intake.config import load_config
from intake.duties import smtp_settings
from responders.sender import drain
from review.app import create_app
from tests.e2e.test_review_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.conftest import dovecot, run_intake, smtp_sink, write_config  # noqa: F401 (fixtures)
from tests.mailgen import client_email
from tests.web import add_user, browser_sign_in, serving

pytestmark = pytest.mark.e2e
PM = "mei@team.example"
SUBJECT = "Change request: add single sign-on to the client portal"
BODY = ("Hello team,\n\nour IT department now requires single sign-on. Could you add SAML login with our "
        "Azure AD to the client portal? This is a new requirement, not part of the signed "
        "scope.\n\nBest,\nAnna")


def _intake_once(cfg) -> None:  # type: ignore[no-untyped-def]
    proc = run_intake(cfg, "run", "--once")
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def setup(tmp_path, dovecot, smtp_sink) -> Iterator[dict]:  # noqa: F811
    db_url = f"sqlite:///{tmp_path / 'intake.db'}"
    cfg = write_config(tmp_path / "intake.toml", db_url, dovecot, smtp_sink)
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    factory = make_sessionmaker(make_engine(db_url))
    with factory.begin() as s:
        s.add(Organization(name="Acme Corp", domain="acme.example"))
    add_user(factory, PM, "pm", orgs=("acme.example",), name="Mei Wang")
    first = client_email(1, SUBJECT, BODY, "en", domain="acme.example")
    dovecot.deliver("support", bytes(first))
    _intake_once(cfg)
    smtp_sink.wait_for(1, timeout=30)  # the acknowledgment
    config = load_config(cfg)
    smtp, name = smtp_settings(config), worker_name()
    app = create_app(factory, web_settings(config), send_outbox=lambda: drain(factory, smtp, name))
    with serving(app) as url:
        yield {"cfg": cfg, "factory": factory, "url": url, "first": first}


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        pg.set_default_timeout(15_000)
        yield pg
        browser.close()


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=default)


def test_change_request_from_email_to_approval_and_reply(setup, page, dovecot, smtp_sink,  # noqa: F811
                                                         tmp_path):
    url, factory, first = setup["url"], setup["factory"], setup["first"]
    browser_sign_in(page, url, PM)
    row = page.locator("#queue tbody tr").first
    expect(row).to_contain_text(SUBJECT)
    ref = row.get_attribute("data-ref")
    assert ref and ref.startswith("CI-")
    row.get_by_role("link", name=ref).click()
    page.wait_for_url(f"{url}/items/{ref}")

    if page.locator("#item-category").inner_text() != "Change request":
        page.select_option("#category", "change_request")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#item-category")).to_have_text("Change request")

    form = page.locator("#assessment-form")
    form.get_by_label("Scope").fill("SAML 2.0 single sign-on with Azure AD for the client portal")
    form.get_by_label("Cost").fill("8 person-days")
    form.get_by_label("Schedule").fill("+1 week")
    form.get_by_role("button", name="Save assessment").click()
    expect(page.locator("#item-status")).to_have_text("Impact assessed")
    page.get_by_role("button", name="Send to the client for approval").click()
    expect(page.locator("#item-status")).to_have_text("Awaiting approval")

    assessment = _parse(smtp_sink.wait_for(2, timeout=30)[1].raw)
    assert assessment["In-Reply-To"] == first["Message-ID"]
    assert assessment["Subject"].endswith(f"[{ref}]")
    assert "8 person-days" in assessment.get_content() and "SAML 2.0" in assessment.get_content()

    answer = client_email(1, "Re: " + str(assessment["Subject"]), "同意，请安排实施。\n\nAnna", "zh",
                          domain="acme.example", In_Reply_To=assessment["Message-ID"],
                          References=f"{first['Message-ID']} {assessment['Message-ID']}")
    dovecot.deliver("support", bytes(answer))
    _intake_once(setup["cfg"])

    page.reload()
    expect(page.locator("#item-status")).to_have_text("Approved")
    expect(page.locator("#history tbody tr.event-approved")).to_contain_text("同意，请安排实施。")
    with factory() as s:
        a = s.scalar(select(ChangeAssessment))
        evidence = s.get(Message, a.decision_message_id)
    assert a.decision == "approved" and evidence.message_id == answer["Message-ID"]
    # The client's approval is confirmed by an update in the item's language, threaded on their answer.
    update = _parse(smtp_sink.wait_for(3, timeout=30)[2].raw)
    assert update["In-Reply-To"] == answer["Message-ID"] and update["Subject"].endswith(f"[{ref}]")
    assert "it is now approved" in update.get_content() and "/s/" in update.get_content()

    page.get_by_label("Reply to the client").fill("Thank you! We start on Monday and deliver by the 15th.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#history tbody tr").last).to_contain_text("Reply sent to client1@acme.example")
    reply = _parse(smtp_sink.wait_for(4, timeout=30)[3].raw)
    assert reply["In-Reply-To"] == answer["Message-ID"]
    assert first["Message-ID"] in reply["References"] and assessment["Message-ID"] in reply["References"]
    assert reply["Subject"].endswith(f"[{ref}]") and "deliver by the 15th" in reply.get_content()
    assert reply["To"].addresses[0].addr_spec == "client1@acme.example"
    page.screenshot(path=str(tmp_path / "change-request.png"), full_page=True)
