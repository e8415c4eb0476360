"""Tests for daemon.aftercare: return visit, review of serious complaints, archive.

The clock is a parameter: each test moves ``now`` and, where a timeline matters, plays the
caller (``Desk``): it acts on keys it has not recorded, records them, and writes the action's
cells. Nothing sleeps. May 2025: Monday 12, Wednesday 14, Friday 16, Saturday 17, Monday 19.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from daemon.aftercare import (
    ACTION_KINDS,
    NO_REPLY,
    REOPEN_CLEARS,
    AftercareAction,
    AftercareCheck,
    ArchiveCandidate,
    UnreadableSatisfaction,
    add_calendar_days,
    archive_candidates,
    due_aftercare,
    is_office_time,
    next_office_time,
    nth_working_day_after,
    read_satisfaction,
    satisfaction_outcome,
    visit_send_time,
    working_days_between,
)
from daemon.config import parse_config
from daemon.register import RegisterRow
from daemon.sheet_layout import REGISTER_KEYS, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
REF = "C-250512-001"


def make_config(timezone_name: str = "Asia/Shanghai", **aftercare):
    data = {
        "park": {"name": "测试园区", "timezone": timezone_name},
        "mailbox": {"backend": "maildir", "path": "mail/inbox"},
        "smtp": {"backend": "outbox", "path": "mail/outbox", "from_address": "desk@park.example.com"},
        "register": {"backend": "workbook", "path": "register.xlsx"},
        "service_center": ["service@park.example.com"],
        "leadership": ["boss@park.example.com"],
        "departments": [{"key": "property", "name": "物业管理部", "head": "head@park.example.com"}],
        "categories": [{"key": "other", "name": "其他", "department": "property"}],
        "priorities": [{"key": "normal", "name": "中", "ack_minutes": 5, "resolve_hours": 72}],
        "intake": {"default_category": "other", "default_priority": "normal"},
    }
    if aftercare:
        data["aftercare"] = aftercare
    return parse_config(data, config_dir="/nonexistent")


CONFIG = make_config()


def at(text: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz)


def make_row(status: Status | str = Status.RESOLVED, reference: str = REF, **cells: str) -> RegisterRow:
    values = {"reference": reference,
              "status": status.label if isinstance(status, Status) else status,
              "received_at": "2025-05-12 08:30"}
    values.update(cells)
    assert set(values) <= set(REGISTER_KEYS)
    return RegisterRow(row_number=2, values=values)


def signed_off_row(status: Status | str = Status.RESOLVED, **cells: str) -> RegisterRow:
    """Resolved and signed off on Wednesday 14 May at 10:00, tenant email known."""
    base = {"email": "tenant@factory.example.com", "resolved_at": "2025-05-14 09:00",
            "signed_off_at": "2025-05-14 10:00", "signed_off_by": "head@park.example.com"}
    base.update(cells)
    return make_row(status, **base)


def serious_row(status: Status | str = Status.RESOLVED, **cells: str) -> RegisterRow:
    """Serious, signed off on Monday 12 May at 10:00; no email, so no return visit."""
    base = {"serious": "是 Yes", "signed_off_at": "2025-05-12 10:00"}
    base.update(cells)
    return make_row(status, **base)


def kinds(check: AftercareCheck) -> list[str]:
    assert check.problems == []
    return [action.kind for action in check.actions]


class Desk:
    """The caller in miniature: acts on each key once, writes the action's cells."""

    def __init__(self, row: RegisterRow, config=CONFIG):
        self.row, self.config = row, config
        self.done: dict[str, AftercareAction] = {}
        self.log: list[tuple[str, str]] = []

    def check(self, when: datetime) -> list[str]:
        actions, problems = due_aftercare([self.row], self.config, when)
        assert problems == []
        fresh = []
        for action in actions:
            if action.key in self.done:
                continue
            self.done[action.key] = action
            self.row = RegisterRow(self.row.row_number, {**self.row.values, **action.cells})
            self.log.append((action.kind, when.strftime("%Y-%m-%d %H:%M")))
            fresh.append(action.kind)
        return fresh

    def run(self, start: datetime, end: datetime, step: timedelta = timedelta(minutes=15)):
        when = start
        while when <= end:
            self.check(when)
            when += step
        return self.log


