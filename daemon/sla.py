"""Deadlines and escalations: which reminders are due now, decided from the register alone.

Pure decisions, no I/O: every function here is a function of register rows, the config and
``now`` (an aware datetime, passed in; nothing reads the clock). Deadlines are stored in the
register (``ack_due``, ``resolve_by``), so a restart loses nothing: what is due is recomputed
from the row each cycle, and what was already sent is read back from the row's ``escalations``
cell. ``due_actions`` returns each due step exactly once as long as the caller, after sending,
appends the action's ``label`` to that cell (``append_escalation``).

Times in the sheet are naive text ("2025-05-14 10:05", ``intake.rows.TIME_FORMAT``) in the
park's time zone. Reading them back:

- a time that does not exist (the spring-forward gap, e.g. 02:30 in Berlin on the last Sunday of
  March) is read as the moment the clock shows after the jump (03:30 summer time);
- a time that happens twice (the autumn hour) is read as the first one (summer time), so a
  reminder may come up to an hour early that night but never an hour late.

Deadlines are elapsed time: "5 minutes" and "24 hours" are counted in real minutes and hours,
also across a clock change.

The ``escalations`` cell (催办升级) lists the steps already sent, one entry each, separated by
"; " and readable by staff::

    ack+0min→部门 2025-05-14 10:05; ack+5min→服务中心 2025-05-14 10:10; resolve+0min→部门负责人 2025-05-17 10:00

An entry is ``<stage>+<minutes>min→<who> <when sent>``: stage ``ack`` (sign-for, 签收) or
``resolve`` (处理), the minutes after the deadline of that ladder step, who was told
(部门 department members, 部门负责人 head, 服务中心 service center, 公司领导 leadership).
The reader is lenient: Chinese stage words (签收, 处理), ``分钟``, English names, full-width
characters and other separators (；, new lines) are understood; text that is not an entry
(a staff note) is left alone. An entry without a "who" (staff typing ``ack+25min``) counts for
every step of that stage and minute, which is how staff can stop a step from being sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Literal, Sequence

from daemon.intake.rows import TIME_FORMAT
from daemon.sheet_layout import REGISTER_COLUMNS, STATUS_LABELS, Status

Stage = Literal["ack", "resolve"]
Notify = Literal["department", "head", "service_center", "leadership"]
ACK: Stage = "ack"
RESOLVE: Stage = "resolve"

# Who is told, as the escalations cell shows it.
NOTIFY_LABELS: dict[str, str] = {
    "department": "部门",
    "head": "部门负责人",
    "service_center": "服务中心",
    "leadership": "公司领导",
}
# Words the reader accepts for each, longest first so that 部门负责人 is not read as 部门.
NOTIFY_WORDS: tuple[tuple[str, str], ...] = tuple(sorted(
    {
        "部门负责人": "head", "负责人": "head", "department head": "head", "head": "head",
        "服务中心": "service_center", "service_center": "service_center",
        "service center": "service_center", "service centre": "service_center",
        "公司领导": "leadership", "领导": "leadership", "leadership": "leadership",
        "leaders": "leadership",
        "部门": "department", "department": "department", "dept": "department",
    }.items(),
    key=lambda item: -len(item[0]),
))
STAGE_WORDS: dict[str, Stage] = {"ack": ACK, "签收": ACK, "resolve": RESOLVE, "处理": RESOLVE}

# The only statuses in which each stage is chased. New is not dispatched yet; Resolved and
# Return visit are past both stages; Closed and Cancelled are finished and never chased.
ACK_STATUSES = frozenset({Status.DISPATCHED, Status.REOPENED})
RESOLVE_STATUSES = frozenset({Status.DISPATCHED, Status.ACKNOWLEDGED, Status.REOPENED})

STAGE_DEADLINE_KEY: dict[Stage, str] = {ACK: "ack_due", RESOLVE: "resolve_by"}
STAGE_DONE_KEY: dict[Stage, str] = {ACK: "acknowledged_at", RESOLVE: "resolved_at"}
YES_WORDS = frozenset({"是", "yes", "y", "true", "1", "x", "✓", "√", "严重", "serious"})

SHEET_TIME_EXAMPLE = "2025-05-14 10:05"
_TIME_PATTERN = re.compile(
    r"(?P<year>\d{4})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})"
    r"(?:\s*日\s*|\s*T\s*|\s+)(?P<hour>\d{1,2})\s*[:时点]\s*(?P<minute>\d{1,2})\s*分?"
    r"(?:\s*:\s*(?P<second>\d{1,2})(?:\.\d+)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_ENTRY_SEPARATORS = re.compile(r"[;\n\r]+")
_ENTRY_HEAD = re.compile(
    r"(?<![A-Za-z])(?P<stage>ack|resolve|签收|处理)\s*\+\s*(?P<minutes>\d+)\s*"
    r"(?:minutes|minute|mins|min|分钟|分)?", re.IGNORECASE)
_ENTRY_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}")


class UnreadableTime(ValueError):
    """A cell meant to hold a time holds something else; the message is for staff."""


@dataclass(frozen=True)
class DueAction:
    """One escalation step to send now.

    ``label`` is what the caller appends to the row's escalations cell after sending (with
    ``append_escalation``); ``minutes_late`` counts from the stage's deadline, not the step's.
    """

    reference: str
    stage: Stage
    step_index: int          # index in config.dispatch.ack_ladder / resolve_ladder
    after_minutes: int       # the step's minutes after the deadline
    notify: Notify
    minutes_late: int
    deadline: datetime       # the stage's deadline, aware, in the park's time zone
    label: str
    serious: bool = False    # the row's Serious cell says yes


@dataclass(frozen=True)
class SlaProblem:
    """A row that cannot be checked as it stands, said for the service center (zh + en)."""

    reference: str
    key: str                 # the column key, e.g. "ack_due"
    value: str               # what the cell holds
    message: str


@dataclass(frozen=True)
class SlaCheck:
    """The result of ``due_actions``: steps to send now, and rows that could not be checked."""

    actions: list[DueAction]
    problems: list[SlaProblem]

    def __iter__(self):
        """Allows ``actions, problems = due_actions(...)``."""
        return iter((self.actions, self.problems))


@dataclass(frozen=True)
class EscalationRecord:
    """One entry read from an escalations cell; ``notify`` None means "any"."""

    stage: Stage
    after_minutes: int
    notify: Notify | None
    sent_at: str             # the time as written, "" if none

    def covers(self, stage: str, step: Any) -> bool:
        """True if this entry records ``step`` (an EscalationStep) of ``stage`` as sent."""
        return (self.stage == stage and self.after_minutes == step.after_minutes
                and (self.notify is None or self.notify == step.notify))


@dataclass(frozen=True)
class Overdue:
    """A stage whose deadline has passed without the department acting."""

    reference: str
    stage: Stage
    deadline: datetime
    minutes_late: int


# --- times -----------------------------------------------------------------------------------

def require_aware(moment: datetime, name: str = "now") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC. Compare and subtract only in UTC: between two times of the same zone
    Python does both on the wall clock, and a time in the repeated autumn hour never equals a
    time of another zone (PEP 495)."""
    return require_aware(moment, "moment").astimezone(timezone.utc)


