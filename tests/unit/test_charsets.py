"""Decoding broken and legacy-charset mail: charsets.decode_bytes, encoded words, and parse_email on them."""
from __future__ import annotations

import random
import re

import pytest

from intake.parse import ParseError, parse_email
from intake.parse.charsets import decode_bytes, normalize_charset
from intake.parse.encoded_words import decode_words
from tests.corpus import MAIL_CORPUS

CORPUS = MAIL_CORPUS
CRAFTED = CORPUS / "crafted"
# Nothing PostgreSQL or a UTF-8 sink rejects, and no control characters but tab and newline.
BAD_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
BAD_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

ZH = "您好，系统导出报表时报错，请尽快处理。"
ZH_TW = "請問下一個里程碑什麼時候交付？我們的網站首頁打不開了，麻煩幫忙看一下。"
JA = "ログイン画面でエラーが出ます。お世話になっております。"
RU = "Добрый день! Не могу войти в личный кабинет, пишет неверный пароль."
FR = "L’équipe a payé 5 € pour le café — «merci»."


def mail(headers: str | bytes, body: bytes = b"body\r\n") -> bytes:
    head = headers.encode() if isinstance(headers, str) else headers
    return b"From: a@client.example\r\nTo: support@agency.example\r\n" + head + b"\r\n\r\n" + body


# --- the crafted corpus: the exact texts their names promise --------------------------------------------

CRAFTED_EXPECTED = {
    "gbk-plain.eml": ("报表导出错误", "张三", "您好，系统导出报表时报错，请尽快处理。"),
    "gb2312-mislabeled-gb18030.eml": ("账号申请", "", "请问䶮字为何显示乱码？测试环境账号怎么申请？"),
    "big5.eml": ("里程碑", "", "請問下一個里程碑什麼時候交付？"),
    "iso-2022-jp.eml": ("エラー", "", "ログイン画面でエラーが出ます。"),
    "koi8r-win1251.eml": ("Ошибка", "", "Отчёт не открывается.\nСпасибо."),
    "undeclared-8bit.eml": ("Café menu 报错", "", "The café page shows 报错 and été."),
    # Adjacent encoded words join without the space between them; the broken last one stays as written.
    "encoded-word-oddities.eml": ("会议时间change request =?utf-8?B?!!!invalid?=", "王五",
                                  "能否推迟一周？soft break and =ZZ bad escape"),
    # The client's own HTML words, then the forwarded plain text.
    "forward-html-only.eml": ("转发: 需求变更", "", "请看下面老板的意见\n首页要加一个新闻模块。"),
}


@pytest.mark.parametrize("name", sorted(CRAFTED_EXPECTED))
def test_crafted_corpus_decodes_exactly(name):
    subject, sender_name, text = CRAFTED_EXPECTED[name]
    email = parse_email((CRAFTED / name).read_bytes())
    assert email.subject == subject
    assert email.sender_name == sender_name
    assert email.text == text


def test_crafted_corpus_recovery_is_noted():
    assert any("gb18030" in d
               for d in parse_email((CRAFTED / "gb2312-mislabeled-gb18030.eml").read_bytes()).defects)
    assert any("malformed encoded word" in d
               for d in parse_email((CRAFTED / "encoded-word-oddities.eml").read_bytes()).defects)
    clean = parse_email((CRAFTED / "gbk-plain.eml").read_bytes())
    assert clean.defects == ()


def test_crafted_corpus_filenames_and_oddities():
    hostile = parse_email((CRAFTED / "hostile-filenames.eml").read_bytes())
    names = [a.filename for a in hostile.attachments]
    assert names[:2] == ["_.._etc_passwd", "invoice_fdp.exe"]  # RFC 2231 decoded, then made safe
    assert len(names[2]) <= 200 and names[2].endswith(".txt")
    nul = parse_email((CRAFTED / "bare-lf-nul.eml").read_bytes())
    assert nul.subject == "nulbyte here"
    assert nul.text == "Body with a NUL  and a bare CR\n here."
    no_boundary = parse_email((CRAFTED / "multipart-no-boundary.eml").read_bytes())
    assert no_boundary.text == "Can you send the invoice again?"