# --- office hours ----------------------------------------------------------------------------

@pytest.mark.parametrize("signed_off, expected", [
    ("2025-05-16 17:30", "2025-05-19 09:00"),  # Friday evening -> Monday opening
    ("2025-05-17 10:00", "2025-05-19 09:00"),  # Saturday -> Monday
    ("2025-05-18 23:00", "2025-05-19 09:00"),  # Sunday night -> Monday (01:00 is before 9)
    ("2025-05-13 08:00", "2025-05-13 10:00"),  # early morning -> same day, delay only
    ("2025-05-13 06:00", "2025-05-13 09:00"),  # 08:00 is before opening
    ("2025-05-13 15:59", "2025-05-13 17:59"),  # just inside
    ("2025-05-13 16:00", "2025-05-14 09:00"),  # exactly the end hour is closed
    ("2025-05-13 17:00", "2025-05-14 09:00"),
])
def test_visit_send_time_moves_to_office_hours(signed_off, expected):
    assert visit_send_time(at(signed_off), CONFIG) == at(expected)


def test_visit_send_time_follows_the_configured_delay_hours_and_days():
    config = make_config(return_visit_delay_hours=0.5, office_hours=[8, 12], office_days=[1, 2, 3, 4, 5, 6])
    assert visit_send_time(at("2025-05-16 11:29"), config) == at("2025-05-16 11:59")
    assert visit_send_time(at("2025-05-16 11:30"), config) == at("2025-05-17 08:00")  # Saturday works
    assert visit_send_time(at("2025-05-17 12:00"), config) == at("2025-05-19 08:00")  # Sunday off
    no_delay = make_config(return_visit_delay_hours=0)
    assert visit_send_time(at("2025-05-14 10:00"), no_delay) == at("2025-05-14 10:00")


def test_times_are_the_parks_whatever_the_callers_clock():
    # 09:30 UTC on Friday is 17:30 in Shanghai.
    result = visit_send_time(datetime(2025, 5, 16, 9, 30, tzinfo=UTC), CONFIG)
    assert result == at("2025-05-19 09:00")
    assert result.tzinfo is SHANGHAI
    assert is_office_time(datetime(2025, 5, 14, 1, 0, tzinfo=UTC), CONFIG)      # 09:00 local
    assert not is_office_time(datetime(2025, 5, 14, 10, 0, tzinfo=UTC), CONFIG)  # 18:00 local


def test_next_office_time_edges():
    assert next_office_time(at("2025-05-14 09:00"), CONFIG) == at("2025-05-14 09:00")
    assert next_office_time(at("2025-05-14 08:59"), CONFIG) == at("2025-05-14 09:00")
    assert next_office_time(at("2025-05-14 17:59"), CONFIG) == at("2025-05-14 17:59")
    assert next_office_time(at("2025-05-14 18:00"), CONFIG) == at("2025-05-15 09:00")
    assert next_office_time(at("2025-05-16 18:00"), CONFIG) == at("2025-05-19 09:00")
    round_the_clock = make_config(office_hours=[0, 24], office_days=[1, 2, 3, 4, 5, 6, 7])
    assert next_office_time(at("2025-05-17 23:59"), round_the_clock) == at("2025-05-17 23:59")
    only_sunday = make_config(office_days=[7])
    assert next_office_time(at("2025-05-18 18:00"), only_sunday) == at("2025-05-25 09:00")


def test_unusable_office_hours_are_refused_with_the_key():
    with pytest.raises(ValueError, match=r"aftercare\.office_hours"):
        next_office_time(at("2025-05-14 10:00"), make_config(office_hours=[18, 9]))
    with pytest.raises(ValueError, match=r"aftercare\.office_days"):
        next_office_time(at("2025-05-14 10:00"), make_config(office_days=[0, 8]))


