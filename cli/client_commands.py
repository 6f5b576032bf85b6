"""`intake client export|erase EMAIL` (a client's right to their data and to its erasure) and `intake purge`
(retention: raw messages of items closed long enough ago); each recorded in the audit log."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from cli.shell import UserError, open_factory
from intake.config import Config


def _actor() -> str:
    """Who ran the command, for the audit log: the system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_client_export(cfg: Config, args: argparse.Namespace) -> int:
    from db.audit import record
    from db.erasure import find_contact
    from reports.contact_export import NoSuchContact, write_contact_export

    out = Path(args.out or f"{args.email.strip().lower()}.zip")
    if out.exists():
        raise UserError(f"--out: {out} exists already; give a new file name")
    factory = open_factory(cfg)
    partial = out.with_name(f".{out.name}.partial")
    with factory.begin() as session:
        try:
            with open(partial, "wb") as f:
                counts = write_contact_export(session, args.email, f)
        except NoSuchContact:
            partial.unlink(missing_ok=True)
            raise UserError(f"client: no contact with the address {args.email!r}") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UserError(f"--out: cannot write {out}: {exc.strerror}") from None
        contact = find_contact(session, args.email)
        assert contact is not None
        record(session, _actor(), "export", {"contact": contact.id, **counts})
    partial.replace(out)
    print(f"{counts['items']} items, {counts['messages']} messages and {counts['sent']} mails sent to them "
          f"written to {out}", file=sys.stderr)
    return 0


def cmd_client_erase(cfg: Config, args: argparse.Namespace) -> int:
    from db.erasure import contact_item_ids, contact_message_ids, erase_contact, find_contact
    from db.types import utcnow

    factory = open_factory(cfg)
    if not args.yes:
        with factory() as session:
            contact = find_contact(session, args.email)
            if contact is None:
                raise UserError(f"client: no contact with the address {args.email!r}")
            items = contact_item_ids(session, contact.id)
            messages = contact_message_ids(session, contact.email, items)
        raise UserError("client erase: this removes for good the address, name and every text of "
                        f"{args.email} "
                        f"from {len(items)} items and {len(messages)} messages (the items stay, without "
                        "them, for the SLA figures); consider `intake client export` first, then add --yes")
    with factory.begin() as session:
        erased = erase_contact(session, args.email, _actor(), utcnow())
    if erased is None:
        raise UserError(f"client: no contact with the address {args.email!r}")
    print(f"contact #{erased.contact_id} erased: {erased.items} items kept without personal data, "
          f"{erased.messages} messages and {erased.outbox} outgoing mails emptied, {erased.attachments} "
          f"attachments deleted, {erased.events} history entries and {erased.mentions} other mentions "
          "cleaned; recorded in the audit log")
    return 0


def cmd_purge(cfg: Config, args: argparse.Namespace) -> int:
    from db.retention import purge, purge_preview
    from db.types import utcnow

    days = cfg.retention.raw_days if args.days is None else args.days
    if days <= 0:
        print("retention.raw_days is 0: raw messages are kept forever; nothing to purge", file=sys.stderr)
        return 0
    now = utcnow()
    cutoff = now - timedelta(days=days)
    factory = open_factory(cfg)
    if args.dry_run:
        with factory() as session:
            found = purge_preview(session, cutoff)
        verb = "would remove"
    else:
        with factory.begin() as session:
            found = purge(session, cutoff, now, _actor(), days)
        verb = "removed"
    print(f"items closed before {cutoff:%Y-%m-%d %H:%M} UTC ({days} days): {verb} the raw bytes of "
          f"{found.messages} "
          f"messages ({found.bytes:,} bytes) on {found.items} items, with the content of {found.attachments} "
          "attachments; items, texts and history stay")
    return 0


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of days, at least 1, not {text!r}")
    return int(text)


def add_client_commands(sub: Any) -> None:
    """Adds `intake client` and `intake purge` to SUB."""
    client = sub.add_parser("client", help="a client's data: export it, erase it",
                            description="What is held about one contact: everything, as a zip (a data access "
                            "request), or erased from every table (items stay for the SLA figures, without "
                            "personal data). Both are recorded in the audit log.")
    cmds = client.add_subparsers(dest="client_command", required=True, metavar="COMMAND")
    export = cmds.add_parser("export",
                             help="write everything held about EMAIL to a zip of JSON and .eml files")
    export.add_argument("email", metavar="EMAIL")
    export.add_argument("--out", metavar="FILE", help="the zip to write (default: EMAIL.zip)")
    export.set_defaults(func=cmd_client_export)
    erase = cmds.add_parser("erase", help="remove EMAIL's address, name and texts everywhere, for good")
    erase.add_argument("email", metavar="EMAIL")
    erase.add_argument("--yes", action="store_true", help="really erase (without it: say what would go)")
    erase.set_defaults(func=cmd_client_erase)
    purge = sub.add_parser("purge",
                           help="remove raw messages of items closed more than retention.raw_days ago",
                           description="Removes the raw bytes, and with them the attachments' content, of "
                           "the messages of items closed more than retention.raw_days days ago; items, texts "
                           "and history stay. Run it daily (cron or a systemd timer).")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    purge.add_argument("--days", type=_days, metavar="N", help="N days instead of retention.raw_days")
    purge.set_defaults(func=cmd_purge)
