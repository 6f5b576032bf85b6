"""The test corpus of real-world and crafted odd emails in tests/data/mails (sources and licences in its
README)."""
from __future__ import annotations

from pathlib import Path

MAIL_CORPUS = Path(__file__).resolve().with_name("data") / "mails"


def corpus_files() -> list[Path]:
    """Every message of the corpus, all folders, in a stable order."""
    return sorted(MAIL_CORPUS.glob("*/*.eml"))
