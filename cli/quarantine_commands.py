"""`intake quarantine ...`: list, show, retry and delete the messages the worker could not read or store."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import unicodedata
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from cli.shell import UserError, open_factory
from intake.config import Config

log = logging.getLogger("intake.quarantine")
MAX_ID = 2**31 - 1  # message ids are 32-bit integers
HEADER_LINES = 40
LINE_CUT = 200  # an Outlook file or other binary "header" has no line breaks for kilobytes
SUBJECT_CUT, REASON_CUT, SENDER_CUT = 40, 60, 32
NO_VALUE = "-"


def _message_id(text: str) -> int:
    """A message number as lists print it ("12" or "#12"); argparse reports anything else."""
    digits = text[1:] if text.startswith("#") else text
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"expected a message number such as 12, not {text!r}")
    return int(digits)


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}")
    return int(text)


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {text!r}")
    return value


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _printable(text: str, layout: bool = False) -> str:
    """TEXT safe for a terminal: control and format characters (escape sequences, bidi overrides) escaped,
    since sender, subject and reason come from whoever sent the mail. LAYOUT: keep line breaks and tabs
    (free text; in a table they would break the columns)."""
    return "".join(ch if ch.isprintable() or (layout and ch in "\n\t") else _escaped(ch) for ch in text)


def _width(text: str) -> int:
    """Terminal columns TEXT takes: Chinese and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, columns: int) -> str:
    """TEXT cut to COLUMNS terminal columns, an ellipsis marking the cut."""
    if _width(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        w = _width(ch)
        if used + w > columns - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "\u2026"


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


def _utc(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return NO_VALUE
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _position(entry: Any) -> str:
    return f"{entry.mailbox or NO_VALUE}:{entry.uid if entry.uid is not None else NO_VALUE}"


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _entry_json(entry: Any) -> dict[str, Any]:
    out = asdict(entry)
    out["received_at"] = entry.received_at.astimezone(timezone.utc).isoformat() if entry.received_at else None
    return out


def cmd_quarantine_list(cfg: Config, args: argparse.Namespace) -> int:
    from db.quarantine import count_quarantined, quarantined
    from review.present import file_size

    with open_factory(cfg, readonly=True)() as session:
        total = count_quarantined(session)
        entries = quarantined(session, args.limit, args.offset) if total else []
    if args.format == "json":
        for entry in entries:
            print(json.dumps(_entry_json(entry), ensure_ascii=False))
        if not total:
            print("no quarantined messages", file=sys.stderr)
        return 0
    if not total:
        print("no quarantined messages")
        return 0
    head = ("ID", "RECEIVED (UTC)", "MAILBOX:UID", "SIZE", "SENDER", "SUBJECT", "REASON", "")
    rows = [(str(e.id), _utc(e.received_at), _printable(_position(e)), file_size(e.size),
             _cut(_printable(e.sender), SENDER_CUT) or NO_VALUE,
             _cut(_printable(e.subject), SUBJECT_CUT) or NO_VALUE,
             _cut(_printable(_first_line(e.error)), REASON_CUT) or NO_VALUE,
             "retry requested" if e.retry_requested else "") for e in entries]
    widths = [max(_width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows] if rows else []:
        print("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
    last = args.offset + len(entries)
    counted = f"{total} quarantined message" + ("s" if total != 1 else "")
    if not entries:
        print(f"{counted}; none after --offset {args.offset}")
    elif len(entries) < total:
        print(f"showing {args.offset + 1}-{last} of {counted}"
              + (f"; more with --offset {last}" if last < total
                                                                    else ""))
    else:
        print(counted)
    return 0


def _header_lines(raw: bytes, limit: int = HEADER_LINES) -> tuple[list[str], int]:
    """The first LIMIT lines of RAW's header block, decoded leniently, and how many lines the block has."""
    ends = [i for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if (i := raw.find(sep)) >= 0]
    head = raw[:min(ends)] if ends else raw
    lines = head.replace(b"\r\n", b"\n").split(b"\n") if head else []
    # Undecodable bytes are shown as \xNN, so what the header really holds stays visible.
    shown = [_cut(_printable(line.decode("utf-8", "backslashreplace"), layout=True), LINE_CUT)
             for line in lines[:limit]]
    return shown, len(lines)


def _found(session: Any, message_id: int, lock: bool = False) -> Any:
    """The quarantined message MESSAGE_ID and its mailbox's name; UserError when there is none."""
    from db.quarantine import quarantined_message

    found = quarantined_message(session, message_id, lock)
    if found is None:
        raise UserError(f"quarantine: no quarantined message {message_id}")
    return found


def cmd_quarantine_show(cfg: Config, args: argparse.Namespace) -> int:
    from db.quarantine import entry_of

    with open_factory(cfg, readonly=True)() as session:
        row, mailbox = _found(session, args.id)
        entry, raw = entry_of(row, mailbox), bytes(row.raw or b"")
    if args.raw or args.out:
        if args.out:
            try:
                with open(args.out, "wb") as f:
                    f.write(raw)
            except OSError as exc:
                raise UserError(f"--out: cannot write {args.out}: {exc.strerror}") from None
            print(f"{len(raw)} bytes of message {entry.id} written to {args.out}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
        return 0
    facts = [
        ("id", str(entry.id)),
        ("status", "quarantined, retry requested" if entry.retry_requested else "quarantined"),
        ("mailbox", entry.mailbox or NO_VALUE),
        ("uidvalidity", NO_VALUE if entry.uidvalidity is None else str(entry.uidvalidity)),
        ("uid", NO_VALUE if entry.uid is None else str(entry.uid)),
        ("message-id", entry.message_id or NO_VALUE),
        ("sender", entry.sender or NO_VALUE),
        ("subject", entry.subject or NO_VALUE),
        ("received", _utc(entry.received_at, seconds=True) + " UTC"),
        ("size", f"{entry.size} bytes" + (f" ({len(raw)} bytes stored)" if len(raw) != entry.size else "")),
    ]
    for name, value in facts:
        print(f"{name + ':':<13}{_printable(value)}")
    print("reason:")
    for line in _printable(entry.error or NO_VALUE, layout=True).splitlines() or [NO_VALUE]:
        print(f"  {line}")
    lines, total = _header_lines(raw)
    print(f"header ({f'first {len(lines)} of {total}' if total > len(lines) else total} lines):")
    for line in lines:
        print(f"  {line}")
    if not lines:
        print(f"  {NO_VALUE}")
    return 0


def _outcome_line(outcome: Any) -> str:
    n = f"#{outcome.message}"
    if outcome.kind == "new":
        ack = "acknowledgment queued" if outcome.ack_queued else "no acknowledgment"
        return f"{n}: new item {outcome.ref}, {ack}"
    if outcome.kind == "follow_up":
        return f"{n}: follow-up to {outcome.ref}"
    if outcome.kind == "recorded":
        return f"{n}: recorded without an item (an automatic message, not acknowledged)"
    if outcome.kind == "duplicate":
        return f"{n}: already stored; the quarantined copy is removed"
    if outcome.kind == "quarantined":
        return f"{n}: still quarantined: {_cut(_printable(_first_line(outcome.error)), LINE_CUT)}"
    return f"{n}: not in quarantine"


def cmd_quarantine_retry(cfg: Config, args: argparse.Namespace) -> int:
    from db.quarantine import quarantined_ids

    factory = open_factory(cfg)
    with factory() as session:
        kept = set(quarantined_ids(session))
    if args.all:
        ids = sorted(kept)
        if not ids:
            print("no quarantined messages to retry")
            return 0
    else:
        ids = list(dict.fromkeys(args.ids))  # once each, in the order given
    # Loading the classifier takes seconds: only when there is something to run through it.
    todo = [i for i in ids if i in kept]
    done: dict[int, Any] = {}
    if todo:
        from classifiers import load_classifier
        from intake.quarantine import retry

        done = {o.message: o for o in retry(factory, cfg, todo,
                                            load_classifier(cfg.classifier.model_dir or None))}
    outcomes = [done.get(i) for i in ids]
    for message_id, outcome in zip(ids, outcomes, strict=True):
        print(_outcome_line(outcome) if outcome is not None else f"#{message_id}: not in quarantine")
    if not args.no_send and any(o is not None and o.ack_queued for o in outcomes):
        from db.claims import worker_name
        from intake.duties import smtp_settings
        from responders.sender import drain

        sent = drain(factory, smtp_settings(cfg), worker_name())
        print(f"sent {sent.sent}" + (f"; the rest stays in the outbox for the worker: {sent.error}"
                                     if sent.error
                                     else ""), file=sys.stderr)
    return 1 if any(o is not None and o.kind == "quarantined" for o in outcomes) else 0


def cmd_quarantine_delete(cfg: Config, args: argparse.Namespace) -> int:
    from db.quarantine import delete_quarantined

    with open_factory(cfg).begin() as session:
        gone = delete_quarantined(session, args.id)
        if gone is None:
            raise UserError(f"quarantine: no quarantined message {args.id}")
    log.warning("event=quarantine_deleted message=%s mailbox=%s uid=%s", gone.id, gone.mailbox, gone.uid)
    print(f"deleted #{gone.id} ({_printable(_position(gone))}, {gone.size} bytes): sender "
          f"{_printable(gone.sender) or NO_VALUE}, subject {_printable(gone.subject) or NO_VALUE}")
    return 0


def add_quarantine_commands(sub: Any) -> None:
    """Adds `intake quarantine` and its subcommands to SUB."""
    q = sub.add_parser("quarantine", help="messages the worker could not read or store",
                       description="Messages the worker could not read or store are kept with their raw "
                       "bytes and the reason. List and inspect them, run them again through the current code "
                       "(after an upgrade that fixes the reason), or delete them.")
    cmds = q.add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")
    ls = cmds.add_parser("list", help="list quarantined messages, newest first",
                         description="List quarantined messages, newest first.")
    ls.add_argument("--limit", type=_positive, default=50, metavar="N",
                    help="at most N messages (default: 50)")
    ls.add_argument("--offset", type=_count, default=0, metavar="N", help="skip the N newest (default: 0)")
    ls.add_argument("--format", choices=["text", "json"], default="text",
                    help="a table, or one JSON object per line (default: text)")
    ls.set_defaults(func=cmd_quarantine_list)
    show = cmds.add_parser("show", help="show one quarantined message: every field, the reason, the header",
                           description="Show one quarantined message: every field, the reason in full and "
                           f"the first {HEADER_LINES} lines of its header.")
    show.add_argument("id", type=_message_id, metavar="ID", help="the message's number, as the list shows it")
    show.add_argument("--raw", action="store_true", help="write the exact raw bytes to stdout instead")
    show.add_argument("--out", metavar="FILE", help="write the exact raw bytes to FILE (implies --raw)")
    show.set_defaults(func=cmd_quarantine_show)
    retry = cmds.add_parser("retry", help="run quarantined messages again through the current code, once",
                            usage="%(prog)s [-h] [--no-send] (ID [ID ...] | --all)",
                            description="Run quarantined messages again through the current code: each "
                            "becomes an item with its acknowledgment, a follow-up or a record, or stays "
                            "quarantined with the new reason. Exit code 1 when some stay quarantined.")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=_message_id, default=[], metavar="ID",
                       help="the messages' numbers")
    which.add_argument("--all", action="store_true", help="every quarantined message")
    retry.add_argument("--no-send", action="store_true",
                       help="only queue acknowledgments; the worker sends them")
    retry.set_defaults(func=cmd_quarantine_retry)
    delete = cmds.add_parser("delete", help="delete a quarantined message with its raw bytes",
                             description="Delete a quarantined message with its raw bytes, for good.")
    delete.add_argument("id", type=_message_id, metavar="ID",
                        help="the message's number, as the list shows it")
    delete.set_defaults(func=cmd_quarantine_delete)
