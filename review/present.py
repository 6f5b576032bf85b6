"""Turns items, messages and events into what pages and the JSON API show: times, labels, summaries."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from db.models import Contact, Event, Item, Message
from review.i18n import DEFAULT, N_, current_language, gettext, pgettext
from review.thresholds import ReviewThresholds

MAX_SUMMARY = 500

# The codes pages show by name: categories, item statuses and decisions, message statuses, screening reasons.
# The English names are what label() makes of the code; pages show them translated (label_text).
LABELS = {
    "issue": N_("Issue"), "change_request": N_("Change request"), "question": N_("Question"),
    "feedback": N_("Feedback"),
    "new": N_("New"), "in_progress": N_("In progress"), "resolved": N_("Resolved"), "closed": N_("Closed"),
    "answered": N_("Answered"), "acknowledged": N_("Acknowledged"), "impact_assessed": N_("Impact assessed"),
    "awaiting_approval": N_("Awaiting approval"), "approved": N_("Approved"), "rejected": N_("Rejected"),
    "implemented": N_("Implemented"),
    "processed": N_("Processed"), "quarantined": N_("Quarantined"), "retry": N_("Retry requested"),
    "ignored": N_("Ignored"),
    "bounce": N_("Bounce"), "auto_submitted": N_("Auto submitted"), "list_mail": N_("List mail"),
    "from_us": N_("From us"), "no_reply_sender": N_("No reply sender"), "oversize": N_("Oversize"),
}


def utc_text(value: datetime | None, zone: bool = True) -> str:
    """VALUE as "2026-11-23 08:15 UTC" (without " UTC" when not ZONE), or an em dash for none."""
    if value is None:
        return "\u2014"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC" if zone else "%Y-%m-%d %H:%M")


def breakable_email(address: str) -> Markup:
    """ADDRESS escaped, with a line-break opportunity before the @ (narrow table cells)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return escape(address)
    return escape(local) + Markup("<wbr>@") + escape(domain)


def iso_utc(value: datetime | None) -> str | None:
    """VALUE as ISO 8601 in UTC with a Z suffix; None stays None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def percent(value: float | None) -> str:
    """A ratio 0..1 as a whole percentage, "82%"."""
    if value is None:
        return "\u2014"
    return f"{value * 100:.0f}%"


# Calibrated confidence from which an item's category is called "high"; from the review threshold up to it
# "medium", below the threshold "low" (the item is flagged for review). A percentage alone read "100%" for
# most items and told a PM nothing.
HIGH_CONFIDENCE = 0.95
BANDS = {"high": N_("High"), "medium": N_("Medium"), "low": N_("Low")}


def confidence_band(value: float | None, threshold: float) -> str:
    """A calibrated confidence as "high", "medium" or "low" (below THRESHOLD, the review threshold); "" for
    none."""
    if value is None:
        return ""
    if value < threshold:
        return "low"
    return "high" if value >= max(HIGH_CONFIDENCE, threshold) else "medium"


def item_band(item: Item, thresholds: ReviewThresholds) -> str:
    """ITEM's confidence band, cut at the review threshold it was flagged by (THRESHOLDS)."""
    return confidence_band(item.confidence, thresholds.for_item(item.model_version, item.lang))


def band_text(band: str) -> str:
    """A confidence band by name in the request's language."""
    return gettext(BANDS[band]) if band in BANDS else ""


def exact_percent(value: float | None) -> str:
    """A ratio 0..1 as a percentage to a tenth, "98.5%": a rounded "100%" would claim certainty."""
    if value is None:
        return "\u2014"
    return f"{min(value * 100, 99.9) if value < 1 else 100:.1f}%"


def file_size(size: int | None) -> str:
    """A byte count for people: "512 B", "14.2 KB", "3.1 MB"."""
    if size is None:
        return "\u2014"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def label(value: str | None) -> str:
    """A code such as "change_request" as "Change request"."""
    if not value:
        return "\u2014"
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


def label_text(value: str | None) -> str:
    """label(VALUE) in the request's language, for pages; codes the app does not know stay as label() has
    them."""
    if value in LABELS:
        return gettext(LABELS[value])
    return label(value)


def code_text(value: str | None) -> str:
    """A code shown as it is in English (a screening reason such as "auto_submitted"), by name in other
    languages."""
    if current_language() == DEFAULT:
        return value or ""
    return label_text(value)


