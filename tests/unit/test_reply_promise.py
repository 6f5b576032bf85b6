"""When the neutral acknowledgment says a person will answer: the longest first-response target of the item's
policy, in the client's language, on working hours or the wall clock."""
from __future__ import annotations

import pytest

from reports.policy import parse_policies
from responders.compose import ReplyPromise, reply_promise, within_text


def test_the_promise_is_the_longest_first_response_target_whatever_the_category():
    standard = parse_policies({}, {}, "").policies["standard"].snapshot()
    assert reply_promise(standard) == ReplyPromise(24 * 3600, business=False)
    targets = {"issue": {"first_response": "4h"}, "question": {"first_response": "90m"}}
    office = parse_policies({"office": {"timezone": "Asia/Shanghai", "hours": {"weekdays": "09:00-18:00"}}},
                            {"gold": {"calendar": "office", "targets": targets}}, "gold")
    assert reply_promise(office.policies["gold"].snapshot()) == ReplyPromise(4 * 3600, business=True)
    none = parse_policies({}, {"quiet": {"targets": {"issue": {"resolution": "3d"}}}}, "quiet")
    assert reply_promise(none.policies["quiet"].snapshot()) is None
    assert reply_promise(None) is None


@pytest.mark.parametrize("seconds, business, en, zh", [
    (24 * 3600, False, "24 hours", "24 小时"), (3600, False, "1 hour", "1 小时"),
    (72 * 3600, False, "3 days", "3 天"),
    (8 * 3600, True, "8 working hours", "8 个工作小时"), (90 * 60, False, "90 minutes", "90 分钟"),
    (48 * 3600, True, "48 working hours", "48 个工作小时"),
])
def test_the_promise_in_both_languages(seconds, business, en, zh):
    promise = ReplyPromise(seconds, business)
    assert within_text(promise, "en") == en and within_text(promise, "zh") == zh
    assert within_text(None, "en") == ""
