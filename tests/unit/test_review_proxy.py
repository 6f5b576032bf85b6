"""Forwarded headers behind a reverse proxy: web.trusted_proxies in the config, the options `intake web` gives
uvicorn, and the sign-in limit counting the forwarded address only when a trusted proxy sent it."""
from __future__ import annotations

import logging

import httpx
import pytest

from cli.main import proxy_options
from intake.config import ConfigError, parse_config
from review.app import create_app
from review.settings import WebSettings
from tests.web import csrf_from, serving

LIMIT = 3  # failed sign-ins per client address in these tests


def test_trusted_proxies_are_addresses_or_networks_and_need_behind_proxy():
    assert parse_config({}).web.forwarded_allow_ips is None
    assert parse_config({"web": {"behind_proxy": True}}).web.forwarded_allow_ips == "127.0.0.1,::1"
    web = parse_config({"web": {"behind_proxy": True, "trusted_proxies": ["10.0.0.5", "10.1.0.0/16",
                                                                          "fd00::/8"]}}).web
    assert web.forwarded_allow_ips == "10.0.0.5,10.1.0.0/16,fd00::/8"
    for web, words in [({"trusted_proxies": ["10.0.0.5"]},
                        "web.trusted_proxies: forwarded headers are read only "
                                                           "with web.behind_proxy = true"),
                       ({"behind_proxy": True, "trusted_proxies": ["*"]},
                        r"web.trusted_proxies\[0\]: '\*' is not"),
                       ({"behind_proxy": True, "trusted_proxies": ["10.0.0.1/8"]}, "has host bits set"),
                       ({"behind_proxy": True, "trusted_proxies": ["10.0.0.5", "proxy.local"]},
                        r"web.trusted_proxies\[1\]: 'proxy.local' is not an IP address or network"),
                       ({"behind_proxy": True, "trusted_proxies": "10.0.0.5"},
                        "web.trusted_proxies: expected a list")]:
        with pytest.raises(ConfigError, match=words):
            parse_config({"web": web})


def test_intake_web_reads_forwarded_headers_only_from_the_trusted_proxies(caplog):
    assert proxy_options(parse_config({})) == {"proxy_headers": False, "forwarded_allow_ips": None}
    trusted = parse_config({"web": {"behind_proxy": True, "trusted_proxies": ["10.0.0.5"]}})
    with caplog.at_level(logging.WARNING, logger="intake.web"):
        assert proxy_options(trusted) == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5"}
        assert not caplog.records
        loopback = proxy_options(parse_config({"web": {"behind_proxy": True}}))
    assert loopback == {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1,::1"}, "never '*'"
    assert "event=web_proxy_loopback" in caplog.text and "127.0.0.1 and ::1 only" in caplog.text


def _failed_sign_in(client: httpx.Client, forwarded_for: str) -> int:
    token = csrf_from(client.get("/login").text)
    # No password: refused at once (no hashing), and counted against the account and the address all the same.
    return client.post("/login", data={"email": f"nobody-{forwarded_for}@example.com", "password": "",
                                       "csrf_token": token},
                       headers={"x-forwarded-for": forwarded_for, "x-forwarded-proto": "https"}).status_code


@pytest.mark.parametrize("web, counted", [
    ({"behind_proxy": True}, "forwarded"),                                  # the proxy on this host: loopback
    ({"behind_proxy": True, "trusted_proxies": ["127.0.0.0/8"]}, "forwarded"),
    ({"behind_proxy": True, "trusted_proxies": ["10.9.9.9"]}, "peer"),      # 127.0.0.1 is not that proxy
    ({}, "peer"),                                                            # not behind a proxy at all
])
def test_the_sign_in_limit_counts_the_forwarded_address_only_from_a_trusted_proxy(factory, caplog, web,
                                                                                  counted):
    app = create_app(factory, WebSettings(login_failures_per_address=LIMIT))
    with serving(app,
                 **proxy_options(parse_config({"web": web}))) as url, httpx.Client(base_url=url) as client, \
            caplog.at_level(logging.INFO, logger="review.login"):
        first = [_failed_sign_in(client, "203.0.113.7") for _ in range(LIMIT)]
        again = _failed_sign_in(client, "203.0.113.7")
        rotated = _failed_sign_in(client, "198.51.100.1")
    assert first == [401] * LIMIT and again == 429
    addresses = {line.rsplit("address=", 1)[1] for line in caplog.text.splitlines()
                 if "event=login_failed" in line}
    if counted == "forwarded":
        # Each client behind the proxy has its own count: another address may still try.
        assert rotated == 401 and addresses == {"203.0.113.7", "198.51.100.1"}
    else:
        # Whatever X-Forwarded-For says, the count is the peer's: rotating the header does not reset it.
        assert rotated == 429 and addresses == {"127.0.0.1"}