def test_a_naive_clock_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_aftercare([signed_off_row()], CONFIG, datetime(2025, 5, 14, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        archive_candidates([], CONFIG, datetime(2025, 5, 14, 12, 0))


# --- working days ----------------------------------------------------------------------------

def test_working_days_between_counts_office_days_after_the_first_day():
    monday = at("2025-05-12 10:00")
    assert working_days_between(monday, at("2025-05-12 17:00"), CONFIG) == 0
    assert working_days_between(monday, at("2025-05-13 00:01"), CONFIG) == 1
    assert working_days_between(monday, at("2025-05-16 12:00"), CONFIG) == 4
    assert working_days_between(monday, at("2025-05-18 12:00"), CONFIG) == 4  # weekend
    assert working_days_between(monday, at("2025-05-19 08:00"), CONFIG) == 5
    assert working_days_between(monday, at("2025-06-12 10:00"), CONFIG) == 23
    assert working_days_between(at("2025-05-17 10:00"), at("2025-05-19 10:00"), CONFIG) == 1
    assert working_days_between(at("2025-05-19 10:00"), monday, CONFIG) == 0


@pytest.mark.parametrize("days", [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], [3], [1, 2, 3, 4, 5, 6, 7]])
def test_working_days_between_agrees_with_counting_day_by_day(days):
    config = make_config(office_days=days)
    start = at("2025-05-01 12:00")
    for first in range(9):
        for span in range(40):
            a = start + timedelta(days=first)
            b = a + timedelta(days=span)
            counted = sum((a.date() + timedelta(days=k)).isoweekday() in days
                          for k in range(1, span + 1))
            assert working_days_between(a, b, config) == counted, (a, b)
            if counted:
                nth = nth_working_day_after(a, counted, config)
                assert a.date() < nth <= b.date() and nth.isoweekday() in days
                assert working_days_between(a, at(f"{nth} 12:00"), config) == counted


def test_nth_working_day_after_skips_the_weekend():
    assert nth_working_day_after(at("2025-05-15 10:00"), 1, CONFIG) == date(2025, 5, 16)
    assert nth_working_day_after(at("2025-05-15 10:00"), 2, CONFIG) == date(2025, 5, 19)
    assert nth_working_day_after(at("2025-05-17 10:00"), 1, CONFIG) == date(2025, 5, 19)


def test_calendar_days_keep_the_wall_clock_across_a_clock_change():
    # Berlin springs forward on Sunday 30 March 2025.
    later = add_calendar_days(at("2025-03-28 10:00", BERLIN), 3, BERLIN)
    assert later == at("2025-03-31 10:00", BERLIN)
    assert later.astimezone(UTC).hour == 8  # summer time


# --- satisfaction ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, score", [
    ("", None), ("  ", None),
    ("1", 1), ("5", 5), ("4.0", 4), ("５", 5), ("5分", 5), ("3 分", 3), ("4 电话回访", 4),
    ("非常满意", 5), ("满意", 4), ("基本满意", 3), ("一般", 3), ("不满意", 2), ("很不满意", 1),
    ("satisfied", 4), ("Very dissatisfied", 1), ("★★★★☆", 4),
])
def test_read_satisfaction(text, score):
    assert read_satisfaction(text) == score


@pytest.mark.parametrize("text", ["0", "6", "10", "4.5", "good?", "待回访", "-"])
def test_read_satisfaction_refuses_what_is_not_a_score(text):
    with pytest.raises(UnreadableSatisfaction):
        read_satisfaction(text)


def test_satisfaction_outcome():
    assert [satisfaction_outcome(score) for score in (1, 2, 3, 4, 5)] == [
        "reopen", "reopen", "close", "close", "close"]
    for wrong in (0, 6):
        with pytest.raises(ValueError):
            satisfaction_outcome(wrong)


# --- the return visit ------------------------------------------------------------------------

def test_the_visit_is_sent_once_its_time_comes_and_not_before():
    row = signed_off_row()
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-14 11:59"))) == []
    first = due_aftercare([row], CONFIG, at("2025-05-14 12:00")).actions
    again = due_aftercare([row], CONFIG, at("2025-05-14 15:30")).actions
    assert [a.kind for a in first] == ["send_visit"]
    action = first[0]
    assert action.key == again[0].key == "return-visit:2025-05-14 10:00"
    assert action.due_at == at("2025-05-14 12:00")
    assert action.notify == ("tenant",)
    assert action.reference == REF
    assert action.cells == {"status": Status.RETURN_VISIT.label,
                            "visit_sent_at": "2025-05-14 12:00", "updated_at": "2025-05-14 12:00"}
    assert again[0].cells["visit_sent_at"] == "2025-05-14 15:30"


