"""After the result: the return visit (回访), the review (检讨) of serious complaints, the archive.

Pure decisions, no I/O, like ``daemon.sla``: every function is a function of register rows, the
config and ``now`` (an aware datetime, passed in). What is due is recomputed from the row each
cycle; each action carries a stable ``key`` (``"visit-reminder:2025-05-14 10:00"``) built only
from cells of the row, so the caller, which records ``(reference, key)`` in its journal after
acting, never acts twice, also across restarts.

The flow, per complaint (statuses from ``daemon.sheet_layout``):

- **Resolved, signed off, tenant email known, no satisfaction yet** -> ``send_visit`` at
  ``visit_send_time``: the sign-off time plus ``aftercare.return_visit_delay_hours``, moved to
  the next office-hours moment (``aftercare.office_hours``, ``aftercare.office_days``, in the
  park's time zone), and only while it is office time. The action's ``cells`` set status
  Return visit and ``visit_sent_at``. A row without an email address (a phone or walk-in
  complaint) gets nothing: staff make the return visit by phone and type the answer.
- **Return visit, no satisfaction** -> one ``visit_reminder`` (in office time) from
  ``visit_reminder_days`` calendar days after the visit was sent; ``close_no_reply``
  ``visit_close_days`` more days after the reminder was due, which closes the complaint with
  "未回复 no reply" in Tenant feedback. If the close is due the reminder is not sent any more.
- **A satisfaction in the sheet** (staff typed it after a phone visit, or a reply left it)
  while Resolved and signed off, or Return visit -> ``close_by_staff`` for 3 or more,
  ``reopen_by_staff`` for 2 or less (``satisfaction_outcome``). Reopening clears the
  aftercare cells of that round (``reopen_cells``) so the next resolution starts afresh; the
  score and feedback go to the Activity trail through the action's ``detail``.
- **Serious** (the Serious cell says yes), signed off, Review empty, status Resolved, Return
  visit or Closed -> ``review_request`` to the head at once; ``review_chase`` once on each
  working day after the sign-off day, in office hours; ``review_escalate`` to leadership once,
  from the start of office hours on the ``review_escalate_days``-th working day after the
  sign-off day. A review is owed even when the tenant has already closed the complaint, so
  Closed rows are chased too; typing anything in Review stops it.
- **Closed or Cancelled** for ``archive_after_days`` -> ``archive_candidates`` names the tab
  ``Archive <year received>``. A serious complaint still owing its review stays in Register.

Reopened rows belong to dispatch; Cancelled rows only to the archive. Rows without a reference
or status, with an unknown status or with a reference found twice are skipped here:
``daemon.sla.due_actions`` reads the same rows and reports those. A cell that cannot be read
(a time, a satisfaction) gives a problem for its row (``sla.SlaProblem``), never an exception.

Days (reminder, close, archive) are calendar days on the park's clock; working days are the
``office_days``. Public holidays are not known to the config.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any, Literal, NamedTuple

from daemon.replies.commands import COMMAND_KINDS, parse_command
from daemon.sheet_layout import Status
from daemon.sla import (
    SHEET_TIME_EXAMPLE,
    SlaProblem,
    UnreadableTime,
    as_utc,
    cell,
    format_sheet_time,
    key_header,
    localize,
    parse_time,
    read_status,
    read_yes,
    require_aware,
    row_reference,
)

Kind = Literal["send_visit", "visit_reminder", "close_no_reply", "close_by_staff",
               "reopen_by_staff", "review_request", "review_chase", "review_escalate"]
ACTION_KINDS: tuple[str, ...] = ("send_visit", "visit_reminder", "close_no_reply",
                                 "close_by_staff", "reopen_by_staff", "review_request",
                                 "review_chase", "review_escalate")
Outcome = Literal["close", "reopen"]

NO_REPLY = "未回复 no reply"
ARCHIVE_TAB_PREFIX = "Archive"
# The lowest satisfaction that closes a complaint; anything below reopens it.
CLOSING_SCORE = 3

VISIT_STATUSES = frozenset({Status.RESOLVED, Status.RETURN_VISIT})
REVIEW_STATUSES = frozenset({Status.RESOLVED, Status.RETURN_VISIT, Status.CLOSED})
ARCHIVE_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})
# The cells of one aftercare round, emptied when the complaint is reopened.
REOPEN_CLEARS = ("signed_off_by", "signed_off_at", "visit_sent_at", "satisfaction", "feedback",
                 "closed_at")

# parse_command with no command words reads only a satisfaction answer: the same scale as a
# tenant's reply (非常满意 5 … 很不满意 1, 1-5, "5分", stars).
_SATISFACTION_ONLY = SimpleNamespace(**{kind: () for kind in COMMAND_KINDS})
_WHOLE_NUMBER = re.compile(r"([1-5])(?:\.0+)?")  # "4.0": a number cell read back as text


class UnreadableSatisfaction(ValueError):
    """A satisfaction cell holds something other than 1-5 or a satisfaction word."""


@dataclass(frozen=True)
class AftercareAction:
    """One aftercare step to take now.

    ``key`` identifies the step for good (record ``(reference, key)`` after acting);
    ``cells`` are the register cells to write once it is done (column key -> text);
    ``notify`` says who is to be told (``tenant``, ``head``, ``department``,
    ``service_center``, ``leadership``); ``detail`` is a line for the Activity trail.
    """

    reference: str
    kind: Kind
    key: str
    due_at: datetime                      # when it fell due, aware, in the park's time zone
    notify: tuple[str, ...] = ()
    cells: dict[str, str] = field(default_factory=dict)
    score: int | None = None              # close_by_staff / reopen_by_staff
    working_days: int | None = None       # review steps: working days since the sign-off day
    detail: str = ""


@dataclass(frozen=True)
class AftercareCheck:
    """The result of ``due_aftercare``; unpacks as ``actions, problems``."""

    actions: list[AftercareAction]
    problems: list[SlaProblem]

    def __iter__(self):
        return iter((self.actions, self.problems))


class ArchiveCandidate(NamedTuple):
    """A row to move from Register to the tab ``tab``; unpacks as ``reference, tab``."""

    reference: str
    tab: str


@dataclass(frozen=True)
class ArchiveCheck:
    """The result of ``archive_candidates``; unpacks as ``candidates, problems``."""

    candidates: list[ArchiveCandidate]
    problems: list[SlaProblem]

    def __iter__(self):
        return iter((self.candidates, self.problems))


# --- office hours and working days -----------------------------------------------------------

@dataclass(frozen=True)
class OfficeWindow:
    start_hour: int
    end_hour: int           # 24 means midnight at the end of the day
    days: frozenset[int]    # ISO weekdays, 1 = Monday ... 7 = Sunday


def office_window(config: Any) -> OfficeWindow:
    """The office hours and days of ``config.aftercare``; ``ValueError`` naming the key if unusable."""
    aftercare = config.aftercare
    start, end = aftercare.office_hours
    if not (0 <= start < end <= 24):
        raise ValueError(f"aftercare.office_hours: [{start}, {end}] must be [start hour, end hour] "
                         f"with 0 <= start < end <= 24, such as [9, 18]")
    days = frozenset(aftercare.office_days)
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"aftercare.office_days: {list(aftercare.office_days)} must list days "
                         f"1 (Monday) to 7 (Sunday), such as [1, 2, 3, 4, 5]")
    return OfficeWindow(start, end, days)


def _wall_time(day: date, hour: int, tz: Any) -> datetime:
    """``hour`` o'clock on ``day`` in ``tz`` (24 is the next midnight)."""
    return localize(datetime.combine(day, time()) + timedelta(hours=hour), tz)


