"""The `intake` command line: one entry point, a subcommand per job."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from classifiers.lean_import import lean_spacy_import
from cli.backup_commands import add_backup_commands
from cli.client_commands import add_client_commands
from cli.doctor import add_doctor_command
from cli.logs import setup_logging
from cli.model_commands import add_model_commands
from cli.quarantine_commands import add_quarantine_commands
from cli.shell import UserError, open_factory
from cli.user_commands import add_user_commands
from intake.config import Config, ConfigError, load_config

EXIT_USAGE = 2


def _out(path: str | None) -> TextIO:
    if not path or path == "-":
        return sys.stdout
    return open(path, "w", encoding="utf-8", newline="")


def cmd_db_upgrade(cfg: Config, args: argparse.Namespace) -> int:
    from db.engine import make_engine
    from db.migrate import current_revision, upgrade

    engine = make_engine(cfg.database.url)
    try:
        upgrade(engine)
    except Exception as exc:
        raise UserError(f"database: upgrade failed: {exc}") from None
    print(f"database at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    if cfg.tracker.free_mail_domains:
        from db.engine import make_sessionmaker
        from db.queries import detach_free_mail

        with make_sessionmaker(engine).begin() as session:
            detached = detach_free_mail(session, cfg.tracker.free_mail_domains)
        if detached:
            print(f"free-mail domains are no organizations any more: {', '.join(detached)}")
    return 0


def cmd_run(cfg: Config, args: argparse.Namespace) -> int:
    from cli.serve import run_worker

    if args.processes < 1:
        raise UserError("--processes: must be at least 1")
    if args.processes == 1:
        return run_worker(cfg, args.config, once=args.once)
    if args.once:
        raise UserError("--processes: cannot be combined with --once")
    if not cfg.mailboxes:
        raise ConfigError("mailboxes: no mailbox configured; add a [[mailboxes]] table")
    factory = open_factory(cfg)  # a database problem is one line here, not one per process
    from cli.processes import supervise

    health = None
    if cfg.worker.health_endpoint is not None:
        from cli.health_server import start_health_server, supervisor_readiness
        from cli.serve import metrics_exposition

        def health(dead):  # type: ignore[no-untyped-def]
            # The processes are started by now, writing their metrics where intake.metrics told them.
            engine = factory.kw["bind"]
            return start_health_server(cfg.worker.health_address, supervisor_readiness(engine, dead),
                                       metrics_exposition(cfg, engine))
    if not cfg.worker.metrics:
        return supervise(args.processes, args.config, args.log_level, args.log_format, health)
    from intake.metrics import end_multiprocess, start_multiprocess

    values = start_multiprocess()  # before the processes start: they inherit it
    try:
        return supervise(args.processes, args.config, args.log_level, args.log_format, health)
    finally:
        end_multiprocess(values)


def cmd_export(cfg: Config, args: argparse.Namespace) -> int:
    from reports.export import write_export

    factory = open_factory(cfg, readonly=True)
    out = _out(args.out)
    with factory() as session:
        n = write_export(session, args.format, out, bom=args.format == "csv" and not args.no_bom)
    if out is not sys.stdout:
        out.close()
        print(f"{n} items written to {args.out}", file=sys.stderr)
    return 0


def _report_day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option}: expected a date like 2026-11-23, not {value!r}") from None


def cmd_report(cfg: Config, args: argparse.Namespace) -> int:
    from db.types import utcnow
    from reports.render import render_sla
    from reports.sla import compute_sla

    until = _report_day("--until",
                        args.until) or utcnow().astimezone(ZoneInfo(cfg.sla.report_timezone)).date()
    since = _report_day("--since", args.since) or until - timedelta(days=27)  # four weeks, until included
    if since > until:
        raise UserError(f"--since: {since.isoformat()} comes after --until {until.isoformat()}")
    base_url = cfg.web.base_url if args.base_url is None else args.base_url.rstrip("/")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise UserError(f"--base-url: must start with http:// or https://, not {args.base_url!r}")
    factory = open_factory(cfg, readonly=True)
    with factory() as session:
        report = compute_sla(session, cfg.sla.built, since, until, by=args.by, tz=cfg.sla.report_timezone)
    text = render_sla(report, args.format, base_url=base_url)
    out = _out(args.out)
    out.write(text)
    if out is not sys.stdout:
        out.close()
        print(f"SLA report for {since.isoformat()} to {until.isoformat()} ({report.total.items} items) "
              f"written to {args.out}", file=sys.stderr)
    return 0


def cmd_report_weekly(cfg: Config, args: argparse.Namespace) -> int:
    from db.claims import worker_name
    from db.types import utcnow
    from intake.duties import smtp_settings
    from reports.digest import last_full_week
    from responders.sender import drain
    from responders.weekly_digest import send_weekly

    today = utcnow().astimezone(ZoneInfo(cfg.sla.report_timezone)).date()
    day = _report_day("--week-of", args.week_of)
    week_start = last_full_week(today) if day is None else day - timedelta(days=day.weekday())
    for address in args.to:
        if "@" not in address or not address.isascii():
            raise UserError(f"--to: {address!r} is not an email address")
    factory = open_factory(cfg)
    result = send_weekly(factory, cfg, week_start, clients=not args.leads_only, leads=not args.clients_only,
                         to=tuple(args.to))
    if not args.clients_only and not result.summaries and not result.skipped:
        print("no active admin to send the SLA summary to; add one with `intake user add --role admin` "
              "or name recipients with --to", file=sys.stderr)
    print(f"week of {week_start.isoformat()}: {len(result.summaries)} SLA summaries, {len(result.digests)} "
          f"client digests queued; {len(result.skipped)} already sent for this week", file=sys.stderr)
    if not args.no_send and (result.summaries or result.digests):
        sent = drain(factory, smtp_settings(cfg), worker_name())
        print(f"sent {sent.sent}" + (f"; the rest stays in the outbox for the worker: {sent.error}"
                                     if sent.error
                                     else ""), file=sys.stderr)
    return 0


def web_settings(cfg: Config) -> Any:
    """The web app's settings from CFG; without a configured key, a random one (sessions end at restart)."""
    import logging

    from review.settings import WebSettings

    key = cfg.web.secret_key.read("web.secret_key")
    if key is not None and len(key) < 32:
        raise UserError("web.secret_key: the key must be at least 32 characters (try `openssl rand -hex 32`)")
    if key is None:
        logging.getLogger("intake.web").warning(
            "event=web_key_missing detail=\"no web.secret_key_env or web.secret_key_file; "
            "sessions end when the server restarts\"")
    base = WebSettings() if key is None else WebSettings(secret_key=key)
    return replace(base, https_only=cfg.web.secure_cookies, session_seconds=int(cfg.web.session_hours * 3600),
                   login_failures=cfg.web.login_failures, login_window=cfg.web.login_window_minutes * 60,
                   from_address=cfg.smtp.from_address, team=cfg.acknowledgment.team_name,
                   client_requests_per_minute=cfg.client_view.requests_per_minute,

                   team_names=dict(cfg.acknowledgment.team_names),
                   review_threshold=cfg.classifier.review_threshold,
                   model_thresholds=cfg.classifier.model_thresholds, model_dir=cfg.classifier.model_dir,
                   metrics=cfg.web.metrics,
                   metrics_token=_metrics_token(cfg))


