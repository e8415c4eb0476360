"""Tests for daemon.sla: which reminders and escalations are due, decided from the register rows.

The clock is a parameter: each test moves ``now`` and simulates the caller, which sends an
action and appends its label to the row's escalations cell. Nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from daemon.config import parse_config
from daemon.register import RegisterRow
from daemon.sheet_layout import REGISTER_KEYS, Status
from daemon.sla import (
    DueAction,
    SlaCheck,
    UnreadableTime,
    append_escalation,
    deadlines_for,
    due_actions,
    format_escalation,
    format_sheet_time,
    is_overdue,
    minutes_late,
    overdue_stages,
    parse_escalations,
    parse_time,
    read_status,
    read_yes,
    reset_for_redispatch,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def make_config(timezone_name: str = "Asia/Shanghai", dispatch: dict | None = None):
    data = {
        "park": {"name": "测试园区", "timezone": timezone_name},
        "mailbox": {"backend": "maildir", "path": "mail/inbox"},
        "smtp": {"backend": "outbox", "path": "mail/outbox", "from_address": "desk@park.example.com"},
        "register": {"backend": "workbook", "path": "register.xlsx"},
        "service_center": ["service@park.example.com"],
        "leadership": ["boss@park.example.com"],
        "departments": [{"key": "property", "name": "物业管理部", "head": "head@park.example.com",
                         "members": ["p1@park.example.com"]}],
        "categories": [{"key": "other", "name": "其他", "department": "property"}],
        "priorities": [
            {"key": "urgent", "name": "紧急", "ack_minutes": 5, "resolve_hours": 4, "serious": True},
            {"key": "normal", "name": "中", "ack_minutes": 5, "resolve_hours": 72},
        ],
        "intake": {"default_category": "other", "default_priority": "normal"},
    }
    if dispatch is not None:
        data["dispatch"] = dispatch
    return parse_config(data, config_dir="/nonexistent")


CONFIG = make_config()
NORMAL = CONFIG.priority("normal")


def make_row(reference: str = "C-250514-001", status: Status | str = Status.DISPATCHED,
             **cells: str) -> RegisterRow:
    values = {"reference": reference,
              "status": status.label if isinstance(status, Status) else status}
    values.update(cells)
    assert set(values) <= set(REGISTER_KEYS)
    return RegisterRow(row_number=2, values=values)


def dispatched_row(reference: str = "C-250514-001", status: Status | str = Status.DISPATCHED,
                   **cells: str) -> RegisterRow:
    """Dispatched at 10:00 Shanghai time: sign-for due 10:05, resolve by 3 days later."""
    base = {"dispatched_at": "2025-05-14 10:00", "ack_due": "2025-05-14 10:05",
            "resolve_by": "2025-05-17 10:00", "department": "物业管理部"}
    base.update(cells)
    return make_row(reference, status, **base)


def at(text: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S" if text.count(":") == 2
                             else "%Y-%m-%d %H:%M").replace(tzinfo=tz)


def record(row: RegisterRow, actions: list[DueAction]) -> RegisterRow:
    """What the caller does after sending: append each label to the escalations cell."""
    cell = row.get("escalations")
    for action in actions:
        assert action.reference == row.reference
        cell = append_escalation(cell, action.label)
    return RegisterRow(row.row_number, {**row.values, "escalations": cell})


def steps(actions: list[DueAction]) -> list[tuple[str, int, str]]:
    return [(action.stage, action.after_minutes, action.notify) for action in actions]


class Desk:
    """A daemon in miniature: one register row, checked at chosen moments, sends recorded."""

    def __init__(self, row: RegisterRow, config=CONFIG):
        self.row, self.config, self.sent = row, config, []

    def check(self, when: datetime) -> list[tuple[str, int, str]]:
        actions, problems = due_actions([self.row], self.config, when)
        assert problems == []
        self.row = record(self.row, actions)
        self.sent += actions
        return steps(actions)


# --- deadlines -------------------------------------------------------------------------------

def test_deadlines_are_counted_from_the_dispatch_time():
    ack_due, resolve_by = deadlines_for(NORMAL, at("2025-05-14 10:00"))
    assert ack_due == at("2025-05-14 10:05")
    assert resolve_by == at("2025-05-17 10:00")
    assert ack_due.tzinfo is SHANGHAI


def test_deadlines_are_elapsed_time_across_a_clock_change():
    # Berlin springs forward at 02:00 on 2025-03-30: 01:58 + 5 minutes is 03:03 summer time.
    ack_due, resolve_by = deadlines_for(NORMAL, at("2025-03-30 01:58", BERLIN))
    assert ack_due.astimezone(UTC) == datetime(2025, 3, 30, 1, 3, tzinfo=UTC)
    assert format_sheet_time(ack_due, BERLIN) == "2025-03-30 03:03"
    # 72 real hours: the wall clock shows 02:58 (01:58 would be only 71 real hours).
    assert (resolve_by.astimezone(UTC) - datetime(2025, 3, 30, 0, 58, tzinfo=UTC)) == timedelta(hours=72)
    assert format_sheet_time(resolve_by, BERLIN) == "2025-04-02 02:58"


def test_a_naive_time_is_refused_as_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines_for(NORMAL, datetime(2025, 5, 14, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        due_actions([dispatched_row()], CONFIG, datetime(2025, 5, 14, 10, 30))


def test_reset_for_redispatch_gives_fresh_deadlines_and_clears_the_last_round():
    cells = reset_for_redispatch(NORMAL, at("2025-05-14 11:00:40"), SHANGHAI)
    assert cells == {
        "dispatched_at": "2025-05-14 11:00", "ack_due": "2025-05-14 11:05",
        "resolve_by": "2025-05-17 11:00", "acknowledged_at": "", "acknowledged_by": "",
        "resolved_at": "", "resolved_by": "", "escalations": "",
    }
    assert set(cells) <= set(REGISTER_KEYS)
    # A UTC clock is written in the park's time.
    utc_cells = reset_for_redispatch(NORMAL, datetime(2025, 5, 14, 3, 0, tzinfo=UTC), SHANGHAI)
    assert utc_cells["dispatched_at"] == "2025-05-14 11:00"


def test_after_a_redispatch_the_new_department_is_chased_from_the_start():
    desk = Desk(dispatched_row())
    assert desk.check(at("2025-05-14 10:30")) == [
        ("ack", 0, "department"), ("ack", 5, "service_center"), ("ack", 25, "leadership")]
    desk.row = RegisterRow(2, {**desk.row.values,
                               **reset_for_redispatch(NORMAL, at("2025-05-14 11:00"), SHANGHAI)})
    assert desk.check(at("2025-05-14 11:04")) == []
    assert desk.check(at("2025-05-14 11:05")) == [("ack", 0, "department")]


# --- the sign-for ladder ---------------------------------------------------------------------

def test_the_ack_ladder_reminds_then_escalates_each_step_exactly_once():
    desk = Desk(dispatched_row())
    timeline = {
        "2025-05-14 10:04:59": [],
        "2025-05-14 10:05": [("ack", 0, "department")],
        "2025-05-14 10:05:30": [],
        "2025-05-14 10:09": [],
        "2025-05-14 10:10": [("ack", 5, "service_center")],
        "2025-05-14 10:11": [],
        "2025-05-14 10:29:59": [],
        "2025-05-14 10:30": [("ack", 25, "leadership")],
        "2025-05-14 10:31": [],
        "2025-05-14 18:00": [],
    }
    for moment, expected in timeline.items():
        assert desk.check(at(moment)) == expected, moment
    assert [a.minutes_late for a in desk.sent] == [0, 5, 25]
    assert [a.step_index for a in desk.sent] == [0, 1, 2]
    assert all(a.deadline == at("2025-05-14 10:05") for a in desk.sent)
    assert desk.row.get("escalations") == (
        "ack+0min→部门 2025-05-14 10:05; ack+5min→服务中心 2025-05-14 10:10; "
        "ack+25min→公司领导 2025-05-14 10:30")


def test_nothing_more_for_sign_for_once_acknowledged():
    desk = Desk(dispatched_row())
    assert desk.check(at("2025-05-14 10:06")) == [("ack", 0, "department")]
    desk.row = RegisterRow(2, {**desk.row.values, "acknowledged_at": "2025-05-14 10:07",
                               "status": Status.ACKNOWLEDGED.label})
    assert desk.check(at("2025-05-14 10:10")) == []
    assert desk.check(at("2025-05-14 10:40")) == []


@pytest.mark.parametrize("cells", [
    {"acknowledged_at": "2025-05-14 10:07"},                    # signed for, status not yet updated
    {"status": Status.ACKNOWLEDGED.label},                      # staff set the status by hand
    {"status": Status.RESOLVED.label},
    {"status": Status.NEW.label},
])
def test_sign_for_is_not_chased_when_signed_for_or_past_that_stage(cells):
    row = dispatched_row(**cells)
    assert [a for a in due_actions([row], CONFIG, at("2025-05-14 11:00")).actions
            if a.stage == "ack"] == []


def test_a_reopened_complaint_not_yet_signed_for_is_chased():
    row = dispatched_row(status="Reopened 重新处理")
    assert steps(due_actions([row], CONFIG, at("2025-05-14 10:05")).actions) == [("ack", 0, "department")]


# --- the resolution ladder -------------------------------------------------------------------

def test_the_resolve_ladder_tells_the_head_then_leadership_once_each():
    desk = Desk(dispatched_row(status=Status.ACKNOWLEDGED, acknowledged_at="2025-05-14 10:03"))
    assert desk.check(at("2025-05-17 09:59")) == []
    assert desk.check(at("2025-05-17 10:00")) == [("resolve", 0, "head")]
    assert desk.check(at("2025-05-17 11:00")) == []
    assert desk.check(at("2025-05-17 12:00")) == [("resolve", 120, "leadership")]
    assert desk.check(at("2025-05-20 12:00")) == []
    assert [a.minutes_late for a in desk.sent] == [0, 120]
    assert desk.row.get("escalations") == (
        "resolve+0min→部门负责人 2025-05-17 10:00; resolve+120min→公司领导 2025-05-17 12:00")


@pytest.mark.parametrize("cells", [
    {"status": Status.RESOLVED.label},
    {"status": Status.RETURN_VISIT.label},
    {"resolved_at": "2025-05-16 09:00"},
])
def test_resolution_is_not_chased_once_resolved(cells):
    row = dispatched_row(acknowledged_at="2025-05-14 10:03", **cells)
    assert due_actions([row], CONFIG, at("2025-05-20 10:00")).actions == []


# --- restarts and downtime -------------------------------------------------------------------

def test_a_restart_between_steps_sends_only_the_missing_steps():
    # The previous run sent the first reminder and recorded it, then the daemon stopped.
    row = dispatched_row(escalations="ack+0min→部门 2025-05-14 10:05")
    actions, problems = due_actions([row], CONFIG, at("2025-05-14 10:12"))
    assert problems == []
    assert steps(actions) == [("ack", 5, "service_center")]
    assert actions[0].minutes_late == 7
    assert actions[0].label == "ack+5min→服务中心 2025-05-14 10:12"


def test_downtime_catch_up_returns_every_due_step_once_in_ladder_order():
    desk = Desk(dispatched_row())
    assert desk.check(at("2025-05-17 13:00")) == [
        ("ack", 0, "department"), ("ack", 5, "service_center"), ("ack", 25, "leadership"),
        ("resolve", 0, "head"), ("resolve", 120, "leadership")]
    assert desk.check(at("2025-05-17 13:01")) == []
    assert desk.check(at("2025-05-18 13:00")) == []


def test_steps_are_recognised_by_minutes_and_recipient_not_by_position():
    # The park inserted a step into its ladder after the first reminder went out.
    config = make_config(dispatch={"ack_ladder": [
        {"after_minutes": 0, "notify": "department"},
        {"after_minutes": 2, "notify": "head"},
        {"after_minutes": 5, "notify": "service_center"},
    ]})
    row = dispatched_row(escalations="ack+0min→部门 2025-05-14 10:05")
    actions = due_actions([row], config, at("2025-05-14 10:10")).actions
    assert steps(actions) == [("ack", 2, "head"), ("ack", 5, "service_center")]
    assert [a.step_index for a in actions] == [1, 2]


def test_two_steps_at_the_same_minute_are_told_apart_by_recipient():
    config = make_config(dispatch={"ack_ladder": [
        {"after_minutes": 0, "notify": "department"},
        {"after_minutes": 0, "notify": "head"},
    ]})
    desk = Desk(dispatched_row(), config)
    assert desk.check(at("2025-05-14 10:05")) == [("ack", 0, "department"), ("ack", 0, "head")]
    assert desk.check(at("2025-05-14 10:06")) == []
    # Only the department's reminder went out before a restart: the head's is still owed.
    row = dispatched_row(escalations="ack+0min→部门 2025-05-14 10:05")
    assert steps(due_actions([row], config, at("2025-05-14 10:06")).actions) == [("ack", 0, "head")]


def test_staff_can_stop_a_step_by_writing_it_without_a_recipient():
    row = dispatched_row(escalations="ack+0min→部门 2025-05-14 10:05；ack+25min 已电话通知，不用升级")
    actions = due_actions([row], CONFIG, at("2025-05-14 10:40")).actions
    assert steps(actions) == [("ack", 5, "service_center")]


# --- rows that stay silent -------------------------------------------------------------------

@pytest.mark.parametrize("status", [Status.CANCELLED, Status.CLOSED, "已撤销", "closed"])
def test_cancelled_and_closed_rows_are_silent(status):
    row = dispatched_row(status=status, resolve_by="2025-05-14 11:00")
    check = due_actions([row], CONFIG, at("2025-06-01 10:00"))
    assert check.actions == [] and check.problems == []
    assert not is_overdue(row, CONFIG, at("2025-06-01 10:00"))


def test_rows_not_dispatched_or_not_registered_are_silent():
    rows = [
        make_row("C-250514-002", Status.NEW),                      # not dispatched yet
        make_row("C-250514-003", Status.DISPATCHED),               # no deadlines at all
        make_row("", "", subject="walk-in typed by staff"),        # no reference, no status yet
        make_row("", Status.DISPATCHED, ack_due="2025-05-14 10:05"),
    ]
    assert due_actions(rows, CONFIG, at("2025-06-01 10:00")) == SlaCheck([], [])


def test_serious_rows_are_marked_on_their_actions():
    rows = [dispatched_row("C-1", serious="是 Yes"), dispatched_row("C-2", serious="")]
    actions = due_actions(rows, CONFIG, at("2025-05-14 10:05")).actions
    assert [(a.reference, a.serious) for a in actions] == [("C-1", True), ("C-2", False)]


# --- problems instead of crashes -------------------------------------------------------------

def test_a_garbage_time_is_a_problem_and_the_other_rows_still_run():
    rows = [
        dispatched_row("C-250514-001", ack_due="明天上午"),
        dispatched_row("C-250514-002"),
    ]
    actions, problems = due_actions(rows, CONFIG, at("2025-05-17 10:00"))
    # The bad sign-for deadline stops only that stage; the resolution stage still runs.
    assert steps(actions) == [("resolve", 0, "head"), ("ack", 0, "department"),
                              ("ack", 5, "service_center"), ("ack", 25, "leadership"),
                              ("resolve", 0, "head")]
    assert [a.reference for a in actions] == ["C-250514-001"] + ["C-250514-002"] * 4
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.reference, problem.key, problem.value) == ("C-250514-001", "ack_due", "明天上午")
    assert "签收期限 Sign-for due" in problem.message
    assert "2025-05-14 10:05" in problem.message and "明天上午" in problem.message


def test_an_impossible_date_is_a_problem():
    row = dispatched_row(resolve_by="2025-02-30 10:00", acknowledged_at="2025-05-14 10:01")
    actions, problems = due_actions([row], CONFIG, at("2025-05-20 10:00"))
    assert actions == []
    assert [(p.key, p.value) for p in problems] == [("resolve_by", "2025-02-30 10:00")]


def test_an_unknown_status_is_a_problem():
    row = dispatched_row(status="等一下")
    actions, problems = due_actions([row], CONFIG, at("2025-05-14 10:30"))
    assert actions == []
    assert [(p.key, p.value) for p in problems] == [("status", "等一下")]


def test_a_dispatched_row_with_an_empty_deadline_is_a_problem():
    row = dispatched_row(ack_due="")
    actions, problems = due_actions([row], CONFIG, at("2025-05-14 10:30"))
    assert actions == []
    assert [(p.key, p.value) for p in problems] == [("ack_due", "")]


def test_a_reference_on_two_rows_is_a_problem_and_neither_is_chased():
    rows = [dispatched_row("C-250514-001"), dispatched_row("c-250514-001 "),
            dispatched_row("C-250514-009")]
    actions, problems = due_actions(rows, CONFIG, at("2025-05-14 10:05"))
    assert [a.reference for a in actions] == ["C-250514-009"]
    assert [(p.reference, p.key) for p in problems] == [("C-250514-001", "reference")]


# --- the escalations cell --------------------------------------------------------------------

def test_format_escalation_writes_a_compact_entry_in_the_park_time():
    step = CONFIG.dispatch.ack_ladder[1]
    assert format_escalation("ack", step, datetime(2025, 5, 14, 2, 10, tzinfo=UTC), SHANGHAI) == \
        "ack+5min→服务中心 2025-05-14 10:10"
    head = CONFIG.dispatch.resolve_ladder[0]
    assert format_escalation("resolve", head, at("2025-05-17 10:00"), SHANGHAI) == \
        "resolve+0min→部门负责人 2025-05-17 10:00"
    with pytest.raises(ValueError):
        format_escalation("later", step, at("2025-05-17 10:00"), SHANGHAI)


def test_every_label_reads_back_as_the_step_it_records():
    moment = at("2025-05-14 10:10")
    for stage, ladder in (("ack", CONFIG.dispatch.ack_ladder), ("resolve", CONFIG.dispatch.resolve_ladder)):
        for step in ladder:
            [entry] = parse_escalations(format_escalation(stage, step, moment, SHANGHAI))
            assert (entry.stage, entry.after_minutes, entry.notify, entry.sent_at) == \
                (stage, step.after_minutes, step.notify, "2025-05-14 10:10")


def test_the_reader_understands_what_staff_may_leave_in_the_cell():
    text = ("ack+0min→部门 2025-05-14 10:05；签收 +5 分钟 -> service center\n"
            "已电话催办张经理\n"
            "处理+120min→领导; resolve+0min → 部门负责人 2025-05-17 10:00; feedback+3min")
    entries = [(e.stage, e.after_minutes, e.notify, e.sent_at) for e in parse_escalations(text)]
    assert entries == [
        ("ack", 0, "department", "2025-05-14 10:05"),
        ("ack", 5, "service_center", ""),
        ("resolve", 120, "leadership", ""),
        ("resolve", 0, "head", "2025-05-17 10:00"),
    ]
    assert parse_escalations("") == [] and parse_escalations("备注：无") == []


def test_full_width_characters_are_read():
    [entry] = parse_escalations("ａｃｋ＋２５ｍｉｎ→公司领导　２０２５－０５－１４　１０：３０")
    assert (entry.stage, entry.after_minutes, entry.notify, entry.sent_at) == \
        ("ack", 25, "leadership", "2025-05-14 10:30")


def test_append_escalation_keeps_what_is_there():
    assert append_escalation("", "ack+0min→部门 2025-05-14 10:05") == "ack+0min→部门 2025-05-14 10:05"
    assert append_escalation("已电话催办；", "ack+5min→服务中心 2025-05-14 10:10") == \
        "已电话催办; ack+5min→服务中心 2025-05-14 10:10"


# --- times and time zones --------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "2025-05-14 10:05", "2025-05-14 10:05:00", "2025/5/14 10:05", "2025.05.14 10:05",
    "2025-05-14T10:05", " 2025-05-14  10:05 ", "2025年5月14日 10:05", "2025年5月14日10时05分",
    "２０２５－０５－１４　１０：０５", "2025-05-14 10:05+08:00", "2025-05-14T02:05Z",
])
def test_parse_time_reads_what_the_daemon_writes_and_staff_type(text):
    assert parse_time(text, SHANGHAI) == datetime(2025, 5, 14, 2, 5, tzinfo=UTC)


@pytest.mark.parametrize("text", ["明天上午", "10:05", "2025-05-14", "2025-13-01 10:00",
                                  "2025-05-14 25:00", "soon", "45791.42"])
def test_parse_time_refuses_garbage(text):
    with pytest.raises(UnreadableTime):
        parse_time(text, SHANGHAI)


def test_parse_time_blank_is_none():
    assert parse_time("", SHANGHAI) is None and parse_time("   ", SHANGHAI) is None


def test_shanghai_sheet_times_are_utc_plus_eight_whatever_zone_now_is_in():
    row = dispatched_row()  # ack due 10:05 Shanghai = 02:05 UTC
    assert due_actions([row], CONFIG, datetime(2025, 5, 14, 2, 4, 59, tzinfo=UTC)).actions == []
    assert steps(due_actions([row], CONFIG, datetime(2025, 5, 14, 2, 5, tzinfo=UTC)).actions) == \
        [("ack", 0, "department")]


def test_berlin_sheet_times_follow_summer_and_winter_time():
    assert parse_time("2025-07-01 10:05", BERLIN) == datetime(2025, 7, 1, 8, 5, tzinfo=UTC)
    assert parse_time("2025-01-15 10:05", BERLIN) == datetime(2025, 1, 15, 9, 5, tzinfo=UTC)
    # In the spring-forward gap 02:30 does not exist: read as after the jump, 03:30 summer time.
    gap = parse_time("2025-03-30 02:30", BERLIN)
    assert gap == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert format_sheet_time(gap, BERLIN) == "2025-03-30 03:30"
    # In the autumn 02:30 happens twice: read as the first (summer time), never an hour late.
    # (Compared in UTC: by PEP 495 a time in the repeated hour never equals one of another zone.)
    assert parse_time("2025-10-26 02:30", BERLIN).astimezone(UTC) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_berlin_ladder_across_the_spring_clock_change():
    config = make_config("Europe/Berlin")
    cells = reset_for_redispatch(NORMAL, datetime(2025, 3, 30, 0, 58, tzinfo=UTC), BERLIN)
    assert (cells["dispatched_at"], cells["ack_due"]) == ("2025-03-30 01:58", "2025-03-30 03:03")
    desk = Desk(make_row("C-250330-001", Status.DISPATCHED, **cells), config)
    assert desk.check(datetime(2025, 3, 30, 1, 2, tzinfo=UTC)) == []
    assert desk.check(datetime(2025, 3, 30, 1, 3, tzinfo=UTC)) == [("ack", 0, "department")]
    assert desk.check(datetime(2025, 3, 30, 1, 8, tzinfo=UTC)) == [("ack", 5, "service_center")]
    assert desk.row.get("escalations") == (
        "ack+0min→部门 2025-03-30 03:03; ack+5min→服务中心 2025-03-30 03:08")


def test_berlin_autumn_hour_is_measured_in_real_minutes_even_with_a_berlin_clock():
    # Sign-for due 02:50 in the first (summer time) pass of the repeated hour = 00:50 UTC.
    # "now" is 02:10 of the second pass (winter time, fold=1) = 01:10 UTC: 20 minutes late,
    # although on the wall clock 02:10 looks earlier than 02:50.
    config = make_config("Europe/Berlin")
    row = dispatched_row("C-251026-001", dispatched_at="2025-10-26 02:45",
                         ack_due="2025-10-26 02:50", resolve_by="2025-10-29 01:45")
    now = datetime(2025, 10, 26, 2, 10, tzinfo=BERLIN, fold=1)
    assert now.astimezone(UTC) == datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    actions = due_actions([row], config, now).actions
    assert steps(actions) == [("ack", 0, "department"), ("ack", 5, "service_center")]
    assert [a.minutes_late for a in actions] == [20, 20]
    assert actions[0].label == "ack+0min→部门 2025-10-26 02:10"
    [late] = overdue_stages(row, config, now)
    assert late.minutes_late == 20


def test_minutes_late_counts_whole_minutes_from_the_deadline():
    deadline = at("2025-05-14 10:05")
    assert minutes_late(deadline, at("2025-05-14 10:00")) == 0
    assert minutes_late(deadline, at("2025-05-14 10:05:59")) == 0
    assert minutes_late(deadline, at("2025-05-14 10:06")) == 1
    assert minutes_late(deadline, datetime(2025, 5, 15, 2, 5, tzinfo=UTC)) == 24 * 60
    # Same zone on both sides across the spring jump: 01:55 -> 03:05 is 10 real minutes.
    assert minutes_late(at("2025-03-30 01:55", BERLIN), at("2025-03-30 03:05", BERLIN)) == 10


# --- reading cells ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, status", [
    ("Dispatched 已派单", Status.DISPATCHED), ("已派单", Status.DISPATCHED),
    ("dispatched", Status.DISPATCHED), ("  已签收（张三） ", Status.ACKNOWLEDGED),
    ("Return visit 回访中", Status.RETURN_VISIT), ("return visit", Status.RETURN_VISIT),
    ("重新处理", Status.REOPENED), ("已处理", Status.RESOLVED), ("Canceled", Status.CANCELLED),
    ("已结案 by 李", Status.CLOSED), ("", None), ("等一下", None), ("已签收 已处理", None),
])
def test_read_status_is_tolerant_but_never_guesses_between_two(text, status):
    assert read_status(text) == status


@pytest.mark.parametrize("text, yes", [("是 Yes", True), ("是", True), ("YES", True), ("✓", True),
                                       ("", False), ("否 No", False), ("no", False)])
def test_read_yes(text, yes):
    assert read_yes(text) is yes


# --- overdue, for the review -----------------------------------------------------------------

def test_is_overdue_and_overdue_stages():
    row = dispatched_row()
    assert not is_overdue(row, CONFIG, at("2025-05-14 10:04"))
    assert is_overdue(row, CONFIG, at("2025-05-14 10:05"))
    [late] = overdue_stages(row, CONFIG, at("2025-05-14 10:35"))
    assert (late.reference, late.stage, late.minutes_late) == ("C-250514-001", "ack", 30)

    signed = dispatched_row(status=Status.ACKNOWLEDGED, acknowledged_at="2025-05-14 10:02")
    assert not is_overdue(signed, CONFIG, at("2025-05-16 10:00"))
    [late] = overdue_stages(signed, CONFIG, at("2025-05-17 11:00"))
    assert (late.stage, late.deadline, late.minutes_late) == ("resolve", at("2025-05-17 10:00"), 60)

    assert not is_overdue(dispatched_row(status=Status.RESOLVED, resolved_at="2025-05-15 09:00"),
                          CONFIG, at("2025-06-01 10:00"))
    assert not is_overdue(dispatched_row(ack_due="??", resolve_by="??"), CONFIG, at("2025-06-01 10:00"))
