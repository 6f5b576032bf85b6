"""Canned replies: admins keep templates per category and language; a PM inserts one (filled with the item's
reference and the client's name) in the reply form and edits it before sending."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import ReplyTemplate
from review.app import create_app
from tests.unit.test_review_app import T0, add_item
from tests.web import add_user, sign_in, signed_in


@pytest.fixture
def app(factory):
    with factory.begin() as s:
        add_item(s, 1, received=T0, name="Anna Lee")                       # an issue in English
        zh = add_item(s, 2, category="question", received=T0, email="li@example.cn", name="李雷")
        zh.lang = "zh"
    return create_app(factory)


def textarea(html: str) -> str:
    return unescape(re.search(r'<textarea id="reply-text" name="text" rows="5" required>(.*?)</textarea>',
                              html,
                              re.S).group(1))


def test_an_admin_adds_templates_and_a_pm_inserts_one(app, factory):
    with TestClient(app) as admin:
        signed_in(admin, factory)
        for name, category, lang, body in [
            ("Looking into it", "issue", "en",
             "Dear {name},\n\nwe are looking into {ref} and will report back."),
            ("Thanks", "", "en", "Thank you, {name}."),
            ("已收到", "", "zh", "{name}您好，{ref} 已收到。"),
            ("Answer", "question", "en", "Here is the answer."),
        ]:
            r = admin.post("/replies", data={"csrf_token": admin.csrf, "name": name, "category": category,
                                             "lang": lang, "body": body}, follow_redirects=False)
            assert r.status_code == 303
        page = admin.get("/replies").text
        assert "Added the reply template Answer." in page and page.count("<tr data-template=") == 4
        r = admin.post("/replies", data={"csrf_token": admin.csrf, "name": "", "body": "x", "lang": "en"})
        assert r.status_code == 400 and "give it a name and a text" in r.text
    add_user(factory, "pat@example.com", "pm", orgs=())
    with TestClient(app) as pm:
        assert sign_in(pm, "pat@example.com").status_code == 303
        assert pm.get("/replies").status_code == 403
    with factory() as s:
        ids = dict(s.execute(select(ReplyTemplate.name, ReplyTemplate.id)).all())
    with TestClient(app) as client:
        signed_in(client, factory, "lead2@example.com")
        item = client.get("/items/CI-000001").text
        offered = re.findall(r'<option value="(\d+)">([^<]+)</option>', item[item.index('id="template"'):])
        # the and every category's
        assert [name for _id, name in offered] == ["Looking into it", "Thanks"]
        assert textarea(item) == ""
        filled = client.get(f"/items/CI-000001?template={ids['Looking into it']}").text
        assert textarea(filled) == "Dear Anna Lee,\n\nwe are looking into CI-000001 and will report back."
        zh = client.get(f"/items/CI-000002?template={ids['已收到']}").text
        assert textarea(zh) == "李雷您好，CI-000002 已收到。"
        # not its category
        assert textarea(client.get(f"/items/CI-000002?template={ids['Looking into it']}").text) == ""
        assert textarea(client.get("/items/CI-000001?template=oops").text) == ""
        r = client.post("/replies/999/delete", data={"csrf_token": client.csrf})
        assert r.status_code == 404
        r = client.post(f"/replies/{ids['Thanks']}/delete", data={"csrf_token": client.csrf},
                        follow_redirects=False)
        assert r.status_code == 303 and "Deleted the reply template Thanks." in client.get("/replies").text
