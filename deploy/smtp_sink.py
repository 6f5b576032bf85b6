"""A receiving SMTP server (aiosmtpd) that records or spools every message it accepts."""

from __future__ import annotations

import argparse
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.mailserver import Service, free_port

REFUSAL = "451 4.3.0 Temporary failure: sink is refusing mail"


class Received(NamedTuple):
    """One accepted message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.sink.refuse:
            return REFUSAL
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse:
            return REFUSAL
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.sink._record(Received(envelope.mail_from or "", list(envelope.rcpt_tos), raw))
        return "250 Message accepted for delivery"


class SmtpSink(Service):
    """An SMTP server on ``host:port`` that accepts everything (unless ``refuse`` is set)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, spool: Path | None = None) -> None:
        """Prepare (but do not start) the sink; ``spool`` gets one ``.eml`` file per message."""
        self.host = host
        self.port = port or free_port(host)
        self.spool = Path(spool) if spool else None
        self.refuse = False  # when True, every RCPT and DATA gets a 451 temporary failure
        self._messages: list[Received] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """A snapshot of the messages received so far, oldest first."""
        with self._arrived:
            return list(self._messages)

    def _record(self, message: Received) -> None:
        with self._arrived:
            self._messages.append(message)
            if self.spool is not None:
                name = f"{time.time_ns()}-{len(self._messages):05d}"
                tmp = self.spool / f".{name}.tmp"
                tmp.write_bytes(message.raw)
                tmp.rename(self.spool / f"{name}.eml")  # atomic: readers never see a partial file
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` messages arrived and return all of them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} message(s) within {timeout}s, {len(self._messages)} arrived"
                )
            return list(self._messages)

    def clear(self) -> None:
        """Forget the messages received so far (spooled files stay)."""
        with self._arrived:
            self._messages.clear()

    def start(self) -> None:
        """Start listening (in a background thread)."""
        if self._controller is not None:
            return
        if self.spool is not None:
            self.spool.mkdir(parents=True, exist_ok=True)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, decode_data=False)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


def _subject(raw: bytes) -> str:
    return str(BytesHeaderParser(policy=default_policy).parsebytes(raw).get("subject", ""))


def main(argv: list[str] | None = None) -> None:
    """CLI: run a sink until Ctrl-C, printing one line per received message."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--spool", type=Path)
    args = parser.parse_args(argv)
    with SmtpSink(args.host, args.port, args.spool) as sink:
        print(f"SMTP sink on {sink.host}:{sink.port} spool={sink.spool}  (Ctrl-C to stop)", flush=True)
        seen = 0
        try:
            while True:
                try:
                    messages = sink.wait_for(seen + 1, timeout=1.0)
                except TimeoutError:
                    continue
                for message in messages[seen:]:
                    print(f"from={message.mail_from} to={','.join(message.rcpt_tos)} "
                          f"subject={_subject(message.raw)!r}", flush=True)
                seen = len(messages)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
