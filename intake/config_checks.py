"""Builds the config dataclasses from TOML tables and checks the values together; errors name the key."""
from __future__ import annotations

import dataclasses
import ipaddress
import types
import typing
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake.config import NOTIFY_EVENTS, SIGNED, Config, ConfigError, NotifyConfig, WebConfig


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table")
        return build(tp, value, key)
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


def build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    """An instance of the config dataclass CLS from the TOML table DATA, each value checked against its type;
    PREFIX names the table in errors."""
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


def validate(cfg: Config) -> None:
    """Raises ConfigError, naming the key, for the first value that cannot work."""
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


def web_address(url: str) -> tuple[str, int]:
    """(host, port) of an http:// or https:// URL; ValueError when URL is not one with a host (the worker
    refuses such a [[notify]] URL at start and `intake doctor` flags it)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port  # a port that is no number raises ValueError here
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("not an http:// or https:// address with a host")
    return host, port or (443 if parts.scheme == "https" else 80)