def _office_span(day: date, window: OfficeWindow, tz: Any) -> tuple[datetime, datetime] | None:
    if day.isoweekday() not in window.days:
        return None
    return _wall_time(day, window.start_hour, tz), _wall_time(day, window.end_hour, tz)


def _local_day(moment: datetime, tz: Any) -> date:
    return require_aware(moment, "moment").astimezone(tz).date()


def is_office_time(moment: datetime, config: Any) -> bool:
    """True if ``moment`` falls on an office day between the start (inclusive) and end hour."""
    tz, window = config.park.tz, office_window(config)
    span = _office_span(_local_day(moment, tz), window, tz)
    return span is not None and as_utc(span[0]) <= as_utc(moment) < as_utc(span[1])


def next_office_time(moment: datetime, config: Any) -> datetime:
    """``moment`` itself if it is office time, else the start of the next office hours.

    In the park's time zone. The end hour is not office time: 18:00 with hours [9, 18] moves
    to the next office day at 09:00.
    """
    tz, window = config.park.tz, office_window(config)
    today = _local_day(moment, tz)
    for offset in range(8):
        span = _office_span(today + timedelta(days=offset), window, tz)
        if span is None:
            continue
        start, end = span
        if as_utc(moment) < as_utc(start):
            return start
        if as_utc(moment) < as_utc(end):
            return moment.astimezone(tz)
    raise AssertionError("a week always holds an office day")  # office_window checked the days