def test_the_key_does_not_change_when_staff_retype_the_time():
    retyped = signed_off_row(signed_off_at="2025/5/14 10:00")
    assert due_aftercare([retyped], CONFIG, at("2025-05-14 12:00")).actions[0].key == \
        "return-visit:2025-05-14 10:00"


def test_the_visit_waits_for_office_hours_even_when_overdue():
    row = signed_off_row(signed_off_at="2025-05-14 17:00")  # due 19:00 -> Thursday 09:00
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-14 20:00"))) == []
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-15 08:59"))) == []
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-15 09:00"))) == ["send_visit"]
    # The daemon was down all Thursday: it is sent on Friday morning, not on Thursday night.
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-15 22:00"))) == []
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-16 09:15"))) == ["send_visit"]


@pytest.mark.parametrize("cells", [
    {"email": ""}, {"email": "无"}, {"email": "13800138000"},  # phone complaint: staff call
    {"signed_off_at": ""},                                      # head has not signed off
    {"visit_sent_at": "2025-05-14 12:00"},                      # already sent
])
def test_no_visit_email_without_an_address_a_sign_off_or_twice(cells):
    row = signed_off_row(**cells)
    for moment in ("2025-05-14 12:00", "2025-05-15 10:00", "2025-05-30 10:00"):
        assert kinds(due_aftercare([row], CONFIG, at(moment))) == []


def test_no_reply_timeline_reminds_once_then_closes():
    desk = Desk(signed_off_row())
    log = desk.run(at("2025-05-14 09:00"), at("2025-06-05 09:00"))
    # Sent Wed 12:00; 3 days -> Sat 12:00 -> Mon 09:00 (office hours); 4 more days -> Fri 09:00.
    assert log == [("send_visit", "2025-05-14 12:00"),
                   ("visit_reminder", "2025-05-19 09:00"),
                   ("close_no_reply", "2025-05-23 09:00")]
    assert desk.done["visit-reminder:2025-05-14 12:00"].notify == ("tenant",)
    assert Status.from_label(desk.row.get("status")) is Status.CLOSED
    assert desk.row.get("closed_at") == "2025-05-23 09:00"
    assert desk.row.get("feedback") == NO_REPLY
    assert desk.row.get("satisfaction") == ""


def test_reminder_and_close_follow_the_configured_days():
    config = make_config(visit_reminder_days=1, visit_close_days=2, office_days=[1, 2, 3, 4, 5, 6, 7])
    desk = Desk(signed_off_row(status=Status.RETURN_VISIT, visit_sent_at="2025-05-14 12:00"), config)
    assert desk.run(at("2025-05-14 12:00"), at("2025-05-25 12:00")) == [
        ("visit_reminder", "2025-05-15 12:00"), ("close_no_reply", "2025-05-17 12:00")]


def test_after_downtime_a_due_close_is_not_preceded_by_a_stale_reminder():
    row = signed_off_row(status=Status.RETURN_VISIT, visit_sent_at="2025-05-14 12:00",
                         feedback="电话说再看看")
    actions = due_aftercare([row], CONFIG, at("2025-05-30 10:00")).actions
    assert [a.kind for a in actions] == ["close_no_reply"]
    assert actions[0].key == "close-no-reply:2025-05-14 12:00"
    assert actions[0].due_at == at("2025-05-23 09:00")
    assert actions[0].cells["feedback"] == f"电话说再看看; {NO_REPLY}"


def test_a_tenant_answer_stops_reminders():
    row = signed_off_row(status=Status.RETURN_VISIT, visit_sent_at="2025-05-14 12:00",
                         satisfaction="5")
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-19 10:00"))) == ["close_by_staff"]


# --- staff-typed satisfaction ----------------------------------------------------------------

