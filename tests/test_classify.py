"""Keyword classification: subject outweighs body, urgent keywords win, unknown is flagged."""

from types import SimpleNamespace as NS

from daemon.classify import classify

CATEGORIES = [
    NS(key="property", keywords=["物业", "停车", "parking"]),
    NS(key="facilities", keywords=["漏水", "电梯", "空调", "leak", "elevator"]),
    NS(key="environment", keywords=["噪音", "垃圾", "异味", "noise", "smell"]),
    NS(key="other", keywords=[]),
]
PRIORITIES = [
    NS(key="urgent", keywords=["火灾", "着火", "冒烟", "fire", "smoke"]),
    NS(key="high", keywords=["停电", "被困", "trapped"]),
    NS(key="normal", keywords=[]),
]


def run(subject, body=""):
    return classify(subject, body, categories=CATEGORIES, priorities=PRIORITIES,
                    default_category="other", default_priority="normal")


def test_chinese_keyword_in_subject():
    result = run("3号楼电梯坏了", "今天早上开始")
    assert (result.category, result.priority, result.needs_check) == ("facilities", "normal", False)
    assert "电梯" in result.matched


def test_subject_counts_more_than_body():
    # body mentions noise twice, subject mentions the leak once: subject weight 3 > body 2
    result = run("Water leak", "The noise of the pump. More noise at night.")
    assert result.category == "facilities"


def test_body_alone_decides_when_subject_is_silent():
    assert run("投诉", "楼道里垃圾很多，有异味").category == "environment"


def test_english_is_case_insensitive():
    assert run("ELEVATOR stuck").category == "facilities"


def test_most_urgent_priority_wins():
    result = run("Elevator: people trapped", "there is smoke in the shaft")
    assert result.priority == "urgent"
    assert run("电梯停电，有人被困").priority == "high"


def test_nothing_matched_gives_defaults_flagged_for_staff():
    result = run("你好", "请联系我")
    assert (result.category, result.priority, result.needs_check) == ("other", "normal", True)
    assert result.matched == ()


def test_ties_go_to_the_first_rule_listed():
    assert run("停车场漏水").category == "property"
