"""parse_command, resolve_department and describe_commands on replies people really type."""

from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import pytest

from daemon.config import CommandsConfig, Department
from daemon.replies.commands import (
    Command,
    describe_commands,
    parse_command,
    resolve_department,
)

WORDS = CommandsConfig()  # 收到/签收/ACK/OK, 进展/NOTE, 完成/已处理/已解决/DONE, 确认/APPROVE, …

COMMANDS = [
    # (reply text, kind, argument)
    ("收到", "ack", ""),
    ("收到！谢谢", "ack", "谢谢"),
    ("收到了", "ack", ""),
    ("收到啦，马上安排", "ack", "马上安排"),
    ("收到收到", "ack", ""),
    ("签收。", "ack", ""),
    ("ACK", "ack", ""),
    ("ack - on my way", "ack", "on my way"),
    ("ok.", "ack", ""),
    ("OK，下午过去", "ack", "下午过去"),
    ("ＯＫ", "ack", ""),
    ("【收到】", "ack", ""),
    ("\n\n  收到\n王工", "ack", "王工"),
    ("进展：已联系厂家", "note", "已联系厂家"),
    ("进展：已联系厂家\n明天上午上门更换。", "note", "已联系厂家\n明天上午上门更换。"),
    ("NOTE parts ordered", "note", "parts ordered"),
    ("note: waiting for the supplier", "note", "waiting for the supplier"),
    ("DONE replaced the valve", "done", "replaced the valve"),
    ("Done.", "done", ""),
    ("已处理，更换了水管", "done", "更换了水管"),
    ("已处理完毕，地面已清理", "done", "地面已清理"),
    ("完成了，换了灯管", "done", "换了灯管"),
    ("已解决", "done", ""),
    ("确认", "approve", ""),
    ("APPROVE", "approve", ""),
    ("退回：照片里还在漏水，请重新处理", "reject", "照片里还在漏水，请重新处理"),
    ("REJECT not fixed", "reject", "not fixed"),
    ("转 环境卫生部", "transfer", "环境卫生部"),
    ("转给环境卫生部", "transfer", "环境卫生部"),
    ("转：安保部", "transfer", "安保部"),
    ("TRANSFER environment", "transfer", "environment"),
    ("transfer security", "transfer", "security"),
    ("检讨：巡检不到位，已增加每周检查", "review", "巡检不到位，已增加每周检查"),
    ("REVIEW root cause: worn valve", "review", "root cause: worn valve"),
]


@pytest.mark.parametrize("text,kind,argument", COMMANDS)
def test_commands(text, kind, argument):
    command = parse_command(text, WORDS)
    assert (command.kind, command.argument) == (kind, argument)


SATISFACTION = [
    # (reply text, score, comment)
    ("满意", "4", ""),
    ("满意，谢谢你们！", "4", "谢谢你们！"),
    ("非常满意", "5", ""),
    ("很满意！师傅很专业", "5", "师傅很专业"),
    ("基本满意", "3", ""),
    ("一般", "3", ""),
    ("不满意，水管还在漏", "2", "水管还在漏"),
    ("不太满意", "2", ""),
    ("很不满意！！", "1", ""),
    ("非常不满意\n第三次报修了", "1", "第三次报修了"),
    ("我很满意", "5", ""),
    ("satisfied", "4", ""),
    ("Very satisfied, thanks", "5", "thanks"),
    ("neutral", "3", ""),
    ("unsatisfied", "2", ""),
    ("Dissatisfied: still leaking", "2", "still leaking"),
    ("very dissatisfied", "1", ""),
    ("5", "5", ""),
    ("1 还是漏水", "1", "还是漏水"),
    ("5分", "5", ""),
    ("4 星", "4", ""),
    ("5/5", "5", ""),
    ("３分", "3", ""),
    ("评分：2", "2", ""),
    ("★★★★", "4", ""),
    ("★★☆☆☆ 太慢了", "2", "太慢了"),
    ("五分", "5", ""),
]


@pytest.mark.parametrize("text,score,comment", SATISFACTION)
def test_satisfaction(text, score, comment):
    command = parse_command(text, WORDS)
    assert (command.kind, command.argument, command.comment) == ("satisfaction", score, comment)


NOT_COMMANDS = [
    "OKAY?",  # OK only as a whole word
    "Okay, I will check",
    "Donezo",
    "Acknowledged",  # not a configured word
    "转发给王经理看一下",  # 转 followed by a Chinese character is not "transfer"
    "确认一下，这是哪栋楼？",  # asking is not signing off
    "确认收到",
    "已处理好几次了，还是漏水",
    "进展不大",
    "请问什么时候来修？",
    "满意度调查我稍后填写",
    "10",  # not a 1-5 score
    "4.5",
    "5号楼也漏水",
    "0",
    "☆☆☆",
    "我们收到了",  # the command word must open the line
]


@pytest.mark.parametrize("text", NOT_COMMANDS)
def test_not_commands(text):
    command = parse_command(text, WORDS)
    assert command.kind == "unknown"
    assert command.argument == text.strip()


