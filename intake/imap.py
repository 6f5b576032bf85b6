"""Talks IMAP to one mailbox: connect with TLS checks, UID-based fetch in batches, IDLE, post-commit
actions."""
from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timezone

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from intake.config import MailboxConfig
from intake.values import RawMail

log = logging.getLogger("intake.imap")

IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute timeout
IMAP_ERRORS = (IMAPClientError, OSError, ssl.SSLError, EOFError)
# While mail keeps coming, look again every BUSY_POLL_SECONDS for BUSY_SECONDS after the last new message
# before idling: servers hold IDLE news back (Dovecot batches its notifications for half a second), which
# under a steady stream of mail was most of the time from delivery to acknowledgment.
BUSY_SECONDS = 1.0
BUSY_POLL_SECONDS = 0.1


def quiet_protocol_log(client: IMAPClient) -> None:
    """Stops imaplib from writing its protocol log when nobody reads it.

    IMAPClient turns imaplib's debug output on (level 5) and sends it to the "imapclient.imaplib" logger;
    imaplib then formats the repr of every response, whole messages included, before the logger drops it. That
    was a fifth of the worker's time on a backlog. With that logger enabled for DEBUG, the protocol log stays
    on.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0  # noqa: SLF001 - the only switch there is


class MailboxClient:
    """One connection to one configured mailbox folder."""

    def __init__(self, cfg: MailboxConfig, password: str, timeout: float = 60.0) -> None:
        self.cfg = cfg
        self.password = password
        self.timeout = timeout
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        # The highest UID handed out for processing: mail above it is new (checked right before IDLE).
        self.seen_uid = 0
        self.last_mail = float("-inf")  # time.monotonic() when new mail was last found
        # Called right before each batch is handed out; raises to stop (a worker that lost the mailbox's
        # lease).
        self.guard: Callable[[], None] | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cfg.ca_file or None)

    def connect(self) -> int:
        """Logs in and selects the folder; returns its UIDVALIDITY."""
        cfg = self.cfg
        if cfg.security == "none":
            log.warning("event=insecure_imap mailbox=%s host=%s detail=\"security is none: password and mail "
                        "travel unencrypted\"", cfg.name, cfg.host)
        client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "ssl",
                            ssl_context=self._ssl_context() if cfg.security == "ssl" else None,
                            timeout=self.timeout)
        quiet_protocol_log(client)
        try:
            if cfg.security == "starttls":
                client.starttls(self._ssl_context())
            if cfg.auth == "xoauth2":
                # Read on every connect: access tokens live about an hour.
                client.oauth2_login(cfg.username, cfg.token.read())
            else:
                client.login(cfg.username, self.password)
            client.normalise_times = False
            if cfg.on_processed == "move" and not client.folder_exists(cfg.move_to):
                client.create_folder(cfg.move_to)
                log.info("event=folder_created mailbox=%s folder=%s", cfg.name, cfg.move_to)
            info = client.select_folder(cfg.folder)
        except BaseException:
            _quietly_close(client)
            raise
        self.client = client
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        return self.uidvalidity

    @property
    def has_idle(self) -> bool:
        return bool(self.client and self.cfg.idle and self.client.has_capability("IDLE"))

    def pending_uids(self, last_uid: int) -> list[int]:
        """UIDs above LAST_UID, oldest first."""
        assert self.client is not None
        # "N:*" always matches the newest message, even when its UID is below N.
        uids = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(u for u in uids if u > last_uid)

    def fetch(self, uids: list[int], max_bytes: int, meta: dict[int, dict[bytes, object]] | None = None
              ) -> list[RawMail]:
        """The messages UIDS in one round trip each for sizes (unless META has them) and bodies; oversize ones
        by their headers only."""
        return self._bodies(uids, self._sizes(uids) if meta is None else meta, max_bytes)

    def _sizes(self, uids: list[int]) -> dict[int, dict[bytes, object]]:
        assert self.client is not None
        return self.client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"]) if uids else {}

    def _bodies(self, uids: list[int], meta: dict[int, dict[bytes, object]], max_bytes: int) -> list[RawMail]:
        assert self.client is not None
        if not uids:
            return []
        small = [u for u in uids if u in meta and _size(meta[u]) <= max_bytes]
        big = [u for u in uids if u in meta and u not in small]
        refused: dict[int, str] = {}
        bodies = self._fetch_each(small, "BODY.PEEK[]", refused)
        heads = self._fetch_each(big, "BODY.PEEK[HEADER]", refused)
        passing = [reason for reason in refused.values() if _transient(reason)]
        if passing or (refused and not bodies and not heads and not self._hands_over_another(set(refused))):
            # A refusal the server calls passing, or one of every message: the server is unwell, not one
            # message bad, and the batch is tried again later. Only a message refused for good while another's
            # content is handed over is set aside (below), so neither can a corrupt message stop its mailbox
            # nor a passing server fault quarantine a backlog.
            raise IMAPClientError((passing or list(refused.values()))[0])
        out = []
        for uid in uids:
            if uid not in meta:
                continue  # expunged between SEARCH and FETCH
            date = meta[uid].get(b"INTERNALDATE")
            if date is not None and date.tzinfo is not None:  # type: ignore[attr-defined]
                date = date.astimezone(timezone.utc)  # type: ignore[attr-defined]
            elif date is not None:
                date = date.replace(tzinfo=timezone.utc)  # type: ignore[attr-defined]
            size = _size(meta[uid])
            content = _content(bodies, heads, uid)
            if uid in refused:
                if not self.exists(uid):
                    continue
                out.append(RawMail(self.cfg.name, self.uidvalidity, uid, b"", date, size,
                                   unreadable=REFUSED.format(refused[uid][:300])))
                log.warning("event=fetch_refused mailbox=%s uid=%s error=%r", self.cfg.name, uid,
                            refused[uid])
                continue
            if content is None:
                # Left out of the answer: asked for once more alone, then told apart from an expunge. Skipping
                # it would lose it for good, since a later UID of the batch moves the mailbox past it.
                content = self._refetch(uid, header_only=size > max_bytes)
            if content is None:
                if not self.exists(uid):
                    continue  # expunged between the two FETCHes
                out.append(RawMail(self.cfg.name, self.uidvalidity, uid, b"", date, size,
                                   unreadable=UNREADABLE))
                log.warning("event=fetch_without_content mailbox=%s uid=%s", self.cfg.name, uid)
                continue
            raw, truncated = content
            out.append(RawMail(self.cfg.name, self.uidvalidity, uid, raw, date, size, truncated=truncated))
        return out

    def _fetch_each(self, uids: list[int], item: str,
                    refused: dict[int, str]) -> dict[int, dict[bytes, object]]:
        """ITEM of UIDS in one FETCH; when the server refuses it, each UID on its own, those it refuses again
        noted in REFUSED with the server's words."""
        if not uids:
            return {}
        answer, error = self._asked(uids, [item])
        if error is None:
            return answer
        if len(uids) == 1:
            refused[uids[0]] = error
            return {}
        for uid in uids:
            one, error = self._asked([uid], [item])
            if error is None:
                answer.update(one)
            else:
                refused[uid] = error
        return answer

    def _asked(self, uids: list[int], items: list[str]) -> tuple[dict[int, dict[bytes, object]], str | None]:
        """FETCH ITEMS of UIDS: (the answer, None), or ({}, the server's words) when it refuses."""
        assert self.client is not None
        try:
            return self.client.fetch(uids, items), None
        except IMAPClientAbortError:
            raise  # the connection is gone: nothing to learn about single messages
        except IMAPClientError as exc:
            return {}, str(exc)

    def _hands_over_another(self, refused: set[int]) -> bool:
        """Whether the server hands over content of a message of the folder outside REFUSED (the newest one's
        first body byte: read from the message itself, as the refused FETCHes were, not from an index a
        header could come from)."""
        assert self.client is not None
        others = [u for u in self.client.search(["ALL"]) if u not in refused]
        if not others:
            return False
        answer, _ = self._asked([max(others)], ["BODY.PEEK[]<0.1>"])
        return any(key.startswith(b"BODY[]") for key in answer.get(max(others), {}))

    def _refetch(self, uid: int, header_only: bool) -> tuple[bytes, bool] | None:
        """UID's content asked for on its own: (bytes, only the header), or None when the answer still lacks
        it."""
        assert self.client is not None
        answer = self.client.fetch([uid], ["BODY.PEEK[HEADER]" if header_only else "BODY.PEEK[]"])
        return _content({} if header_only else answer, answer if header_only else {}, uid)

    def exists(self, uid: int) -> bool:
        """Whether the selected folder still holds UID."""
        assert self.client is not None
        return uid in self.client.search(["UID", str(uid)])

    def batches(self, last_uid: int, max_bytes: int) -> Iterator[list[RawMail]]:
        """Pending messages in batches of at most the mailbox's batch size and batch bytes (a message larger
        than that alone is a batch of its own), so that a backlog of large mail is read with bounded
        memory."""
        uids = self.pending_uids(last_uid)
        self.seen_uid = max([self.seen_uid, last_uid, *uids])
        if uids:
            self.last_mail = time.monotonic()
        size, budget = self.cfg.batch_size, self.cfg.batch_bytes
        for start in range(0, len(uids), size):
            chunk = uids[start:start + size]
            meta = self._sizes(chunk)
            group: list[int] = []
            total = 0
            for uid in chunk:
                # What is fetched of an oversize message is its header block alone.
                cost = min(_size(meta[uid]), max_bytes) if uid in meta else 0
                if group and total + cost > budget:
                    yield self.fetch(group, max_bytes, meta)
                    group, total = [], 0
                group.append(uid)
                total += cost
            if group:
                yield self.fetch(group, max_bytes, meta)

    def after_commit(self, uids: list[int]) -> None:
        """Applies the configured action to committed messages: keep, mark seen, or move."""
        assert self.client is not None
        if not uids or self.cfg.on_processed == "keep":
            return
        if self.cfg.on_processed == "seen":
            self.client.add_flags(uids, [b"\\Seen"], silent=True)
        elif self.client.has_capability("MOVE"):
            self.client.move(uids, self.cfg.move_to)
        else:
            self.client.copy(uids, self.cfg.move_to)
            self.client.delete_messages(uids, silent=True)
            self.client.uid_expunge(uids) if self.client.has_capability("UIDPLUS") else self.client.expunge()

    def catch_up(self, last_uid: int, untouched: frozenset[int] = frozenset()) -> int:
        """Applies the processed-mail action to stored messages a crash left untouched, except UNTOUCHED (the
        messages the server would not hand over, left as they are); returns how many."""
        assert self.client is not None
        if self.cfg.on_processed == "keep" or last_uid < 1:
            return 0
        criteria = ["UID", f"1:{last_uid}"] + (["UNSEEN"] if self.cfg.on_processed == "seen" else [])
        uids = [u for u in self.client.search(criteria) if u <= last_uid and u not in untouched]
        self.after_commit(uids)
        return len(uids)

    def has_pending(self) -> bool:
        """Whether mail above the last UID handed out is waiting (one UID SEARCH, and what came with its
        answer)."""
        self._announced()  # what earlier commands announced, the SEARCH sees
        if self.pending_uids(self.seen_uid):
            return True
        # Mail arriving while the SEARCH runs is announced (EXISTS) in its answer but may be missing from its
        # result.
        return self._announced()

    def _announced(self) -> bool:
        """Whether the server announced new mail (EXISTS) in the answers to commands since the last call."""
        assert self.client is not None
        # imapclient offers no public record of unsolicited responses; imaplib keeps them by name until taken.
        return self.client._imap.untagged_responses.pop("EXISTS", None) is not None

    def wait_for_mail(self, seconds: float, stop: threading.Event) -> bool:
        """Waits up to SECONDS for new mail (IDLE, or a plain sleep when the server lacks it); True when some
        came."""
        if not self.has_idle:
            stop.wait(seconds)
            return False
        assert self.client is not None
        # Mail that arrived during the last sync was announced (EXISTS) in the answer to one of its commands,
        # which imapclient does not keep; IDLE then reports nothing new. So look before idling.
        if self.has_pending():
            log.debug("event=mail_pending_before_idle mailbox=%s", self.cfg.name)
            return True
        while time.monotonic() - self.last_mail < BUSY_SECONDS and not stop.is_set():
            stop.wait(BUSY_POLL_SECONDS)
            if self.has_pending():
                return True
        self.client.idle()
        deadline = time.monotonic() + min(seconds, IDLE_RENEW_SECONDS)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                responses = self.client.idle_check(timeout=0.5)
                for response in responses:
                    if len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
                        return True
                if not responses and _peer_closed(self.client.socket()):
                    # imapclient swallows EOF during IDLE; without this a dead server looks idle forever.
                    raise ConnectionResetError("the IMAP server closed the connection")
            return False
        finally:
            self.client.idle_done()

    def close(self) -> None:
        """Logs out, ignoring a connection that is already gone."""
        if self.client is not None:
            _quietly_close(self.client)
            self.client = None


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the other end closed SOCK, without consuming any data (TLS or not)."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        # The plain socket's recv: SSLSocket refuses MSG_PEEK, but a peek at the raw bytes is all we need.
        return socket.socket.recv(sock, 1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone; nothing to save
        try:
            client.shutdown()
        except Exception:
            pass


def _size(meta: dict[bytes, object]) -> int:
    return int(meta.get(b"RFC822.SIZE", 0) or 0)  # type: ignore[call-overload]


# Why a message the server would not hand over is quarantined: what a PM or admin reads in the record.
UNREADABLE = ("the IMAP server answered twice without this message's content; it was left in the mailbox "
              "untouched (copy it into the folder again to have it read)")


# RFC 5530 response codes of a refusal that passes (a busy or unavailable store, a limit), unlike a message
# the server cannot read ([SERVERBUG], [CORRUPTION]): the batch is tried again, the message not set aside.
TRANSIENT_CODES = ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[OVERQUOTA]")


def _transient(reason: str) -> bool:
    return any(code in reason.upper() for code in TRANSIENT_CODES)


REFUSED = ("the IMAP server refused to hand over this message ({}) while it handed over others; it was left "
           "in the mailbox untouched (repair it on the server or copy it into the folder again to have it "
           "read)")


def _content(bodies: dict[int, dict[bytes, object]], heads: dict[int, dict[bytes, object]], uid: int
             ) -> tuple[bytes, bool] | None:
    """UID's bytes from the FETCH answers, with whether they are its header alone; None when neither has
    them."""
    if uid in bodies and b"BODY[]" in bodies[uid]:
        return bytes(bodies[uid][b"BODY[]"]), False  # type: ignore[arg-type]
    if uid in heads and b"BODY[HEADER]" in heads[uid]:
        return bytes(heads[uid][b"BODY[HEADER]"] or b""), True  # type: ignore[arg-type]
    return None
