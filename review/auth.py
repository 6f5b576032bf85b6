"""Passwords (argon2), API tokens and session keys (stored as SHA-256), and the failed-login limiter."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cit_"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class WeakPassword(ValueError):
    """A password that is too short or empty; the message says what is needed."""


def check_password_rules(password: str) -> None:
    """Raises WeakPassword unless PASSWORD is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password: use at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of PASSWORD (checked against the rules first)."""
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether PASSWORD matches STORED_HASH; an account without a password never matches."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether STORED_HASH was made with weaker parameters than today's and should be replaced."""
    return _hasher.check_needs_rehash(stored_hash)


def new_api_token() -> tuple[str, str]:
    """A fresh API token and the hash to store; the token itself is shown to its owner once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The stored form of an API token or session key (random and long, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_key() -> tuple[str, str]:
    """A fresh session key for the cookie and the hash to store (a stolen table then signs nobody in)."""
    key = secrets.token_urlsafe(32)
    return key, token_hash(key)


class LoginLimiter:
    """Refuses logins for a key (an email, a client address) after MAX_FAILURES failures within WINDOW
    seconds."""

    def __init__(self, max_failures: int = 5, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login for KEYS may be tried again; 0 when it may be tried now."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        """Counts one failed login against each of KEYS."""
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys so a spray of addresses cannot grow memory
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]

    def succeeded(self, key: str) -> None:
        """Forgets the failures of KEY (the account) after a good login."""
        with self._lock:
            self._failures.pop(key, None)
