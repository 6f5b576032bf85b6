"""Builds realistic client emails (plain, HTML, with attachments; English and Chinese) for tests and
benchmarks."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "classifiers" / "data"


def corpus_texts(kind: str = "dev") -> list[dict[str, str]]:
    """English and Chinese labeled emails from the shipped corpus split KIND (train, dev, test),
    interleaved."""
    rows = [json.loads(line) for line in (DATA / f"{kind}.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    by_lang = [[r for r in rows if r["lang"] == lang] for lang in ("en", "zh")]
    out: list[dict[str, str]] = []
    for pair in zip(*by_lang, strict=False):
        out.extend(pair)
    return out


def client_email(n: int, subject: str, body: str, lang: str, style: str = "plain",
                 domain: str = "client.example", msgid: str | None = None, **headers: str) -> EmailMessage:
    """Client email number N in STYLE: plain, html (with text alternative), html-only, or attachment."""
    m = EmailMessage()
    name = f"客户{n}" if lang == "zh" else f"Client {n}"
    m["From"] = f"{name} <client{n}@{domain}>"
    m["To"] = "support@team.example"
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime.now(timezone.utc))
    m["Message-ID"] = msgid or make_msgid(idstring=f"c{n}", domain=domain)
    for key, value in headers.items():
        m[key.replace("_", "-")] = value
    html = "<html><body>" + "".join(f"<p>{p}</p>" for p in body.split("\n") if p) + "</body></html>"
    if style == "html-only":
        m.set_content(html, subtype="html")
    else:
        m.set_content(body)
        if style == "html":
            m.add_alternative(html, subtype="html")
        elif style == "attachment":
            m.add_attachment(f"log {n}\n".encode() * 50, maintype="text", subtype="plain",
                             filename=f"log-{n}.txt")
            m.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), maintype="image", subtype="png",
                             filename=f"截图{n}.png" if lang == "zh" else f"screen{n}.png")
    return m


STYLES = ("plain", "html", "attachment", "html-only")


def client_batch(count: int, kind: str = "dev") -> list[EmailMessage]:
    """COUNT client emails from the corpus, cycling through the styles."""
    texts = corpus_texts(kind)
    return [client_email(i, t["subject"], t["body"], t["lang"], STYLES[i % len(STYLES)])
            for i, t in enumerate(texts[:count])]
