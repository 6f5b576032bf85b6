"""`intake report weekly`: the team leads' SLA summary and the clients' status digests, put in the outbox."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from functools import partial
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session, sessionmaker

from db.models import Item, OutboxMail, User
from db.status_links import new_link
from db.types import utcnow
from intake.config import Config
from reports.digest import ClientDigest, DigestItem, client_digests, week_bounds
from reports.policy import MEASURES
from reports.render import human_duration, percent, render_sla
from reports.sla import compute_sla
from reports.sla_groups import SlaReport
from responders.compose import lang_of
from responders.links import status_url
from responders.notices import build_notice, render_notice
from responders.outbox import enqueue_notice
from responders.recipients import deliverable

log = logging.getLogger("intake.weekly")
SUMMARY_SUBJECT = {"en": "SLA summary, week of {period}", "zh": "服务级别周报：{period}"}
OPEN_BREACHED_LISTED = 10
DIGEST_SUBJECT = {"en": "Your requests with {team}: week of {period}",
                  "zh": "您在{team}的事项：{period} 周报"}


@dataclass
class WeeklyResult:
    """What one run queued, and what it left out because it was already sent for that week."""

    summaries: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def week_label(week_start: date, lang: str = "en") -> str:
    """"2026-11-16 to 2026-11-22" (or "至" in Chinese) for the week beginning Monday WEEK_START."""
    joint = " 至 " if lang == "zh" else " to "
    return f"{week_start.isoformat()}{joint}{(week_start + timedelta(days=6)).isoformat()}"


def _message_id(kind: str, week_start: date, address: str, cfg: Config) -> str:
    # One message per kind, week and person: running the command again finds it and sends nothing twice.
    digest = hashlib.sha256(f"{kind}|{week_start.isoformat()}|{address.lower()}".encode()).hexdigest()[:24]
    domain = parseaddr(cfg.smtp.from_address)[1].rpartition("@")[2] or "localhost"
    return f"<{kind}.{week_start.isoformat()}.{digest}@{domain}>"


def _already_sent(session: Session, message_id: str) -> bool:
    return session.scalar(select(OutboxMail.id).where(OutboxMail.message_id == message_id)
                          .limit(1)) is not None


def _digest_mail(d: ClientDigest, week_start: date, cfg: Config, now: datetime) -> EmailMessage:
    lang = lang_of(d.lang)
    zone = ZoneInfo(cfg.sla.report_timezone)
    team = cfg.acknowledgment.team_for(lang)
    period = week_label(week_start, lang)
    text = render_notice("client_digest", lang, d=d, team=team, period=period,
                         day=lambda value: value.astimezone(zone).date().isoformat())
    return build_notice(d.email, d.name, DIGEST_SUBJECT[lang].format(team=team, period=period), text,
                        cfg.smtp.from_address, now, lang, message_id=_message_id("digest", week_start,
                                                                                 d.email, cfg))


def _with_status_links(session: Session, d: ClientDigest, base_url: str, now: datetime) -> ClientDigest:
    """D with a status link of its own for each item it lists: a digest is about several items, and each link
    shows one."""
    def linked(i: DigestItem) -> DigestItem:
        return replace(i, status_url=status_url(base_url, new_link(session, i.item_id, now)))

    return replace(d, open=tuple(map(linked, d.open)), resolved=tuple(map(linked, d.resolved)))


def queue_client_digests(session: Session, cfg: Config, week_start: date, now: datetime,
                         result: WeeklyResult | None = None) -> WeeklyResult:
    """Puts each contact's digest for the week of WEEK_START in the outbox, unless it is there already."""
    result = result or WeeklyResult()
    since, until = week_bounds(week_start, cfg.sla.report_timezone)
    for d in client_digests(session, since, until):
        if deliverable(d.email) is None:
            log.warning("event=digest_skipped to=%s reason=address", d.email)
            continue
        if _already_sent(session, _message_id("digest", week_start, d.email, cfg)):
            result.skipped.append(d.email)
            continue
        if cfg.client_view.status_links:
            d = _with_status_links(session, d, cfg.web.base_url, now)
        enqueue_notice(session, _digest_mail(d, week_start, cfg, now), "client_digest", now)
        result.digests.append(d.email)
        log.info("event=digest_queued to=%s open=%d resolved=%d", d.email, len(d.open), len(d.resolved))
    return result


