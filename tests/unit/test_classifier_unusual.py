"""Text unlike what the models learned from (very short, mostly code or logs, another language) goes to a
PM."""
from __future__ import annotations

import pytest

from classifiers import load_classifier
from classifiers.corpus import read_real, read_split
from classifiers.lang import route
from classifiers.text import model_text
from classifiers.unusual import CODE, LANGUAGE, SHORT, unusual
from intake.config import ClassifierConfig

THRESHOLD = ClassifierConfig().review_threshold
TRACE = ("```\nTraceback (most recent call last):\n  File \"/srv/app/export.py\", line 88, in run\n"
         "    rows = fetch(query)\nValueError: invalid literal for int() with base 10: 'N/A'\n```")


@pytest.mark.parametrize("subject, body, why", [
    ("", "Crash", SHORT),
    ("Hi", "Thanks", SHORT),
    ("", "很好", SHORT),
    ("Export", TRACE, CODE),
    ("", "2026-12-01 10:22:01 ERROR sync failed: timeout\n2026-12-01 10:22:09 ERROR sync failed: timeout",
     CODE),
    ("Mot de passe", "Bonjour, je voudrais savoir comment changer mon mot de passe sur votre site.",
     LANGUAGE),
    ("", "Hallo, die App stürzt beim Start ab, bitte helfen Sie mir schnell.", LANGUAGE),
    ("", "¿Cómo puedo cambiar la contraseña de mi cuenta? No encuentro la opción en el menú.", LANGUAGE),
    # What clients write, with or without a pasted log, is not unusual.
    ("", "The export crashes above 1,000 rows", ""),
    ("Export fails after the update", "Since Monday the export stops with this error:\n" + TRACE, ""),
    ("", "导出文件名乱码，请帮忙看看", ""),
    ("", "登录后页面空白 ![image](https://example.com/a.png)", ""),
    ("Quick question", "Could you tell me when the next release is planned? Merci beaucoup!", ""),
])
def test_unusual_says_why(subject, body, why):
    text = model_text(subject, body)
    assert unusual(text, route(text)) == why
    # A normalized model hands over its normalized text: the same answer.
    assert unusual(model_text(subject, body, normalized=True), route(text), normalized=True) == why


def test_unusual_text_is_flagged_with_its_reason():
    clf = load_classifier()
    french, plain = clf.predict_many([("Mot de passe",
                                       "Bonjour, je voudrais savoir comment changer mon mot de "
                                       "passe sur votre site, merci."),
                                      ("", "Could you add a PO number field to the invoice form?")])
    assert french.unusual == LANGUAGE and french.needs_review(0.0)  # flagged whatever its confidence
    assert french.to_dict()["unusual"] == LANGUAGE
    assert plain.unusual == "" and "unusual" not in plain.to_dict()
    assert clf.predict("", "ok").needs_review(0.0)


@pytest.mark.parametrize("name", ["written", "real"])
def test_few_training_texts_are_unusual(name):
    """The detector flags what is unlike the training texts, so it must leave nearly all of them alone."""
    texts = read_split("train") + read_split("dev") if name == "written" else read_real("train")
    hits = [t for t in (model_text(e.subject, e.body) for e in texts) if unusual(t, route(t))]
    assert len(hits) <= len(texts) // 100, hits[:5]