@pytest.mark.parametrize("typed, kind, score", [
    ("5", "close_by_staff", 5), ("3", "close_by_staff", 3), ("满意", "close_by_staff", 4),
    ("一般", "close_by_staff", 3), ("2", "reopen_by_staff", 2), ("很不满意", "reopen_by_staff", 1),
])
def test_staff_typed_satisfaction_closes_or_reopens(typed, kind, score):
    row = signed_off_row(email="", satisfaction=typed, feedback="电话回访：已修好")
    now = at("2025-05-14 20:00")  # no office hours needed: nobody is emailed
    actions = due_aftercare([row], CONFIG, now).actions
    assert [(a.kind, a.score) for a in actions] == [(kind, score)]
    action = actions[0]
    assert action.key == f"satisfaction:2025-05-14 10:00:{score}"
    assert str(score) in action.detail and "电话回访：已修好" in action.detail
    if kind == "close_by_staff":
        assert action.cells == {"status": Status.CLOSED.label, "closed_at": "2025-05-14 20:00",
                                "updated_at": "2025-05-14 20:00"}
        assert action.notify == ()
    else:
        assert action.cells["status"] == Status.REOPENED.label
        assert all(action.cells[key] == "" for key in REOPEN_CLEARS)
        assert action.notify == ("department", "service_center")


def test_a_reopened_round_gets_a_fresh_visit_after_the_next_sign_off():
    desk = Desk(signed_off_row(satisfaction="2"))
    assert desk.check(at("2025-05-14 11:00")) == ["reopen_by_staff"]
    assert Status.from_label(desk.row.get("status")) is Status.REOPENED
    assert desk.check(at("2025-05-15 11:00")) == []  # Reopened belongs to dispatch
    # Dispatch resolves again, the head signs off again: a new return visit, a new key.
    desk.row = RegisterRow(2, {**desk.row.values, "status": Status.RESOLVED.label,
                               "signed_off_at": "2025-05-16 10:00"})
    assert desk.check(at("2025-05-16 11:59")) == []
    assert desk.check(at("2025-05-16 12:00")) == ["send_visit"]


def test_satisfaction_before_the_sign_off_waits_for_it():
    row = signed_off_row(signed_off_at="", satisfaction="4")
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-14 12:00"))) == []
    signed = signed_off_row(satisfaction="4")
    assert kinds(due_aftercare([signed], CONFIG, at("2025-05-14 12:00"))) == ["close_by_staff"]


@pytest.mark.parametrize("status", [Status.NEW, Status.DISPATCHED, Status.ACKNOWLEDGED,
                                    Status.CLOSED, Status.CANCELLED, Status.REOPENED])
def test_other_statuses_get_no_visit_and_no_close(status):
    for cells in ({}, {"satisfaction": "1"}, {"visit_sent_at": "2025-05-14 12:00"}):
        row = signed_off_row(status=status, **cells)
        assert kinds(due_aftercare([row], CONFIG, at("2025-05-30 10:00"))) == []


# --- the review of serious complaints --------------------------------------------------------

def test_review_is_requested_at_once_chased_each_working_day_and_escalated_once():
    desk = Desk(serious_row())
    log = desk.run(at("2025-05-12 10:00"), at("2025-05-20 23:45"), step=timedelta(minutes=30))
    assert log == [
        ("review_request", "2025-05-12 10:00"),
        ("review_chase", "2025-05-13 09:00"),
        ("review_chase", "2025-05-14 09:00"),
        ("review_chase", "2025-05-15 09:00"),
        ("review_escalate", "2025-05-15 09:00"),  # 3rd working day after Monday
        ("review_chase", "2025-05-16 09:00"),
        ("review_chase", "2025-05-19 09:00"),     # not on the weekend
        ("review_chase", "2025-05-20 09:00"),
    ]
    assert desk.done["review-request:2025-05-12 10:00"].notify == ("head",)
    assert desk.done["review-escalate:2025-05-12 10:00"].notify == ("leadership",)
    assert desk.done["review-escalate:2025-05-12 10:00"].working_days == 3
    assert desk.done["review-chase:2025-05-19"].working_days == 5
    # The head replies 检讨 …: nothing more.
    desk.row = RegisterRow(2, {**desk.row.values, "review": "原因：… 措施：… 预防：…"})
    assert desk.run(at("2025-05-21 09:00"), at("2025-05-23 18:00")) == log


