"""Free-mail providers are never organizations: new senders, existing data (migration 0008), PM
assignments."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from classifiers import load_classifier
from cli.main import main
from db.engine import make_engine, make_sessionmaker
from db.free_mail import is_free_mail
from db.migrate import upgrade
from db.models import Contact, Item, Organization, User, UserOrganization
from intake.config import parse_config
from intake.pipeline import process_batch
from intake.values import RawMail
from tests.integration.conftest import old_row
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def test_the_shipped_list_and_the_configured_extras():
    assert is_free_mail("gmail.com") and is_free_mail("QQ.com") and is_free_mail("163.com.")
    assert not is_free_mail("acme.example")
    assert is_free_mail("mail.partner.example", extra=["Mail.Partner.Example"])


def test_free_mail_senders_get_no_organization(db):
    cfg = parse_config({"smtp": {"from_address": "Support <support@team.example>"},
                        "tracker": {"free_mail_domains": ["mail.partner.example"]}})
    mails = [client_email(1, "Export fails", "The export crashes.", "en", domain="gmail.com"),
             client_email(2, "导出失败", "导出报表时报错。", "zh", domain="qq.com"),
             client_email(3, "Export fails", "The export crashes.", "en", domain="mail.partner.example"),
             client_email(4, "Export fails", "The export crashes.", "en", domain="acme.example")]
    raws = [RawMail("support", 1, i + 1, bytes(m)) for i, m in enumerate(mails)]
    process_batch(db, cfg, "support", raws, load_classifier())
    with db() as s:
        orgs = {c.email: (c.organization.domain if c.organization else None)
                for c in s.scalars(select(Contact))}
        assert orgs == {"client1@gmail.com": None, "client2@qq.com": None,
                        "client3@mail.partner.example": None,
                        "client4@acme.example": "acme.example"}
        assert s.scalar(select(Organization.domain)) == "acme.example"
        assert len(list(s.scalars(select(Item)))) == 4


def test_migration_moves_existing_items_off_free_mail_organizations(any_db_url):
    engine = make_engine(any_db_url)
    upgrade(engine, "0007")
    factory = make_sessionmaker(engine)
    with engine.begin() as conn:
        gmail = old_row(conn, "organizations", name="gmail.com", domain="gmail.com")
        acme = old_row(conn, "organizations", name="Acme", domain="acme.example")
        pm = old_row(conn, "users", email="mei@team.example", name="Mei", role="pm")
        for org in (gmail, acme):
            old_row(conn, "user_organizations", user_id=pm, organization_id=org)
        a = old_row(conn, "contacts", email="a@gmail.com", organization_id=gmail)
        old_row(conn, "contacts", email="b@acme.example", organization_id=acme)
        old_row(conn, "items", ref="CI-000001", category="issue", contact_id=a)
    upgrade(engine)
    with factory() as s:
        assert [o.domain for o in s.scalars(select(Organization))] == ["acme.example"]
        contacts = {c.email: c.organization_id for c in s.scalars(select(Contact))}
        assert contacts["a@gmail.com"] is None and contacts["b@acme.example"] is not None
        assert [u.organization_id
                for u in s.scalars(select(UserOrganization))] == [contacts["b@acme.example"]]
        assert s.scalar(select(Item)).contact.email == "a@gmail.com"  # the item stays, now the admins'
    engine.dispose()


def test_a_free_mail_domain_cannot_be_given_to_a_pm(tmp_path, capsys, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n\n[tracker]\n'
                    'free_mail_domains = ["mail.partner.example"]\n')
    factory = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    with factory.begin() as s:
        s.add(Organization(name="Partner", domain="mail.partner.example"))  # made before the config named it
    assert main(["--config", str(path), "db", "upgrade"]) == 0  # detaches the configured extras too
    assert "mail.partner.example" in capsys.readouterr().out
    monkeypatch.setenv("PW", "a long enough secret")
    code = main(["--config", str(path), "user", "add", "mei@team.example", "--org", "gmail.com",
                 "--password-env", "PW"])
    err = capsys.readouterr().err
    assert code == 1 and "gmail.com is a free-mail provider" in err
    with factory() as s:
        assert s.scalar(select(User)) is None and s.scalar(select(Organization)) is None
