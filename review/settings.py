"""The web app's settings: the session signing key, cookie security, session length, login limits."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebSettings:
    """SECRET_KEY signs session cookies; without one configured a random key lasts until a restart."""

    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    https_only: bool = False
    session_seconds: int = 12 * 3600
    login_failures: int = 5          # per account within login_window seconds
    login_failures_per_address: int = 20
    login_window: float = 900.0
    client_requests_per_minute: int = 30   # per address, on the clients' status and survey pages
    from_address: str = "Client Intake <intake@localhost>"   # replies and assessments are sent as this
    team: str = "the project team"
    # the team's name per client language, if it differs
    team_names: dict[str, str] = field(default_factory=dict)
    review_threshold: float = 0.8    # classifier.review_threshold: below it an item is flagged for review
    # classifier.model_thresholds: a model version's own per-language threshold raises it (as in the worker)
    model_thresholds: bool = True
    model_dir: str = ""              # classifier.model_dir: the versions `intake train` wrote
    metrics: bool = False            # answer GET /metrics (Prometheus) without a sign-in...
    metrics_token: str | None = field(default=None, repr=False)  # ...to requests bearing this token, if set
