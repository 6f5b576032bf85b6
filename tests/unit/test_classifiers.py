"""The classifier package on its own: language detection, corpus checks, training, loading, quality."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from classifiers import LABELS, load_classifier
from classifiers.corpus import CorpusError, Example, eval_files, read_examples, training_files
from classifiers.evaluate import evaluate
from classifiers.lang import detect_language
from classifiers.model import ModelMissingError
from classifiers.train import train_all


@pytest.mark.parametrize("text, lang", [
    ("The export crashes above 1,000 rows", "en"),
    ("为什么登录后一直显示500错误？", "zh"),
    ("UAT 环境登录页面报 500 error，请尽快处理", "zh"),
    ("Please check the attached file. 谢谢", "en"),
    ("", "en"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_corpus_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subject": "a", "body": "b", "label": "issue", "lang": "en"}\n{"label": "bug", "lang": "en"}\n')
    with pytest.raises(CorpusError, match=r"bad.jsonl:2: label must be one of"):
        read_examples(bad)
    bad.write_text("not json\n")
    with pytest.raises(CorpusError, match=r"bad.jsonl:1: not JSON"):
        read_examples(bad)


def test_shipped_corpus_is_balanced_and_large_enough():
    for path in training_files():
        examples = read_examples(path)
        for label in LABELS:
            assert sum(e.label == label for e in examples) >= 60, (path.name, label)
    assert {p.name for p in training_files()} == {"train_en.jsonl", "train_zh.jsonl"}
    assert {p.name for p in eval_files()} == {"eval_en.jsonl", "eval_zh.jsonl"}
    train = {(e.subject, e.body) for f in training_files() for e in read_examples(f)}
    held_out = {(e.subject, e.body) for f in eval_files() for e in read_examples(f)}
    assert not train & held_out


def test_train_save_load_predict(tmp_path):
    examples = []
    for lang, texts in {
        "en": {"issue": ["the page crashes", "error 500 on login", "the export is broken"],
               "change_request": ["please add a field", "could you also add a button", "change the colour"],
               "question": ["when is the release", "how do I get an account", "what does it cost"],
               "feedback": ["great work team", "we love the demo", "you reply too slowly"]},
        "zh": {"issue": ["页面崩溃了", "登录报错500", "导出功能坏了"],
               "change_request": ["请增加一个字段", "能否再加一个按钮", "把颜色改成蓝色"],
               "question": ["什么时候上线", "账号怎么申请", "费用是多少"],
               "feedback": ["做得很好", "演示很棒", "回复太慢了"]},
    }.items():
        for label, lines in texts.items():
            examples += [Example("", t, label, lang) for t in lines]
    version = train_all(examples, tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["version"] == version and meta["examples"]["zh"]["issue"] == 3
    clf = load_classifier(tmp_path / "model")
    preds = clf.predict_many([("", "the page crashes"), ("", "能否再加一个按钮")])
    assert [p.lang for p in preds] == ["en", "zh"]
    for p in preds:
        assert set(p.scores) == set(LABELS)
        assert abs(sum(p.scores.values()) - 1.0) < 1e-3
        assert p.confidence == max(p.scores.values()) and p.model_version == version


def test_missing_language_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no training examples in language 'zh'"):
        train_all([Example("", "x", label, "en") for label in LABELS], tmp_path / "m")


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelMissingError, match="run `intake train`"):
        load_classifier(tmp_path)


def test_shipped_model_quality_on_held_out_sets():
    examples = [e for f in eval_files() for e in read_examples(f)]
    ev = evaluate(load_classifier(), examples)
    # A regression guard, well below the figures in the README's benchmark section.
    assert ev.accuracy >= 0.8, ev.to_dict()
    assert min(ev.by_lang.values()) >= 0.75, ev.by_lang


LABELS_MD = Path(__file__).resolve().parents[3] / "shared" / "LABELS.md"


def _label_examples() -> list[tuple[str, str]]:
    """The examples the category definitions give, with their categories."""
    rows = []
    for line in LABELS_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].strip("`") in LABELS:
            rows += [(q, cells[0].strip("`")) for q in re.findall(r"\"([^\"]+)\"", cells[3])]
        found = re.match(r"^- .*?\(\"([^\"]+)\"\) is an? `(\w+)`", line)
        if found:
            rows.append((found.group(1), found.group(2)))
    return rows


def test_shipped_model_agrees_with_the_category_definitions():
    examples = _label_examples()
    assert len(examples) >= 14
    preds = load_classifier().predict_many([("", text) for text, _ in examples])
    wrong = [(text, gold, p.label) for (text, gold), p in zip(examples, preds) if p.label != gold]
    assert not wrong
