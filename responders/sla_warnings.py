"""The worker's periodic SLA check: stores each open item's SLA state and warns PMs once per clock at risk."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from db.events import add_event
from db.models import User
from db.people import responsible_people
from db.types import utcnow
from intake.config import Config
from reports.policy import WALL_CLOCK
from reports.render import human_duration
from reports.state import WARNING_EVENT, Due, refresh_states, snapshot_of
from responders.alerts import enqueue_alert
from responders.compose import lang_of
from responders.notices import build_notice, render_notice
from responders.outbox import enqueue_notice

log = logging.getLogger("intake.sla")
SUBJECTS = {
    "en": {"at_risk": "SLA at risk", "breached": "SLA breached"},
    "zh": {"at_risk": "服务级别即将超时", "breached": "服务级别已超时"},
}


@dataclass(frozen=True)
class SlaCheck:
    """What one check did: states changed, clocks warned about, warning emails queued."""

    changed: int = 0
    warned: int = 0
    emails: int = 0


warning_recipients = responsible_people  # the same rule, shared with the alerts of poor ratings


def _warn(session: Session, due: Due, cfg: Config, now: datetime,
          cache: dict[int | None, Sequence[User]]) -> int:
    item = due.item
    people, assigned = warning_recipients(session, item, cache)
    if due.stale or due.breach:
        people = []  # the PMs were warned about these clocks already (or the item is too old to warn about)
    snapshot = snapshot_of(item, cfg.sla.built)
    calendar = snapshot.get("calendar", WALL_CLOCK)
    org = item.contact.organization if item.contact is not None else None
    client = (item.contact.name or item.contact.email) if item.contact is not None else ""
    worst = "breached" if any(m.state == "breached" for m in due.clocks) else "at_risk"
    subject_line = " ".join((item.subject or "").split())[:150]
    for person in people:
        lang = lang_of(person.language)
        text = render_notice("sla_warning", lang, name=person.name, ref=item.ref, subject=subject_line,
                             client=client + (f" ({org.name})" if org is not None else ""), clocks=due.clocks,
                             policy=snapshot.get("policy", ""),
                             calendar="" if calendar == WALL_CLOCK else calendar,
                             assigned=assigned, organization=org.name if org is not None else "",
                             url=f"{cfg.web.base_url}/items/{item.ref}", team=cfg.acknowledgment.team_name,
                             duration=partial(human_duration, lang=lang))
        msg = build_notice(person.email, person.name, f"[{item.ref}] {SUBJECTS[lang][worst]}: {subject_line}",
                           text, cfg.smtp.from_address, now, lang)
        enqueue_notice(session, msg, "sla_warning", now, item.id)
    if not due.stale:
        enqueue_alert(session, cfg.alerts, (f"sla_{worst}",), item, now,
                      clocks=[{"clock": m.name, "state": m.state} for m in due.clocks])
    recipients = [p.email for p in people]
    for m in due.clocks:
        data = {"clock": m.name, "state": m.state, "to": recipients}
        if due.stale:
            data["suppressed"] = "stale"
        if due.breach:
            data["suppressed"] = "warned_at_risk"
        add_event(session, item.id, WARNING_EVENT, now, data)
        log.info("event=sla_warning ref=%s clock=%s state=%s recipients=%d%s", item.ref, m.name, m.state,
                 len(people), " suppressed=stale" if due.stale else " breach=after_warning" if due.breach
                 else "")
    item.sla_warned_at = now
    return len(people)


def check_sla(factory: sessionmaker[Session], cfg: Config, now: datetime | None = None) -> SlaCheck:
    """Refreshes every open item's SLA state and queues the warnings due, in one transaction."""
    now = now or utcnow()
    cache: dict[int | None, Sequence[User]] = {}
    unsent: list[str] = []
    with factory.begin() as session:
        changed, due = refresh_states(session, cfg.sla.built, now)
        emails = 0
        for d in due:
            sent = _warn(session, d, cfg, now, cache)
            emails += sent
            if not sent and not d.stale and not d.breach:
                unsent.append(d.item.ref or "")
    if unsent:
        log.warning("event=sla_warning_nobody items=%d first=%s detail=\"no active assignee, PM or admin to "
                    "warn\"",
                    len(unsent), unsent[0])
    return SlaCheck(changed, sum(len(d.clocks) for d in due if not d.breach), emails)