def visit_send_time(signed_off_at: datetime, config: Any) -> datetime:
    """When the return visit may go: sign-off + ``return_visit_delay_hours`` (elapsed time),
    moved forward to the next office-hours moment.

    With the defaults (2 hours, 9-18, Monday-Friday): signed off Friday 17:30 -> Monday 09:00;
    Saturday -> Monday 09:00; Tuesday 08:00 -> Tuesday 10:00; Tuesday 16:00 -> Tuesday 18:00 is
    the end hour, so Wednesday 09:00.
    """
    delay = timedelta(hours=config.aftercare.return_visit_delay_hours)
    earliest = (as_utc(require_aware(signed_off_at, "signed_off_at")) + delay)
    return next_office_time(earliest.astimezone(config.park.tz), config)


def working_days_between(a: datetime, b: datetime, config: Any) -> int:
    """Office days after ``a``'s day up to and including ``b``'s day (park time zone).

    Signed off Monday: Tuesday is 1, Friday 4, the next Monday 5 (with Monday-Friday); 0 on the
    same day or when ``b`` is before ``a``.
    """
    tz, window = config.park.tz, office_window(config)
    first, last = _local_day(a, tz), _local_day(b, tz)
    if last <= first:
        return 0
    weeks, remainder = divmod((last - first).days, 7)
    count = weeks * len(window.days)
    count += sum((first + timedelta(days=weeks * 7 + step)).isoweekday() in window.days
                 for step in range(1, remainder + 1))
    return count


def nth_working_day_after(moment: datetime, n: int, config: Any) -> date:
    """The date of the ``n``-th office day after ``moment``'s day (n >= 1)."""
    tz, window = config.park.tz, office_window(config)
    day, found = _local_day(moment, tz), 0
    while found < n:
        day += timedelta(days=1)
        found += day.isoweekday() in window.days
    return day


def add_calendar_days(moment: datetime, days: int, tz: Any) -> datetime:
    """The same wall-clock time ``days`` days later in ``tz`` (a clock change does not shift it)."""
    local = require_aware(moment, "moment").astimezone(tz)
    return localize(local.replace(tzinfo=None) + timedelta(days=days), tz)


# --- satisfaction ----------------------------------------------------------------------------

def read_satisfaction(text: str) -> int | None:
    """A satisfaction cell as a score 1-5; None if blank; ``UnreadableSatisfaction`` otherwise.

    Reads what a tenant may answer and staff may type: ``4``, ``5分``, ``4.0``, ``★★★★☆``,
    ``非常满意`` 5, ``满意`` 4, ``基本满意`` / ``一般`` 3, ``不满意`` 2, ``很不满意`` 1, ``satisfied`` …
    (``daemon.replies.commands``); words after the answer ("4 电话回访") are allowed.
    """
    cleaned = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not cleaned:
        return None
    number = _WHOLE_NUMBER.fullmatch(cleaned)
    if number:
        return int(number.group(1))
    command = parse_command(cleaned, _SATISFACTION_ONLY)
    if command.kind == "satisfaction":
        return int(command.argument)
    raise UnreadableSatisfaction(f"'{text}' is not a satisfaction from 1 to 5")


def satisfaction_outcome(score: int) -> Outcome:
    """``"close"`` for 3 or more, ``"reopen"`` for 2 or less (the product's rule)."""
    if not 1 <= int(score) <= 5:
        raise ValueError(f"a satisfaction score is 1 to 5, got {score!r}")
    return "close" if score >= CLOSING_SCORE else "reopen"


# --- cells to write --------------------------------------------------------------------------

