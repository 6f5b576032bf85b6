"""What a PM does to an item: assign, move through the workflow, note, reply, assess and send a change
request."""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from db.changes import record_decision
from db.events import (
    ASSESSED,
    ASSESSMENT_SENT,
    ASSIGNED,
    FOLLOW_UP,
    NOTE,
    REPLIED,
    STATUS_CHANGED,
    STATUS_LINK_CREATED,
    STATUS_LINK_REVOKED,
    add_event,
)
from db.models import ChangeAssessment, Contact, Item, User
from db.status_links import new_link, revoke_links
from db.types import utcnow
from db.workflow import ALL_STATUSES, DONE, WorkflowError, check_move, next_statuses
from responders.alerts import Alerts, enqueue_alert
from responders.client_mail import ClientMailSettings, item_moved, link_for
from responders.compose import AckRequest, Assessment, build_assessment, build_reply
from responders.links import status_url
from responders.outbox import enqueue
from responders.recipients import deliverable
from review.i18n import N_, Explained, gettext
from review.params import shown
from review.participants import ThreadPeople, thread_people
from review.present import label_text
from review.queries import lock_item
from review.viewer import Viewer

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TEXT = 20_000


class ActionError(Explained):
    """An action that cannot be done as asked; the message says why in one line (str(): English, for the
    API; translated(): in the request's language, for pages)."""


class NotFound(LookupError):
    """No item with that reference within what the viewer may see."""


@dataclass(frozen=True)
class Outgoing:
    """How our mail is signed: the From address and the team name."""

    from_address: str
    team: str
    # Updates, surveys and status links for the client; None: none are sent.
    client: ClientMailSettings | None = None
    team_names: Mapping[str, str] = field(default_factory=dict)

    def team_for(self, lang: str) -> str:
        """The team's name as a client writing in LANG reads it."""
        # Mail to a client in another language is written in English (responders.compose.lang_of).
        return self.team_names.get(lang if lang in ("en", "zh") else "en") or self.team


def _act(factory: sessionmaker[Session], viewer: Viewer, ref: str, do: Callable[[Session, Item], T]) -> T:
    with factory.begin() as session:
        item = lock_item(session, ref, viewer.item_filter(),
                         selectinload(Item.contact).selectinload(Contact.organization),
                         selectinload(Item.assessment))
        if item is None:
            raise NotFound(ref)
        return do(session, item)


def _event(session: Session, item: Item, kind: str, viewer: Viewer, **data: object) -> None:
    add_event(session, item.id, kind, utcnow(), data, actor=viewer.email)


def assign(factory: sessionmaker[Session], viewer: Viewer, ref: str, assignee_id: int | None) -> str:
    """Assigns the item to ASSIGNEE_ID (None: nobody); the assignee must work on the item's organization."""
    def do(session: Session, item: Item) -> str:
        user = None
        if assignee_id is not None:
            user = session.scalar(select(User).where(User.id == assignee_id, User.active.is_(True))
                                  .options(selectinload(User.organizations)))
            if user is None:
                raise ActionError(N_("assignee: no such active user"))
            org = item.contact.organization_id if item.contact else None
            if user.role != "admin" and org not in {o.id for o in user.organizations}:
                raise ActionError(N_("assignee: %(email)s does not work on this client's organization"),
                                  email=user.email)
        if item.assignee_id != assignee_id:
            item.assignee_id = assignee_id
            _event(session, item, ASSIGNED, viewer, to=user.email if user else "")
        return user.email if user else ""
    return _act(factory, viewer, ref, do)


def change_status(factory: sessionmaker[Session], viewer: Viewer, ref: str, to: str,
                  *, client: ClientMailSettings | None = None, alerts: Alerts = Alerts()) -> str:
    """Moves the item to TO if its workflow allows; returns the old status. With CLIENT, the client gets the
    update and survey this status calls for; a change request's decision is announced to the ALERTS targets
    that want it."""
    def do(session: Session, item: Item) -> str:
        old = item.status
        try:
            check_move(item.category, old, to)
        except WorkflowError as exc:
            raise _workflow_error(exc, item.category, old, to) from None
        now = utcnow()
        if to in ("approved", "rejected"):
            record_decision(session, item, to, viewer.email, now)  # the PM records the client's answer
            item_moved(session, item, client, now, viewer.email)
            enqueue_alert(session, alerts, (f"change_{to}",), item, now, decided_by=viewer.email)
            return old
        item.status = to
        if to in DONE:
            item.resolved_at = item.resolved_at or now
        else:
            item.resolved_at = None
        _event(session, item, STATUS_CHANGED, viewer, **{"from": old, "to": to})
        item_moved(session, item, client, now, viewer.email)
        return old
    return _act(factory, viewer, ref, do)


