"""Two baselines the shipped classifier must beat: keyword rules, and TF-IDF with logistic regression."""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from classifiers.corpus import Example
from classifiers.lang import readers, route
from classifiers.prediction import LABELS
from classifiers.text import model_text
from classifiers.train import for_language

# What a careful person would write as rules on day one, from the category definitions.
KEYWORDS: dict[str, list[str]] = {
    "issue": [r"\berror\b", r"\bcrash", r"\bbroken\b", r"\bbug\b", r"not working", r"\bfails?\b",
              r"\bfailed\b",
              r"\bdown\b", r"\bwrong\b", r"\bslow\b", r"doesn'?t work", r"\bmissing\b", r"\bincorrect\b",
              "错误", "报错", "崩溃", "故障", "无法", "打不开", "不能", "失败", "异常", "慢", "bug", "问题"],
    "change_request": [r"\badd\b", r"\bchange\b", r"could you also", r"instead\b", r"\bremove\b",
                       r"\bpostpone",
                       r"\bmove the\b", r"\bextend\b", r"\bnew feature\b", r"would like", r"\bbudget\b",
                       "增加", "新增", "修改", "改成", "调整", "延期", "推迟", "加一个", "变更", "希望能"],
    "question": [r"\?", r"\bwhen\b", r"\bhow\b", r"\bwhat\b", r"\bcould you send\b", r"\bis there\b",
                 "请问", "吗", "什么时候", "怎么", "如何", "？", "是否"],
    "feedback": [r"\bthanks?\b", r"\bgreat\b", r"\bwell done\b", r"\bhappy\b", r"\bsatisf", r"\bsign off\b",
                 r"\bexcellent\b", r"\bdisappoint", "满意", "感谢", "谢谢", "辛苦", "很好", "不错", "验收",
                 "失望"],
}
_COMPILED = {label: [re.compile(p, re.I) for p in pats] for label, pats in KEYWORDS.items()}


def keyword_predict(subject: str, body: str) -> str:
    """The label with the most keyword hits; ties go to the more demanding action (LABELS.md order)."""
    text = model_text(subject, body)
    hits = {label: sum(bool(p.search(text)) for p in pats) for label, pats in _COMPILED.items()}
    best = max(hits.values())
    if best == 0:
        return "question"
    return next(label for label in LABELS if hits[label] == best)


class TfidfBaseline:
    """Per-language TF-IDF (English words 1-2, Chinese characters 1-2) and logistic regression, C tuned on
    dev."""

    def __init__(self) -> None:
        self.models: dict[str, object] = {}

    @staticmethod
    def _pipeline(lang: str, c: float):  # type: ignore[no-untyped-def]
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        vec = (TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True) if lang == "zh"
               else TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True))
        return make_pipeline(vec, LogisticRegression(C=c, max_iter=2000))

    @classmethod
    def tuned(cls, lang: str, train: Sequence[Example], held: Sequence[Example]) -> tuple[float, object]:
        """(C, model): the C of 1..100 whose model, fitted on TRAIN, has the best macro-F1 on HELD
        (LANG's)."""
        from sklearn.metrics import f1_score

        best: tuple[float, float, object] | None = None
        for c in (1.0, 3.0, 10.0, 30.0, 100.0):
            model = cls._pipeline(lang, c)
            model.fit([model_text(e.subject, e.body) for e in train], [e.label for e in train])
            f1 = f1_score([e.label for e in held], model.predict([model_text(e.subject,
                                                                             e.body) for e in held]),
                          average="macro")
            if best is None or f1 > best[0]:
                best = (f1, c, model)
        assert best is not None
        return best[1], best[2]

    def fit(self, train: Sequence[Example], dev: Sequence[Example]) -> TfidfBaseline:
        for lang in ("en", "zh"):
            self.models[lang] = self.tuned(lang, for_language(train, lang),
                                           [e for e in dev if e.lang == lang])[1]
        return self

    def predict_many(self, emails: Sequence[tuple[str, str]]) -> list[str]:
        texts = [model_text(s, b) for s, b in emails]
        routes = [route(t) for t in texts]
        probs = np.zeros((len(texts), len(LABELS)))
        for lang, model in self.models.items():
            idx = [i for i, r in enumerate(routes) if lang in readers(r)]
            if idx:
                p = model.predict_proba([texts[i] for i in idx])  # type: ignore[attr-defined]
                order = [list(model.classes_).index(label) for label in LABELS]  # type: ignore[attr-defined]
                probs[idx] += p[:, order]
        return [LABELS[int(i)] for i in probs.argmax(axis=1)]
