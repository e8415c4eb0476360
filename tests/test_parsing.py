"""Unit tests for daemon.parsing: charsets, headers, bodies, attachments, caps, contact details.

Messages are built here byte by byte, so each test shows exactly what a sender's client wrote
(mislabelled GB2312, raw 8-bit GBK headers, RFC 2231 names ...).
"""

from __future__ import annotations

import base64
import doctest
import importlib
import random
from datetime import datetime, timedelta, timezone

import pytest

from daemon.parsing import Attachment, ParsedMessage, UnparseableMessage, parse_message
from daemon.parsing.charsets import decode_bytes, decode_header, normalise_charset
from daemon.parsing.contact import extract_contact, find_company, find_location, find_phone
from daemon.parsing.html_text import html_to_text

# Characters in GBK/GB18030 but not in GB2312: what breaks a strict gb2312 decoder.
GBK_ONLY = "镕喆昇"


def build(headers: list[tuple[str, str | bytes]], body: bytes = b"", *, crlf: bool = True) -> bytes:
    """Raw message bytes from (name, value) pairs; bytes values go in unchanged (8-bit)."""
    newline = b"\r\n" if crlf else b"\n"
    lines = []
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        lines.append(name.encode("ascii") + b": " + raw)
    return newline.join(lines) + newline + newline + body


def b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


def word(text: str, charset: str) -> str:
    """An RFC 2047 B-encoded word."""
    return f"=?{charset}?B?{b64(text, charset)}?="


BASIC = [("From", "Tenant <tenant@example.com>"), ("To", "desk@park.example"),
         ("Date", "Tue, 14 May 2024 09:30:00 +0800"), ("Message-ID", "<m1@example.com>")]


# --- charsets ------------------------------------------------------------------------------

def test_gb2312_label_on_gbk_body_is_decoded_with_gb18030():
    text = f"物业你好，{GBK_ONLY}公司的空调坏了。"
    raw = build(BASIC + [("Subject", "test"), ("MIME-Version", "1.0"),
                         ("Content-Type", 'text/plain; charset="gb2312"'),
                         ("Content-Transfer-Encoding", "base64")], b64(text, "gbk").encode())
    message = parse_message(raw)
    assert message.body_text == text
    assert "\ufffd" not in message.body_text


def test_gb2312_encoded_word_with_gbk_characters():
    subject = f"关于{GBK_ONLY}的投诉"
    message = parse_message(build(BASIC + [("Subject", word(subject, "gbk").replace("gbk", "gb2312"))],
                                  b"body"))
    assert message.subject == subject


def test_big5_body_and_subject_including_hkscs_character():
    subject = "冷氣壞咗"  # 咗 is an HKSCS character, not in plain Big5
    body = "您好，我司位於園區3號樓，冷氣不製冷，請盡快派人維修。嘅"
    raw = build(BASIC + [("Subject", f"=?big5?B?{b64(subject, 'big5hkscs')}?="),
                         ("Content-Type", "text/plain; charset=big5"),
                         ("Content-Transfer-Encoding", "8bit")], body.encode("big5hkscs"))
    message = parse_message(raw)
    assert message.subject == subject
    assert message.body_text == body


def test_iso_2022_jp_subject_and_body():
    raw = build(BASIC + [("Subject", word("お問い合わせ", "iso-2022-jp")),
                         ("Content-Type", "text/plain; charset=ISO-2022-JP")],
                "担当者より連絡いたします。".encode("iso-2022-jp"))
    message = parse_message(raw)
    assert message.subject == "お問い合わせ"
    assert message.body_text == "担当者より連絡いたします。"


def test_missing_charset_with_gbk_bytes():
    body = "3号楼电梯坏了三天了，没人修理，严重影响我们公司的正常办公。"
    raw = build(BASIC + [("Subject", "lift"), ("Content-Type", "text/plain"),
                         ("Content-Transfer-Encoding", "8bit")], body.encode("gbk"))
    message = parse_message(raw)
    assert message.body_text == body
    assert any("gb18030" in defect for defect in message.defects)


