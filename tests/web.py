"""Helpers for tests of the review app: accounts, signing in over HTTP, and API tokens."""
from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from db.models import Contact, Organization
from review.accounts import create_user, issue_token, organizations_by_domain, set_organizations

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(factory: sessionmaker[Session], email: str, role: str = "pm", orgs: tuple[str, ...] = (),
             name: str = "", password: str = PASSWORD) -> str:
    """Adds a user working on ORGS (domains) and returns an API token for them."""
    with factory.begin() as session:
        user = create_user(session, email, name or email.split("@")[0].title(), role, password)
        set_organizations(user, organizations_by_domain(session, orgs))
        return issue_token(session, user, "tests")


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in HTML."""
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Signs CLIENT (a Starlette TestClient) in through the login form; returns the response."""
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def signed_in(client, factory: sessionmaker[Session], email: str = "lead@example.com", role: str = "admin",
              orgs: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """CLIENT signed in as a new user; its API calls carry that user's token, CLIENT.csrf holds the form
    token."""
    token = add_user(factory, email, role, orgs)
    r = sign_in(client, email)
    assert r.status_code == 303, r.text
    client.csrf = csrf_from(client.get("/").text)
    client.headers["authorization"] = f"Bearer {token}"
    return client


def browser_sign_in(page, base_url: str, email: str,
                    password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Signs a Playwright PAGE in through the sign-in form, as a person would."""
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")


@contextmanager
def serving(app, **options) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """APP served by uvicorn in a background thread on a free 127.0.0.1 port (OPTIONS go to uvicorn.Config,
    e.g. the proxy options `intake web` uses); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off",
                                           **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the review app did not start serving within 15 s")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not shut down"


def two_clients(session: Session) -> tuple[Organization, Organization]:
    """The client organizations Acme and Globex, each with one contact (anna@acme.example,
    bo@globex.example)."""
    acme = Organization(name="Acme", domain="acme.example")
    globex = Organization(name="Globex", domain="globex.example")
    session.add_all([acme, globex, Contact(email="anna@acme.example", name="Anna", organization=acme),
                     Contact(email="bo@globex.example", name="Bo", organization=globex)])
    session.flush()
    return acme, globex
