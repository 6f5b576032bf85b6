"""What the classifier reads: quoted replies, signatures and disclaimers removed, in English and Chinese."""
from __future__ import annotations

import pytest

from classifiers.strip import new_text, split_reply
from classifiers.text import model_text

CASES = [
    # Gmail-style attribution and > quotes, with a closing and a name block
    ("Hi team,\n\nThe export still crashes above 1000 rows.\n\nBest regards,\nAnna Lee\nProject Manager | "
     "Acme\n"
     "+1 555 0100\n\nOn Tue, 4 Mar 2025 at 10:12, Bob <bob@agency.example> wrote:\n> Could you also add a PO "
     "field?",
     "Hi team,\n\nThe export still crashes above 1000 rows."),
    # the attribution wrapped over two lines
    ("Any news on the release date?\n\nOn Tue, 4 Mar 2025 at 10:12, Bob Builder "
     "<bob@agency.example>\nwrote:\n"
     "> We found a bug in the invoice module.",
     "Any news on the release date?"),
    # Outlook block with dashes
    ("Please fix the invoice totals.\n\n-----Original Message-----\nFrom: Bob <bob@x.example>\n"
     "Sent: Tuesday, March 4, 2025 10:12 AM\nTo: Anna\nSubject: invoices\n\nCould you add a PO field?",
     "Please fix the invoice totals."),
    # Outlook block without the dashes line, after an underscore rule
    ("Thanks, that works now.\n\n________________________________\nFrom: Support <s@x.example>\nSent: "
     "Monday\n"
     "To: Anna\nSubject: Re: login\n\nPlease try again and tell us if the error persists.",
     "Thanks, that works now."),
    ("Great demo.\n\nFrom: Support <s@x.example>\nSent: Monday\nTo: Anna\n\nWhen can we meet?",
     "Great demo."),
    # Chinese Outlook / Foxmail / attribution forms
    ("您好，\n\n导出超过1000行还是崩溃，请尽快处理。\n\n此致\n敬礼\n张伟\n\n-----原始邮件-----\n发件人: 李娜 "
     "<lina@agency.example>\n"
     "发送时间: 2025年3月4日 10:12\n收件人: 张伟\n主题: 回复: 导出\n\n能否加一个PO字段？",
     "您好，\n\n导出超过1000行还是崩溃，请尽快处理。"),
    ("系统又挂了！！\n\n发自我的iPhone\n\n------------------ 原始邮件 ------------------\n发件人: \"王\" "
     "<wang@x.example>\n"
     "能否加一个字段", "系统又挂了！！"),
    ("登录报错500\n\n在 2025年3月4日 周二 10:12，张伟 <zhangwei@x.example> 写道：\n> 能否加一个PO字段？\n",
     "登录报错500"),
    ("收到，谢谢！\n\n发件人：项目组 "
     "<pm@x.example>\n时间：2025年3月4日\n收件人：李娜\n主题：周报\n\n请问下周的会议改到周三可以吗？",
     "收到，谢谢！"),
    # signature separator, mobile footers, disclaimers
    ("Can we move the go-live?\n-- \nAnna Smith | ACME", "Can we move the go-live?"),
    ("The site is down.\n\nSent from my iPhone", "The site is down."),
    ("Please add SSO.\n\nGet Outlook for Android", "Please add SSO."),
    ("When is the next invoice due?\n\nCONFIDENTIALITY NOTICE: This email and any attachments are "
     "confidential and may be privileged.", "When is the next invoice due?"),
    ("请问发票什么时候开？\n\n本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人或群组。",
     "请问发票什么时候开？"),
    ("报表能否增加一列？\n\n祝好\n王芳\n市场部经理\n电话 010-12345678", "报表能否增加一列？"),
    # a closing that is a sentence, not a sign-off, stays
    ("Thanks for the quick fix yesterday! Could you also add a CSV export?\nThanks,\nMia",
     "Thanks for the quick fix yesterday! Could you also add a CSV export?"),
    # "Thanks" followed by a long paragraph is not a signature
    ("The totals are wrong.\nThanks\nAlso, the second table shows last year's figures in the column for this "
     "year and the footer repeats the header, which makes the printout three pages longer than it should be.",
     "The totals are wrong.\nThanks\nAlso, the second table shows last year's figures in the column for this "
     "year and the footer repeats the header, which makes the printout three pages longer than it should "
     "be."),
    # interleaved quote lines are dropped, the answers kept
    ("> Which browser?\nChrome 120\n> Which page?\nThe checkout", "Chrome 120\nThe checkout"),
    # a line that starts with "From" but is no header stays
    ("From: our side everything is ready.\nPlease confirm the date.",
     "From: our side everything is ready.\nPlease confirm the date."),
]


@pytest.mark.parametrize("body, expected", CASES)
def test_new_text(body, expected):
    assert new_text(body) == expected


def test_a_bare_forward_keeps_the_forwarded_request():
    body = ("---------- Forwarded message ---------\nFrom: End User <u@x.example>\nDate: Tue, 4 Mar 2025\n"
            "Subject: broken\n\nThe checkout page is blank since this morning.\n\nThanks,\nUser")
    assert new_text(body) == "The checkout page is blank since this morning."


def test_split_reply_returns_the_quote():
    fresh, quoted = split_reply("Yes, go ahead.\n\nOn Mon, 1 Jan 2024, Bob <b@x.example> wrote:\n> Shall we "
                                "deploy?")
    assert fresh == "Yes, go ahead."
    assert "Shall we deploy?" in quoted


def test_model_text_is_subject_and_new_text_only():
    text = model_text("Re: Export",
                      "It still fails.\n\nOn Mon, Bob <b@x.example> wrote:\n> Could you add a field?")
    assert text == "Re: Export\nIt still fails."
    assert model_text("", "") == ""
    assert len(model_text("s", "x" * 10_000)) == 4000