@pytest.mark.parametrize("label", ["x-unknown", "gb_2312-80", "GB2312", "unknown-8bit", "bogus-charset"])
def test_unknown_or_odd_charset_labels_still_decode_gbk(label):
    body = "停车场的路灯不亮，晚上很不安全。"
    raw = build(BASIC + [("Subject", "x"), ("Content-Type", f"text/plain; charset={label}")],
                body.encode("gbk"))
    assert parse_message(raw).body_text == body


def test_raw_8bit_gbk_headers_use_the_body_charset():
    raw = build([("From", '"张伟" <zhangwei@example.cn>'.encode("gbk")),
                 ("Subject", "投诉：园区噪音".encode("gbk")),
                 ("Content-Type", "text/plain; charset=gbk")], "正文".encode("gbk"))
    message = parse_message(raw)
    assert message.subject == "投诉：园区噪音"
    assert message.from_name == "张伟"
    assert message.from_address == "zhangwei@example.cn"
    assert any("raw 8-bit" in defect for defect in message.defects)


def test_raw_8bit_gbk_header_without_any_charset_label():
    raw = build([("From", "a@example.cn"), ("Subject", "停车位被占用".encode("gbk"))], b"hello")
    assert parse_message(raw).subject == "停车位被占用"


def test_raw_utf8_header_wins_over_a_gbk_body_hint():
    raw = build([("From", "a@example.cn"), ("Subject", "电梯故障".encode("utf-8")),
                 ("Content-Type", "text/plain; charset=gbk")], "正文".encode("gbk"))
    assert parse_message(raw).subject == "电梯故障"


def test_encoded_word_split_inside_a_character_is_rejoined():
    data = "镕基".encode("gbk")
    first = base64.b64encode(data[:3]).decode()
    second = base64.b64encode(data[3:]).decode()
    text, notes = decode_header(f"=?gb2312?B?{first}?=\r\n =?gb2312?B?{second}?=")
    assert text == "镕基"
    assert notes == ()


def test_encoded_word_with_wrong_charset_label():
    mislabelled = f"=?iso-8859-1?B?{b64('中文主题', 'utf-8')}?="
    assert decode_header(mislabelled)[0] == "中文主题"


def test_encoded_words_whitespace_rules():
    # RFC 2047 6.2: whitespace between adjacent encoded words is dropped, elsewhere kept.
    assert decode_header("=?utf-8?q?a_b?=  =?utf-8?q?c?= d  =?utf-8?Q?e?=")[0] == "a bc d  e"
    assert decode_header("Re: =?utf-8?B?5L2g5aW9?=!")[0] == "Re: 你好!"


@pytest.mark.parametrize("label, codec", [
    ("GB2312", "gb18030"), ("gbk", "gb18030"), ('"gb_2312-80"', "gb18030"), ("x-gbk", "gb18030"),
    ("Big5", "big5hkscs"), ("utf8", "utf-8"), ("ks_c_5601-1987", "cp949"),
    ("iso-8859-1", "cp1252"), ("us-ascii", "ascii"), ("x-unknown", None), ("", None),
    ("base64", None), ("rot13", None), ("no-such-charset", None), ("utf-8*zh", "utf-8"),
])
def test_normalise_charset(label, codec):
    assert normalise_charset(label) == codec


def test_decode_bytes_prefers_clear_evidence_over_a_wrong_label():
    assert decode_bytes("中文 ok".encode("utf-8"), "iso-8859-1").text == "中文 ok"
    simplified = "您好，我司位于园区3号楼"
    traditional = "您好，我司位於園區3號樓"
    assert decode_bytes(simplified.encode("gbk"), "big5").text == simplified
    assert decode_bytes(traditional.encode("big5"), "gb2312").text == traditional
    assert decode_bytes("Größe".encode("latin-1"), "iso-8859-1").text == "Größe"
    assert decode_bytes("Müller café".encode("latin-1")).text == "Müller café"


def test_decode_bytes_never_raises_on_random_bytes():
    rng = random.Random(20240514)
    labels = [None, "gb2312", "big5", "utf-8", "iso-2022-jp", "x-unknown", "utf-16", "us-ascii",
              "hz-gb-2312", "utf-7"]
    for _ in range(400):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
        result = decode_bytes(data, rng.choice(labels))
        assert isinstance(result.text, str)


# --- headers, addresses, ids, dates --------------------------------------------------------