def test_review_chase_only_in_office_hours_of_working_days():
    row = serious_row()
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-12 17:00"))) == ["review_request"]
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-13 08:59"))) == ["review_request"]
    tuesday = due_aftercare([row], CONFIG, at("2025-05-13 15:00")).actions
    assert [(a.kind, a.key) for a in tuesday] == [
        ("review_request", "review-request:2025-05-12 10:00"),
        ("review_chase", "review-chase:2025-05-13")]
    assert tuesday[1].due_at == at("2025-05-13 09:00")
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-13 18:00"))) == ["review_request"]
    assert "review_chase" not in kinds(due_aftercare([row], CONFIG, at("2025-05-17 10:00")))
    # Escalation waits for office hours too, and stays due (one key) until the caller records it.
    assert "review_escalate" not in kinds(due_aftercare([row], CONFIG, at("2025-05-15 08:59")))
    assert "review_escalate" not in kinds(due_aftercare([row], CONFIG, at("2025-05-17 10:00")))
    keys = {a.key for moment in ("2025-05-15 09:00", "2025-05-19 11:00")
            for a in due_aftercare([row], CONFIG, at(moment)).actions if a.kind == "review_escalate"}
    assert keys == {"review-escalate:2025-05-12 10:00"}


def test_review_escalation_follows_the_configured_working_days():
    config = make_config(review_escalate_days=1)
    friday = serious_row(signed_off_at="2025-05-16 15:00")
    assert "review_escalate" not in kinds(due_aftercare([friday], config, at("2025-05-17 10:00")))
    assert "review_escalate" in kinds(due_aftercare([friday], config, at("2025-05-19 09:00")))


def test_review_is_owed_after_the_tenant_closed_the_complaint():
    closed = serious_row(status=Status.CLOSED, closed_at="2025-05-12 15:00")
    assert kinds(due_aftercare([closed], CONFIG, at("2025-05-13 10:00"))) == [
        "review_request", "review_chase"]


@pytest.mark.parametrize("cells", [
    {"serious": ""}, {"serious": "否 No"}, {"review": "已提交"}, {"signed_off_at": ""},
    {"status": Status.CANCELLED.label}, {"status": Status.REOPENED.label},
    {"status": Status.ACKNOWLEDGED.label},
])
def test_no_review_steps_unless_serious_signed_off_and_owed(cells):
    row = serious_row(**cells)
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-15 10:00"))) == []


def test_a_serious_complaint_gets_both_the_visit_and_the_review():
    row = serious_row(email="tenant@factory.example.com")
    assert kinds(due_aftercare([row], CONFIG, at("2025-05-12 12:00"))) == [
        "send_visit", "review_request"]


# --- garbage in the sheet --------------------------------------------------------------------

@pytest.mark.parametrize("cells, key", [
    ({"signed_off_at": "yesterday"}, "signed_off_at"),
    ({"signed_off_at": "2025-02-30 10:00"}, "signed_off_at"),
    ({"satisfaction": "good?"}, "satisfaction"),
    ({"satisfaction": "7"}, "satisfaction"),
    ({"status": Status.RETURN_VISIT.label, "visit_sent_at": "周三"}, "visit_sent_at"),
    ({"status": Status.RETURN_VISIT.label}, "visit_sent_at"),
])
def test_unreadable_cells_are_problems_not_crashes(cells, key):
    row = signed_off_row(**cells)
    actions, problems = due_aftercare([row, signed_off_row(reference="C-250512-002")],
                                      CONFIG, at("2025-05-20 10:00"))
    assert [p.key for p in problems] == [key]
    assert problems[0].reference == REF
    assert REF in problems[0].message
    assert [a.reference for a in actions] == ["C-250512-002"]  # the other row is not held up


def test_closed_rows_owing_nothing_are_not_read():
    rows = [signed_off_row(status=Status.CLOSED, signed_off_at="昨天", satisfaction="??"),
            signed_off_row(status=Status.CANCELLED, signed_off_at="昨天", serious="是")]
    assert due_aftercare(rows, CONFIG, at("2025-05-20 10:00")) == AftercareCheck([], [])
    owing = serious_row(status=Status.CLOSED, signed_off_at="昨天")
    assert [p.key for p in due_aftercare([owing], CONFIG, at("2025-05-20 10:00")).problems] == [
        "signed_off_at"]


def test_a_return_visit_by_phone_without_a_visit_time_is_not_a_problem():
    row = signed_off_row(status=Status.RETURN_VISIT, email="")
    assert due_aftercare([row], CONFIG, at("2025-05-30 10:00")) == AftercareCheck([], [])


