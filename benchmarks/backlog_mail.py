"""Builds a varied backlog: short notes to long quoted threads, binary attachments, English and Chinese,
follow-ups."""
from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from email.message import EmailMessage

from tests.mailgen import client_email, corpus_texts

# Share of each size class: (name, weight); "thread" and "long" carry earlier messages quoted below the new
# text.
SIZES = (("note", 25), ("normal", 45), ("thread", 20), ("long", 10))
STYLES = (("plain", 60), ("html", 30), ("html-only", 10))
ATTACHMENT_KINDS = (
    ("pdf", "application", "pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("png", "image", "png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    # A .docx is a zip archive; its compressed members look like the random bytes that follow.
    ("docx", "application", "vnd.openxmlformats-officedocument.wordprocessingml.document",
     b"PK\x03\x04\x14\x00\x06\x00"),
)
ATTACHMENT_BYTES = (3_000, 1_500_000)  # log-uniform between these sizes
SIGNATURES = {
    "en": "\n\nBest regards,\nClient {n}\nProject Manager | Client Co. Ltd.\nT +44 20 7946 0{n:03d}\n\n"
          "This email and any attachments are confidential and intended solely for the addressee.",
    "zh": "\n\n此致\n客户{n}\n项目经理 | 客户有限公司\n电话 +86 10 6552 {n:04d}\n\n"
          "本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人或群组。",
}
FOLLOW_UP_LINES = {
    "en": ("Any update on this?", "Adding one more detail below.", "Following up on my earlier message."),
    "zh": ("请问这个有进展吗？", "补充一点信息。", "跟进一下之前的邮件。"),
}


@dataclass
class Backlog:
    """The raw messages in delivery order, their Message-IDs, and which of them are new requests
    (acknowledged)."""

    raws: list[bytes] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    new_request: list[bool] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    with_attachments: int = 0
    chunk: int = 500  # follow-ups answer messages at least this far back (see fill_maildir)

    @property
    def acknowledged_ids(self) -> set[str]:
        """Message-IDs that should each get one acknowledgment."""
        return {m for m, new in zip(self.message_ids, self.new_request, strict=False) if new}

    def describe(self) -> str:
        """One line: how many, languages, attachments, follow-ups, sizes."""
        sizes = sorted(len(r) for r in self.raws)
        zh = sum(1 for lang in self.langs if lang == "zh")
        return (f"{len(self.raws)} emails ({len(self.raws) - zh} en, {zh} zh), "
                f"{self.with_attachments} with attachments, "
                f"{self.new_request.count(False)} follow-ups; {_size(sum(sizes))} in all, size p50 "
                f"{statistics.median(sizes) / 1024:.1f} KiB, p90 "
                f"{sizes[int(0.9 * (len(sizes) - 1))] / 1024:.1f} KiB, "
                f"max {_size(sizes[-1])}")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def _quoted(rng: random.Random, texts: list[dict[str, str]], lang: str, depth: int, author: int) -> str:
    """DEPTH earlier messages of a thread, each quoted one level deeper under a reply header; AUTHOR wrote the
    first."""
    parts = []
    for level in range(1, depth + 1):
        t = rng.choice(texts)
        n = author + level - 1
        who = f"客户{n}" if lang == "zh" else f"Client {n}"
        header = (f"在 2026年11月{level}日 10:{level:02d}，{who} <client{n}@example.net> 写道："
                  if lang == "zh" else
                  f"On Tue, {level} Nov 2026 at 10:{level:02d}, {who} <client{n}@example.net> wrote:")
        quote = "\n".join(">" * level + " " + line for line in (t["subject"] + "\n" + t["body"]).split("\n"))
        parts.append(">" * (level - 1) + (" " if level > 1 else "") + header + "\n" + quote)
    return "\n\n".join(parts)


def _attach(rng: random.Random, m: EmailMessage, n: int, lang: str) -> None:
    for k in range(rng.choices((1, 2, 3), (70, 20, 10))[0]):
        ext, main, sub, magic = rng.choice(ATTACHMENT_KINDS)
        low, high = ATTACHMENT_BYTES
        size = int(low * (high / low) ** rng.random())
        name = f"附件{n}-{k}.{ext}" if lang == "zh" else f"file-{n}-{k}.{ext}"
        m.add_attachment(magic + rng.randbytes(size), maintype=main, subtype=sub, filename=name)


def build_backlog(count: int, seed: int = 1, attachments: float = 0.10, follow_ups: float = 0.10) -> Backlog:
    """COUNT client emails; an ATTACHMENTS share carries binary files, a FOLLOW_UPS share answers earlier
    ones."""
    rng = random.Random(seed)
    texts = corpus_texts("train")
    by_lang = {lang: [t for t in texts if t["lang"] == lang] for lang in ("en", "zh")}
    out = Backlog(chunk=max(50, min(500, count // 10)))
    # Follow-ups need an original at least one chunk earlier; the share is taken over the messages that can
    # have one.
    eligible = max(1, count - out.chunk)
    p_follow = min(1.0, follow_ups * count / eligible)
    originals: list[int] = []
    subjects: dict[int, tuple[str, str, str, str]] = {}  # index -> subject, body, lang, domain
    for i in range(count):
        follow_target = None
        if i >= out.chunk and rng.random() < p_follow:
            candidates = [j for j in originals[-4 * out.chunk:] if j <= i - out.chunk]
            follow_target = rng.choice(candidates) if candidates else None
        if follow_target is not None:
            subject, body0, lang, domain = subjects[follow_target]
            body = (rng.choice(FOLLOW_UP_LINES[lang]) + "\n" + rng.choice(by_lang[lang])["body"] + "\n\n"
                    + _quoted(rng, [{"subject": subject, "body": body0}], lang, 1, follow_target))
            first_id = out.message_ids[follow_target]
            m = client_email(follow_target, "Re: " + subject, body, lang, _pick(rng, STYLES), domain=domain,
                             msgid=f"<f{i}.{seed}.{follow_target}@{domain}>", In_Reply_To=first_id,
                             References=first_id)
        else:
            t = texts[rng.randrange(len(texts))]
            lang, subject, body = t["lang"], t["subject"], t["body"]
            size = _pick(rng, SIZES)
            if size == "note":
                body = body.split("\n")[0][:200]
            else:
                body += SIGNATURES[lang].format(n=i)
            if size in ("thread", "long"):
                depth = rng.randint(2, 6) if size == "thread" else rng.randint(10, 25)
                body = body + "\n\n" + _quoted(rng, by_lang[lang], lang, depth, i + 1)
            domain = f"c{i % 37}.example"
            m = client_email(i, subject, body, lang, _pick(rng, STYLES), domain=domain,
                             msgid=f"<m{i}.{seed}@{domain}>")
            subjects[i] = (subject, body.split("\n\n")[0], lang, domain)
            originals.append(i)
        if rng.random() < attachments:
            _attach(rng, m, i, lang)
            out.with_attachments += 1
        out.raws.append(bytes(m))
        out.message_ids.append(str(m["Message-ID"]))
        out.new_request.append(follow_target is None)
        out.langs.append(lang)
    return out