def test_from_name_address_and_separate_reply_to():
    raw = build([("From", f"{word('李娜', 'utf-8')} <LiNa@Example.COM>"),
                 ("Reply-To", "Office <Office@Example.com>"),
                 ("To", "desk@park.example, 'Other' <other@park.example>"),
                 ("Cc", "boss@example.com"), ("Subject", "hi")], b"x")
    message = parse_message(raw)
    assert (message.from_name, message.from_address) == ("李娜", "lina@example.com")
    assert message.reply_to == "office@example.com"
    assert message.to == ("desk@park.example", "other@park.example")
    assert message.cc == ("boss@example.com",)


@pytest.mark.parametrize("value, name, address", [
    ("Zhang, San <ZS@Example.cn>", "Zhang, San", "zs@example.cn"),
    ('"=?gb2312?B?1cXI/Q==?=" <zs@example.cn>', "张三", "zs@example.cn"),
    ("zs@example.cn (Zhang San)", "Zhang San", "zs@example.cn"),
    ("张三 zs@example.cn".encode("gbk"), "张三", "zs@example.cn"),
    ("<zs@example.cn>", "", "zs@example.cn"),
    ("Zhang San <zs@example.cn", "Zhang San", "zs@example.cn"),
    ("MAILER-DAEMON", "", "mailer-daemon"),
])
def test_from_header_forms_seen_in_real_mail(value, name, address):
    parsed = parse_message(build([("From", value), ("Content-Type", "text/plain; charset=gbk")], b"x"))
    assert (parsed.from_name, parsed.from_address) == (name, address)


def test_empty_and_missing_subject():
    assert parse_message(build(BASIC + [("Subject", "")], b"x")).subject == ""
    assert parse_message(build(BASIC, b"x")).subject == ""


def test_missing_message_id_is_none():
    message = parse_message(build([("From", "a@example.com"), ("Subject", "s")], b"x"))
    assert message.message_id is None
    assert message.in_reply_to is None
    assert message.references == ()


def test_message_ids_are_normalised():
    raw = build([("From", "a@example.com"), ("Message-ID", "  abc@host  "),
                 ("In-Reply-To", "<r1@park.example> (comment)"),
                 ("References", "<r0@park.example>\r\n <r1@park.example>")], b"x")
    message = parse_message(raw)
    assert message.message_id == "<abc@host>"
    assert message.in_reply_to == "<r1@park.example>"
    assert message.references == ("<r0@park.example>", "<r1@park.example>")