def test_unsatisfied_is_never_read_as_satisfied():
    for text in ("不满意", "很不满意", "非常不满意", "dissatisfied", "unsatisfied", "very dissatisfied"):
        assert int(parse_command(text, WORDS).argument) <= 2, text


def test_empty_and_quote_only_replies():
    assert parse_command("", WORDS) == Command("empty", "", "")
    assert parse_command(" \n\t\n", WORDS).kind == "empty"
    assert parse_command("> 请签收\n>\n", WORDS).kind == "empty"


def test_first_non_empty_line_decides_and_quoted_lines_are_skipped():
    command = parse_command("> 请签收处理单\n\n收到\n进展：已联系厂家", WORDS)
    assert command == Command("ack", "进展：已联系厂家", "收到")
    assert parse_command("请问地址？\n收到", WORDS).kind == "unknown"


def test_transfer_keeps_following_lines_as_comment():
    command = parse_command("转 环境卫生部\n这是垃圾清运的问题。\n", WORDS)
    assert command == Command("transfer", "环境卫生部", "转 环境卫生部", "这是垃圾清运的问题。")


def test_unknown_keeps_whole_text():
    command = parse_command("  水管是谁负责的？\n请回电 13800000000  ", WORDS)
    assert command == Command("unknown", "水管是谁负责的？\n请回电 13800000000", "水管是谁负责的？")


def test_words_come_from_config():
    words = SimpleNamespace(ack=("已阅", "SEEN"), note=("跟进",), done=("搞定",), approve=("同意",),
                            reject=("不同意",), transfer=("移交",), review=("总结",))
    assert parse_command("已阅", words).kind == "ack"
    assert parse_command("seen!", words).kind == "ack"
    assert parse_command("收到", words).kind == "unknown"
    assert parse_command("不同意，请重做", words) == Command("reject", "请重做", "不同意，请重做")
    assert parse_command("同意", words).kind == "approve"
    assert parse_command("移交 安保部", words).argument == "安保部"


def test_longer_word_wins_over_its_prefix():
    words = SimpleNamespace(ack=("OK",), note=("OK NOTE",), done=(), approve=(), reject=(),
                            transfer=(), review=())
    assert parse_command("ok note pump delivered", words) == Command(
        "note", "pump delivered", "ok note pump delivered")


def test_command_is_frozen():
    command = parse_command("收到", WORDS)
    with pytest.raises(FrozenInstanceError):
        command.kind = "done"


# --- departments ---------------------------------------------------------------------------

DEPARTMENTS = [
    Department(key="property", name="物业管理部", head="zhang.wei@park.example.com",
               members=["property@park.example.com"]),
    Department(key="environment", name="环境卫生部门", head="chen.jing@park.example.com",
               members=["env@park.example.com"]),
    Department(key="Security", name="安保部", head="liu.yang@park.example.com",
               members=["security@park.example.com"]),
]


@pytest.mark.parametrize("text,key", [
    ("物业管理部", "property"),
    ("物业管理", "property"),
    ("PROPERTY", "property"),
    ("环境卫生部门", "environment"),
    ("环境卫生部", "environment"),
    ("环境卫生", "environment"),
    ("environment", "environment"),
    ("security", "Security"),
    ("安保", "Security"),
    ("环境卫生部 请尽快处理", "environment"),
    ("安保部，谢谢", "Security"),
    ("财务部", None),
    ("物业", None),  # no guessing from part of a name
    ("", None),
])
def test_resolve_department(text, key):
    assert resolve_department(text, DEPARTMENTS) == key


def test_transfer_argument_resolves():
    command = parse_command("TRANSFER environment\nnot ours", WORDS)
    assert resolve_department(command.argument, DEPARTMENTS) == "environment"


# --- how to reply ----------------------------------------------------------------------------

def test_describe_commands_lists_every_kind_in_both_languages():
    text = describe_commands(WORDS, "zh-CN")
    lines = text.splitlines()
    assert len(lines) == 7
    assert lines[0] == "收到 / 签收 / ACK / OK — 签收 sign for it"
    assert "转 部门 / TRANSFER dept — 转给其他部门 move to another department" in lines
    assert "进展 … / NOTE … — 进展说明 progress note" in lines


def test_describe_commands_english_first_and_satisfaction_line():
    text = describe_commands(WORDS, "en", kinds=("ack", "satisfaction"))
    first, second = text.splitlines()
    assert first == "收到 / 签收 / ACK / OK — sign for it 签收"
    assert "1-5" in second and "满意" in second and "satisfied" in second


def test_described_words_parse_back_to_their_kind():
    for line in describe_commands(WORDS).splitlines():
        spelled = line.split(" — ")[0].split(" / ")[0].replace(" …", " text").replace(" 部门", " 安保部")
        kind = parse_command(spelled, WORDS).kind
        assert kind in ("ack", "note", "done", "approve", "reject", "transfer", "review"), line