def event_label(kind: str | None) -> str:
    """The name of an event KIND in the request's language (an event, not a status: "acknowledged" is the
    acknowledgment sent, not a feedback item's status)."""
    names = {
        "classified": pgettext("event", "Classified"), "corrected": pgettext("event", "Corrected"),
        "confirmed": pgettext("event", "Confirmed"), "acknowledged": pgettext("event", "Acknowledged"),
        "ack_suppressed": pgettext("event", "Ack suppressed"),
        "delivery_failed": pgettext("event", "Delivery failed"),
        "message_received": pgettext("event", "Message received"),
        "auto_reply_received": pgettext("event", "Auto reply received"), "note": pgettext("event", "Note"),
        "status_changed": pgettext("event", "Status changed"), "assigned": pgettext("event", "Assigned"),
        "replied": pgettext("event", "Replied"), "assessed": pgettext("event", "Assessed"),
        "assessment_sent": pgettext("event", "Assessment sent"), "approved": pgettext("event", "Approved"),
        "rejected": pgettext("event", "Rejected"), "follow_up": pgettext("event", "Follow up"),
        "sla_warning": pgettext("event", "SLA warning"),
        "thread_claim": pgettext("event", "Thread claimed"),
        "thread_claim_refused": pgettext("event", "Thread claim refused"),
    }
    return names.get(kind or "", label(kind))


def actor_text(actor: str | None) -> str:
    """Who did something: a person's email, or the app itself ("system") by name in the request's language."""
    if actor == "system":
        return gettext("system")
    return actor or ""


def item_url(ref: str) -> str:
    """The path of the item page for REF."""
    return "/items/" + quote(ref, safe="")


def contact_text(contact: Contact | None) -> str:
    """"Name <email>", or just the email, or an em dash."""
    if contact is None:
        return "\u2014"
    return f"{contact.name} <{contact.email}>" if contact.name else contact.email


def sender_text(message: Message) -> str:
    """The message's sender as "Name <email>"."""
    if message.sender_name and message.sender:
        return f"{message.sender_name} <{message.sender}>"
    return message.sender or message.sender_name or "\u2014"


def thread(messages: Iterable[Message]) -> list[Message]:
    """MESSAGES in the order they arrived."""
    return sorted(messages, key=lambda m: (m.received_at, m.id))


def body_text(message: Message) -> str:
    """The text to show for a message: the full plain-text body, else the client's new text."""
    return message.body_text or message.new_text


def latest_event(events: Sequence[Event], kind: str) -> Event | None:
    """The newest event of KIND among EVENTS."""
    found = [e for e in events if e.kind == kind]
    return max(found, key=lambda e: (e.created_at, e.id)) if found else None


def scores(event: Event | None) -> list[tuple[str, float]]:
    """The classifier's scores from a "classified" event, highest first."""
    if event is None or not isinstance(event.data, dict):
        return []
    raw = event.data.get("scores")
    if not isinstance(raw, dict):
        return []
    pairs = [(str(k), float(v)) for k, v in raw.items() if isinstance(v, (int, float))]
    return sorted(pairs, key=lambda kv: (-kv[1], kv[0]))


def history(events: Iterable[Event]) -> list[Event]:
    """EVENTS oldest first."""
    return sorted(events, key=lambda e: (e.created_at, e.id))


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "\u2026"


def _english(message: str, **values: Any) -> str:
    return message % values if values else message


def _same(code: Any) -> str:
    return str(code)


def event_summary(kind: str, data: Any) -> str:
    """One readable line about an event's DATA, in English (the JSON API's summary)."""
    return _summary(kind, data, _english, label, _same)


def event_summary_text(kind: str, data: Any) -> str:
    """event_summary() in the request's language, for pages (the data itself stays as recorded)."""
    return _summary(kind, data, gettext, label_text, code_text)