def test_date_is_aware():
    message = parse_message(build(BASIC + [("Subject", "s")], b"x"))
    assert message.date == datetime(2024, 5, 14, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    minus_zero = parse_message(build([("From", "a@b.c"), ("Date", "Tue, 14 May 2024 01:30:00 -0000")], b"x"))
    assert minus_zero.date == datetime(2024, 5, 14, 1, 30, tzinfo=timezone.utc)


def test_unreadable_date_is_none_with_a_defect():
    message = parse_message(build([("From", "a@b.c"), ("Date", "yesterday-ish")], b"x"))
    assert message.date is None
    assert any(defect.startswith("date:") for defect in message.defects)


def test_rule_headers_are_kept_decoded():
    raw = build(BASIC + [("Subject", "s"), ("Auto-Submitted", "auto-replied"), ("Return-Path", "<>"),
                         ("X-Auto-Response-Suppress", "All"), ("List-Id", "<list.example>")], b"x")
    headers = parse_message(raw).headers
    assert headers["auto-submitted"] == "auto-replied"
    assert headers["return-path"] == "<>"
    assert headers["x-auto-response-suppress"] == "All"
    assert headers["list-id"] == "<list.example>"
    assert "received" not in headers


# --- bodies --------------------------------------------------------------------------------

HTML = (
    "<html><head><title>ignored title</title><style>p {color: red}</style></head><body>"
    "<div>您好，</div><div>3号楼&amp;电梯&lt;坏了&gt;&nbsp;请修</div>"
    "<table><tr><th>项目</th><th>数量</th></tr><tr><td>灯</td><td>3</td></tr></table>"
    "<p>第一行<br>第二行</p><script>alert('x')</script><ul><li>one</li><li>two</li></ul>"
    "<p>&#20013;&#x6587;</p></body></html>"
)


def test_html_only_mail_becomes_readable_text():
    raw = build(BASIC + [("Subject", "html"), ("Content-Type", "text/html; charset=utf-8")],
                HTML.encode("utf-8"))
    message = parse_message(raw)
    assert message.body_was_html
    assert message.body_text == (
        "您好，\n3号楼&电梯<坏了> 请修\n\n项目 | 数量\n灯 | 3\n\n第一行\n第二行\n\n- one\n- two\n\n中文"
    )


def test_html_charset_from_meta_tag_when_mime_label_missing():
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>' \
           "<body><p>路灯不亮</p></body></html>"
    raw = build(BASIC + [("Subject", "s"), ("Content-Type", "text/html")], html.encode("gbk"))
    assert parse_message(raw).body_text == "路灯不亮"


def multipart(subtype: str, parts: list[bytes], boundary: str = "BOUNDARY") -> tuple[str, bytes]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return f'multipart/{subtype}; boundary="{boundary}"', body + b"--" + boundary.encode() + b"--\r\n"


def part(headers: list[tuple[str, str | bytes]], body: bytes) -> bytes:
    return build(headers, body)


def test_alternative_prefers_plain_text():
    content_type, body = multipart("alternative", [
        part([("Content-Type", "text/plain; charset=utf-8")], "纯文本".encode()),
        part([("Content-Type", "text/html; charset=utf-8")], "<p>网页</p>".encode()),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.body_text == "纯文本"
    assert not message.body_was_html
    assert message.attachments == ()


def test_alternative_with_empty_plain_part_uses_the_html():
    content_type, body = multipart("alternative", [
        part([("Content-Type", "text/plain; charset=utf-8")], b"\r\n  \r\n"),
        part([("Content-Type", "text/html; charset=utf-8")], "<p>网页正文</p>".encode()),
        part([("Content-Type", "text/calendar; method=REQUEST")], b"BEGIN:VCALENDAR"),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.body_text == "网页正文"
    assert message.body_was_html
    assert message.attachments == (Attachment("", "text/calendar", 15),)


def test_related_html_with_inline_image_lists_the_image():
    related_type, related = multipart("related", [
        part([("Content-Type", "text/html; charset=utf-8")], "<p>见截图</p>".encode()),
        part([("Content-Type", "image/png"), ("Content-ID", "<img1>"),
              ("Content-Transfer-Encoding", "base64")], base64.b64encode(b"\x89PNG" + b"\0" * 96)),
    ], boundary="REL")
    alt_type, alternative = multipart("alternative", [
        part([("Content-Type", related_type)], related)], boundary="ALT")
    message = parse_message(build(BASIC + [("Content-Type", alt_type)], alternative))
    assert message.body_text == "见截图"
    assert message.body_was_html
    assert message.attachments == (Attachment("", "image/png", 100),)


def test_mixed_joins_inline_text_parts_and_lists_attachments():
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain; charset=utf-8")], "第一段".encode()),
        part([("Content-Type", "application/pdf"), ("Content-Disposition", 'attachment; filename="a.pdf"'),
              ("Content-Transfer-Encoding", "base64")], base64.b64encode(b"%PDF" + b"1" * 1020)),
        part([("Content-Type", "text/plain; charset=utf-8")], "第二段".encode()),
        part([("Content-Type", "text/plain; charset=utf-8"), ("Content-Disposition", "attachment; filename=notes.txt")],
             b"not body"),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.body_text == "第一段\n\n第二段"
    assert message.attachments == (Attachment("a.pdf", "application/pdf", 1024),
                                   Attachment("notes.txt", "text/plain", 8))


@pytest.mark.parametrize("disposition, expected", [
    ("attachment; filename*=utf-8''%E7%85%A7%E7%89%87%20%E7%94%B5%E6%A2%AF.jpg", "照片 电梯.jpg"),
    ("attachment; filename*=gb2312''%E9F%BB%F9.jpg", "镕基.jpg"),
    ("attachment; filename*0*=utf-8''%E5%90%88%E5%90%8C; filename*1*=%E6%89%AB%E6%8F%8F.pdf", "合同扫描.pdf"),
    (f'attachment; filename="{word("维修单.docx", "gb2312")}"', "维修单.docx"),
    ('attachment; filename="C:\\Users\\me\\report.xlsx"', "report.xlsx"),
])
def test_attachment_names_are_decoded(disposition, expected):
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain")], b"see attachment"),
        part([("Content-Type", "application/octet-stream"), ("Content-Disposition", disposition)], b"12345"),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert [a.name for a in message.attachments] == [expected]
    assert message.attachments[0].size == 5


def test_raw_gbk_attachment_name():
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain; charset=gbk")], "见附件".encode("gbk")),
        part([("Content-Type", 'application/msword; name="现场照片说明.doc"'.encode("gbk"))], b"DOC"),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.attachments == (Attachment("现场照片说明.doc", "application/msword", 3),)


def test_tnef_winmail_dat_is_listed_as_such():
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain")], b"see attached"),
        part([("Content-Type", "application/ms-tnef"), ("Content-Transfer-Encoding", "base64")],
             base64.b64encode(b"\x78\x9f\x3e\x22" + b"\0" * 60)),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    (attachment,) = message.attachments
    assert attachment == Attachment("winmail.dat", "application/ms-tnef", 64)
    assert attachment.is_tnef
    assert any("TNEF" in defect for defect in message.defects)


def test_long_body_is_capped_with_a_marker():
    body = ("投诉内容" * 15_000).encode("utf-8")  # 60,000 characters
    message = parse_message(build(BASIC + [("Content-Type", "text/plain; charset=utf-8")], body))
    assert len(message.body_text) <= 45_000
    kept, marker = message.body_text.split("\n…[truncated: ")
    dropped = 60_000 - len(kept)
    assert marker == f"{dropped} more characters / 已截断 {dropped} 字]"
    assert len(parse_message(build(BASIC, body), body_max_chars=1000).body_text) <= 1000
    assert parse_message(build(BASIC, b"short"), body_max_chars=1000).body_text == "short"


def test_body_max_chars_must_leave_room_for_the_marker():
    with pytest.raises(ValueError):
        parse_message(build(BASIC, b"x"), body_max_chars=10)


def test_format_flowed_lines_are_joined():
    raw = build(BASIC + [("Content-Type", "text/plain; charset=utf-8; format=flowed")],
                b"This line was \r\nsoft broken.\r\nHard line.\r\n")
    assert parse_message(raw).body_text == "This line was soft broken.\nHard line."


def test_forwarded_message_inline_is_part_of_the_body():
    inner = build([("From", "Tenant <t@example.com>"), ("Subject", word("原投诉", "utf-8")),
                   ("Content-Type", "text/plain; charset=utf-8")], "电梯坏了".encode())
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain")], b"FYI"),
        part([("Content-Type", "message/rfc822")], inner),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.body_text.startswith("FYI\n\n---------- 转发的邮件 Forwarded message ----------")
    assert "Subject: 原投诉" in message.body_text
    assert message.body_text.endswith("电梯坏了")


def test_delivery_report_is_flagged():
    content_type, body = multipart("report", [
        part([("Content-Type", "text/plain")], b"Your message could not be delivered."),
        part([("Content-Type", "message/delivery-status")], b"Reporting-MTA: dns; mx.example\r\n"),
    ])
    content_type += "; report-type=delivery-status"
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert message.is_report and message.report_type == "delivery-status"
    assert message.content_type == "multipart/report"
    assert message.body_text == "Your message could not be delivered."


def test_forwarded_report_does_not_make_the_message_a_report():
    report_type, report = multipart("report", [
        part([("Content-Type", "text/plain")], b"Delivery failed."),
        part([("Content-Type", "message/delivery-status")], b"Reporting-MTA: dns; mx.example\r\n"),
    ], boundary="R")
    bounce = build([("From", "MAILER-DAEMON@mx.example"), ("Subject", "Undelivered Mail"),
                    ("Content-Type", report_type + "; report-type=delivery-status")], report)
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain; charset=utf-8")], "我们发给贵司的邮件被退回了".encode()),
        part([("Content-Type", "message/rfc822"), ("Content-Disposition", "attachment; filename=bounce.eml")],
             bounce),
    ])
    message = parse_message(build(BASIC + [("Content-Type", content_type)], body))
    assert not message.is_report and message.report_type is None
    assert [a.name for a in message.attachments] == ["bounce.eml"]


def test_unquoted_boundary_with_equals_sign_falls_back_to_compat32():
    raw = (b"From: a@example.com\r\nSubject: s\r\nContent-Type: multipart/mixed;\r\n"
           b"  boundary=----=_Part_1_2.3\r\n\r\n------=_Part_1_2.3\r\nContent-Type: text/plain\r\n\r\n"
           b"hello\r\n------=_Part_1_2.3\r\nContent-Type: image/jpeg; name=a.jpg\r\n\r\nJPEG\r\n"
           b"------=_Part_1_2.3--\r\n")
    message = parse_message(raw)
    assert message.body_text == "hello"
    assert [a.name for a in message.attachments] == ["a.jpg"]


def test_broken_base64_and_missing_boundary_do_not_crash():
    raw = build(BASIC + [("Content-Type", "text/plain; charset=utf-8"),
                         ("Content-Transfer-Encoding", "base64")], b"5L2g5aW9!!!not*base64")
    assert isinstance(parse_message(raw), ParsedMessage)
    no_boundary = build(BASIC + [("Content-Type", "multipart/mixed")], b"just text")
    assert parse_message(no_boundary).body_text == "just text"


def test_headers_without_body_and_body_without_headers():
    assert parse_message(b"From: a@example.com\r\nSubject: only headers\r\n").subject == "only headers"
    headless = parse_message("没有信头的正文\n第二行".encode("utf-8"))
    assert headless.body_text == "没有信头的正文\n第二行"
    assert "no header lines" in headless.defects


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n", b"\x78\x9f\x3e\x22\x00\x01\x02" * 50])
def test_nothing_to_read_is_unparseable(raw):
    with pytest.raises(UnparseableMessage) as caught:
        parse_message(raw)
    assert caught.value.reason


def test_mangled_messages_parse_or_are_unparseable_never_crash():
    content_type, body = multipart("mixed", [
        part([("Content-Type", "text/plain; charset=gb2312"), ("Content-Transfer-Encoding", "base64")],
             b64("你好，3号楼2单元501漏水", "gbk").encode()),
        part([("Content-Type", "application/pdf"),
              ("Content-Disposition", "attachment; filename*=gbk''%D6%D0.pdf")], b"%PDF"),
    ])
    original = build(BASIC + [("Subject", word("投诉", "gb2312")), ("Content-Type", content_type)], body)
    rng = random.Random(7)
    for _ in range(300):
        mutated = bytearray(original[: rng.randrange(len(original) + 1)])
        for _ in range(rng.randrange(8)):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            result = parse_message(bytes(mutated))
        except UnparseableMessage:
            continue
        assert isinstance(result.body_text, str)


def test_contact_details_come_from_the_body():
    body = "您好，A栋1203室的空调漏水。\n\n杭州云栖科技有限公司\n王芳\n手机：139-1234-5678\n"
    message = parse_message(build(BASIC + [("Content-Type", "text/plain; charset=utf-8")], body.encode()))
    assert (message.company, message.phone, message.location) == (
        "杭州云栖科技有限公司", "139-1234-5678", "A栋1203室")


@pytest.mark.parametrize("module", ["charsets", "contact", "html_text", "message"])
def test_docstring_examples(module):
    imported = importlib.import_module(f"daemon.parsing.{module}")
    assert doctest.testmod(imported).failed == 0


# --- html_text -----------------------------------------------------------------------------

@pytest.mark.parametrize("html, text", [
    ("<p>a</p><p>b</p>", "a\n\nb"),
    ("a<br>b<br/><br>c", "a\nb\n\nc"),
    ("<div>x</div><div>y</div>", "x\ny"),
    ("<blockquote>quoted<br>more</blockquote>mine", "> quoted\n> more\n\nmine"),
    ("<p>x</p><pre>  keep   spaces\n  here</pre>", "x\n\n  keep   spaces\n  here"),
    ("<xml><o:OfficeDocumentSettings>junk</o:OfficeDocumentSettings></xml><p>text</p>", "text"),
    ("<!-- comment --><p>x &lt;&gt; &amp; &quot; &#39;</p>", "x <> & \" '"),
    ("<p>unclosed <b>bold <div>x</p> &bogus;", "unclosed bold\nx\n\n&bogus;"),
    ("<table><tr><td></td><td>b</td></tr></table>", "b"),
    ("<hr>after", "----------\nafter"),
])
def test_html_to_text(html, text):
    assert html_to_text(html) == text


# --- contact details -----------------------------------------------------------------------

@pytest.mark.parametrize("text, company", [
    ("公司：杭州云栖科技有限公司\n联系人：张三", "杭州云栖科技有限公司"),
    ("企业名称：宁波海曙精密机械股份有限公司。", "宁波海曙精密机械股份有限公司"),
    ("Company: Acme Trading Inc.", "Acme Trading Inc."),
    ("Regards,\nJohn\nAcme Trading Co., Ltd.\nTel: 123", "Acme Trading Co., Ltd."),
    ("您好\n\n——苏州工业园区某某电子有限公司\n", "苏州工业园区某某电子有限公司"),
    ("我是杭州云栖科技有限公司的行政，想反映问题", "杭州云栖科技有限公司"),
    ("请尽快处理，谢谢", None),
    ("我们公司在这边很多年了，有限公司的事情", None),
    ("> 公司：引用里的公司有限公司\n我没写公司", None),
])
def test_find_company(text, company):
    assert find_company(text) == company


@pytest.mark.parametrize("text, phone", [
    ("手机：13912345678", "13912345678"),
    ("联系电话：0571-88886666", "0571-88886666"),
    ("电话 (021) 1234 5678", "(021) 1234 5678"),
    ("请回电 138 1234 5678，谢谢", "138 1234 5678"),
    ("+86-139-1234-5678", "+86-139-1234-5678"),
    ("Tel: +86 571 8888 6666", "+86 571 8888 6666"),
    ("Phone: +1 (415) 555-0100", "+1 (415) 555-0100"),
    ("M: 13912345678", "13912345678"),
    ("call 0571-88886666 ext. 12", "0571-88886666 ext. 12"),
    ("座机：0571-88886666转8001", "0571-88886666转8001"),
    ("订单号：13812345678，请核实", None),
    ("订单号13812345678，我的电话13912345678", "13912345678"),
    ("Order #13812345678 was wrong", None),
    ("日期 2024-05-14 10:30，编号 C-250514-007", None),
    ("身份证 330106199001011234", None),
    ("> 电话：0571-12345678\n原文", None),
    ("请回电13812345678谢谢", "13812345678"),
    ("联系人：张三 13812345678", "13812345678"),
])
def test_find_phone(text, phone):
    assert find_phone(text) == phone


@pytest.mark.parametrize("text, location", [
    ("3号楼2单元501漏水", "3号楼2单元501"),
    ("A栋1203室空调坏了", "A栋1203室"),
    ("B座3层厕所堵了", "B座3层"),
    ("C区5栋2楼走廊", "C区5栋2楼"),
    ("园区8号厂房门口积水", "8号厂房"),
    ("我们在1203室", "1203室"),
    ("地址：园区西区8号厂房二楼", "园区西区8号厂房二楼"),
    ("Building 5, Unit 302 has no power", "Building 5, Unit 302"),
    ("Our office is Unit 3B", "Unit 3B"),
    ("Bldg 2 parking lot", "Bldg 2"),
    ("Room 1203 is cold", "Room 1203"),
    ("the 3rd Floor toilet", "3rd Floor"),
    ("the unit is broken", None),
    ("we have 3 units broken", None),
    ("请尽快处理", None),
    ("编号 C-250514-007", None),
    ("我们在Room 1203办公", "Room 1203"),
])
def test_find_location(text, location):
    assert find_location(text) == location


def test_contact_ignores_quoted_reply_text():
    text = ("好的，谢谢。\n\n------------------ 原始邮件 ------------------\n"
            "发件人: 园区服务中心\n电话：0571-88886666\n3号楼")
    contact = extract_contact(text)
    assert (contact.company, contact.phone, contact.location) == (None, None, None)
