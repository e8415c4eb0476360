"""Templates render in both languages; outgoing mail carries our Message-ID and RFC 3834 marker."""

from datetime import datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import jinja2
import pytest

from daemon.outgoing import build_message
from daemon.templates import Templates

NOW = datetime(2025, 5, 14, 10, 42, tzinfo=ZoneInfo("Asia/Shanghai"))
CONTEXT = dict(reference="C-250514-007", subject="<b>电梯</b> =1+1", contact_name="王芳",
               category_name="设施维护", park_name="东湖科技产业园", received_at="2025-05-14 10:42")


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_apology_renders_with_reference_in_subject(language):
    rendered = Templates(language).render("tenant_ack", **CONTEXT)
    assert rendered.subject.startswith("[C-250514-007]")
    assert "\n" not in rendered.subject
    assert "C-250514-007" in rendered.text
    assert "&lt;b&gt;" not in rendered.text  # text parts are not escaped
    assert rendered.html is not None and "<b>C-250514-007</b>" in rendered.html


def test_html_part_escapes_tenant_text():
    rendered = Templates("en").render("tenant_ack", **{**CONTEXT, "contact_name": "<script>x</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


def test_a_missing_variable_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.UndefinedError):
        Templates("en").render("tenant_ack", reference="C-1")


def test_unknown_language_names_the_choices():
    with pytest.raises(FileNotFoundError, match="zh-CN"):
        Templates("fr")


def test_built_message_threads_and_marks_auto_reply():
    rendered = Templates("zh-CN").render("tenant_ack", **CONTEXT)
    message = build_message(rendered, from_address="complaints@park.test", from_name="园区服务中心",
                            to=["tenant@firm.test"], now=NOW, in_reply_to="<orig@firm.test>",
                            references=("<older@firm.test>",), auto_reply=True,
                            reference="C-250514-007")
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert parsed["Message-ID"].endswith("@park.test>")
    assert parsed["In-Reply-To"] == "<orig@firm.test>"
    assert parsed["References"] == "<older@firm.test> <orig@firm.test>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["Subject"].startswith("[C-250514-007]")
    assert "园区服务中心" in str(parsed["From"])
    text = parsed.get_body(("plain",)).get_content()
    assert "C-250514-007" in text and "非常抱歉" in text
    assert parsed.get_body(("html",)) is not None


def test_long_chinese_subjects_keep_their_spaces():
    from daemon.templates import RenderedMail

    subject = "[C-250514-002] 【严重】处理单 Handling slip：紧急 Urgent · 安全 Safety · 紧急！B座仓库冒烟，有人受伤，请立即处理"
    message = build_message(RenderedMail(subject, "text", None), from_address="c@park.test",
                            from_name="园区", to=["x@park.test"], now=NOW)
    assert message_from_bytes(bytes(message), policy=policy.default)["Subject"] == subject
