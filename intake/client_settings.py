"""Builds the client-mail settings (updates, surveys, status links) from the configuration."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from intake.config import Config, ConfigError
from responders.client_mail import DEFAULT_UPDATES, ClientMailSettings
from responders.links import SurveyLinks


def client_mail_settings(cfg: Config, factory: sessionmaker[Session] | None = None,
                         session: Session | None = None) -> ClientMailSettings:
    """CFG's client-mail settings. With FACTORY (or SESSION, inside a caller's transaction) the survey links
    can be signed: with surveys.secret_key_*, else with a key made once and kept in the database (so links
    outlive restarts and work on every host)."""
    links = None
    if cfg.surveys.enabled and (factory is not None or session is not None):
        key = configured_survey_key(cfg)
        if key is None:
            from db.signing_keys import stored_key, stored_key_in

            if factory is not None:
                key = stored_key(factory, "survey")
            else:
                assert session is not None
                key = stored_key_in(session, "survey")
        links = SurveyLinks(key, max_age=cfg.surveys.valid_days * 86400)
    # A category the config leaves out keeps its default statuses.
    updates = {**DEFAULT_UPDATES, **{c: tuple(s) for c, s in cfg.updates.statuses.items()}} \
        if cfg.updates.enabled else {}
    return ClientMailSettings(base_url=cfg.web.base_url, from_address=cfg.smtp.from_address,
                              team=cfg.acknowledgment.team_name,
                              team_names=dict(cfg.acknowledgment.team_names),
                              status_links=cfg.client_view.status_links,
                              update_statuses=updates, surveys=cfg.surveys.enabled,
                              survey_statuses=cfg.surveys.statuses,
                              survey_delay=timedelta(minutes=cfg.surveys.delay_minutes), survey_links=links,
                              category_updates=cfg.updates.enabled and cfg.updates.on_category_change)


def configured_survey_key(cfg: Config) -> str | None:
    """The survey key from surveys.secret_key_env/_file, None when the config names none (ConfigError when it
    is too short or cannot be read)."""
    key = cfg.surveys.secret_key.read("surveys.secret_key")
    if key is not None and len(key) < 32:
        raise ConfigError("surveys.secret_key: the key must be at least 32 characters "
                        "(try `openssl rand -hex 32`)")
    return key