def close_cells(now: datetime, tz: Any) -> dict[str, str]:
    """Status Closed, closed now."""
    stamp = format_sheet_time(now, tz)
    return {"status": Status.CLOSED.label, "closed_at": stamp, "updated_at": stamp}


def reopen_cells(now: datetime, tz: Any) -> dict[str, str]:
    """Status Reopened with this round's sign-off, visit and answer emptied, so the next
    resolution gets its own sign-off and return visit. The answer itself belongs in the
    Activity trail. (Dispatch decides the new deadlines and slip.)"""
    stamp = format_sheet_time(now, tz)
    return {"status": Status.REOPENED.label, **{key: "" for key in REOPEN_CLEARS},
            "updated_at": stamp}


def _with_no_reply(feedback: str) -> str:
    existing = feedback.strip().rstrip(";；").rstrip()
    if NO_REPLY in existing:
        return existing
    return f"{existing}; {NO_REPLY}" if existing else NO_REPLY


# --- what is due -----------------------------------------------------------------------------

def _problem(reference: str, key: str, value: str, what_zh: str, what_en: str) -> SlaProblem:
    return SlaProblem(reference, key, value, f"{reference}: {what_zh} {what_en}")


def _time_problem(reference: str, key: str, value: str, consequence_zh: str,
                  consequence_en: str) -> SlaProblem:
    return _problem(reference, key, value,
                    f"{key_header(key)} '{value}' 不是时间，请按 {SHEET_TIME_EXAMPLE} 的格式填写；"
                    f"{consequence_zh}",
                    f"'{value}' is not a time: write it like {SHEET_TIME_EXAMPLE}. "
                    f"{consequence_en}")


class _Row:
    """One register row being checked: its cells, read once, and the problems found."""

    def __init__(self, row: Any, config: Any, now: datetime):
        self.row, self.config, self.now = row, config, now
        self.tz = config.park.tz
        self.reference = row_reference(row)
        self.problems: list[SlaProblem] = []

    def text(self, key: str) -> str:
        return cell(self.row, key)

    def time(self, key: str, zh: str, en: str) -> tuple[bool, datetime | None]:
        """(readable, time or None if blank); an unreadable cell is recorded as a problem."""
        value = self.text(key)
        try:
            return True, parse_time(value, self.tz)
        except UnreadableTime:
            self.problems.append(_time_problem(self.reference, key, value, zh, en))
            return False, None

    def stamp(self, moment: datetime) -> str:
        return format_sheet_time(moment, self.tz)

    def action(self, kind: Kind, key: str, due_at: datetime, **details: Any) -> AftercareAction:
        return AftercareAction(self.reference, kind, key, due_at.astimezone(self.tz), **details)


def _visit_actions(row: _Row, status: Status, signed_off: datetime | None) -> list[AftercareAction]:
    """Return visit steps for a Resolved or Return visit row."""
    try:
        score = read_satisfaction(row.text("satisfaction"))
    except UnreadableSatisfaction:
        value = row.text("satisfaction")
        row.problems.append(_problem(
            row.reference, "satisfaction", value,
            f"满意度 '{value}' 无法识别，请填 1-5 或 满意/一般/不满意；在改正前不会结案或回访。",
            f"Satisfaction '{value}' is not 1-5 or a word such as 满意/一般/不满意: correct it. "
            f"The complaint is not closed or visited until then."))
        return []
    if score is not None:
        if status is Status.RESOLVED and signed_off is None:
            return []  # answered before the head signed off: closed once the sign-off comes
        return [_settle(row, score, signed_off)]
    if status is Status.RESOLVED:
        return _send_visit(row, signed_off)
    return _chase_visit(row)


def _settle(row: _Row, score: int, signed_off: datetime | None) -> AftercareAction:
    outcome = satisfaction_outcome(score)
    round_key = row.stamp(signed_off) if signed_off else row.text("visit_sent_at").strip()
    feedback = row.text("feedback").strip()
    detail = f"满意度 satisfaction {score}" + (f": {feedback}" if feedback else "")
    if outcome == "close":
        return row.action("close_by_staff", f"satisfaction:{round_key}:{score}", row.now,
                          cells=close_cells(row.now, row.tz), score=score, detail=detail)
    return row.action("reopen_by_staff", f"satisfaction:{round_key}:{score}", row.now,
                      notify=("department", "service_center"),
                      cells=reopen_cells(row.now, row.tz), score=score, detail=detail)