def team_leads(session: Session) -> list[tuple[str, str, str]]:
    """(email, name, language) of every active admin: the people who answer for the team's SLA."""
    users = session.scalars(select(User).where(User.active.is_(true()),
                                               User.role == "admin").order_by(User.id))
    return [(u.email, u.name, u.language) for u in users]


@dataclass(frozen=True)
class ClockLine:
    """One clock's line in the summary: this week's figures and the week before's compliance."""

    clock: str
    measured: int
    met: int
    compliance: float | None
    previous: float | None
    stopped: int
    p50_seconds: float | None
    p90_seconds: float | None
    breached_open: int
    at_risk: int


def _clock_lines(report: SlaReport, previous: SlaReport) -> list[ClockLine]:
    lines = []
    for name in MEASURES:
        c, before = report.total.clock(name), previous.total.clock(name)
        lines.append(ClockLine(name, c.measured, c.met, c.compliance,
                               before.compliance if before.measured else None,
                               c.stopped, c.p50_seconds, c.p90_seconds, c.breached_open, c.at_risk))
    return lines


def queue_team_summary(session: Session, cfg: Config, week_start: date, now: datetime,
                       to: Sequence[str] = (), result: WeeklyResult | None = None) -> WeeklyResult:
    """Puts the week's SLA summary for each team lead (TO, else the active admins) in the outbox, with the
    full HTML report attached; a lead who has it for that week already is skipped."""
    result = result or WeeklyResult()
    policies, tz, base = cfg.sla.built, cfg.sla.report_timezone, cfg.web.base_url
    until = week_start + timedelta(days=6)
    report = compute_sla(session, policies, week_start, until, by="organization", now=now, tz=tz)
    previous = compute_sla(session, policies, week_start - timedelta(days=7), week_start - timedelta(days=1),
                           now=now, tz=tz)
    breached_now = select(Item).where(Item.sla_state == "breached", Item.resolved_at.is_(None))
    open_total = session.scalar(select(func.count()).select_from(breached_now.subquery())) or 0
    open_breached = [(i.ref, " ".join((i.subject or "").split())[:80]) for i in session.scalars(
        breached_now.order_by(Item.received_at, Item.id).limit(OPEN_BREACHED_LISTED))]
    attachment = f"sla-report-{week_start.isoformat()}.html"
    html = render_sla(report, "html", base)
    query = urlencode({"since": week_start.isoformat(), "until": until.isoformat(), "by": "organization"})
    leads = [(address, "", "") for address in to] or team_leads(session)
    for address, name, language in leads:
        lang = lang_of(language)
        period = week_label(week_start, lang)
        text = render_notice(
            "team_summary", lang, name=name, team=cfg.acknowledgment.team_name, period=period, tz=tz,
            total=report.total, previous=previous.total, clocks=_clock_lines(report, previous),
            organizations=[o for o in report.breached_by_organization if o.breached_items][:5],
            open_breached=[{"ref": ref, "subject": subj} for ref, subj in open_breached],
            open_breached_total=open_total, base_url=base, report_url=f"{base}/reports/sla?{query}",
            attachment=attachment, share=percent, duration=partial(human_duration, lang=lang))
        msg = build_notice(address, name, SUMMARY_SUBJECT[lang].format(period=period), text,
                           cfg.smtp.from_address, now, lang,
                           message_id=_message_id("summary", week_start, address, cfg))
        msg.add_attachment(html.encode("utf-8"), maintype="text", subtype="html", filename=attachment)
        if _already_sent(session, msg["Message-ID"]):
            result.skipped.append(address)
            continue
        enqueue_notice(session, msg, "team_summary", now)
        result.summaries.append(address)
        log.info("event=summary_queued to=%s items=%d", address, report.total.items)
    return result


def send_weekly(factory: sessionmaker[Session], cfg: Config, week_start: date, clients: bool = True,
                leads: bool = True, now: datetime | None = None, to: Sequence[str] = ()) -> WeeklyResult:
    """Queues the week's team summary (LEADS; to TO instead of the admins when given) and client digests
    (CLIENTS) in one transaction."""
    now = now or utcnow()
    result = WeeklyResult()
    with factory.begin() as session:
        if leads:
            queue_team_summary(session, cfg, week_start, now, to, result)
        if clients:
            queue_client_digests(session, cfg, week_start, now, result=result)
    return result
