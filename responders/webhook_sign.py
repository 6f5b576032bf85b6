"""Signatures on outgoing webhook calls: ours (HMAC-SHA256 over timestamp and body), DingTalk's and Feishu's.

A generic webhook carries

    X-Intake-Timestamp: 1764988800                  (Unix seconds when it was sent)
    X-Intake-Signature: sha256=<hex>                (HMAC-SHA256, keyed with the secret, of
    "<timestamp>.<body>")

and a receiver recomputes the HMAC over the timestamp header, a dot and the raw body bytes, compares it in
constant time, and refuses a timestamp too far from its clock (a replay).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

TIMESTAMP_HEADER = "X-Intake-Timestamp"
SIGNATURE_HEADER = "X-Intake-Signature"
REPLAY_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Our signature of BODY sent at TIMESTAMP: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that sign a generic webhook call."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           tolerance: float = REPLAY_SECONDS) -> bool:
    """Whether HEADERS (names in any case) sign BODY with SECRET, sent within TOLERANCE seconds of NOW: what a
    receiver checks."""
    lower = {k.lower(): v for k, v in headers.items()}
    stamp, given = lower.get(TIMESTAMP_HEADER.lower(), ""), lower.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(stamp), body), given)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's custom robot signature: base64 of HMAC-SHA256, keyed with the secret, of
    "<ms>\\n<secret>"."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    """URL (the robot's, with its access_token) with the timestamp and sign parameters DingTalk checks."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query,
                                          keep_blank_values=True) if k not in ("timestamp", "sign")]
    query += [("timestamp", str(timestamp_ms)), ("sign", dingtalk_sign(secret, timestamp_ms))]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote_plus)))


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's custom bot signature: base64 of HMAC-SHA256 keyed with "<seconds>\\n<secret>" over nothing."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
