"""strip_quoted on replies as Chinese and Western mail programs write them.

Each Chinese case is a realistic reply to a ParkDesk handling slip: the reply on top, then the
client's own quote header and the quoted slip, in the client's layout (see the list of quote
headers in ../shared/mail/README.md).
"""

import pytest

from daemon.parsing.html_text import html_to_text
from daemon.replies.quotes import (
    explain_strip,
    header_label,
    is_attribution,
    strip_quoted,
)

SLIP = """您好：

园区服务中心转来以下投诉，请于5分钟内签收。
参考号：C-250514-007
投诉企业：东湖光电有限公司
内容：B栋3楼男卫生间水管漏水，地面积水。

如何回复：
收到 / ACK — 签收 sign for it
进展 … / NOTE … — 进展 progress note"""

CENTER = "园区服务中心 <complaints@donghu-park.example.com>"


def quoted(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


CHINESE_CASES = [
    ("qq_mail", f"""收到，我们下午派人过去。

------------------ 原始邮件 ------------------
发件人: "园区服务中心"<complaints@donghu-park.example.com>;
发送时间: 2019年7月18日(星期四) 下午3:22
收件人: "物业管理部"<property@donghu-park.example.com>;
主题: [C-250514-007] 处理单：B栋3楼卫生间漏水

{SLIP}
""", "收到，我们下午派人过去。", "separator"),
    ("qq_mail_nbsp_separator", f"""收到

------------------\u00a0原始邮件\u00a0------------------
发件人:\u00a0"园区服务中心"<complaints@donghu-park.example.com>;
发送时间:\u00a02019年7月18日(星期四) 下午3:22
主题:\u00a0[C-250514-007] 处理单

{SLIP}""", "收到", "separator"),
    ("foxmail_full_width_colons", f"""已处理，更换了水管，地面已清理。

发件人： 园区服务中心<mailto:complaints@donghu-park.example.com>
发送时间： 2020-10-17 13:16
收件人： 设施维护部<mailto:repairs@donghu-park.example.com>
主题： [C-250514-007] 处理单

{SLIP}""", "已处理，更换了水管，地面已清理。", "header_block"),
    ("outlook_zh_cn_underscores", f"""签收。

________________________________
发件人: {CENTER}
发送时间: 2023年7月19日 18:17:40
收件人: 物业管理部 <property@donghu-park.example.com>
抄送: 王芳 <wang.fang@donghu-park.example.com>
主题: [C-250514-007] 处理单：B栋3楼卫生间漏水

{SLIP}""", "签收。", "header_block"),
    ("outlook_zh_cn_old_separator", f"""进展：已联系厂家，明天上午上门更换阀门。

-----邮件原件-----
发件人: 园区服务中心 [mailto:complaints@donghu-park.example.com]
发送时间: 2012年3月1日 9:00
收件人: 设施维护部
主题: [C-250514-007] 处理单

{SLIP}""", "进展：已联系厂家，明天上午上门更换阀门。", "separator"),
    ("outlook_zh_tw", f"""收到，謝謝。

寄件者: {CENTER}
寄件日期: 2024年4月5日 上午 03:55
收件者: 安保部 <security@donghu-park.example.com>
副本: 王芳 <wang.fang@donghu-park.example.com>
主旨: [C-250514-007] 處理單

{SLIP}""", "收到，謝謝。", "header_block"),
    ("coremail_attribution_quoted", f"""ACK 马上安排

在 2022-06-25 17:44:48，"园区服务中心" <complaints@donghu-park.example.com> 写道：
{quoted(SLIP)}""", "ACK 马上安排", "attribution"),
    ("coremail_attribution_unquoted", f"""完成：已更换灯管，走廊恢复照明。
在 2022-06-25 17:44:48，"园区服务中心" <complaints@donghu-park.example.com> 写道：
{SLIP}""", "完成：已更换灯管，走廊恢复照明。", "attribution"),
    ("coremail_original_separator", f"""完成 已更换灯管

-----原始邮件-----
发件人:"园区服务中心" <complaints@donghu-park.example.com>
发送时间:2022-06-25 17:44:48 (星期六)
收件人:repairs@donghu-park.example.com
主题:[C-250514-007] 处理单

{SLIP}""", "完成 已更换灯管", "separator"),
    ("netease_enterprise", f"""DONE 门禁已修复，刷卡正常。

发件人：园区服务中心
发送日期：2021-08-13 22:41:02
收件人：security@donghu-park.example.com
主题：[C-250514-007] 处理单

{SLIP}""", "DONE 门禁已修复，刷卡正常。", "header_block"),
    ("mail_master", f"""好的，收到

来自网易邮箱大师

---- 回复的原邮件 ----
| 发件人 | 园区服务中心<complaints@donghu-park.example.com> |
| 日期 | 2024年03月01日 10:00 |
| 收件人 | property@donghu-park.example.com |
| 主题 | [C-250514-007] 处理单 |
{SLIP}""", "好的，收到", "separator"),
    ("huawei_welink_spaced_labels", f"""收到

发件人：园区服务中心
发送时间：2025-03-02 09:15
收件人：物业管理部
抄 送：王芳
主 题：[C-250514-007] 处理单

{SLIP}""", "收到", "header_block"),
    ("gmail_zh_cn", f"""转 环境卫生部
这是垃圾清运的问题，不归我们管。

{CENTER} 于2026年5月18日周一 12:18写道：

{quoted(SLIP)}""", "转 环境卫生部\n这是垃圾清运的问题，不归我们管。", "attribution"),
    ("gmail_zh_cn_wrapped", f"""收到了

{CENTER}
于2026年5月18日周一 12:18写道：

{quoted(SLIP)}""", "收到了", "attribution"),
    ("mobile_gmail_zh", f"""签收

在 2026年5月22日星期五，{CENTER} 写道：

{quoted(SLIP)}""", "签收", "attribution"),
    ("apple_mail_zh_with_iphone_signature", f"""满意，谢谢你们！

发自我的iPhone

2026年5月19日 12:31，{CENTER} 写道：

{quoted(SLIP)}""", "满意，谢谢你们！", "attribution"),
    ("thunderbird_zh", f"""NOTE 配件已到，明天安装。

在 2026/1/6 11:30, 园区服务中心 写道:
{quoted(SLIP)}""", "NOTE 配件已到，明天安装。", "attribution"),
    ("huawei_phone_signature", f"""不满意，水管还在漏。

发自我的华为手机
------------------ 原始邮件 ------------------
发件人: "园区服务中心"<complaints@donghu-park.example.com>;
发送时间: 2026年5月20日(星期三) 上午9:02

{SLIP}""", "不满意，水管还在漏。", "device_signature"),
    ("signature_delimiter_then_outlook", f"""收到

--
赵磊 设施维护部
电话 0571-8888 0000

-----Original Message-----
From: {CENTER}
Sent: Monday, May 18, 2026 12:18 PM

{SLIP}""", "收到", "signature_delimiter"),
]


@pytest.mark.parametrize("name,text,visible,rule", CHINESE_CASES, ids=[c[0] for c in CHINESE_CASES])
def test_chinese_clients(name, text, visible, rule):
    result = explain_strip(text)
    assert result.text == visible
    assert rule in result.rules


def test_qq_mail_html_reply_through_html_to_text():
    html = (
        '<div>收到，马上处理。</div><div><br></div>'
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        '------------------&nbsp;原始邮件&nbsp;------------------</div>'
        '<div style="font-size: 12px;background:#efefef;padding:8px;">'
        '<div><b>发件人:</b>&nbsp;"园区服务中心"&lt;complaints@donghu-park.example.com&gt;;</div>'
        '<div><b>发送时间:</b>&nbsp;2019年7月18日(星期四) 下午3:22</div>'
        '<div><b>主题:</b>&nbsp;[C-250514-007] 处理单</div></div><div>您好：请签收。</div>')
    assert strip_quoted(html_to_text(html)) == "收到，马上处理。"


def test_coremail_html_blockquote_through_html_to_text():
    html = ('<div>收到！谢谢</div><div>在 2022-06-25 17:44:48，"园区服务中心"&lt;complaints@'
            'donghu-park.example.com&gt; 写道：</div><blockquote style="padding-left:1ex">'
            '<div>您好：请签收以下投诉。</div><div>参考号：C-250514-007</div></blockquote>')
    assert strip_quoted(html_to_text(html)) == "收到！谢谢"


@pytest.mark.parametrize("signature", ["发自我的iPhone", "来自网易邮箱大师", "发自我的华为手机",
                                       "发自我的 iPad", "从我的 iPhone 发送", "Sent from my iPhone",
                                       "Get Outlook for Android<https://aka.ms/ghei36>",
                                       "Sent from my Verizon Wireless BlackBerry"])
def test_device_signatures_are_cut(signature):
    assert strip_quoted(f"收到\n\n{signature}") == "收到"


# --- text that only looks like a quote header stays ----------------------------------------

KEPT = [
    "他在邮件里写道：\n问题依旧。",  # "wrote:" in prose, no time or address
    "发件人：张三\n请尽快处理。",  # a single header-like line is not a header block
    "完成\n日期：5月1日\n主题：更换B栋水管阀门",  # a report's own labels do not open a header block
    "Sent from my desk, is much easier than my mobile phone.",
    "来自A栋101的张三\n电话 13800000000",  # "来自" without a device or mail app
    "On blah-blah-blah",
    "Please enter your feedback below.\n\n------- Enter Feedback Below -------\n\nFine.",
    "- A\n- B\n\n- C",
    "收到\n\n—王工",
]


@pytest.mark.parametrize("text", KEPT)
def test_look_alikes_are_kept(text):
    assert strip_quoted(text) == text


# --- Western basics ------------------------------------------------------------------------

WESTERN_CASES = [
    ("gmail", ("Will do.\n\nOn Mon, May 18, 2026 at 12:18 PM Service Center <complaints@x.example> "
               "wrote:\n\n> Please sign for C-250514-007.\n> Thanks"), "Will do.", "attribution"),
    ("gmail_wrapped", ("ACK\n\nOn Wed, May 18, 2016 at 11:10 PM Steven Scott <notifications@github.com>\n"
                       "wrote:\n\n\nThat way people can tell\n"), "ACK", "attribution"),
    ("outlook_original_message", ("Done, valve replaced.\n\n-----Original Message-----\nFrom: Center\n"
                                  "Sent: Monday\nTo: Repairs\nSubject: slip\n\nPlease sign"),
     "Done, valve replaced.", "separator"),
    ("outlook_header_block", ("OK\n________________________________________\nFrom: Center [center@x.example]\n"
                              "Sent: Friday, 23 March 2012 5:08 p.m.\nTo: John\nSubject: slip\n\nBody"),
     "OK", "header_block"),
    ("outlook_bold_header_block", ("Noted\n\n *From:* Center [mailto:\n center@x.example]\n *Sent:* Friday\n"
                                   " *To:* John\n *Subject:* slip\n\nBody"), "Noted", "header_block"),
    ("apple_mail", "Hello\n> On 22 Aug 2015, at 19:21, Adam <adam@x.example> wrote:\n>\n> Hi there!",
     "Hello", "quoted_block"),
    ("thunderbird", "Fixed.\n\nOn 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\n", "Fixed.", "attribution"),
    ("reply_below_quote", "On 04/19/2011 07:10 AM, Roman wrote:\n\n> Test\nTest reply", "Test reply",
     "attribution"),
    ("reply_shares_line_with_header", "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi",
     "reply", "attribution"),
    ("usenet_signature", "See you.\n\n-- \nJohn Doe\nhttp://john.example", "See you.", "signature_delimiter"),
    ("iphone", "Here is another email\n\nSent from my iPhone", "Here is another email", "device_signature"),
    ("android_dashed", "Test reply\n\n---- John Smith wrote ----\n\n> quoted", "Test reply",
     "dashed_attribution"),
]


@pytest.mark.parametrize("name,text,visible,rule", WESTERN_CASES, ids=[c[0] for c in WESTERN_CASES])
def test_western_clients(name, text, visible, rule):
    result = explain_strip(text)
    assert result.text == visible
    assert rule in result.rules


def test_plain_reply_is_unchanged_apart_from_edges():
    assert strip_quoted("\n\n  收到\r\n谢谢  \r\n\n") == "  收到\n谢谢"
    assert explain_strip("收到").rules == ()


def test_empty_reply_with_only_a_quote_is_empty():
    assert strip_quoted(f"\n\n------------------ 原始邮件 ------------------\n发件人: x\n\n{SLIP}") == ""
    assert strip_quoted(quoted(SLIP)) == ""


def test_forward_with_nothing_above_keeps_forwarded_body():
    text = ("---------- Forwarded message ----------\nFrom: A <a@x.example>\nDate: Thu, Jan 28, 2016\n"
            "Subject: Leak\nTo: b@x.example\n\n\nThe roof leaks.")
    assert strip_quoted(text) == "The roof leaks."


def test_helpers_explain_their_decisions():
    assert header_label("*Sent:* Monday") == "sent"
    assert header_label("抄 送：王芳") == "抄送"
    assert header_label("收到") is None
    assert is_attribution("在 2026/1/6 11:30, 园区服务中心 写道:")
    assert not is_attribution("他在邮件里写道：")
