"""A local HTTP receiver for webhook tests: answers as each platform does, checks signatures, records every
call."""
from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from responders.webhook_sign import dingtalk_sign, feishu_sign, verify

WEBHOOK_SECRET = "whsec-test-0123456789"
DINGTALK_SECRET = "SECdingtalk-test"
FEISHU_SECRET = "feishu-test-secret"
PATHS = {"webhook": "/hooks/generic", "slack": "/services/T0/B0/slack", "teams": "/teams/incoming",
         "dingtalk": "/robot/send?access_token=dt-token", "feishu": "/open-apis/bot/v2/hook/fs-token",
         "wecom": "/cgi-bin/webhook/send?key=wc-key"}


@dataclass(frozen=True)
class Call:
    """One call the receiver took: which platform's path, its headers, body and whether its signature held."""

    kind: str
    path: str
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers.get("x-intake-delivery", "")


def _kind(path: str) -> str:
    return next((k for k, p in PATHS.items() if urlsplit(p).path == urlsplit(path).path), "")


def _valid(kind: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    """Checks the call as its platform would: our signature, DingTalk's sign parameter, Feishu's body
    fields."""
    if kind == "webhook":
        return verify(WEBHOOK_SECRET, headers, body, time.time())
    if kind == "dingtalk":
        query = parse_qs(urlsplit(path).query)
        stamp = query.get("timestamp", [""])[0]
        return (query.get("access_token") == ["dt-token"] and stamp.isdigit()
                and abs(time.time() * 1000 - int(stamp)) < 3600_000
                and hmac.compare_digest(query.get("sign", [""])[0],
                                        dingtalk_sign(DINGTALK_SECRET, int(stamp))))
    if kind == "feishu":
        data = json.loads(body)
        stamp = str(data.get("timestamp", ""))
        return stamp.isdigit() and hmac.compare_digest(str(data.get("sign", "")),
                                                       feishu_sign(FEISHU_SECRET, int(stamp)))
    if kind == "wecom":
        return parse_qs(urlsplit(path).query).get("key") == ["wc-key"]
    return kind in ("slack", "teams")


class Receiver:
    """Serves on 127.0.0.1:PORT (a free one when 0) until stopped; can be stopped and started again on its
    port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.calls: list[Call] = []
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}{PATHS[kind]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                kind = _kind(self.path)
                valid = bool(kind) and _valid(kind, self.path, headers, body)
                with receiver._lock:
                    receiver.calls.append(Call(kind, self.path, headers, body, valid))
                    receiver._lock.notify_all()
                answer = {"slack": b"ok", "teams": b"1", "webhook": b""}.get(kind)
                if answer is None:  # the Chinese platforms answer 200 with an error code
                    code = 0 if valid else 310000
                    answer = json.dumps({"errcode": code, "errmsg": "ok" if valid else "sign not match"}
                                        if kind != "feishu" else {"code": 0 if valid else 19021,
                                                                  "msg": "x"}).encode()
                self.send_response(204 if kind == "webhook" else 200 if kind else 404)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Call]:
        """The calls once there are at least COUNT of them; fails the test after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.calls) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the receiver got {len(self.calls)} calls, expected {count}")
                self._lock.wait(left)
            return list(self.calls)


def notify_tables(receiver: Receiver, env_prefix: str, extra: str = "",
                  langs: dict[str, str] | None = None) -> str:
    """[[notify]] tables for one target of each kind on RECEIVER, their URLs and secrets in environment
    variables named ENV_PREFIX_<KIND>_URL / _SECRET (set here); EXTRA goes into each table."""
    import os

    tables = []
    secrets = {"webhook": WEBHOOK_SECRET, "dingtalk": DINGTALK_SECRET, "feishu": FEISHU_SECRET}
    for kind in PATHS:
        os.environ[f"{env_prefix}_{kind.upper()}_URL"] = receiver.url(kind)
        lines = [f'name = "{kind}-alerts"', f'target = "{kind}"',
                 f'url_env = "{env_prefix}_{kind.upper()}_URL"',
                 f'language = "{(langs or {}).get(kind, "en")}"']
        if kind in secrets:
            os.environ[f"{env_prefix}_{kind.upper()}_SECRET"] = secrets[kind]
            lines.append(f'secret_env = "{env_prefix}_{kind.upper()}_SECRET"')
        tables.append("[[notify]]\n" + "\n".join(lines) + "\n" + extra)
    return "\n".join(tables)
