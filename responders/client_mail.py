"""Mail to clients when their item moves: progress updates, the satisfaction survey, and the team's alert when
a rating is poor. Each goes through the outbox in the caller's transaction; nothing goes to robots, suppressed
senders or clients who opted out."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime, make_msgid, parseaddr

from sqlalchemy.orm import Session

from db.client_view import latest_incoming, suppressed_reason, survey_of
from db.events import (
    CLASSIFIED,
    CSAT_NEGATIVE,
    CSAT_RATED,
    FOLLOW_UP,
    SURVEY_SCHEDULED,
    SURVEY_WITHHELD,
    UPDATE_SENT,
    UPDATE_WITHHELD,
    add_event,
)
from db.models import Event, Item, OutboxMail, Survey, User
from db.people import responsible_people
from db.status_links import new_link
from responders.alerts import Alerts, enqueue_alert
from responders.compose import CATEGORY_NAMES, AckRequest, _threaded, jinja_env, lang_of
from responders.links import SurveyLinks, status_url
from responders.mime import address, write
from responders.notices import STATUS_NAMES, build_notice, render_notice
from responders.outbox import enqueue, enqueue_notice
from responders.recipients import deliverable

log = logging.getLogger("responders.client_mail")

# Which statuses each category's client hears about by default (the impact assessment is its own mail).
DEFAULT_UPDATES: Mapping[str, tuple[str, ...]] = {
    "issue": ("resolved",), "question": ("answered",), "feedback": (),
    "change_request": ("approved", "rejected", "implemented"),
}
SURVEY_SUBJECTS = {"en": "How did we do on {ref}?", "zh": "您对 {ref} 的处理满意吗？"}
ALERT_SUBJECTS = {"en": "[{ref}] The client rated us {rating} of 5",
                  "zh": "[{ref}] 客户评分 {rating} 分（满分 5 分）"}
NEGATIVE = (1, 2)  # ratings that flag the item and alert its assignee
NEGATIVE_EVENT = CSAT_NEGATIVE  # what a chat or webhook announcement of a poor rating listens for


@dataclass(frozen=True)
class ClientMailSettings:
    """What client mail needs: where the app is, how our mail is signed, which statuses are told, the
    survey."""

    base_url: str = "http://127.0.0.1:8025"
    from_address: str = "Client Intake <intake@localhost>"
    team: str = "the project team"
    status_links: bool = True
    update_statuses: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_UPDATES))
    surveys: bool = True
    survey_statuses: tuple[str, ...] = ("resolved", "answered", "implemented")
    survey_delay: timedelta = timedelta(hours=1)
    survey_links: SurveyLinks | None = None  # None: no survey can be signed, so none is sent
    category_updates: bool = True  # tell the client when a PM changes the category their acknowledgment named
    team_names: Mapping[str, str] = field(default_factory=dict)  # the team's name per client language

    def team_for(self, lang: str) -> str:
        """The team's name as a client writing in LANG reads it (acknowledgment.team_names)."""
        return self.team_names.get(lang_of(lang)) or self.team


def withheld(session: Session, item: Item) -> str:
    """Why ITEM's client must not get updates or surveys ("" when they may): no address we may write to, they
    opted out, or their acknowledgment was suppressed (rate limit: a robot or a loop; no valid address)."""
    contact = item.contact
    if contact is None or deliverable(contact.email or "") is None:
        return "no_reply_address"
    if contact.opted_out_at is not None:
        return "opted_out"
    return suppressed_reason(session, item.id)


def _request(session: Session, item: Item, settings: ClientMailSettings, now: datetime,
             actor: str) -> AckRequest:
    latest = latest_incoming(session, item.id)
    token = new_link(session, item.id, now, actor) if settings.status_links else ""
    contact = item.contact
    assert contact is not None
    return AckRequest(ref=item.ref or "", category=item.category, lang=item.lang, to_address=contact.email,
                      to_name=contact.name, subject=item.subject,
                      in_reply_to=latest.message_id if latest else "",
                      references=tuple((latest.references or "").split()) if latest else (),
                      status_url=status_url(settings.base_url, token))