def add_note(factory: sessionmaker[Session], viewer: Viewer, ref: str, text: str) -> None:
    """Adds an internal note (never sent to the client)."""
    text = _text(text, "note")
    _act(factory, viewer, ref, lambda session, item: _event(session, item, NOTE, viewer, text=text))


def set_follow_up(factory: sessionmaker[Session], viewer: Viewer, ref: str, on: bool) -> None:
    """Flags the item for follow-up (negative feedback, an unhappy client) or clears the flag."""
    def do(session: Session, item: Item) -> None:
        if item.follow_up != on:
            item.follow_up = on
            _event(session, item, FOLLOW_UP, viewer, on=on)
    _act(factory, viewer, ref, do)


def _workflow_error(exc: WorkflowError, category: str, status: str, to: str) -> ActionError:
    """The workflow's refusal as an ActionError: its English text as the workflow words it (the API's), and
    on pages in the request's language, with the category and statuses by name."""
    allowed = next_statuses(category, status)

    def choices() -> str:
        return gettext(", ").join(label_text(s) for s in allowed)

    names = {"category": lambda: label_text(category), "status": lambda: label_text(status),
             "to": lambda: label_text(to) if to in ALL_STATUSES else to, "choices": choices}
    msgid = (N_("status: %(category)s items in %(status)s can move to %(choices)s; not %(to)s") if allowed
             else N_("status: %(category)s items in %(status)s can move to nothing (this status changes by "
                     "other steps); not %(to)s"))
    error = ActionError(msgid, local=names, category=category, status=repr(status), to=repr(to),
                        choices=", ".join(allowed))
    error.args = (str(exc),)  # the English text stays exactly the workflow's
    return error


