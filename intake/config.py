"""Loads and validates the TOML configuration; secrets are read only by reference."""
from __future__ import annotations

import os
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from reports.policy import SlaPolicies, parse_policies


class ConfigError(Exception):
    """A configuration problem a user can fix; the message names the key."""


Security = Literal["ssl", "starttls", "none"]


@dataclass(frozen=True)
class Secret:
    """Where a password comes from: an environment variable or a file, never the config itself."""

    env: str = ""
    file: str = ""

    def read(self, key: str) -> str | None:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"{key}_env: environment variable {self.env} is not set")
            return value
        if self.file:
            try:
                return Path(self.file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"{key}_file: cannot read {self.file}: {exc.strerror}") from None
        return None


class TokenError(OSError):
    """An OAuth2 access token could not be obtained (a transient failure: the worker retries)."""


@dataclass(frozen=True)
class TokenSource:
    """Where an OAuth2 access token comes from: a command that prints it, or a file something else
    refreshes."""

    command: str = ""
    file: str = ""

    def read(self) -> str:
        """A current token; read anew on every call, since tokens expire."""
        if self.command:
            try:
                proc = subprocess.run(shlex.split(self.command), capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TokenError(f"oauth2 token command failed: {exc}") from None
            if proc.returncode != 0:
                raise TokenError(f"oauth2 token command exited with {proc.returncode}: "
                                 f"{proc.stderr.strip()[:200]}")
            token = proc.stdout.strip()
        else:
            try:
                token = Path(self.file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise TokenError(f"oauth2 token file {self.file}: {exc.strerror}") from None
        if not token:
            raise TokenError("oauth2 token source gave an empty token")
        return token


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///intake.db"
    echo: bool = False


@dataclass(frozen=True)
class MailboxConfig:
    name: str
    host: str
    username: str
    port: int = 993
    security: Security = "ssl"
    folder: str = "INBOX"
    password_env: str = ""
    password_file: str = ""
    auth: Literal["password", "xoauth2"] = "password"
    oauth2_token_command: str = ""
    oauth2_token_file: str = ""
    ca_file: str = ""
    on_processed: Literal["keep", "seen", "move"] = "keep"
    move_to: str = ""
    poll_seconds: float = 30.0
    idle: bool = True
    batch_size: int = 50
    # A batch also ends before this many bytes of mail (what a worker holds of a mailbox at once, twice over
    # while the next batch is read).
    batch_bytes: int = 16 * 1024 * 1024

    @property
    def secret(self) -> Secret:
        return Secret(self.password_env, self.password_file)

    @property
    def token(self) -> TokenSource:
        return TokenSource(self.oauth2_token_command, self.oauth2_token_file)


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    security: Security = "none"
    username: str = ""
    password_env: str = ""
    password_file: str = ""
    ca_file: str = ""
    from_address: str = "Client Intake <intake@localhost>"
    timeout_seconds: float = 30.0
    max_attempts: int = 10

    @property
    def secret(self) -> Secret:
        return Secret(self.password_env, self.password_file)


@dataclass(frozen=True)
class TrackerConfig:
    reference_prefix: str = "CI"
    own_addresses: tuple[str, ...] = ()
    # Domains of the team's own mail: a reply from there in a thread (support in copy) is a human answer.
    staff_domains: tuple[str, ...] = ()
    max_message_bytes: int = 25 * 1024 * 1024
    # Free-mail domains beyond the shipped list (db.free_mail): their senders get no organization.
    free_mail_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassifierConfig:
    review_threshold: float = 0.8
    # Whether a model version's own per-language review threshold (chosen on real text) applies too; off:
    # review_threshold alone decides, trading more wrong unflagged answers for fewer items to review.
    model_thresholds: bool = True
    model_dir: str = ""
    # Processes that read (parse, screen) and classify fetched mail beside the worker; 0: the worker alone.
    processes: int = 1


@dataclass(frozen=True)
class AcknowledgmentConfig:
    enabled: bool = True
    max_per_sender_per_hour: int = 5
    team_name: str = "the project team"
    # The team's name in a client's language where it differs, e.g. { zh = "演示项目团队" }.
    team_names: dict = field(default_factory=dict)

    def team_for(self, lang: str) -> str:
        """The team's name as a client writing in LANG reads it."""
        # Mail to a client in another language is written in English (responders.compose.lang_of).
        return str(self.team_names.get(lang if lang in ("en", "zh") else "en") or self.team_name)


@dataclass(frozen=True)
class SlaConfig:
    ack_target_minutes: float = 5.0  # the built-in policy's acknowledgment target
    at_risk_share: float = 0.75      # a running clock is "at risk" once this share of its target is used
    # waiting for the client: resolution clock paused
    pause_statuses: tuple[str, ...] = ("awaiting_approval",)
    report_timezone: str = "UTC"     # days and weeks of reports and digests begin at midnight here
    check_seconds: float = 60.0      # how often the worker refreshes SLA states and sends at-risk warnings
    default_policy: str = ""
    calendars: dict = field(default_factory=dict)  # name -> table; see reports.policy
    policies: dict = field(default_factory=dict)   # name -> table; see reports.policy

    @cached_property
    def built(self) -> SlaPolicies:
        """The policies and calendars, checked (parse_config has already reported any error)."""
        return parse_policies(self.calendars, self.policies, self.default_policy, self.at_risk_share,
                              self.pause_statuses, self.ack_target_minutes * 60)


@dataclass(frozen=True)
class WorkerConfig:
    lease_seconds: float = 15.0      # a mailbox whose worker stops heartbeating is taken over after this long
    heartbeat_seconds: float = 5.0   # how often leases are renewed and idle workers look for free mailboxes
    # on IDLE, a full re-sync this often anyway (new mail is checked before IDLE)
    resync_seconds: float = 300.0
    health_address: str = ""         # "HOST:PORT" where the worker answers /healthz and /readyz; "": off
    metrics: bool = False            # answer /metrics (Prometheus) on health_address too

    @property
    def health_endpoint(self) -> tuple[str, int] | None:
        """health_address as (host, port), or None when off (parse_config has checked it)."""
        if not self.health_address:
            return None
        host, _, port = self.health_address.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class RetentionConfig:
    # Days after an item is closed (resolved or closed) until its messages' raw bytes, and with them the
    # attachments, are removed by `intake purge`; the item, its texts and its history stay. 0: kept forever.
    raw_days: int = 0


@dataclass(frozen=True)
class ClientViewConfig:
    status_links: bool = True  # acknowledgments, replies and updates carry a link to the item's client view
    requests_per_minute: int = 30    # per client address, on the status and survey pages


def _default_updates() -> dict:
    return {"issue": ["resolved"], "question": ["answered"], "feedback": [],
            "change_request": ["approved", "rejected", "implemented"]}


@dataclass(frozen=True)
class UpdatesConfig:
    enabled: bool = True
    # category -> the statuses its clients are told of
    statuses: dict = field(default_factory=_default_updates)
    on_category_change: bool = True  # tell the client when a PM changes the category they were told


@dataclass(frozen=True)
class SurveysConfig:
    enabled: bool = True
    # Reaching one schedules the survey: each category's resolution (a change request's is implemented).
    statuses: tuple[str, ...] = ("resolved", "answered", "implemented")
    delay_minutes: float = 60.0      # after the status is reached; cancelled if the client writes meanwhile
    valid_days: float = 30.0         # how long the survey's links work
    secret_key_env: str = ""  # signs the survey links; without one a random key is kept in the database
    secret_key_file: str = ""

    @property
    def secret_key(self) -> Secret:
        return Secret(self.secret_key_env, self.secret_key_file)


# Whom forwarded headers are read from with behind_proxy and no trusted_proxies: a proxy on the same host.
LOOPBACK = "127.0.0.1,::1"


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8025
    secret_key_env: str = ""         # signs session cookies; at least 32 characters
    secret_key_file: str = ""
    secure_cookies: bool = False     # true when users reach the app over HTTPS (e.g. behind a TLS proxy)
    behind_proxy: bool = False       # read X-Forwarded-For/-Proto (client address for the login limit)...
    # ...from these addresses or networks only; none listed: loopback only
    trusted_proxies: tuple[str, ...] = ()
    session_hours: float = 12.0
    login_failures: int = 5          # failed sign-ins per account before a pause
    login_window_minutes: float = 15.0
    public_url: str = ""             # how people reach the app, for links in mail and reports; default http://host:port
    metrics: bool = False            # answer /metrics (Prometheus) without a sign-in...
    metrics_token_env: str = ""      # ...to requests with this token (Authorization: Bearer), if one is set
    metrics_token_file: str = ""

    @property
    def base_url(self) -> str:
        """The app's address for links, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secret_key(self) -> Secret:
        return Secret(self.secret_key_env, self.secret_key_file)

    @property
    def metrics_token(self) -> Secret:
        return Secret(self.metrics_token_env, self.metrics_token_file)

    @property
    def forwarded_allow_ips(self) -> str | None:
        """The peers whose X-Forwarded-For/-Proto the server believes, as uvicorn's forwarded_allow_ips takes
        them: the trusted proxies, loopback when none are listed, None (nobody) unless behind_proxy."""
        if not self.behind_proxy:
            return None
        return ",".join(self.trusted_proxies) or LOOPBACK


NOTIFY_EVENTS = ("new_item", "needs_review", "sla_at_risk", "sla_breached", "negative_csat",
                 "change_approved",
                 # responders.alerts.EVENTS, listed here so reading the config imports nothing
                 "change_rejected")
NotifyTarget = Literal["webhook", "slack", "teams", "dingtalk", "feishu", "wecom"]
SIGNED = ("webhook", "dingtalk", "feishu")  # the targets that take a signing secret (webhook: required)


@dataclass(frozen=True)
class NotifyConfig:
    """One chat or webhook target ([[notify]]): where (its URL by reference, it holds a credential), what."""

    name: str
    target: NotifyTarget
    url_env: str = ""
    url_file: str = ""
    secret_env: str = ""  # webhook: the HMAC key (required); dingtalk, feishu: the bot's signing secret
    secret_file: str = ""
    events: tuple[str, ...] = NOTIFY_EVENTS
    organizations: tuple[str, ...] = ()   # organization domains; empty: every organization (and none)
    categories: tuple[str, ...] = ()      # empty: every category
    language: Literal["en", "zh"] = "en"
    timeout_seconds: float = 10.0
    max_attempts: int = 12
    retry_seconds: float = 10.0      # the first retry's wait, doubling up to an hour

    @property
    def url(self) -> Secret:
        return Secret(self.url_env, self.url_file)

    @property
    def secret(self) -> Secret:
        return Secret(self.secret_env, self.secret_file)


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    mailboxes: tuple[MailboxConfig, ...] = ()
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    acknowledgment: AcknowledgmentConfig = field(default_factory=AcknowledgmentConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    web: WebConfig = field(default_factory=WebConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    client_view: ClientViewConfig = field(default_factory=ClientViewConfig)
    updates: UpdatesConfig = field(default_factory=UpdatesConfig)
    surveys: SurveysConfig = field(default_factory=SurveysConfig)
    notify: tuple[NotifyConfig, ...] = ()

    @cached_property
    def alerts(self) -> Any:
        """The [[notify]] targets as responders.alerts takes them (no secrets: those are read by the
        worker)."""
        from responders.alerts import AlertRoute, Alerts

        return Alerts(tuple(AlertRoute(n.name, n.target, frozenset(n.events),
                                       frozenset(d.lower() for d in n.organizations), frozenset(n.categories),
                                       n.language) for n in self.notify), self.web.base_url)

    def own_addresses(self) -> set[str]:
        """Every address that is ours: mailboxes, the sender address, and extras."""
        from email.utils import parseaddr

        found = {m.username.lower() for m in self.mailboxes if "@" in m.username}
        found.add(parseaddr(self.smtp.from_address)[1].lower())
        found.update(a.lower() for a in self.tracker.own_addresses)
        found.discard("")
        return found


def parse_config(data: dict[str, Any]) -> Config:
    """Builds a validated Config from parsed TOML data."""
    # Imported here: the checks import the dataclasses above.
    from intake.config_checks import build, validate

    cfg = build(Config, data, "")
    validate(cfg)
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Reads the config from PATH, $INTAKE_CONFIG, or defaults when neither is given."""
    if path is None:
        path = os.environ.get("INTAKE_CONFIG") or None
    if path is None:
        return parse_config({})
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    return parse_config(data)
