"""Attachment downloads against real databases: exact bytes from the stored message, safe headers, access."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.message import EmailMessage
from urllib.parse import unquote

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from classifiers import load_classifier
from db.models import Attachment, Item, Organization
from intake.config import parse_config
from intake.parse import attachment_data
from intake.pipeline import process_batch
from intake.values import RawMail
from review.app import create_app
from tests.web import signed_in

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"}})
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
HOSTILE_HTML = b"<html><body><script>window.__xss=1</script><img src=x onerror=alert(1)></body></html>"
PNG = bytes(range(256)) * 40


def client_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Lee <anna@acme.example>"
    msg["To"] = "support@team.example"
    msg["Subject"] = "Export fails, logs attached"
    msg["Message-ID"] = "<att-1@acme.example>"
    msg.set_content("The export fails with error 500. Logs and a screenshot are attached.")
    msg.add_attachment(HOSTILE_HTML, maintype="text", subtype="html", filename='report"<b>.html')
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="屏幕截图 2026.png")
    forwarded = EmailMessage()
    forwarded["Subject"] = "the original error"
    forwarded.set_content("Error 500 at 09:12")
    msg.add_attachment(forwarded, filename="original.eml")
    return bytes(msg)


@pytest.fixture
def stored(db) -> str:
    with db.begin() as s:
        s.add_all([Organization(name="Acme", domain="acme.example"),
                   Organization(name="Globex", domain="globex.example")])
    data = client_mail()
    process_batch(db, CFG, "support", [RawMail("support", 1, 1, data, WHEN, len(data))], load_classifier())
    with db() as s:
        return s.scalar(select(Item.ref))


def test_each_attachment_downloads_byte_for_byte_as_an_attachment(db, stored):
    with TestClient(create_app(db, read_attachment=attachment_data)) as c:
        signed_in(c, db, "lead@example.com", "admin")
        page = c.get(f"/items/{stored}").text
        with db() as s:
            attachments = list(s.scalars(select(Attachment).order_by(Attachment.id)))
        assert [a.filename for a in attachments][:2] == ['report"<b>.html', "屏幕截图 2026.png"]
        assert len(attachments) == 3
        for a in attachments:
            assert f'href="/items/{stored}/attachments/{a.id}"' in page
            r = c.get(f"/items/{stored}/attachments/{a.id}")
            assert r.status_code == 200, a.filename
            assert hashlib.sha256(r.content).hexdigest() == a.sha256 and len(r.content) == a.size
            assert r.headers["content-type"] == "application/octet-stream"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in " ".join(r.headers.get_list("content-security-policy"))
            disposition = r.headers["content-disposition"]
            assert disposition.startswith("attachment; filename=")
            assert unquote(disposition.split("filename*=UTF-8''")[1]) == a.filename
        html_one, png = attachments[0], attachments[1]
        assert c.get(f"/items/{stored}/attachments/{html_one.id}").content == HOSTILE_HTML
        assert c.get(f"/items/{stored}/attachments/{png.id}").content == PNG
        assert 'filename="report__b_.html"' in c.get(f"/items/{stored}/attachments/{html_one.id}").headers[
            "content-disposition"].replace("<", "_").replace(">", "_")


def test_downloads_follow_the_item_access_rules(db, stored):
    app = create_app(db, read_attachment=attachment_data)
    with db() as s:
        attachment_id = s.scalar(select(Attachment.id))
    url = f"/items/{stored}/attachments/{attachment_id}"
    with TestClient(app) as anonymous:
        r = anonymous.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with TestClient(app) as other:
        signed_in(other, db, "globex.pm@example.com", "pm", orgs=("globex.example",))
        r = other.get(url)
        assert r.status_code == 404 and HOSTILE_HTML not in r.content
    with TestClient(app) as own:
        signed_in(own, db, "acme.pm@example.com", "pm", orgs=("acme.example",))
        assert own.get(url).status_code == 200
        # An attachment id under another item's reference, or no number at all, is not found.
        assert own.get(f"/items/CI-999999/attachments/{attachment_id}").status_code == 404
        assert own.get(f"/items/{stored}/attachments/x").status_code == 404
        assert own.get(f"/items/{stored}/attachments/{attachment_id + 100}").status_code == 404
        assert own.get(f"/items/{stored}/attachments/{2**40}").status_code == 404  # beyond a 32-bit id


def test_an_attachment_that_cannot_be_extracted_says_so(db, stored):
    with db.begin() as s:
        # the stored bytes no longer match
        s.scalar(select(Attachment).order_by(Attachment.id)).sha256 = "0" * 64
    with TestClient(create_app(db, read_attachment=attachment_data)) as c:
        signed_in(c, db, "lead@example.com", "admin")
        with db() as s:
            a = s.scalar(select(Attachment).order_by(Attachment.id))
        r = c.get(f"/items/{stored}/attachments/{a.id}")
        assert r.status_code == 404 and "could not be read from the stored message" in r.text