def _send_visit(row: _Row, signed_off: datetime | None) -> list[AftercareAction]:
    email = row.text("email").strip()
    if signed_off is None or "@" not in email or row.text("visit_sent_at").strip():
        return []  # not signed off yet; no email (staff visit by phone); or already sent
    due = visit_send_time(signed_off, row.config)
    if as_utc(row.now) < as_utc(due) or not is_office_time(row.now, row.config):
        return []
    stamp = row.stamp(row.now)
    return [row.action("send_visit", f"return-visit:{row.stamp(signed_off)}", due,
                       notify=("tenant",), detail=f"回访邮件 return visit → {email}",
                       cells={"status": Status.RETURN_VISIT.label, "visit_sent_at": stamp,
                              "updated_at": stamp})]


def _chase_visit(row: _Row) -> list[AftercareAction]:
    readable, sent = row.time("visit_sent_at", "在改正前不会提醒或结案。",
                              "No reminder or closing until it is corrected.")
    if not readable:
        return []
    if sent is None:
        if "@" in row.text("email"):
            row.problems.append(_problem(
                row.reference, "visit_sent_at", "",
                "状态为回访中但回访时间为空，不会提醒或自动结案；请填写回访时间或满意度。",
                f"Status is Return visit but no visit time is written, so there is no reminder "
                f"or automatic closing: fill in the time (like {SHEET_TIME_EXAMPLE}) or the "
                f"satisfaction."))
        return []
    aftercare, config = row.config.aftercare, row.config
    sent_key = row.stamp(sent)
    remind_at = next_office_time(add_calendar_days(sent, aftercare.visit_reminder_days, row.tz),
                                 config)
    close_at = add_calendar_days(remind_at, aftercare.visit_close_days, row.tz)
    if as_utc(row.now) >= as_utc(close_at):
        cells = {**close_cells(row.now, row.tz), "feedback": _with_no_reply(row.text("feedback"))}
        return [row.action("close_no_reply", f"close-no-reply:{sent_key}", close_at,
                           cells=cells, detail=f"{NO_REPLY}: 回访 visit {sent_key}")]
    if as_utc(row.now) >= as_utc(remind_at) and is_office_time(row.now, config):
        return [row.action("visit_reminder", f"visit-reminder:{sent_key}", remind_at,
                           notify=("tenant",), detail=f"回访提醒 visit reminder ({sent_key})")]
    return []


def _review_actions(row: _Row, signed_off: datetime) -> list[AftercareAction]:
    """Review steps for a serious, signed-off row whose Review cell is empty."""
    config, now, tz = row.config, row.now, row.tz
    signed_key = row.stamp(signed_off)
    days = working_days_between(signed_off, now, config)
    actions = [row.action("review_request", f"review-request:{signed_key}", signed_off,
                          notify=("head",), working_days=days,
                          detail=f"检讨请求 review requested (signed off {signed_key})")]
    window = office_window(config)
    today = _local_day(now, tz)
    if days >= 1 and is_office_time(now, config):  # a working day after the sign-off day
        actions.append(row.action(
            "review_chase", f"review-chase:{today.isoformat()}",
            _wall_time(today, window.start_hour, tz),
            notify=("head",), working_days=days,
            detail=f"检讨催办 review reminder, working day {days}"))
    escalate_day = nth_working_day_after(signed_off, config.aftercare.review_escalate_days, config)
    escalate_at = _wall_time(escalate_day, window.start_hour, tz)
    if as_utc(now) >= as_utc(escalate_at) and is_office_time(now, config):
        actions.append(row.action(
            "review_escalate", f"review-escalate:{signed_key}", escalate_at,
            notify=("leadership",), working_days=days,
            detail=f"检讨逾期 review overdue {days} working days → 公司领导 leadership"))
    return actions


