"""A spaCy text-classification architecture: bag of n-grams with sublinear, length-normalized counts.

spaCy's TextCatBOW sums one weight per n-gram occurrence, so a long email pushes its scores to the
extremes and a word said three times counts three times. Scaling counts as log(1 + count) and
dividing by each email's norm (what TF-IDF models do) measured better on the dev split.
"""
from __future__ import annotations

from functools import partial

import numpy
import spacy
from spacy.attrs import ORTH
from spacy.ml.models.textcat import resize_and_set_ref, resize_linear_weighted
from spacy.strings import hash_string
from spacy.tokens import Doc
from thinc.api import Model, SparseLinear_v2, chain, resizable, softmax_activation, with_cpu
from thinc.types import Floats2d

NAME = "client_intake.TextCatNormBOW.v1"
_NEG_VALUE = -5000


def extract_ngrams(ngram_size: int, ngram_min: int = 1, attr: int = ORTH) -> Model:
    """Doc -> hashed n-grams of NGRAM_MIN..NGRAM_SIZE tokens with their counts (spaCy's extractor, with a
    minimum)."""
    model: Model = Model("extract_ngrams", _extract_forward)
    model.attrs.update({"ngram_size": ngram_size, "ngram_min": ngram_min, "attr": attr})
    return model


def _extract_forward(model: Model, docs: list[Doc], is_train: bool):  # type: ignore[no-untyped-def]
    xp = model.ops.xp
    batch_keys, batch_vals = [], []
    for doc in docs:
        unigrams = model.ops.asarray(doc.to_array([model.attrs["attr"]]))
        ngrams = _token_ngrams(model, unigrams)
        keys = xp.concatenate(ngrams) if ngrams else xp.zeros((0,), dtype="uint64")
        keys, vals = xp.unique(keys, return_counts=True)
        batch_keys.append(keys)
        batch_vals.append(vals)
    return _batch_output(model, batch_keys, batch_vals)


def _token_ngrams(model: Model, unigrams):  # type: ignore[no-untyped-def]
    """The hashed token n-grams of UNIGRAMS, from the model's ngram_min to its ngram_size, one array each."""
    ngrams = [unigrams] if model.attrs["ngram_min"] <= 1 else []
    # thinc's ngrams() reads past the end of an empty array; a text with no tokens has no n-grams.
    for n in range(max(2, model.attrs["ngram_min"]), min(model.attrs["ngram_size"], len(unigrams)) + 1):
        ngrams.append(model.ops.ngrams(n, unigrams))
    return ngrams


def _batch_output(model: Model, batch_keys: list, batch_vals: list):  # type: ignore[no-untyped-def]
    """Each document's keys and values as one (keys, values, lengths) batch; nothing to learn backwards."""
    lengths = model.ops.asarray([arr.shape[0] for arr in batch_keys], dtype="int32")
    keys = model.ops.xp.concatenate(batch_keys)
    vals = model.ops.asarray(model.ops.xp.concatenate(batch_vals), dtype="f")

    def backprop(dY):  # type: ignore[no-untyped-def]
        return []

    return (keys, vals, lengths), backprop


def normalize_counts(counts: str = "log") -> Model:
    """(keys, counts, lengths) -> (keys, log1p(counts) / per-document L2 norm, lengths).

    COUNTS "binary" reads each n-gram as present or not (1) instead of log1p(count).
    """
    return Model("normalize_counts", _normalize_forward, attrs={"counts": counts})


def _normalize_forward(model: Model, X: tuple, is_train: bool):  # type: ignore[no-untyped-def]
    keys, vals, lengths = X
    xp = model.ops.xp
    scaled = xp.ones_like(vals) if model.attrs["counts"] == "binary" else xp.log1p(vals)
    doc_of = xp.repeat(xp.arange(len(lengths)), lengths)
    sq = xp.zeros(len(lengths), dtype="f")
    xp.add.at(sq, doc_of, scaled * scaled)
    norm = xp.sqrt(sq)
    norm[norm == 0] = 1.0
    out = model.ops.asarray((scaled / norm[doc_of]).astype("f"), dtype="f")

    def backprop(dY):  # type: ignore[no-untyped-def]
        return []  # the inputs are counts, not parameters

    return (keys, out, lengths), backprop


# Character n-grams are hashed with a prefix no token has, so "<er" never shares a weight with a token "<er".
_CHAR_PREFIX = "\x02"
# Distinct words whose character n-grams are kept (the vocabulary of a language's mail is far smaller).
_CHAR_CACHE_MAX = 200_000