def _text(text: str, what: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    field = {"what": lambda: gettext(FIELDS.get(what, what))}
    if not text:
        raise ActionError(N_("%(what)s: write something first"), local=field, what=what)
    if len(text) > MAX_TEXT:
        raise ActionError(N_("%(what)s: at most %(max)s characters"), local=field, what=what, max=MAX_TEXT)
    return text


# The names of the texts a PM writes, as error messages on pages call them.
FIELDS = {"note": N_("note"), "reply": N_("reply"), "scope": N_("scope")}


def _copies(people: ThreadPeople, asked: Sequence[str]) -> tuple[str, ...]:
    """The addresses ASKED for as copies, each one of the thread's participants a reply may copy; whatever a
    form or API call names beyond them is refused, not dropped, so that nobody believes it was sent."""
    offered = {c.address.lower(): c.address for c in people.copies}
    chosen: dict[str, str] = {}
    for value in asked:
        address = value.strip()
        if not address:
            continue
        if address.lower() not in offered:
            raise ActionError(N_("copy: %(address)s is not a participant of this thread"),
                              address=shown(address))
        chosen.setdefault(address.lower(), offered[address.lower()])
    return tuple(chosen.values())


def _thread_request(session: Session, item: Item, out: Outgoing, cc: Sequence[str] = ()) -> AckRequest:
    """Where a message in ITEM's thread goes: to the item's contact, copied to the participants in CC; it
    answers the latest message from a participant. Never to whoever wrote last: anyone can write into a
    thread."""
    to_address = item.contact.email if item.contact else ""
    if deliverable(to_address) is None:
        raise ActionError(N_("reply: the client has no address we can send to (missing, invalid or not plain "
                             "ASCII); answer from your mail program"))
    people = thread_people(session, item, own=[parseaddr(out.from_address)[1]])
    latest = people.latest
    return AckRequest(ref=item.ref or "", category=item.category, lang=item.lang, to_address=to_address,
                      to_name=item.contact.name if item.contact else "", subject=item.subject,
                      in_reply_to=latest.message_id if latest else "",
                      references=tuple((latest.references or "").split()) if latest else (),
                      cc=_copies(people, cc))


def _with_link(session: Session, item: Item, req: AckRequest, out: Outgoing, viewer: Viewer) -> AckRequest:
    """REQ carrying a status link of its own, when client links are on."""
    if out.client is None:
        return req
    return replace(req, status_url=link_for(session, item, out.client, utcnow(), viewer.email))


def reply(factory: sessionmaker[Session], viewer: Viewer, ref: str, text: str, out: Outgoing,
          cc: Sequence[str] = ()) -> str:
    """Puts the PM's reply to the client in the outbox, threaded, copied to the participants in CC (each must
    be one of the thread's, see review.participants); returns its Message-ID."""
    text = _text(text, "reply")

    def do(session: Session, item: Item) -> str:
        req = _with_link(session, item, _thread_request(session, item, out, cc), out, viewer)
        now = utcnow()
        built = build_reply(req, text, out.from_address, out.team_for(req.lang), now)
        mail = enqueue(session, item, built, "reply", req, now, sender_name=viewer.name)
        item.first_response_at = item.first_response_at or now
        _event(session, item, REPLIED, viewer, message_id=mail.message_id, to=req.to_address,
               **({"cc": list(req.cc)} if req.cc else {}))
        return mail.message_id
    return _act(factory, viewer, ref, do)


def save_assessment(factory: sessionmaker[Session], viewer: Viewer, ref: str, scope: str, cost: str,
                    schedule: str) -> None:
    """Records a change request's impact (scope, cost, schedule); the item becomes impact assessed."""
    scope = _text(scope, "scope")
    cost, schedule = cost.strip()[:200], schedule.strip()[:200]

    def do(session: Session, item: Item) -> None:
        if item.category != "change_request":
            raise ActionError(N_("assessment: only change requests are assessed"))
        status = item.status
        if status not in ("new", "impact_assessed", "awaiting_approval", "rejected"):
            raise ActionError(N_("assessment: a change request that is %(status)s is not assessed again"),
                              local={"status": lambda: label_text(status)}, status=status)
        a = item.assessment or ChangeAssessment(item_id=item.id)
        a.scope, a.cost, a.schedule = scope, cost, schedule
        a.assessed_by, a.assessed_at = viewer.email, utcnow()
        a.sent_at, a.sent_message_id, a.decision, a.decided_at = None, "", "", None
        session.add(a)
        old, item.status = item.status, "impact_assessed"
        _event(session, item, ASSESSED, viewer, scope=scope[:500], cost=cost, schedule=schedule,
               **{"from": old, "to": "impact_assessed"})
    _act(factory, viewer, ref, do)


def send_assessment(factory: sessionmaker[Session], viewer: Viewer, ref: str, out: Outgoing,
                    cc: Sequence[str] = ()) -> str:
    """Emails the assessment to the client for approval, copied to the participants in CC; the item then
    awaits the client's answer."""
    def do(session: Session, item: Item) -> str:
        a = item.assessment
        if item.status != "impact_assessed" or a is None:
            raise ActionError(N_("assessment: assess the change request first"))
        req = _with_link(session, item, _thread_request(session, item, out, cc), out, viewer)
        now = utcnow()
        msg = build_assessment(req, Assessment(a.scope, a.cost, a.schedule), out.from_address,
                               out.team_for(req.lang),
                               now)
        mail = enqueue(session, item, msg, "assessment", req, now, sender_name=viewer.name)
        a.sent_at, a.sent_message_id = now, mail.message_id
        item.status = "awaiting_approval"
        item.first_response_at = item.first_response_at or now
        _event(session, item, ASSESSMENT_SENT, viewer, message_id=mail.message_id, to=req.to_address,
               status="awaiting_approval", **({"cc": list(req.cc)} if req.cc else {}))
        return mail.message_id
    return _act(factory, viewer, ref, do)


def new_status_link(factory: sessionmaker[Session], viewer: Viewer, ref: str,
                    base_url: str) -> tuple[str, int]:
    """Revokes every status link of the item and makes a new one; returns its address (shown once: only its
    hash is kept) and how many links were revoked."""
    def do(session: Session, item: Item) -> tuple[str, int]:
        now = utcnow()
        revoked = revoke_links(session, item.id, now)
        token = new_link(session, item.id, now, viewer.email)
        _event(session, item, STATUS_LINK_CREATED, viewer, revoked=revoked)
        return status_url(base_url, token), revoked
    return _act(factory, viewer, ref, do)


def revoke_status_links(factory: sessionmaker[Session], viewer: Viewer, ref: str) -> int:
    """Revokes every status link of the item (they answer 404 at once); how many there were."""
    def do(session: Session, item: Item) -> int:
        revoked = revoke_links(session, item.id, utcnow())
        _event(session, item, STATUS_LINK_REVOKED, viewer, revoked=revoked)
        return revoked
    return _act(factory, viewer, ref, do)