def _summary(kind: str, data: Any, _: Callable[..., str], name: Callable[[Any], str],
             code: Callable[[Any], str]) -> str:
    """The summary with _ as gettext, NAME for categories and statuses and CODE for screening reasons."""
    if not isinstance(data, dict):
        return _clip(_scalar(data)) if data else ""
    d = data
    if kind == "classified":
        values = {"category": name(d.get("label")), "confidence": percent(d.get("confidence")),
                  "model": d.get("model_version")}
        if d.get("model_version"):
            if d.get("needs_review"):
                return _("%(category)s at %(confidence)s, model %(model)s, flagged for review", **values)
            return _("%(category)s at %(confidence)s, model %(model)s", **values)
        if d.get("needs_review"):
            return _("%(category)s at %(confidence)s, flagged for review", **values)
        return _("%(category)s at %(confidence)s", **values)
    if kind == "corrected":
        return _("Category changed from %(old)s to %(new)s", old=name(d.get("from")), new=name(d.get("to")))
    if kind == "confirmed":
        return _("Category %(category)s confirmed", category=name(d.get("category")))
    if kind == "acknowledged":
        return _("Acknowledgment sent to %(to)s", to=d.get("to", "?"))
    if kind == "ack_suppressed":
        reason = d.get("reason", "")
        if reason == "rate_limit":
            return _("Not acknowledged: %(to)s reached the limit of %(limit)s acknowledgments per hour",
                     to=d.get("to", "?"), limit=d.get("limit_per_hour", "?"))
        if reason == "non_ascii_address":
            return _("Not acknowledged: %(to)s is an internationalized address; reply by hand",
                     to=d.get("to", "?"))
        if not reason:
            return _("Not acknowledged: no reason recorded")
        return _clip(_("Not acknowledged: %(reason)s", reason=code(reason)))
    if kind == "delivery_failed":
        return _clip(_("Acknowledgment to %(to)s failed: %(error)s", to=d.get("to", "?"),
                       error=d.get("error", "")))
    if kind == "message_received":
        return _("Follow-up from %(sender)s", sender=d.get("from", "?"))
    if kind == "auto_reply_received":
        if d.get("screening"):
            return _("Automatic reply from %(sender)s (%(screening)s)", sender=d.get("from", "?"),
                     screening=code(d["screening"]))
        return _("Automatic reply from %(sender)s (screened)", sender=d.get("from", "?"))
    if kind == "note":
        return _clip(_scalar(d.get("text", "")))
    if kind == "status_changed":
        return _("Status changed from %(old)s to %(new)s", old=name(d.get("from")), new=name(d.get("to")))
    if kind == "assigned":
        return _("Assigned to %(person)s", person=d["to"]) if d.get("to") else _("Unassigned")
    if kind == "replied":
        if d.get("cc"):
            return _clip(_("Reply sent to %(to)s, copied to %(cc)s", to=d.get("to", "?"),
                           cc=_addresses(d["cc"])))
        return _("Reply sent to %(to)s", to=d.get("to", "?"))
    if kind == "assessed":
        return _clip(_("Impact assessed: cost %(cost)s, schedule %(schedule)s",
                       cost=d.get("cost") or "\u2014", schedule=d.get("schedule") or "\u2014"))
    if kind == "assessment_sent":
        if d.get("cc"):
            return _clip(_("Assessment sent to %(to)s for approval, copied to %(cc)s", to=d.get("to", "?"),
                           cc=_addresses(d["cc"])))
        return _("Assessment sent to %(to)s for approval", to=d.get("to", "?"))
    if kind == "thread_claim":
        return _("The sender named the thread of %(ref)s but is not one of its participants: kept apart as a "
                 "new item", ref=d.get("ref", "?"))
    if kind == "thread_claim_refused":
        return _("%(sender)s named this thread but is not one of its participants: kept apart as %(ref)s",
                 sender=d.get("from") or "?", ref=d.get("ref", "?"))
    if kind in ("approved", "rejected"):
        quoted = bool(d.get("excerpt"))
        excerpt = _scalar(d["excerpt"]).strip() if quoted else ""
        if kind == "approved":
            text = (_("Change approved: \u201c%(excerpt)s\u201d", excerpt=excerpt) if quoted
                    else _("Change approved (recorded by a PM)"))
        else:
            text = (_("Change rejected: \u201c%(excerpt)s\u201d", excerpt=excerpt) if quoted
                    else _("Change rejected (recorded by a PM)"))
        return _clip(text)
    if kind == "follow_up":
        return _("Flagged for follow-up") if d.get("on") else _("Follow-up cleared")
    if kind == "sla_warning":
        return _sla_warning(d, _)
    return _clip("; ".join(f"{k}: {_scalar(v)}" for k, v in sorted(d.items())))


def _addresses(value: Any) -> str:
    """A list of addresses recorded in an event, as one line."""
    return ", ".join(map(str, value)) if isinstance(value, list) else _scalar(value)


_WARNED_CLOCKS = {"acknowledge": N_("acknowledgment"), "first_response": N_("first response"),
                  "resolution": N_("resolution")}
_WARNED_STATES = {"at_risk": N_("at risk"), "breached": N_("breached")}


def _sla_warning(d: dict[str, Any], _: Callable[..., str]) -> str:
    clock = d.get("clock", "")
    state = d.get("state", "")
    values = {"clock": _(_WARNED_CLOCKS[clock]) if clock in _WARNED_CLOCKS else str(clock),
              "state": _(_WARNED_STATES[state]) if state in _WARNED_STATES else str(state)}
    if d.get("suppressed") == "warned_at_risk":
        return _("SLA %(clock)s now %(state)s; its PMs were warned when it was at risk", **values)
    if d.get("suppressed"):
        return _("SLA warning for %(clock)s (%(state)s) not emailed: first checked long after the item "
                 "arrived",
                 **values)
    if d.get("to"):
        return _clip(_("SLA warning: %(clock)s %(state)s, emailed to %(to)s", to=", ".join(map(str, d["to"])),
                       **values))
    return _("SLA warning: %(clock)s %(state)s; nobody to email", **values)