def extract_char_ngrams(ngram_size: int, ngram_min: int, char_min: int, char_max: int, char_weight: float,
                        words: bool = True, counts: str = "log") -> Model:
    """Doc -> (keys, weights, lengths): the token n-grams of `extract_ngrams` (unless not WORDS) and the
    CHAR_MIN..CHAR_MAX character n-grams within each token, "<" and ">" marking its ends; each of the two
    blocks scaled as `normalize_counts` scales a document, the characters' then times CHAR_WEIGHT.

    Character n-grams read what words miss in mail unlike the corpus: inflections and compounds
    ("crashes", "crashing"), typos, and words the corpus never had.
    """
    model: Model = Model("extract_char_ngrams", _extract_char_forward)
    model.attrs.update({"ngram_size": ngram_size, "ngram_min": ngram_min, "char_min": char_min,
                        "char_max": char_max, "char_weight": char_weight, "words": words, "counts": counts})
    return model


# Per (CHAR_MIN, CHAR_MAX): a word's hash -> its character n-grams' keys. Kept outside the model, whose
# attributes are saved with it.
_char_cache: dict[tuple[int, int], dict[int, numpy.ndarray]] = {}


def _char_keys(model: Model, doc: Doc, orths: list[int]) -> list[numpy.ndarray]:
    lo, hi = model.attrs["char_min"], model.attrs["char_max"]
    cache = _char_cache.setdefault((lo, hi), {})
    out = []
    for orth in orths:
        keys = cache.get(orth)
        if keys is None:
            if len(cache) >= _CHAR_CACHE_MAX:
                cache.clear()
            w = f"<{doc.vocab.strings[orth]}>"
            grams = [w[i:i + n] for n in range(lo, hi + 1) for i in range(len(w) - n + 1)] or [w]
            keys = cache[orth] = numpy.array([hash_string(_CHAR_PREFIX + g) for g in grams], dtype="uint64")
        out.append(keys)
    return out


def _scaled(xp, keys, counts: str, weight: float = 1.0):  # type: ignore[no-untyped-def]
    """Unique KEYS with log1p(count) (or 1, "binary") divided by their L2 norm, times WEIGHT."""
    keys, vals = xp.unique(keys, return_counts=True)
    vals = xp.ones(len(vals), dtype="f") if counts == "binary" else xp.log1p(vals).astype("f")
    norm = float(xp.sqrt((vals * vals).sum())) or 1.0
    return keys, vals * (weight / norm)


def _extract_char_forward(model: Model, docs: list[Doc], is_train: bool):  # type: ignore[no-untyped-def]
    xp = model.ops.xp
    a = model.attrs
    batch_keys, batch_vals = [], []
    for doc in docs:
        unigrams = model.ops.asarray(doc.to_array([ORTH]))
        parts_k, parts_v = [], []
        if a["words"] and len(unigrams):
            ngrams = _token_ngrams(model, unigrams)
            if ngrams:
                k, v = _scaled(xp, xp.concatenate(ngrams), a["counts"])
                parts_k.append(k)
                parts_v.append(v)
        if len(unigrams):
            k, v = _scaled(xp, xp.concatenate(_char_keys(model, doc, unigrams.ravel().tolist())), a["counts"],
                           a["char_weight"])
            parts_k.append(k)
            parts_v.append(v)
        batch_keys.append(xp.concatenate(parts_k) if parts_k else xp.zeros((0,), dtype="uint64"))
        batch_vals.append(xp.concatenate(parts_v) if parts_v else xp.zeros((0,), dtype="f"))
    return _batch_output(model, batch_keys, batch_vals)


@spacy.registry.architectures(NAME)
def build_norm_bow(exclusive_classes: bool, ngram_size: int, length: int = 2**18,
                   nO: int | None = None, ngram_min: int = 1,
                   counts: str = "log", char_min: int = 0, char_max: int = 0, char_weight: float = 1.0,
                   words: bool = True) -> Model[list[Doc], Floats2d]:
    """Exclusive-class bag of NGRAM_MIN..NGRAM_SIZE-grams over normalized counts, softmax output; with
    CHAR_MAX, also the CHAR_MIN..CHAR_MAX character n-grams within tokens (without WORDS, those alone)."""
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    fill_defaults = {"b": _NEG_VALUE, "W": 0}
    layer = resizable(sparse_linear, resize_layer=partial(resize_linear_weighted,
                                                          fill_defaults=fill_defaults))
    if char_max:
        model = chain(extract_char_ngrams(ngram_size, ngram_min, char_min or 1, char_max, char_weight, words,
                                          counts), layer)
    else:
        model = chain(extract_ngrams(ngram_size, ngram_min), normalize_counts(counts), layer)
    model = with_cpu(model, model.ops)
    output = softmax_activation()
    model = chain(model, with_cpu(output, output.ops))
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=layer)
    return model
