"""Unhappy feedback in English and Chinese: complaint cues, negations, praise, quoted mail."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.sentiment import complaint_score, is_negative

DATA = Path(__file__).resolve().parents[2] / "classifiers" / "data"


@pytest.mark.parametrize("subject, body", [
    ("not happy", "Not happy with the last invoice at all. Nobody told us about the extra days."),
    ("Meeting", "I would like to put on record my disappointment that the meeting was cancelled."),
    ("Support", "Honestly, I'm frustrated. Four different people on our calls this month."),
    ("", "The way your consultant spoke to our staff was unprofessional and unacceptable."),
    ("服务态度", "对这次的服务非常不满意。约好九点到现场，结果十一点才到。"),
    ("很失望", "项目经理离职连交接都没通知我们，这种做法很不专业。"),
    ("热线", "你们的热线每次都要排队十几分钟，服务体验真的很差。"),
    ("沟通", "Hi Kelvin, 说实话最近沟通有点让人失望。We asked three times for the schedule."),
    ("Thanks, but", "Thanks for the fix. Still, we are disappointed it took two weeks."),
])
def test_complaints_are_negative(subject, body):
    assert is_negative(subject, body), complaint_score(subject, body)


@pytest.mark.parametrize("subject, body", [
    ("Great work", "Thank you, the launch went smoothly and the board was delighted."),
    ("感谢", "昨天的演示非常成功，领导很满意，辛苦大家了！"),
    ("Helpdesk", "Fewer tickets reopened, and my staff complain less in the corridor."),
    ("Conference", "The organisers said it was the first venue where nobody complained about the Wi-Fi."),
    ("", "We are not disappointed at all: the new reports are exactly what we wanted."),
    ("校园网", "以前那种晚上连不上的投诉基本没了，老师们很满意。"),
    ("阅", "已阅，没有意见。"),
    ("Re: update",
     "Looks good, thanks!\n\nOn Mon, 3 Nov 2026 at 10:00, Support wrote:\n> Sorry you were disappointed "
                   "with the delay; it was unacceptable and we apologize.\n"),
])
def test_praise_neutral_and_negated_text_is_not(subject, body):
    assert not is_negative(subject, body), complaint_score(subject, body)


def test_share_of_training_feedback_flagged_is_plausible():
    """About one feedback email in ten in the corpus is a complaint; flagging should be near that, not all or
    none."""
    rows = [json.loads(line) for path in DATA.glob("*.jsonl") for line in path.open(encoding="utf-8")]
    feedback = [r for r in rows if r["label"] == "feedback"]
    flagged = sum(is_negative(r["subject"], r["body"]) for r in feedback)
    assert 0.03 < flagged / len(feedback) < 0.15, (flagged, len(feedback))
