"""The client archive through HTTP: organizations, contacts, their items and messages, paging, access,
escaping."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Contact, Item, Message, Organization
from tests.unit.test_review_app import T0, add_item
from tests.web import signed_in

XSS = "<script>alert(1)</script>"


@pytest.fixture
def world(factory) -> dict[str, int]:
    """Acme (Anna: 3 items, Ben: 1), Globex (Bo: 1), and a free-mail sender of no organization (1); ids by
    name."""
    with factory.begin() as s:
        acme = Organization(name="Acme Corp", domain="acme.example")
        globex = Organization(name="Globex", domain="globex.example")
        s.add_all([Organization(name="Initech", domain="initech.example"),
                   Contact(email="anna@acme.example", name="Anna Lee", organization=acme),
                   Contact(email="ben@acme.example", name="Ben Ode", organization=acme),
                   Contact(email="bo@globex.example", name="Bo Chen", organization=globex)])
        s.flush()
        # Stored out of arrival order on purpose: pages must sort by time, not by id.
        add_item(s, 1, email="anna@acme.example", subject="Export fails", received=T0 + timedelta(hours=2))
        add_item(s, 2, email="anna@acme.example", subject="Old question", category="question",
                 status="closed",
                 received=T0)
        add_item(s, 3, email="ben@acme.example", subject="Invoice wrong", status="resolved",
                 received=T0 + timedelta(hours=5))
        first = add_item(s, 4, email="anna@acme.example", subject="Add CSV export", category="change_request",
                         received=T0 + timedelta(hours=1))
        add_item(s, 5, email="bo@globex.example", subject="Globex question", category="question",
                 received=T0 + timedelta(days=1))
        add_item(s, 6, email="someone@mail.example", name="Sam Free", subject="Free-mail feedback",
                 category="feedback", received=T0 + timedelta(days=2))
        s.add(Message(item_id=first.id, direction="out", message_id="<reply4@example.com>",
                      sender="support@example.com", sender_name="Support", recipients="anna@acme.example",
                      subject="Re: Add CSV export", received_at=T0 + timedelta(hours=3), raw=b"raw"))
        ids = {o.domain: o.id for o in s.scalars(select(Organization))}
        ids.update({c.email: c.id for c in s.scalars(select(Contact))})
    return ids


def refs_in(html: str, table: str = "items") -> list[str]:
    found = re.search(rf'<table class="archive" id="{table}">.*?</table>', html, re.S)
    return re.findall(r'<tr[^>]*data-ref="([^"]+)"', found.group(0)) if found else []


def row(html: str, attr: str, value: object) -> str:
    found = re.search(rf'<tr[^>]*{attr}="{value}".*?</tr>', html, re.S)
    assert found, f"no row with {attr}={value}"
    return found.group(0)


def cells(row_html: str) -> dict[str, str]:
    """A table row's cells by data-label, as plain text (tags removed, entities decoded)."""
    return {label: unescape(re.sub(r"<[^>]+>|\s+", " ", text)).strip()
            for label, text in re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', row_html, re.S)}


# --- the list of organizations -----------------------------------------------------------------------

def test_admins_see_every_organization_with_counts_and_the_contacts_without_one(admin, world):
    r = admin.get("/organizations")
    assert r.status_code == 200
    html = r.text
    assert re.findall(r'data-org="([^"]+)"', html) == [str(world["acme.example"]),
                                                       str(world["globex.example"]),
                                                       str(world["initech.example"]), "none"]
    acme = row(html, "data-org", world["acme.example"])
    assert f'href="/organizations/{world["acme.example"]}"' in acme
    assert cells(acme) == {"Organization": "Acme Corp", "Domain": "acme.example", "Items": "4", "Open": "2",
                           "Latest item (UTC)": "2026-11-02 14:00"}
    assert cells(row(html, "data-org", world["initech.example"]))["Items"] == "0"
    assert cells(row(html, "data-org", world["initech.example"]))["Latest item (UTC)"] == "\u2014"
    loose = row(html, "data-org", "none")
    assert 'href="/organizations/none"' in loose
    assert cells(loose) == {"Organization": "Contacts without an organization", "Domain": "1 contact",
                            "Items": "1", "Open": "1", "Latest item (UTC)": "2026-11-04 09:00"}
    assert '<a href="/organizations">Clients</a>' in html


def test_a_pm_sees_only_their_organizations(app, factory, world):
    with TestClient(app) as pm:
        signed_in(pm, factory, email="pm@example.com", role="pm", orgs=("acme.example", "initech.example"))
        html = pm.get("/organizations").text
        assert re.findall(r'data-org="([^"]+)"', html) == [str(world["acme.example"]),
                                                           str(world["initech.example"])]
        assert "Globex" not in html and "without an organization" not in html


def test_a_pm_gets_404_for_what_is_not_theirs_exactly_as_for_unknown_ids(app, factory, world):
    with TestClient(app) as pm:
        signed_in(pm, factory, email="pm@example.com", role="pm", orgs=("acme.example",))
        assert pm.get(f"/organizations/{world['acme.example']}").status_code == 200
        assert pm.get(f"/contacts/{world['anna@acme.example']}").status_code == 200
        unknown_org = pm.get("/organizations/9999")
        assert (unknown_org.status_code == 404
                and "There is no organization with the number 9999." in unknown_org.text)
        globex = world["globex.example"]
        for path in (f"/organizations/{globex}", f"/organizations/{globex}?page=abc"):
            r = pm.get(path)
            assert r.status_code == 404, path
            assert r.text == unknown_org.text.replace("9999", str(globex)), path
            assert "Globex" not in r.text and "Bo Chen" not in r.text
        unknown_contact = pm.get("/contacts/9999")
        assert unknown_contact.status_code == 404
        for email in ("bo@globex.example", "someone@mail.example"):
            r = pm.get(f"/contacts/{world[email]}")
            assert r.status_code == 404, email
            assert r.text == unknown_contact.text.replace("9999", str(world[email]))
            assert email not in r.text and "CI-00000" not in r.text
        r = pm.get("/organizations/none")
        assert r.status_code == 404 and "Sam Free" not in r.text and "CI-000006" not in r.text


def test_a_pm_without_organizations_and_an_empty_archive_have_clear_empty_states(app, factory):
    with TestClient(app) as pm:
        signed_in(pm, factory, email="pm@example.com", role="pm")
        html = pm.get("/organizations").text
        assert "You do not work on any organization yet." in html and "<table" not in html
    with TestClient(app) as lead:
        signed_in(lead, factory, email="lead@example.com", role="admin")
        html = lead.get("/organizations").text
        assert "No clients yet." in html and "<table" not in html


# --- one organization ----------------------------------------------------------------------------------

def test_organization_page_lists_its_contacts_and_their_items_newest_first(admin, world):
    r = admin.get(f"/organizations/{world['acme.example']}")
    assert r.status_code == 200
    html = r.text
    assert '<h1 id="org-name">Acme Corp</h1>' in html and "acme.example" in html
    assert re.findall(r'data-contact="(\d+)"', html) == [str(world["anna@acme.example"]),
                                                         str(world["ben@acme.example"])]
    anna = row(html, "data-contact", world["anna@acme.example"])
    assert f'href="/contacts/{world["anna@acme.example"]}"' in anna
    assert cells(anna)["Items"] == "3" and cells(anna)["Open"] == "2"
    assert refs_in(html) == ["CI-000003", "CI-000001", "CI-000004", "CI-000002"]
    first = row(html, "data-ref", "CI-000003")
    assert '<a href="/items/CI-000003">CI-000003</a>' in first
    assert cells(first) == {"Reference": "CI-000003", "Received (UTC)": "2026-11-02 14:00",
                            "Client": "Ben Ode",
                            "Subject": "Invoice wrong", "Category": "Issue", "Status": "Resolved"}
    assert cells(row(html, "data-ref", "CI-000004"))["Category"] == "Change request"
    assert "Bo Chen" not in html and "CI-000005" not in html and "CI-000006" not in html


def test_numbers_too_large_for_an_id_are_404_not_500(admin, world):
    for path in ("/contacts/99999999999999999999", "/organizations/99999999999999999999",
                 "/contacts/2147483648"):
        r = admin.get(path)
        assert r.status_code == 404 and "There is no" in r.text, path


def test_an_organization_without_contacts_says_so(admin, world):
    html = admin.get(f"/organizations/{world['initech.example']}").text
    assert "No contacts at this organization yet." in html and "No items from this organization yet." in html
    assert "<table" not in html


def test_admins_see_the_contacts_without_an_organization(admin, world):
    html = admin.get("/organizations/none").text
    assert "Contacts without an organization" in html
    assert re.findall(r'data-contact="(\d+)"', html) == [str(world["someone@mail.example"])]
    assert refs_in(html) == ["CI-000006"]
    r = admin.get(f"/contacts/{world['someone@mail.example']}")
    assert r.status_code == 200 and "Sam Free" in r.text and refs_in(r.text) == ["CI-000006"]
    facts = r.text[r.text.index('id="facts"'):r.text.index("</dl>")]
    assert "None" in facts and "/organizations/" not in facts


def test_organization_items_are_paged_fifty_at_a_time(admin, factory, world):
    with factory.begin() as s:
        for n in range(100, 220):
            add_item(s, n, email="bo@globex.example", received=T0 + timedelta(days=10, minutes=n))
    url = f"/organizations/{world['globex.example']}"
    first = admin.get(url).text
    assert refs_in(first)[:2] == ["CI-000219", "CI-000218"] and len(refs_in(first)) == 50
    assert "Page 1 of 3" in first and f'href="{url}?page=2" rel="next"' in first
    assert "Showing 1&ndash;50 of 121" in first
    last = admin.get(url + "?page=3").text
    assert refs_in(last) == [f"CI-{n:06d}" for n in range(119, 99, -1)] + ["CI-000005"]
    assert f'href="{url}?page=2" rel="prev"' in last and "Page 3 of 3" in last
    beyond = admin.get(url + "?page=9")
    assert beyond.status_code == 200 and refs_in(beyond.text) == []
    assert "There is no page 9" in beyond.text and f'href="{url}"' in beyond.text


@pytest.mark.parametrize("query", ["page=0", "page=abc", "page=-1", "page=1.5", "page=99999999999"])
def test_bad_pages_are_a_400_with_one_line(admin, world, query):
    for path in (f"/organizations/{world['acme.example']}", f"/contacts/{world['anna@acme.example']}",
                 "/organizations/none"):
        r = admin.get(f"{path}?{query}")
        assert r.status_code == 400, path
        assert "page: expected a whole number from 1 to 1000000" in r.text
        assert "CI-000001" not in r.text
    r = admin.get(f"/contacts/{world['anna@acme.example']}?{query.replace('page', 'items')}")
    assert r.status_code == 400 and "items: expected a whole number" in r.text


# --- one contact -----------------------------------------------------------------------------------------

def test_contact_page_shows_items_and_every_message_newest_first(admin, world):
    r = admin.get(f"/contacts/{world['anna@acme.example']}")
    assert r.status_code == 200
    html = r.text
    assert '<h1 id="contact-name">Anna Lee</h1>' in html and "anna@acme.example" in html
    assert f'<a href="/organizations/{world["acme.example"]}">Acme Corp</a>' in html
    assert refs_in(html) == ["CI-000001", "CI-000004", "CI-000002"]
    messages = re.search(r'<table class="archive" id="messages">.*?</table>', html, re.S).group(0)
    rows = [cells(m) for m in re.findall(r"<tr class=\"dir-.*?</tr>", messages, re.S)]
    assert [(m["Direction"], m["Time (UTC)"], m["Item"]) for m in rows] == [
        ("Outgoing", "2026-11-02 12:00", "CI-000004"),
        ("Incoming", "2026-11-02 11:00", "CI-000001"),
        ("Incoming", "2026-11-02 10:00", "CI-000004"),
        ("Incoming", "2026-11-02 09:00", "CI-000002"),
    ]
    assert rows[0]["From"] == "Support <support@example.com>" and rows[0]["Subject"] == "Re: Add CSV export"
    assert rows[1]["From"] == "Anna Lee <anna@acme.example>" and rows[1]["Subject"] == "Export fails"
    assert 'href="/items/CI-000004"' in re.findall(r"<tr class=\"dir-out.*?</tr>", messages, re.S)[0]
    assert "3 items &middot; 4 messages" in html


def test_contact_messages_and_items_are_paged_separately(admin, factory, world):
    cid = world["bo@globex.example"]
    with factory.begin() as s:
        for n in range(100, 155):
            add_item(s, n, email="bo@globex.example", received=T0 + timedelta(days=10, minutes=n))
    first = admin.get(f"/contacts/{cid}").text
    assert len(refs_in(first)) == 50 and len(re.findall(r"data-message=", first)) == 50
    assert (f'href="/contacts/{cid}?page=2" rel="next"' in first
            and f'href="/contacts/{cid}?items=2" rel="next"' in first)
    older = admin.get(f"/contacts/{cid}?page=2").text
    assert len(refs_in(older)) == 50 and len(re.findall(r"data-message=", older)) == 6
    assert f'href="/contacts/{cid}?page=2&amp;items=2" rel="next"' in older
    both = admin.get(f"/contacts/{cid}?page=2&items=2").text
    assert refs_in(both) == [f"CI-{n:06d}" for n in range(104, 99, -1)] + ["CI-000005"]
    assert re.findall(r'data-message="\d+".*?<a href="/items/([^"]+)"', both, re.S)[-1] == "CI-000005"
    beyond = admin.get(f"/contacts/{cid}?page=5").text
    assert "There is no page 5 of messages" in beyond and len(refs_in(beyond)) == 50


def test_a_contact_without_items_says_so(admin, factory, world):
    with factory.begin() as s:
        s.add(Contact(email="new@acme.example", name="New Person", organization_id=world["acme.example"]))
    with factory() as s:
        cid = s.scalar(select(Contact.id).where(Contact.email == "new@acme.example"))
    html = admin.get(f"/contacts/{cid}").text
    assert "No items from this contact yet." in html and "No messages are stored for this contact." in html
    assert "<table" not in html


# --- safety and links ------------------------------------------------------------------------------------

def test_client_text_is_escaped_everywhere(admin, factory, world):
    with factory.begin() as s:
        s.get(Contact, world["anna@acme.example"]).name = f"Anna {XSS}"
        s.get(Organization, world["acme.example"]).name = f"Acme {XSS}"
        s.scalar(select(Item).where(Item.ref == "CI-000001")).subject = f"Subject {XSS}"
        s.scalar(select(Message).where(Message.message_id == "<m1@acme.example>")).sender_name = f"Anna {XSS}"
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/organizations", f"/organizations/{world['acme.example']}",
                 f"/contacts/{world['anna@acme.example']}",
                 "/items/CI-000001"):
        html = admin.get(path).text
        assert "<script" not in html.lower(), path
        assert escaped in html, path
    contact_page = admin.get(f"/contacts/{world['anna@acme.example']}").text
    assert (f"Subject {escaped}" in contact_page
            and f"Anna {escaped} &lt;anna@acme.example&gt;" in contact_page)


def test_the_item_page_links_to_its_contact_and_organization(admin, world):
    html = admin.get("/items/CI-000001").text
    facts = html[html.index('id="facts"'):html.index("</dl>", html.index('id="facts"'))]
    assert f'<a href="/contacts/{world["anna@acme.example"]}" id="contact-link">' in facts
    assert f'href="/organizations/{world["acme.example"]}" id="organization-link">Acme Corp</a>' in facts
    loose = admin.get("/items/CI-000006").text
    assert (f'href="/contacts/{world["someone@mail.example"]}"' in loose
            and 'id="organization-link"' not in loose)


def test_anonymous_users_are_sent_to_sign_in(app, world):
    with TestClient(app) as c:
        for path in ("/organizations", f"/organizations/{world['acme.example']}", "/organizations/none",
                     f"/contacts/{world['anna@acme.example']}"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next="), path
            assert "Acme" not in r.text and "Anna" not in r.text