# Messages whose text really holds undecodable bytes: U+FFFD in the source itself, a base64 part of garbage.
UNDECODABLE = {"mikel-mail/error_emails-must_supply_encoding.eml", "stalwart-mail-parser/thirdparty-002.eml"}


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*/*.eml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_text_fields_have_no_control_characters(path):
    try:
        email = parse_email(path.read_bytes())
    except ParseError:
        return
    for value in (email.text, email.new_text, email.html):
        assert not BAD_TEXT.search(value)
    for value in (email.subject, email.sender_name, email.sender, email.reply_to, *email.recipients,
                  *email.headers, *email.headers.values(), *(a.filename for a in email.attachments)):
        assert not BAD_LINE.search(value)
    if f"{path.parent.name}/{path.name}" not in UNDECODABLE:  # the rest decodes without guessing wrong
        assert "\ufffd" not in email.subject + email.text


def test_corpus_spam_in_legacy_charsets_decodes():
    test9 = parse_email((CORPUS / "mail-parser" / "mail_test_9.eml").read_bytes())  # gb2312 label, GBK bytes
    assert test9.subject.startswith("我把镜头拉近些")
    # gb2312 label, UTF-8 body
    test12 = parse_email((CORPUS / "mail-parser" / "mail_test_12.eml").read_bytes())
    assert test12.text.startswith("你好！我公司可代开各类增值税发票")
    assert test12.recipients == ("danglüe@email.com",)
    test18 = parse_email((CORPUS / "mail-parser" / "mail_test_18.eml").read_bytes())  # comma in encoded name
    assert (test18.sender_name, test18.sender) == ("LastßlName, FirstName", "comma.name@example.com")


# --- decode_bytes, rule by rule ----------------------------------------------------------------------------


def test_declared_charset_that_reads_cleanly_has_no_note():
    assert decode_bytes(ZH.encode("gbk"), "GBK") == (ZH, None)
    assert decode_bytes("Grüße".encode("latin-1"), "iso-8859-1") == ("Grüße", None)
    assert decode_bytes(b"plain ascii", None) == ("plain ascii", None)
    assert decode_bytes(b"", "utf-8") == ("", None)


@pytest.mark.parametrize("label", ["gb2312", "gbk", "x-gbk", "cp936", "GB2312", "gb18030"])
def test_gb_labels_decode_as_gb18030(label):
    text = "请问䶮字为何显示乱码？𠮷野家 ئۇيغۇر"  # GBK-only and four-byte GB18030 characters
    decoded, note = decode_bytes(text.encode("gb18030"), label)
    assert decoded == text
    assert note is None or "gb18030" in note


def test_gb2312_mislabeled_gb18030_is_noted():
    decoded, note = decode_bytes("请问䶮字为何显示乱码？".encode("gb18030"), "gb2312")
    assert decoded == "请问䶮字为何显示乱码？"
    assert note == "declared 'gb2312'; decoded as gb18030"


def test_gb18030_four_byte_characters_undeclared():
    text = "ئۇيغۇرچە 测试"
    assert decode_bytes(text.encode("gb18030"), None)[0] == text


def test_big5_declared_undeclared_and_labeled_gb2312():
    data = ZH_TW.encode("big5")
    assert decode_bytes(data, "big5") == (ZH_TW, None)
    assert decode_bytes(data, None)[0] == ZH_TW
    decoded, note = decode_bytes(data, "gb2312")
    assert decoded == ZH_TW and note is not None and "cp950" in note


def test_iso_2022_jp_declared_undeclared_and_with_microsoft_characters():
    data = JA.encode("iso2022_jp")
    assert decode_bytes(data, "ISO-2022-JP") == (JA, None)
    assert decode_bytes(data, None)[0] == JA
    nec = b"\x1b$B%m%0%$%s\x1b(B \x1b$B-!-j\x1b(B"  # ① and ㈱ from the NEC row, as Outlook writes them
    assert decode_bytes(nec, "iso-2022-jp")[0] == "ログイン ①㈱"
    assert decode_bytes(b"\x1b(I12\x1b(B", "iso-2022-jp")[0] == "ｱｲ"  # half-width katakana


def test_shift_jis_and_euc_jp_undeclared_or_mislabeled():
    assert decode_bytes(JA.encode("shift_jis"), None)[0] == JA
    assert decode_bytes(JA.encode("euc_jp"), None)[0] == JA
    assert decode_bytes(JA.encode("shift_jis"), "iso-2022-jp")[0] == JA


def test_koi8_r_declared_and_undeclared():
    assert decode_bytes(RU.encode("koi8_r"), "koi8-r") == (RU, None)
    assert decode_bytes(RU.encode("koi8_r"), None)[0] == RU
    assert decode_bytes(RU.encode("cp1251"), None)[0] == RU


def test_windows_1251_labeled_koi8_r_and_the_reverse():
    decoded, note = decode_bytes(RU.encode("cp1251"), "koi8-r")
    assert decoded == RU and note == "declared 'koi8-r'; decoded as cp1251"
    decoded, note = decode_bytes(RU.encode("koi8_r"), "windows-1251")
    assert decoded == RU and note == "declared 'windows-1251'; decoded as koi8-r"
    assert decode_bytes("Ошибка".encode("cp1251"), "koi8-r")[0] == "Ошибка"  # a capitalized word is enough
    assert decode_bytes("Спасибо.".encode("koi8_r"), "windows-1251")[0] == "Спасибо."


def test_windows_1252_labeled_iso_8859_1():
    decoded, note = decode_bytes(FR.encode("cp1252"), "iso-8859-1")
    assert decoded == FR
    assert note == "declared 'iso-8859-1'; decoded as cp1252"
    assert decode_bytes(FR.encode("cp1252"), None)[0] == FR


def test_utf8_under_a_legacy_label_is_read_as_utf8():
    for label in ("iso-8859-1", "windows-1252", "koi8-r", "gb2312"):
        decoded, note = decode_bytes(ZH.encode(), label)
        assert decoded == ZH and note is not None and note.endswith("utf-8")
    assert decode_bytes(FR.encode(), "iso-8859-1")[0] == FR


def test_undeclared_8bit_utf8_gbk_and_mixed():
    assert decode_bytes(ZH.encode(), None) == (ZH, "no charset declared; decoded as utf-8")
    assert decode_bytes(ZH.encode("gbk"), None) == (ZH, "no charset declared; decoded as gb18030")
    assert decode_bytes(ZH.encode("gbk"), "us-ascii")[0] == ZH
    mixed = "The café page shows 报错".encode() + " and été.".encode("latin-1")
    decoded, note = decode_bytes(mixed, None)
    assert decoded == "The café page shows 报错 and été."
    assert note is not None and "windows-1252" in note
    assert decode_bytes(FR.encode("cp1252"), "utf-8")[0] == FR  # a wrong utf-8 label


def test_unknown_and_unusable_charset_names_fall_back():
    for label in ("x-bogus", "unknown-8bit", "base64", "rot13", "undefined", "utf-8*en"):
        decoded, note = decode_bytes(ZH.encode("gbk"), label)
        assert decoded == ZH, label
        assert note is not None, label
    assert decode_bytes(b"hello", "x-bogus") == ("hello", "declared 'x-bogus': unusable charset")


def test_charset_aliases():
    assert normalize_charset("ks_c_5601-1987") == "cp949"
    assert normalize_charset("GB2312") == normalize_charset("x-gbk") == "gb18030"
    assert normalize_charset("big5") == "cp950"
    assert normalize_charset("Shift_JIS") == "cp932"
    assert normalize_charset('"windows1252"') == "cp1252"
    assert normalize_charset("utf-8*en") == "utf-8"
    assert normalize_charset("base64") is None and normalize_charset("") is None
    korean = "안녕하세요. 로그인이 안 됩니다."
    assert decode_bytes(korean.encode("cp949"), "ks_c_5601-1987") == (korean, None)


def test_byte_order_marks():
    assert decode_bytes(b"\xef\xbb\xbfhi \xc3\xa9", "utf-8") == ("hi é", None)
    assert decode_bytes("hi".encode("utf-16"), None)[0] == "hi"
    assert decode_bytes(b"hi there", "utf-16")[0] == "hi there"  # 7-bit bytes are not UTF-16


def test_undecodable_bytes_end_as_replacement_characters():
    decoded, note = decode_bytes(bytes(range(0x80, 0x100)) * 2, None)
    assert "\ufffd" in decoded and note is not None


def test_decode_bytes_never_raises_nor_returns_surrogates():
    rng = random.Random(7)
    labels = [None, "utf-8", "gbk", "big5", "koi8-r", "iso-2022-jp", "utf-16", "utf-7", "hz", "x", "base64"]
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        text, note = decode_bytes(data, rng.choice(labels))
        assert isinstance(text, str) and (note is None or isinstance(note, str))
        assert not re.search(r"[\ud800-\udfff]", text)


# --- RFC 2047 encoded words ---------------------------------------------------------------------------------


def test_encoded_words_adjacent_split_and_folded():
    assert decode_words("=?utf-8?q?=E7=8E=8B?= =?utf-8?q?=E4=BA=94?=") == ("王五", [])
    assert decode_words("=?gbk?b?sQ==?= =?gbk?b?qLHt?=") == ("报表", [])  # a character split between words
    # base64 too
    assert decode_words("=?utf-8?B?5oql6KGo5a?=\r\n =?utf-8?B?+85Ye66ZSZ6K+v?=")[0] == "报表导出错误"
    assert decode_words("Re: =?GBK?B?saix7bW8s/a07c7z?=\r\n\t(2)")[0] == "Re: 报表导出错误\t(2)"
    assert decode_words("a =?utf-8?q?b_c?= d") == ("a b c d", [])


def test_encoded_word_with_wrong_charset_still_gives_text():
    text, notes = decode_words("=?utf-8?B?saix7bW8s/a07c7z?=")  # GBK bytes labeled utf-8
    assert text == "报表导出错误" and notes
    assert decode_words("=?gb2312?B?1cu6xcnqx+s=?=")[0] == "账号申请"
    assert decode_words("=?iso-8859-1?q?caf=C3=A9?=")[0] == "café"  # UTF-8 labeled latin-1
    assert decode_words("=?x-unknown?b?saix7Q==?=")[0] == "报表"


def test_broken_encoded_word_is_kept_as_written():
    text, notes = decode_words("ok =?utf-8?B?!!!invalid?= end")
    assert text == "ok =?utf-8?B?!!!invalid?= end"
    assert notes == ["malformed encoded word kept as text: =?utf-8?B?!!!invalid?="]


def test_raw_8bit_header_text():
    assert decode_words("报表".encode()) == ("报表", [])
    assert decode_words("报表".encode("gbk"), "gbk") == ("报表", [])
    text, notes = decode_words("报表导出错误".encode("gbk"))
    assert text == "报表导出错误" and notes == ["8-bit header text; decoded as gb18030"]


# --- parse_email on hand-made messages
# ------------------------------------------------------------------------


def test_subject_and_from_with_wrong_charset_labels():
    raw = (b"From: =?utf-8?B?1cXI/Q==?= <Zhang@Client.Example>\r\nTo: support@agency.example\r\n"
           b"Subject: =?iso-8859-1?B?saix7bW8s/a07c7z?=\r\n\r\nhi\r\n")
    email = parse_email(raw)
    assert email.subject == "报表导出错误"
    assert (email.sender_name, email.sender) == ("张三", "zhang@client.example")
    assert any(d.startswith("Subject:") for d in email.defects)


def test_raw_8bit_headers_use_the_body_charset():
    raw = mail(b"Subject: " + "报表导出错误".encode("gbk") + b"\r\nContent-Type: text/plain; charset=gbk",
               "您好".encode("gbk"))
    raw = raw.replace(b"From: a@client.example", b'From: "' + "张三".encode("gbk") + b'" <z@client.example>')
    email = parse_email(raw)
    assert (email.subject, email.sender_name, email.text) == ("报表导出错误", "张三", "您好")


def test_display_names_cannot_move_the_address():
    email = parse_email(b"From: alice@example.com <bob@example.com>\r\nSubject: x\r\n\r\nhi")
    assert (email.sender_name, email.sender) == ("alice@example.com", "bob@example.com")
    email = parse_email(b"From: =?utf-8?q?Doe=2C_John?= <j@x.example>\r\nSubject: x\r\n\r\nhi")
    assert (email.sender_name, email.sender) == ("Doe, John", "j@x.example")


def _with_attachment(disposition: bytes) -> bytes:
    return mail(b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX",
                b"--XX\r\nContent-Type: text/plain; charset=gbk\r\n\r\nsee\r\n--XX\r\nContent-Type: "
                b"application/pdf\r\n"
                b"Content-Disposition: " + disposition + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                b"aGVsbG8=\r\n--XX--\r\n")


@pytest.mark.parametrize("disposition", [
    b"attachment; filename*=utf-8''%E6%8A%A5%E8%A1%A8.pdf",
    b"attachment; filename*=gbk''%B1%A8%B1%ED.pdf",
    b"attachment; filename*=utf-8''%B1%A8%B1%ED.pdf",  # GBK bytes under a utf-8 label
    b"attachment; filename*=x-unknown''%B1%A8%B1%ED.pdf",
    b"attachment; filename*0*=utf-8''%E6%8A%A5; filename*1*=%E8%A1%A8; filename*2=.pdf",
    b"attachment; filename=\"plain.pdf\"; filename*=utf-8''%E6%8A%A5%E8%A1%A8.pdf",
    "attachment; filename=\"报表.pdf\"".encode(),
    "attachment; filename=\"报表.pdf\"".encode("gbk"),
    b"attachment; filename=\"=?utf-8?B?5oql6KGo?=.pdf\"",
    b"attachment; filename=\"=?utf-8?B?saix7Q==?=.pdf\"",  # RFC 2047 with a wrong charset
], ids=range(10))
def test_attachment_file_names(disposition):
    (attachment,) = parse_email(_with_attachment(disposition)).attachments
    assert attachment.filename == "报表.pdf"
    assert attachment.size == 5


def test_nameless_attachment_gets_a_stable_name():
    first = parse_email(_with_attachment(b"attachment")).attachments[0].filename
    assert first == parse_email(_with_attachment(b"attachment")).attachments[0].filename == "attachment.pdf"


def test_bad_quoted_printable():
    body = (b"=E8=83=BD=e5=90=a6=E6=8E=A8=E8=BF=9F = \r\nsoft=\r\nbreak =3D ok =ZZ and =E\r\n"
            b"=E4=B8=80=E5=91=A8=EF=BC=9F=")
    raw = mail(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
               body)
    assert parse_email(raw).text == "能否推迟 softbreak = ok =ZZ and =E\n一周？"


def test_html_meta_charset_and_undeclared_html():
    html = b"<html><head><meta charset=\"gbk\"></head><body><p>" + ZH.encode("gbk") + b"</p></body></html>"
    email = parse_email(mail(b"Content-Type: text/html", html))
    assert email.text == ZH and ZH in email.html


def test_control_characters_never_reach_text_fields():
    raw = (b"From: \"a\x00b\x07\" <a@client.example>\r\nSubject: a\x00b\x1bc\x7f\r\nX-Odd: \x00\x01\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nline\x00one\r\nline\x0btwo\x85\x1b[0m\r")
    email = parse_email(raw)
    assert email.subject == "abc"
    assert email.sender_name == "ab"
    assert email.text == "lineone\nlinetwo…[0m"
    assert not BAD_LINE.search("".join(email.headers.values()))


def test_html_entities_do_not_smuggle_control_characters():
    email = parse_email(mail(b"Content-Type: text/html", b"<p>a&#0;b&#1;c&#11;d&#13;e&#27;f&#xFFFE;g</p>"))
    assert not BAD_TEXT.search(email.text + email.new_text + email.html)
    assert email.text == "a\ufffdbc\nd\nefg"


def test_binary_in_a_text_part_is_not_text():
    raw = mail(b"Content-Type: text/plain", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
               + b"\xff" * 50)
    email = parse_email(raw)
    assert email.text == ""
    assert any("binary data" in d for d in email.defects)


def test_multipart_with_the_wrong_boundary_is_read_with_the_real_one():
    raw = mail(b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"declared\"",
               b"--real\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n" + ZH.encode("gbk")
               + b"\r\n--real--\r\n")
    email = parse_email(raw)
    assert email.text == ZH
    assert any("boundary" in d for d in email.defects)