def test_rows_without_reference_unknown_status_or_duplicated_are_left_to_sla():
    rows = [signed_off_row(reference=""), signed_off_row(status="挂起"),
            signed_off_row(reference="C-250512-009"), signed_off_row(reference="c-250512-009")]
    assert due_aftercare(rows, CONFIG, at("2025-05-14 12:00")) == AftercareCheck([], [])


def test_action_kinds_are_the_documented_ones():
    rows = [signed_off_row(reference="A1"), signed_off_row(reference="A2", satisfaction="1"),
            serious_row(reference="A3"),
            signed_off_row(reference="A4", status=Status.RETURN_VISIT, visit_sent_at="2025-05-01 10:00")]
    actions = due_aftercare(rows, CONFIG, at("2025-05-15 10:00")).actions
    assert {a.kind for a in actions} <= set(ACTION_KINDS)
    assert [a.reference for a in actions] == ["A1", "A2", "A3", "A3", "A3", "A4"]
    assert all(a.due_at <= at("2025-05-15 10:00") for a in actions)


# --- the archive -----------------------------------------------------------------------------

def closed_row(reference: str = REF, status: Status = Status.CLOSED, **cells: str) -> RegisterRow:
    base = {"closed_at": "2025-04-01 10:00", "received_at": "2025-03-28 09:00"}
    base.update(cells)
    return make_row(status, reference, **base)


def test_archive_after_the_configured_age_by_received_year():
    row = closed_row()
    assert archive_candidates([row], CONFIG, at("2025-05-01 09:59")).candidates == []
    candidates, problems = archive_candidates([row], CONFIG, at("2025-05-01 10:00"))
    assert candidates == [ArchiveCandidate(REF, "Archive 2025")] and problems == []
    assert [(reference, tab) for reference, tab in candidates] == [(REF, "Archive 2025")]
    shorter = make_config(archive_after_days=7)
    assert archive_candidates([row], shorter, at("2025-04-08 10:00")).candidates == [
        (REF, "Archive 2025")]


def test_archive_tab_is_the_year_received_else_the_year_closed():
    rows = [closed_row("A1", received_at="2024-12-30 22:00", closed_at="2025-01-05 10:00"),
            closed_row("A2", received_at="", closed_at="2025-01-05 10:00"),
            closed_row("A3", status=Status.CANCELLED, closed_at="", updated_at="2024-11-02 10:00",
                       received_at="2024-11-01 10:00")]
    assert tuple(archive_candidates(rows, CONFIG, at("2025-06-01 10:00"))) == (
        [("A1", "Archive 2024"), ("A2", "Archive 2025"), ("A3", "Archive 2024")], [])


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.RETURN_VISIT, Status.REOPENED,
                                    Status.DISPATCHED])
def test_only_closed_and_cancelled_complaints_are_archived(status):
    assert tuple(archive_candidates([closed_row(status=status)], CONFIG,
                                    at("2026-01-01 10:00"))) == ([], [])


def test_a_serious_complaint_owing_its_review_stays_in_the_register():
    owing = closed_row("A1", serious="是 Yes", signed_off_at="2025-03-31 10:00")
    given = closed_row("A2", serious="是 Yes", signed_off_at="2025-03-31 10:00", review="原因 …")
    assert archive_candidates([owing, given], CONFIG, at("2025-06-01 10:00")).candidates == [
        ("A2", "Archive 2025")]


@pytest.mark.parametrize("cells, key", [
    ({"closed_at": "上周"}, "closed_at"),
    ({"closed_at": "", "updated_at": ""}, "closed_at"),
    ({"closed_at": "", "updated_at": "2025-13-01 10:00"}, "updated_at"),
    ({"received_at": "三月"}, "received_at"),
])
def test_archive_reports_unreadable_times(cells, key):
    rows = [closed_row(**cells), closed_row("C-250301-002")]
    candidates, problems = archive_candidates(rows, CONFIG, at("2025-06-01 10:00"))
    assert candidates == [("C-250301-002", "Archive 2025")]
    assert [(p.reference, p.key) for p in problems] == [(REF, key)]