def add_elapsed(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta`` in real elapsed time, shown in ``moment``'s time zone.

    Plain ``+`` on an aware datetime adds wall-clock time, which is an hour off across a clock
    change; this goes through UTC.
    """
    return (as_utc(moment) + delta).astimezone(moment.tzinfo)


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz`` as an aware datetime (gap: after the jump; repeated: first)."""
    guess = naive.replace(tzinfo=tz, fold=0)
    return guess.astimezone(timezone.utc).astimezone(tz)


def parse_time(text: str, tz: tzinfo) -> datetime | None:
    """Read a time cell: None if blank, an aware datetime, or ``UnreadableTime``.

    Accepts what the daemon writes ("2025-05-14 10:05") and what staff type: seconds,
    "2025/5/14 9:05", "2025.05.14 10:05", "2025-05-14T10:05", "2025年5月14日 10:05",
    "2025年5月14日 10时05分", full-width digits, and an explicit offset ("+08:00", "Z").
    Times without an offset are in ``tz``.
    """
    cleaned = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not cleaned:
        return None
    match = _TIME_PATTERN.fullmatch(cleaned)
    if match is None:
        raise UnreadableTime(f"'{text}' is not a date and time like {SHEET_TIME_EXAMPLE}")
    parts = {name: int(value) for name, value in match.groupdict().items()
             if value is not None and name != "offset"}
    try:
        naive = datetime(parts["year"], parts["month"], parts["day"], parts["hour"],
                         parts["minute"], parts.get("second", 0))
    except ValueError:
        raise UnreadableTime(f"'{text}' is not a real date and time "
                             f"(write it like {SHEET_TIME_EXAMPLE})") from None
    offset = match.group("offset")
    if offset is None:
        return localize(naive, tz)
    if offset.upper() == "Z":
        fixed = timezone.utc
    else:
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        fixed = timezone(timedelta(minutes=minutes if offset[0] == "+" else -minutes))
    return naive.replace(tzinfo=fixed).astimezone(tz)


def format_sheet_time(moment: datetime, tz: tzinfo) -> str:
    """An aware time as the sheet shows it, in the park's time zone: "2025-05-14 10:05"."""
    return require_aware(moment, "moment").astimezone(tz).strftime(TIME_FORMAT)


def minutes_late(deadline: datetime, now: datetime) -> int:
    """Whole minutes ``now`` is past ``deadline`` (0 if not past)."""
    elapsed = as_utc(require_aware(now)) - as_utc(require_aware(deadline, "deadline"))
    return max(0, int(elapsed.total_seconds() // 60))


# --- deadlines -------------------------------------------------------------------------------

def deadlines_for(priority: Any, dispatched_at: datetime) -> tuple[datetime, datetime]:
    """(sign-for due, resolve by) for a ``config.Priority``, counted in elapsed time.

    ``dispatched_at`` must be aware; the results are in its time zone.
    """
    require_aware(dispatched_at, "dispatched_at")
    return (add_elapsed(dispatched_at, priority.ack_within),
            add_elapsed(dispatched_at, priority.resolve_within))


def reset_for_redispatch(priority: Any, dispatched_at: datetime, tz: tzinfo) -> dict[str, str]:
    """The cells to write when a slip goes (again) to a department: new dispatch time and
    deadlines, and no sign-for, resolution or escalation from the previous round.

    The previous round's history stays in the Activity tab and the journal.
    """
    ack_due, resolve_by = deadlines_for(priority, dispatched_at)
    return {
        "dispatched_at": format_sheet_time(dispatched_at, tz),
        "ack_due": format_sheet_time(ack_due, tz),
        "resolve_by": format_sheet_time(resolve_by, tz),
        "acknowledged_at": "",
        "acknowledged_by": "",
        "resolved_at": "",
        "resolved_by": "",
        "escalations": "",
    }


# --- the escalations cell --------------------------------------------------------------------

def format_escalation(stage: Stage, step: Any, sent_at: datetime, tz: tzinfo) -> str:
    """One entry of the escalations cell: ``"ack+5min→服务中心 2025-05-14 10:10"``."""
    if stage not in STAGE_DEADLINE_KEY:
        raise ValueError(f"stage must be 'ack' or 'resolve', got {stage!r}")
    return (f"{stage}+{step.after_minutes}min→{NOTIFY_LABELS[step.notify]} "
            f"{format_sheet_time(sent_at, tz)}")


def parse_escalations(text: str) -> list[EscalationRecord]:
    """The entries of an escalations cell, in order; anything that is not an entry is ignored."""
    cleaned = unicodedata.normalize("NFKC", str(text or ""))
    records = []
    for fragment in _ENTRY_SEPARATORS.split(cleaned):
        head = _ENTRY_HEAD.search(fragment)
        if head is None:
            continue
        rest = fragment[head.end():]
        sent_at = _ENTRY_TIME.search(rest)
        records.append(EscalationRecord(
            stage=STAGE_WORDS[head.group("stage").casefold()],
            after_minutes=int(head.group("minutes")),
            notify=_read_notify(rest[:sent_at.start()] if sent_at else rest),
            sent_at=sent_at.group() if sent_at else "",
        ))
    return records


def _read_notify(text: str) -> Notify | None:
    folded = text.casefold()
    for word, notify in NOTIFY_WORDS:
        if word in folded:
            return notify  # type: ignore[return-value]
    return None


def append_escalation(cell: str, label: str) -> str:
    """The escalations cell with ``label`` added as its last entry."""
    existing = str(cell or "").rstrip().rstrip(";；").rstrip()
    return f"{existing}; {label}" if existing else label


def is_recorded(records: Iterable[EscalationRecord], stage: str, step: Any) -> bool:
    return any(record.covers(stage, step) for record in records)


# --- reading a row ---------------------------------------------------------------------------

def cell(row: Any, key: str) -> str:
    """The text of column ``key`` of a RegisterRow-like (``.get(key)`` or ``.values``)."""
    getter = getattr(row, "get", None)
    value = getter(key) if callable(getter) else getattr(row, "values", {}).get(key, "")
    return "" if value is None else str(value)


def row_reference(row: Any) -> str:
    reference = getattr(row, "reference", None)
    return str(reference if reference is not None else cell(row, "reference")).strip()


def read_status(text: str) -> Status | None:
    """A status cell as staff may leave it: the label, either half, or the label inside other
    words ("已签收（张三）"). None if blank, unknown, or naming two statuses."""
    cleaned = " ".join(unicodedata.normalize("NFKC", str(text or "")).split())
    if not cleaned:
        return None
    exact = Status.from_label(cleaned)
    if exact is not None:
        return exact
    folded = cleaned.casefold()
    found = set()
    for status, label in STATUS_LABELS.items():
        english, chinese = label.rsplit(" ", 1)
        words = {english.casefold(), status.value.replace("_", " ")}
        if status is Status.CANCELLED:
            words.add("canceled")
        if chinese in cleaned or any(
                re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", folded) for word in words):
            found.add(status)
    return found.pop() if len(found) == 1 else None


def read_yes(text: str) -> bool:
    """A yes/no cell: "是 Yes", "yes", "Y", "✓" ... are yes; blank, "否 No" ... are no."""
    words = re.split(r"[\s/,，、]+", unicodedata.normalize("NFKC", str(text or "")).casefold())
    return any(word in YES_WORDS for word in words)


def _problem(reference: str, key: str, value: str, what: str) -> SlaProblem:
    return SlaProblem(reference, key, value, f"{reference}: {what}")


def _time_problem(reference: str, key: str, value: str) -> SlaProblem:
    return _problem(reference, key, value,
                    f"{key_header(key)} '{value}' 不是时间，请按 {SHEET_TIME_EXAMPLE} 的格式填写；"
                    f"在改正前不会催办。 '{value}' is not a time: write it like "
                    f"{SHEET_TIME_EXAMPLE}. No reminders are sent for it until it is corrected.")


def key_header(key: str) -> str:
    """The header staff see for column ``key``: "签收期限 Sign-for due"."""
    return next((column.header for column in REGISTER_COLUMNS if column.key == key), key)


# --- what is due -----------------------------------------------------------------------------

def active_stages(status: Status, row: Any) -> list[Stage]:
    """The stages chased for a row in ``status``: not done yet and the status still open."""
    stages: list[Stage] = []
    if status in ACK_STATUSES and not cell(row, STAGE_DONE_KEY[ACK]).strip():
        stages.append(ACK)
    if status in RESOLVE_STATUSES and not cell(row, STAGE_DONE_KEY[RESOLVE]).strip():
        stages.append(RESOLVE)
    return stages


def check_row(row: Any, config: Any, now: datetime) -> SlaCheck:
    """``due_actions`` for one row."""
    require_aware(now)
    tz = config.park.tz
    reference = row_reference(row)
    status_text = cell(row, "status")
    if not reference or not status_text.strip():
        return SlaCheck([], [])  # not registered yet: intake gives it a reference and a status
    status = read_status(status_text)
    if status is None:
        return SlaCheck([], [_problem(
            reference, "status", status_text,
            f"状态 '{status_text}' 无法识别，请从下拉列表选择；在改正前不会催办。 "
            f"Status '{status_text}' is not one ParkDesk knows: pick one from the list. "
            f"No reminders are sent for it until it is corrected.")])
    records = parse_escalations(cell(row, "escalations"))
    serious = read_yes(cell(row, "serious"))
    actions, problems = [], []
    for stage in active_stages(status, row):
        key = STAGE_DEADLINE_KEY[stage]
        text = cell(row, key)
        try:
            deadline = parse_time(text, tz)
        except UnreadableTime:
            problems.append(_time_problem(reference, key, text))
            continue
        if deadline is None:
            if cell(row, "dispatched_at").strip():
                problems.append(_problem(
                    reference, key, "",
                    f"已派单但{key_header(key)}为空，不会催办；请填写期限或重新派单。 "
                    f"Dispatched but the deadline is empty, so it is not chased: "
                    f"fill in a deadline like {SHEET_TIME_EXAMPLE} or dispatch it again."))
            continue
        for index, step in enumerate(steps_of(config, stage)):
            if as_utc(deadline) + timedelta(minutes=step.after_minutes) > as_utc(now):
                continue
            if is_recorded(records, stage, step):
                continue
            actions.append(DueAction(
                reference=reference, stage=stage, step_index=index,
                after_minutes=step.after_minutes, notify=step.notify,
                minutes_late=minutes_late(deadline, now), deadline=deadline,
                label=format_escalation(stage, step, now, tz), serious=serious))
    return SlaCheck(actions, problems)


def due_actions(rows: Iterable[Any], config: Any, now: datetime) -> SlaCheck:
    """Every escalation step due at ``now`` and not yet recorded, and the rows that could not
    be checked.

    Returns ``SlaCheck(actions, problems)`` (it unpacks as ``actions, problems``). Actions come
    row by row in the order given, sign-for before resolution, each ladder in its config order;
    after downtime every step that fell due is returned, each once. Rows without a reference
    or status (not registered yet), without deadlines (not dispatched), Closed or Cancelled
    give nothing. A cell that cannot be read gives a problem for that row and stage, never an
    exception. A reference found on two rows is a problem and neither row is chased, since the
    caller could not tell which row to record the step in.
    """
    require_aware(now)
    rows = list(rows)
    counts = Counter(row_reference(row).casefold() for row in rows)
    actions: list[DueAction] = []
    problems: list[SlaProblem] = []
    reported: set[str] = set()
    for row in rows:
        reference = row_reference(row)
        if reference and counts[reference.casefold()] > 1:
            if reference.casefold() not in reported:
                reported.add(reference.casefold())
                problems.append(_problem(
                    reference, "reference", reference,
                    f"编号 {reference} 出现在 {counts[reference.casefold()]} 行，请删除或更正重复的行；"
                    f"在此之前不会催办。 Reference {reference} is on "
                    f"{counts[reference.casefold()]} rows: delete or correct the extra row. "
                    f"No reminders are sent for it until then."))
            continue
        found = check_row(row, config, now)
        actions += found.actions
        problems += found.problems
    return SlaCheck(actions, problems)


# --- overdue, for the review -----------------------------------------------------------------

def overdue_stages(row: Any, config: Any, now: datetime) -> list[Overdue]:
    """The stages of ``row`` whose deadline has passed while still open (unreadable: skipped)."""
    require_aware(now)
    status = read_status(cell(row, "status"))
    if status is None:
        return []
    found = []
    for stage in active_stages(status, row):
        try:
            deadline = parse_time(cell(row, STAGE_DEADLINE_KEY[stage]), config.park.tz)
        except UnreadableTime:
            continue
        if deadline is not None and as_utc(deadline) <= as_utc(now):
            found.append(Overdue(row_reference(row), stage, deadline, minutes_late(deadline, now)))
    return found


def is_overdue(row: Any, config: Any, now: datetime) -> bool:
    """True if the row is past its sign-for or resolution deadline and still open."""
    return bool(overdue_stages(row, config, now))


def steps_of(config: Any, stage: Stage) -> Sequence[Any]:
    """The escalation ladder of ``stage`` from the config."""
    return config.dispatch.ack_ladder if stage == ACK else config.dispatch.resolve_ladder