def _metrics_token(cfg: Config) -> str | None:
    """The token /metrics asks for; with metrics on and none set, /metrics is open (a warning says so)."""
    import logging

    token = cfg.web.metrics_token.read("web.metrics_token") if cfg.web.metrics else None
    if cfg.web.metrics and not token:
        logging.getLogger("intake.web").warning(
            "event=web_metrics_open detail=\"web.metrics without web.metrics_token_env or _file: anyone who "
            "reaches the app can read /metrics\"")
    return token or None


def proxy_options(cfg: Config) -> dict[str, Any]:
    """uvicorn's options for X-Forwarded-For/-Proto: read only behind a proxy, and only from the trusted ones
    (uvicorn's ProxyHeadersMiddleware then gives the app, and the sign-in limit, the client's address)."""
    import logging

    if cfg.web.behind_proxy and not cfg.web.trusted_proxies:
        logging.getLogger("intake.web").warning(
            "event=web_proxy_loopback detail=\"web.behind_proxy without web.trusted_proxies: forwarded "
            "headers are read from 127.0.0.1 and ::1 only; list the proxy's address in web.trusted_proxies\"")
    return {"proxy_headers": cfg.web.behind_proxy, "forwarded_allow_ips": cfg.web.forwarded_allow_ips}


def cmd_web(cfg: Config, args: argparse.Namespace) -> int:
    import uvicorn

    from db.claims import worker_name
    from intake.client_settings import client_mail_settings
    from intake.duties import smtp_settings
    from intake.parse import attachment_data
    from responders.sender import drain
    from review.app import create_app

    factory = open_factory(cfg)
    host, port = args.host or cfg.web.host, args.port or cfg.web.port
    smtp, name = smtp_settings(cfg), worker_name()
    app = create_app(factory, web_settings(cfg), send_outbox=lambda: drain(factory, smtp, name),
                     read_attachment=attachment_data, sla=cfg.sla.built,
                     report_timezone=cfg.sla.report_timezone, client_mail=client_mail_settings(cfg, factory),
                     alerts=cfg.alerts)
    print(f"PM queue at http://{host}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", **proxy_options(cfg))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intake", description="Take in client email: intake worker, "
                                     "classifier, PM review queue and SLA reports.")
    parser.add_argument("--config", help="TOML config file (default: $INTAKE_CONFIG, else built-in defaults)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)
    add_backup_commands(db)

    run = sub.add_parser("run", help="run the intake worker")
    run.add_argument("--once", action="store_true",
                     help="process what is pending, send acknowledgments, exit")
    run.add_argument("--processes", type=int, default=1, metavar="N",
                     help="run N worker processes sharing the mailboxes (default: 1); SIGHUP reloads the "
                          "mailboxes")
    run.set_defaults(func=cmd_run)

    add_model_commands(sub)

    ex = sub.add_parser("export", help="export items")
    ex.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    ex.add_argument("--out", help="output file (default: stdout)")
    ex.add_argument("--no-bom", action="store_true",
                    help="CSV without the UTF-8 byte-order mark (which spreadsheet programs need to read "
                         "Chinese)")
    ex.set_defaults(func=cmd_export)

    rp = sub.add_parser("report", help="reports").add_subparsers(dest="report", required=True)
    sla = rp.add_parser("sla", help="SLA figures: acknowledgment, first response and resolution against each "
                        "item's policy",
                        description="SLA figures of the items received on the days --since to "
                        "--until (UTC, both included), per group and in total, with charts in HTML.")
    sla.add_argument("--since", metavar="DATE",
                     help="first day, YYYY-MM-DD (default: 27 days before --until)")
    sla.add_argument("--until", metavar="DATE", help="last day, YYYY-MM-DD (default: today, UTC)")
    sla.add_argument("--by", choices=["category", "organization", "assignee", "week"], default="category",
                     help="group the figures by (default: category)")
    sla.add_argument("--format", choices=["json", "csv", "html"], default="json")
    sla.add_argument("--out", help="output file (default: stdout)")
    sla.add_argument("--base-url", metavar="URL", help="the web app's address for links to the queue "
                     "(default: web.public_url, else http://web.host:web.port; \"\" for relative links)")
    sla.set_defaults(func=cmd_report)
    weekly = rp.add_parser("weekly",
                           help="email the team leads the week's SLA summary and clients their digests",
                           description="Queues and sends the SLA summary of a week (Monday to Sunday in "
                           "sla.report_timezone) to every active admin, and a status digest to each contact "
                           "of the organizations with client digests on, listing only that contact's items. "
                           "Running it again for the same week sends nothing twice.")
    weekly.add_argument("--week-of", metavar="DATE",
                        help="any day of the week to report (default: the last full week)")
    scope = weekly.add_mutually_exclusive_group()
    scope.add_argument("--leads-only", action="store_true", help="only the team leads' SLA summary")
    scope.add_argument("--clients-only", action="store_true", help="only the client digests")
    weekly.add_argument("--to", action="append", default=[], metavar="ADDRESS",
                        help="send the SLA summary to ADDRESS instead of the admins (repeatable)")
    weekly.add_argument("--no-send", action="store_true", help="only queue; the running worker sends them")
    weekly.set_defaults(func=cmd_report_weekly)

    web = sub.add_parser("web", help="serve the PM review queue")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.set_defaults(func=cmd_web)

    add_user_commands(sub)
    add_quarantine_commands(sub)
    add_doctor_command(sub)
    add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    lean_spacy_import()
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        # `intake doctor` reports a broken config as one of its checks.
        cfg = None if getattr(args, "reads_config_itself", False) else load_config(args.config)
        return int(args.func(cfg, args) or 0)
    except ConfigError as exc:
        print(f"intake: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `intake export | head`); say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
