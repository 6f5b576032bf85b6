"""A lowercase word tokenizer for the English model: the bag-of-words model needs words, not spaCy's full
rules."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

# Words (with an inner apostrophe: don't, client's), numbers, and each other visible character.
# spaCy's rule-based English tokenizer costs five times as much per email and the classifier
# gains nothing from its special cases; lowercasing lets "Crash" and "crash" share a weight.
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|[^\w\s]")

NAME = "client_intake.WordTokenizer.v1"

# For the Chinese model: each Han character alone, Latin words and numbers whole (UAT, error, 500), each
# other visible character alone; whitespace dropped.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ZH_TOKEN = re.compile(rf"[{_HAN}]|[^\W\d_{_HAN}]+|\d+|[^\w\s]")
ZH_NAME = "client_intake.ChineseCharWordTokenizer.v1"


class WordTokenizer:
    """Splits lowercased text into words, numbers and punctuation; nothing to save or load."""

    pattern = _TOKEN

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        return Doc(self.vocab, words=self.pattern.findall(text.lower()))

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    def to_disk(self, path: Path, **kwargs: Any) -> None:
        return None

    def from_disk(self, path: Path, **kwargs: Any) -> WordTokenizer:
        return self

    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> WordTokenizer:
        return self


# For the English model with line marks: the words above, and "¶" where the text and each line begin, so
# word pairs tell how the subject and each line open ("¶ how", "¶ please", "¶ when").
LINE_MARK = "¶"
_LINE_BREAKS = re.compile(r"\s*\n\s*")
MARKS_NAME = "client_intake.MarkedWordTokenizer.v1"


class MarkedWordTokenizer(WordTokenizer):
    """Lowercased words, numbers and punctuation, and a line mark where the text and each line begin."""

    def __call__(self, text: str) -> Doc:
        marked = f"{LINE_MARK} " + _LINE_BREAKS.sub(f" {LINE_MARK} ", text.strip().lower())
        return Doc(self.vocab, words=self.pattern.findall(marked))


# For the English model with subject words: the words above, and each word of the first line (the subject,
# model_text puts it there) once more with a mark, so what a subject says ("how to", "feature request",
# "thank you") weighs apart from the same words deep in a body.
SUBJECT_MARK = "ˢ"
SUBJECT_NAME = "client_intake.SubjectWordTokenizer.v1"


class SubjectWordTokenizer(WordTokenizer):
    """Lowercased words, numbers and punctuation, then the first line's words again, marked."""

    def __call__(self, text: str) -> Doc:
        lowered = text.strip().lower()
        words = self.pattern.findall(lowered)
        first = self.pattern.findall(lowered.split("\n", 1)[0])
        return Doc(self.vocab, words=words + [SUBJECT_MARK + w for w in first if w[0].isalnum()])


class ChineseCharWordTokenizer(WordTokenizer):
    """Han characters one by one, lowercased Latin words and numbers whole, punctuation one by one."""

    pattern = _ZH_TOKEN


@spacy.registry.tokenizers(ZH_NAME)
def create_chinese_tokenizer() -> Callable[[Language], ChineseCharWordTokenizer]:
    """The registry entry of the Chinese character-and-word tokenizer."""
    def make(nlp: Language) -> ChineseCharWordTokenizer:
        return ChineseCharWordTokenizer(nlp.vocab)

    return make


@spacy.registry.tokenizers(MARKS_NAME)
def create_marked_tokenizer() -> Callable[[Language], MarkedWordTokenizer]:
    """The registry entry of the word tokenizer with line marks."""
    def make(nlp: Language) -> MarkedWordTokenizer:
        return MarkedWordTokenizer(nlp.vocab)

    return make


@spacy.registry.tokenizers(NAME)
def create_word_tokenizer() -> Callable[[Language], WordTokenizer]:
    """The registry entry a saved pipeline's config names, so `spacy.load` can rebuild the tokenizer."""
    def make(nlp: Language) -> WordTokenizer:
        return WordTokenizer(nlp.vocab)

    return make


@spacy.registry.tokenizers(SUBJECT_NAME)
def create_subject_tokenizer() -> Callable[[Language], SubjectWordTokenizer]:
    """The registry entry of the word tokenizer with marked subject words."""
    def make(nlp: Language) -> SubjectWordTokenizer:
        return SubjectWordTokenizer(nlp.vocab)

    return make