def check_row(row: Any, config: Any, now: datetime) -> AftercareCheck:
    """``due_aftercare`` for one row (duplicates are not checked here)."""
    require_aware(now)
    state = _Row(row, config, now)
    status = read_status(cell(row, "status"))
    owes_review = (status in REVIEW_STATUSES and read_yes(cell(row, "serious"))
                   and not cell(row, "review").strip())
    if not state.reference or not (status in VISIT_STATUSES or owes_review):
        return AftercareCheck([], [])
    readable, signed_off = state.time(
        "signed_off_at", "在改正前不会回访或催检讨。",
        "No return visit or review request until it is corrected.")
    if not readable:
        return AftercareCheck([], state.problems)
    actions: list[AftercareAction] = []
    if status in VISIT_STATUSES:
        actions += _visit_actions(state, status, signed_off)
    if owes_review and signed_off is not None:
        actions += _review_actions(state, signed_off)
    return AftercareCheck(actions, state.problems)


def _unique_rows(rows: Iterable[Any]) -> list[Any]:
    """Rows whose reference is on no other row (sla.due_actions reports the duplicates)."""
    rows = list(rows)
    counts = Counter(row_reference(row).casefold() for row in rows)
    return [row for row in rows if counts[row_reference(row).casefold()] == 1]


def due_aftercare(rows: Iterable[Any], config: Any, now: datetime) -> AftercareCheck:
    """Every aftercare step due at ``now``, and the rows that could not be checked.

    Returns ``AftercareCheck(actions, problems)``, row by row in the order given. A step stays
    due (with the same ``key``) until the caller's cells make it moot or its time passes (a
    review chase belongs to its day); the caller acts on keys it has not recorded yet.
    """
    require_aware(now)
    actions: list[AftercareAction] = []
    problems: list[SlaProblem] = []
    for row in _unique_rows(rows):
        found = check_row(row, config, now)
        actions += found.actions
        problems += found.problems
    return AftercareCheck(actions, problems)


# --- the archive -----------------------------------------------------------------------------

def archive_tab(year: int) -> str:
    """The archive tab of a received year: ``"Archive 2025"``."""
    return f"{ARCHIVE_TAB_PREFIX} {year}"


def _archive_row(row: Any, config: Any, now: datetime) -> tuple[ArchiveCandidate | None,
                                                                list[SlaProblem]]:
    state = _Row(row, config, now)
    consequence = ("在改正前不会归档。", "It is not archived until it is corrected.")
    closed = None
    for key in ("closed_at", "updated_at"):  # staff who close by hand may leave closed_at empty
        readable, closed = state.time(key, *consequence)
        if not readable:
            return None, state.problems
        if closed is not None:
            break
    if closed is None:
        return None, [_problem(
            state.reference, "closed_at", "",
            f"已结案或撤销但没有结案时间，不会归档；请填写结案时间（如 {SHEET_TIME_EXAMPLE}）。",
            f"Closed or cancelled without a closing time, so it is not archived: fill in "
            f"{key_header('closed_at')} like {SHEET_TIME_EXAMPLE}.")]
    if as_utc(now) < as_utc(add_calendar_days(closed, config.aftercare.archive_after_days,
                                              state.tz)):
        return None, []
    readable, received = state.time("received_at", *consequence)
    if not readable:
        return None, state.problems
    return ArchiveCandidate(state.reference, archive_tab((received or closed).year)), []


def _owes_review(row: Any) -> bool:
    return (read_status(cell(row, "status")) is Status.CLOSED and read_yes(cell(row, "serious"))
            and bool(cell(row, "signed_off_at").strip()) and not cell(row, "review").strip())


def archive_candidates(rows: Iterable[Any], config: Any, now: datetime) -> ArchiveCheck:
    """Closed and Cancelled rows closed at least ``archive_after_days`` ago, each with its tab
    ``Archive <year>`` (the year received, else the year closed), and the rows that could not be
    judged. The closing time is ``closed_at``, else ``updated_at``. A serious complaint that
    still owes its review is kept in Register, where it is chased."""
    require_aware(now)
    candidates: list[ArchiveCandidate] = []
    problems: list[SlaProblem] = []
    for row in _unique_rows(rows):
        if (not row_reference(row) or read_status(cell(row, "status")) not in ARCHIVE_STATUSES
                or _owes_review(row)):
            continue
        candidate, found = _archive_row(row, config, now)
        problems += found
        if candidate is not None:
            candidates.append(candidate)
    return ArchiveCheck(candidates, problems)