def link_for(session: Session, item: Item, settings: ClientMailSettings, now: datetime, actor: str) -> str:
    """A new status link for a mail to ITEM's client (each mail carries its own); "" when links are off."""
    return status_url(settings.base_url, new_link(session, item.id, now,
                                                  actor)) if settings.status_links else ""


def told_category(session: Session, item: Item) -> bool:
    """Whether ITEM's acknowledgment named its category (it was sent, and not the neutral one)."""
    from sqlalchemy import select

    classified = session.scalar(select(Event.data).where(Event.item_id == item.id, Event.kind == CLASSIFIED)
                                .order_by(Event.id).limit(1))
    acked = session.scalar(select(OutboxMail.id).where(OutboxMail.item_id == item.id,
                                                       OutboxMail.kind == "acknowledgment").limit(1))
    return acked is not None and classified is not None and classified.get("needs_review") is False


def item_moved(session: Session, item: Item, settings: ClientMailSettings | None, now: datetime,
               actor: str = "system") -> None:
    """ITEM reached its current status: the client's update and survey, as configured."""
    if settings is None:
        return
    send_update(session, item, item.status, settings, now, actor)
    schedule_survey(session, item, settings, now)


def send_update(session: Session, item: Item, status: str, settings: ClientMailSettings, now: datetime,
                actor: str = "system") -> OutboxMail | None:
    """Queues the update telling ITEM's client it reached STATUS, if its category tells that status (or STATUS
    is "category": a PM changed the category); None when nothing is sent (with an event saying why, if
    withheld)."""
    if status != "category" and status not in settings.update_statuses.get(item.category, ()):
        return None
    reason = withheld(session, item)
    if reason:
        add_event(session, item.id, UPDATE_WITHHELD, now, {"status": status, "reason": reason})
        return None
    req = _request(session, item, settings, now, actor)
    lang = lang_of(item.lang)
    body = jinja_env.get_template(f"{lang}/update.txt.j2").render(
        name=req.to_name, ref=req.ref, subject=item.subject, status=status, team=settings.team_for(lang),
        status_name=STATUS_NAMES[lang].get(item.status, item.status), status_url=req.status_url,
        category_name=CATEGORY_NAMES[lang].get(item.category, item.category),
        next_steps=_next_steps(item, lang))
    msg = _threaded(req, settings.from_address, now)
    msg.set_content(body)
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    mail = enqueue(session, item, msg, "update", req, now)
    add_event(session, item.id, UPDATE_SENT, now,
              {"status": status, "to": req.to_address, "message_id": mail.message_id}, actor=actor)
    log.info("event=update_queued ref=%s status=%s", item.ref, status)
    return mail


def _next_steps(item: Item, lang: str) -> str:
    """The acknowledgment's "what happens next" for ITEM's category, as one paragraph."""
    template = jinja_env.get_template(f"{lang}/{item.category}.txt.j2")
    return "".join(template.blocks["next_steps"](template.new_context({}))).strip()


