"""Loads and validates the TOML configuration; secrets are read only by reference."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import shlex
import subprocess
import tomllib
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        return _build(tp, value, key)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return value
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list")
        return tuple(_convert(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, not {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, not {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, not {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, not {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported value")  # pragma: no cover - schema bug


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:
        if name == "password":
            raise ConfigError(
                f"{prefix}.password: passwords are not allowed in the config file; "
                "use password_env or password_file"
            )
        if name in ("url", "secret") and cls is NotifyConfig:
            raise ConfigError(f"{prefix}.{name}: webhook URLs and secrets are credentials, not allowed in "
                              f"the config file; use {name}_env or {name}_file")
        if name not in fields:
            raise ConfigError(f"{prefix + '.' if prefix else ''}{name}: unknown key")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing required key")
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    names = set()
    for i, box in enumerate(cfg.mailboxes):
        key = f"mailboxes[{i}]"
        if box.name in names:
            raise ConfigError(f"{key}.name: duplicate mailbox name {box.name!r}")
        names.add(box.name)
        if box.auth == "xoauth2":
            if bool(box.oauth2_token_command) == bool(box.oauth2_token_file):
                raise ConfigError(f"{key}.oauth2_token_command: with auth = \"xoauth2\" give "
                                  "oauth2_token_command or oauth2_token_file (one of them)")
        elif box.password_env and box.password_file:
            raise ConfigError(f"{key}.password_env: give password_env or password_file, not both")
        elif not (box.password_env or box.password_file):
            raise ConfigError(f"{key}.password_env: missing; set password_env or password_file")
        if box.on_processed == "move" and not box.move_to:
            raise ConfigError(f"{key}.move_to: required when on_processed = \"move\"")
        if not 1 <= box.port <= 65535:
            raise ConfigError(f"{key}.port: must be between 1 and 65535")
        if box.batch_size < 1:
            raise ConfigError(f"{key}.batch_size: must be at least 1")
        if box.batch_bytes < 1024 * 1024:
            raise ConfigError(f"{key}.batch_bytes: must be at least 1 MiB (1048576)")
    if cfg.smtp.password_env and cfg.smtp.password_file:
        raise ConfigError("smtp.password_env: give password_env or password_file, not both")
    if not 0 <= cfg.classifier.processes <= 64:
        raise ConfigError("classifier.processes: must be between 0 and 64")
    for lang, name in cfg.acknowledgment.team_names.items():
        if lang not in ("en", "zh") or not isinstance(name, str) or not name.strip():
            raise ConfigError(f"acknowledgment.team_names.{lang}: give the team's name (text) for en or zh")
    if not 0.0 <= cfg.classifier.review_threshold <= 1.0:
        raise ConfigError("classifier.review_threshold: must be between 0 and 1")
    if "@" not in cfg.smtp.from_address:
        raise ConfigError("smtp.from_address: must be an email address")
    if cfg.web.secret_key_env and cfg.web.secret_key_file:
        raise ConfigError("web.secret_key_env: give secret_key_env or secret_key_file, not both")
    if cfg.web.session_hours <= 0:
        raise ConfigError("web.session_hours: must be more than 0")
    if cfg.web.login_failures < 1 or cfg.web.login_window_minutes <= 0:
        raise ConfigError("web.login_failures: must be at least 1, and login_window_minutes more than 0")
    if not cfg.database.url:
        raise ConfigError("database.url: must not be empty")
    _validate_proxies(cfg.web)
    if cfg.web.public_url and not cfg.web.public_url.startswith(("http://", "https://")):
        raise ConfigError("web.public_url: must start with http:// or https://, e.g. "
                          "\"https://intake.example.com\"")
    try:
        ZoneInfo(cfg.sla.report_timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(f"sla.report_timezone: unknown time zone {cfg.sla.report_timezone!r}; "
                          "use a name such as \"Asia/Shanghai\" or \"UTC\"") from None
    if cfg.worker.heartbeat_seconds < 0.5:
        raise ConfigError("worker.heartbeat_seconds: must be at least 0.5")
    if cfg.worker.lease_seconds < 2 * cfg.worker.heartbeat_seconds:
        # Otherwise one late heartbeat loses the lease to another worker.
        raise ConfigError("worker.lease_seconds: must be at least twice worker.heartbeat_seconds")
    if cfg.worker.resync_seconds < 1:
        raise ConfigError("worker.resync_seconds: must be at least 1")
    _validate_address("worker.health_address", cfg.worker.health_address)
    if cfg.worker.metrics and not cfg.worker.health_address:
        raise ConfigError("worker.metrics: served on worker.health_address; set it too, e.g. "
                          "\"127.0.0.1:9101\"")
    if cfg.web.metrics_token_env and cfg.web.metrics_token_file:
        raise ConfigError("web.metrics_token_env: give metrics_token_env or metrics_token_file, not both")
    if cfg.retention.raw_days < 0:
        raise ConfigError("retention.raw_days: must be 0 (keep forever) or a number of days")
    if cfg.sla.check_seconds < 5:
        raise ConfigError("sla.check_seconds: must be at least 5")
    _validate_client_mail(cfg)
    _validate_notify(cfg.notify)
    try:
        cfg.sla.built  # noqa: B018  (built once here so a mistake stops the program at start)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _validate_address(key: str, value: str) -> None:
    if not value:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected \"HOST:PORT\" such as \"127.0.0.1:9101\", not {value!r}")


def _validate_client_mail(cfg: Config) -> None:
    from db.workflow import WORKFLOWS

    for category, wanted in cfg.updates.statuses.items():
        if category not in WORKFLOWS:
            raise ConfigError(f"updates.statuses.{category}: unknown category; use {', '.join(WORKFLOWS)}")
        if not isinstance(wanted, list) or any(s not in WORKFLOWS[category] for s in wanted):
            raise ConfigError(f"updates.statuses.{category}: expected a list of {category} statuses "
                              f"({', '.join(WORKFLOWS[category])}), not {wanted!r}")
    every = {s for flow in WORKFLOWS.values() for s in flow}
    for i, status in enumerate(cfg.surveys.statuses):
        if status not in every:
            raise ConfigError(f"surveys.statuses[{i}]: unknown status {status!r}")
    if cfg.surveys.delay_minutes < 0:
        raise ConfigError("surveys.delay_minutes: must be 0 or more")
    if cfg.surveys.valid_days <= 0:
        raise ConfigError("surveys.valid_days: must be more than 0")
    if cfg.surveys.secret_key_env and cfg.surveys.secret_key_file:
        raise ConfigError("surveys.secret_key_env: give secret_key_env or secret_key_file, not both")
    if cfg.client_view.requests_per_minute < 1:
        raise ConfigError("client_view.requests_per_minute: must be at least 1")


def _validate_notify(targets: tuple[NotifyConfig, ...]) -> None:
    names: set[str] = set()
    for i, n in enumerate(targets):
        key = f"notify[{i}]"
        if not n.name.strip() or len(n.name) > 100 or not n.name.isprintable():
            raise ConfigError(f"{key}.name: must be 1 to 100 characters, none of them control characters")
        if n.name in names:
            raise ConfigError(f"{key}.name: duplicate target name {n.name!r}")
        names.add(n.name)
        if bool(n.url_env) == bool(n.url_file):
            raise ConfigError(f"{key}.url_env: give url_env or url_file (one of them): the URL holds a "
                              "credential")
        if n.secret_env and n.secret_file:
            raise ConfigError(f"{key}.secret_env: give secret_env or secret_file, not both")
        if n.target == "webhook" and not (n.secret_env or n.secret_file):
            raise ConfigError(f"{key}.secret_env: a generic webhook is signed; set secret_env or secret_file")
        if n.target not in SIGNED and (n.secret_env or n.secret_file):
            raise ConfigError(f"{key}.secret_env: {n.target} targets take no signing secret; remove it")
        for j, event in enumerate(n.events):
            if event not in NOTIFY_EVENTS:
                raise ConfigError(f"{key}.events[{j}]: unknown event {event!r}; one of "
                                  f"{', '.join(NOTIFY_EVENTS)}")
        if not n.events:
            raise ConfigError(f"{key}.events: list at least one event (leave the key out for all of them)")
        for j, category in enumerate(n.categories):
            # only when categories are listed: a plain start imports no models
            from db.models import CATEGORIES

            if category not in CATEGORIES:
                raise ConfigError(f"{key}.categories[{j}]: unknown category {category!r}; "
                                  f"one of {', '.join(CATEGORIES)}")
        if not 0 < n.timeout_seconds <= 60:
            raise ConfigError(f"{key}.timeout_seconds: must be more than 0 and at most 60")
        if n.max_attempts < 1:
            raise ConfigError(f"{key}.max_attempts: must be at least 1")
        if not 0.1 <= n.retry_seconds <= 3600:
            raise ConfigError(f"{key}.retry_seconds: must be between 0.1 and 3600")


def _validate_proxies(web: WebConfig) -> None:
    if web.trusted_proxies and not web.behind_proxy:
        raise ConfigError("web.trusted_proxies: forwarded headers are read only with web.behind_proxy = "
                          "true; set it, or remove trusted_proxies")
    for i, entry in enumerate(web.trusted_proxies):
        # As uvicorn reads them: an address, or a network with a "/" (strictly: no host bits set), where
        # anything else would silently match nothing; "*" (anyone) is what this list exists to avoid.
        try:
            ipaddress.ip_network(entry) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError as exc:
            raise ConfigError(f"web.trusted_proxies[{i}]: {entry!r} is not an IP address or network ({exc}); "
                              "list the proxies, e.g. [\"10.0.0.5\", \"10.1.0.0/16\"]") from None


def parse_config(data: dict[str, Any]) -> Config:
    """Builds a validated Config from parsed TOML data."""
    cfg = _build(Config, data, "")
    _validate(cfg)
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
