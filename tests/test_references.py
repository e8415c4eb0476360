"""Reference numbers: format, parse, find in subjects, next number after a lost journal."""

from datetime import datetime
from zoneinfo import ZoneInfo

from daemon.references import day_code, find_references, format_reference, highest_number, parse_reference


def test_format_and_parse_round_trip():
    assert format_reference("C", "250514", 7) == "C-250514-007"
    assert parse_reference("C-250514-007", "C") == ("250514", 7)
    assert format_reference("C", "250514", 1234) == "C-250514-1234"
    assert parse_reference("C-250514-1234", "C") == ("250514", 1234)


def test_parse_rejects_other_prefixes_and_garbage():
    assert parse_reference("X-250514-007", "C") is None
    assert parse_reference("C-2505-007", "C") is None
    assert parse_reference("", "C") is None


def test_day_code_uses_the_given_zone():
    late_utc = datetime(2025, 5, 13, 20, 30, tzinfo=ZoneInfo("UTC"))
    assert day_code(late_utc.astimezone(ZoneInfo("Asia/Shanghai"))) == "250514"


def test_find_references_in_reply_subjects():
    assert find_references("Re: 回复: [C-250514-007] 漏水", "C") == ["C-250514-007"]
    assert find_references("[PD-250514-001] and C-250514-002", "C") == ["C-250514-002"]
    assert find_references("no reference here", "C") == []


def test_highest_number_of_the_day():
    refs = ["C-250514-007", "C-250514-012", "C-250513-099", "junk", ""]
    assert highest_number(refs, "C", "250514") == 12
    assert highest_number(refs, "C", "250515") == 0