def schedule_survey(session: Session, item: Item, settings: ClientMailSettings,
                    now: datetime) -> Survey | None:
    """Puts ITEM's survey in the outbox, due after the configured delay, when ITEM reached a status that asks
    for one; once per item (a survey cancelled before it went out may be scheduled again)."""
    if not settings.surveys or settings.survey_links is None or item.status not in settings.survey_statuses:
        return None
    survey = survey_of(session, item.id)
    if survey is not None and survey.status != "cancelled":
        return None
    reason = withheld(session, item)
    if survey is None:
        survey = Survey(item_id=item.id, status="scheduled", created_at=now, scheduled_for=now, comment="")
        session.add(survey)
        session.flush()  # its id goes into the signed links
    if reason:
        survey.status = "suppressed"
        add_event(session, item.id, SURVEY_WITHHELD, now, {"reason": reason})
        return survey
    contact = item.contact
    assert contact is not None
    due = now + settings.survey_delay
    lang = lang_of(item.lang)
    links = settings.survey_links.urls(settings.base_url, settings.survey_links.token(survey.id, item.id))
    context = dict(name=contact.name, ref=item.ref, subject=" ".join((item.subject or "").split())[:200],
                   links=links, team=settings.team_for(lang))
    text = jinja_env.get_template(f"{lang}/survey.txt.j2").render(context)
    html = jinja_env.get_template(f"{lang}/survey.html.j2").render(context)
    name, sender = parseaddr(settings.from_address)
    message_id = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    headers = [("From", address(name, sender)), ("To", address(contact.name, contact.email)),
               ("Subject", SURVEY_SUBJECTS[lang].format(ref=item.ref)), ("Date", format_datetime(due)),
               ("Message-ID", message_id), ("Auto-Submitted", "auto-generated"),
               ("X-Auto-Response-Suppress", "All"),
               ("List-Unsubscribe", f"<{links['unsubscribe']}>"),
               ("Content-Language", "zh-CN" if lang == "zh" else "en")]
    mail = OutboxMail(item_id=item.id, kind="survey", message_id=message_id, from_address=sender,
                      to_address=contact.email, raw=write(headers, text, html), created_at=now,
                      next_attempt_at=due)
    session.add(mail)
    session.flush()
    survey.status, survey.outbox_id, survey.to_address, survey.scheduled_for = ("scheduled", mail.id,
                                                                                contact.email, due)
    add_event(session, item.id, SURVEY_SCHEDULED, now, {"due": due.isoformat()})
    return survey


def rate(session: Session, survey: Survey, item: Item, rating: int, settings: ClientMailSettings,
         now: datetime, alerts: Alerts | None = None) -> bool:
    """Records RATING (1..5) for SURVEY, replacing an earlier one; a rating of 1 or 2 flags ITEM for follow-up
    and alerts its people and the chat and webhook targets in ALERTS (announce_negative). Whether the rating
    changed."""
    if rating not in (1, 2, 3, 4, 5):
        raise ValueError(f"rating: must be 1 to 5, not {rating!r}")
    previous = survey.rating
    if previous == rating:
        return False
    survey.rating, survey.rated_at = rating, now
    add_event(session, item.id, CSAT_RATED, now, {"rating": rating, "previous": previous}, actor="client")
    if rating in NEGATIVE and previous not in NEGATIVE:
        announce_negative(session, item, survey, settings, now, alerts)
    return True


def announce_negative(session: Session, item: Item, survey: Survey, settings: ClientMailSettings,
                      now: datetime, alerts: Alerts | None = None) -> None:
    """A poor rating: ITEM is flagged for follow-up, its assignee (else the PMs of its client, else the
    admins) gets an email, the ALERTS targets that want `negative_csat` get a message, and a NEGATIVE_EVENT
    event records it."""
    if not item.follow_up:
        item.follow_up = True
        add_event(session, item.id, FOLLOW_UP, now, {"reason": "csat", "rating": survey.rating})
    people = _alerted(session, item)
    client = (item.contact.name or item.contact.email) if item.contact is not None else ""
    for person in people:
        lang = lang_of(person.language)
        text = render_notice("csat_alert", lang, name=person.name, ref=item.ref, rating=survey.rating,
                             subject=" ".join((item.subject or "").split())[:150], client=client,
                             comment=survey.comment, url=f"{settings.base_url}/items/{item.ref}",
                             team=settings.team)
        msg = build_notice(person.email, person.name, ALERT_SUBJECTS[lang].format(ref=item.ref,
                                                                                  rating=survey.rating),
                           text, settings.from_address, now, lang)
        enqueue_notice(session, msg, "csat_alert", now, item.id)
    if alerts is not None:
        enqueue_alert(session, alerts, ("negative_csat",), item, now, rating=survey.rating,
                      comment=survey.comment)
    add_event(session, item.id, NEGATIVE_EVENT, now, {"rating": survey.rating,
                                                      "to": [p.email for p in people]})
    log.info("event=csat_negative ref=%s rating=%s alerted=%d", item.ref, survey.rating, len(people))


def _alerted(session: Session, item: Item) -> list[User]:
    """Who hears of a poor rating: the people an SLA warning would reach."""
    return list(responsible_people(session, item)[0])
