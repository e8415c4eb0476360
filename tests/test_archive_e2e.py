"""The archive end to end: a closed complaint leaves the Register a month later, replies still
find it, and an unhappy tenant brings it back. Real Dovecot, real SMTP, the Sheets emulator; the
clock is moved, never waited for, and every step is a fresh daemon (a restart).

First, without servers, the two pieces the daemon adds around the register: the archive job
(``run_archive``) on a workbook register and a real journal, and the rule deciding which reply
brings an archived complaint back (``why_not_reopened``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

import daemon.resolution.job as job
from daemon.journal import Journal
from daemon.parsing.message import parse_message
from daemon.register import RegisterError, RegisterRow, RegisterUnavailable
from daemon.register.workbook import WorkbookRegister
from daemon.resolution.archive import awaiting_answer_cells, why_not_reopened
from daemon.sheet_layout import ACTIVITY_TAB, Event, REGISTER_COLUMNS, Status
from tests.sheets_emulator.client import gspread_client
from tests.test_aftercare import make_config
from tests.test_dispatch_e2e import (Clock, mails, register_complaint, reply, row_of, run,
                                     slip_for)
from tests.test_resolution_e2e import events_of, latest

ARCHIVE = "Archive 2025"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 7, 1, 10, 0, tzinfo=SHANGHAI)
CONFIG = make_config()
TENANT = "tenant@corp.example.com"


# ---- the job and the reply rule, without servers ---------------------------------------------


def closed_row(reference: str, closed: datetime, received: str = "2025-05-14 10:00",
               **cells: str) -> dict[str, str]:
    return {"reference": reference, "status": Status.CLOSED.label, "received_at": received,
            "closed_at": closed.strftime("%Y-%m-%d %H:%M"), "email": TENANT,
            "department": "物业管理部", "signed_off_at": "2025-05-15 10:00", **cells}


@pytest.fixture
def local(tmp_path):
    register = WorkbookRegister(tmp_path / "register.xlsx", sleep=lambda seconds: None)
    register.ensure_layout()
    journal = Journal(tmp_path / "journal.sqlite3")
    yield SimpleNamespace(config=CONFIG, register=register, journal=journal,
                          rows_by_reference={}, known_references=set())
    journal.close()


def test_the_job_moves_what_is_due_in_one_call_and_records_each_row(local):
    month_ago = NOW - timedelta(days=31)
    local.register.append_complaints([
        closed_row("C-1", month_ago),
        closed_row("C-2", month_ago, received="2024-12-30 18:00"),
        closed_row("C-3", NOW - timedelta(days=5)),
        {"reference": "C-4", "status": Status.REOPENED.label},
    ])
    calls = []
    archive_rows = local.register.archive_rows
    local.register.archive_rows = lambda moves: calls.append(moves) or archive_rows(moves)

    assert job.run_archive(local, local.register.read_register(), NOW) == 2

    assert calls == [{"Archive 2025": ["C-1"], "Archive 2024": ["C-2"]}]
    assert [r.reference for r in local.register.read_register()] == ["C-3", "C-4"]
    events = [event for _, event in local.journal.queued_activity()]
    assert [(e["reference"], e["event"]) for e in events] == [
        ("C-1", Event.ARCHIVED.value), ("C-2", Event.ARCHIVED.value)]
    assert "Archive 2025" in events[0]["detail"] and "Archive 2024" in events[1]["detail"]
    assert job.run_archive(local, local.register.read_register(), NOW) == 0  # nothing left


def test_a_refused_move_waits_for_the_next_check_but_an_outage_is_raised(local):
    local.register.append_complaints([closed_row("C-1", NOW - timedelta(days=40))])
    snapshot = local.register.read_register()

    def refuse(moves):
        raise RegisterError("C-1 is on rows 2 and 3")

    local.register.archive_rows = refuse
    assert job.run_archive(local, snapshot, NOW) == 0
    assert local.journal.queued_activity() == []

    def unavailable(moves):
        raise RegisterUnavailable("Google did not answer")

    local.register.archive_rows = unavailable
    with pytest.raises(RegisterUnavailable):
        job.run_archive(local, snapshot, NOW)


def test_a_backlog_moves_in_bounded_batches(monkeypatch):
    rows = [RegisterRow(n + 2, {"reference": f"C-{n}", "content": "漏" * 1000}) for n in range(5)]
    candidates = [SimpleNamespace(reference=f"C-{n}", tab=ARCHIVE) for n in range(5)]
    monkeypatch.setattr(job, "ARCHIVE_BATCH_BYTES", 7000)  # two rows of about 3 KB
    assert [c.reference for c in job.first_batch(candidates, rows)] == ["C-0", "C-1"]
    monkeypatch.setattr(job, "ARCHIVE_BATCH_BYTES", 10)  # one row always goes, however large
    assert [c.reference for c in job.first_batch(candidates, rows)] == ["C-0"]
    monkeypatch.setattr(job, "ARCHIVE_BATCH_BYTES", 10**9)
    monkeypatch.setattr(job, "ARCHIVE_BATCH_ROWS", 3)
    assert len(job.first_batch(candidates, rows)) == 3


def reply_item(sender: str, text: str, *, auth: str | None = None):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "desk@park.example.com"
    message["Subject"] = "回复：[C-1] 回访"
    message["Message-ID"] = "<reply-1@corp.example.com>"
    if auth:
        message["Authentication-Results"] = auth
    message.set_content(f"{text}\n\n> 请回复满意度 1-5\n")
    return SimpleNamespace(reference="C-1", message=parse_message(bytes(message)))


@pytest.mark.parametrize("sender, text, cells, reason", [
    (TENANT, "不满意 还是坏的", {}, ""),
    (TENANT, "1", {}, ""),
    (TENANT, "满意 谢谢", {}, "kept as a note"),
    (TENANT, "谢谢", {}, "kept as a note"),
    ("member@park.example.com", "不满意", {}, "only the tenant"),
    (TENANT, "不满意", {"status": Status.CANCELLED.label}, "archived as Cancelled"),
    (TENANT, "不满意", {"department": "Gone 已撤销部门"}, "not in the config"),
])
def test_only_an_unhappy_tenant_brings_an_archived_complaint_back(sender, text, cells, reason):
    values = closed_row("C-1", NOW - timedelta(days=40), **cells)
    found = why_not_reopened(SimpleNamespace(config=CONFIG), reply_item(sender, text), values)
    assert (found == "") if not reason else (reason in found)


def test_a_spoofed_unhappy_answer_does_not_bring_it_back():
    auth = ("mx.park.example.com; spf=fail smtp.mailfrom=corp.example.com; "
            "dkim=none; dmarc=fail header.from=corp.example.com")
    found = why_not_reopened(SimpleNamespace(config=CONFIG),
                             reply_item(TENANT, "不满意", auth=auth),
                             closed_row("C-1", NOW - timedelta(days=40)))
    assert "failed the mail server's checks" in found


def test_a_restored_complaint_waits_for_its_answer_again():
    cells = awaiting_answer_cells({"signed_off_at": "2025-05-15 10:00"}, NOW)
    assert cells["status"] == Status.RETURN_VISIT.label and "signed_off_at" not in cells
    assert cells["satisfaction"] == cells["closed_at"] == ""
    closed_by_hand = awaiting_answer_cells({"closed_at": "2025-05-20 09:00"}, NOW)
    assert closed_by_hand["signed_off_at"] == "2025-05-20 09:00"  # the reply handler needs one


def test_an_archived_row_comes_back_waiting_and_others_stay(local):
    from daemon.resolution.archive import reply_to_archived

    old = NOW - timedelta(days=40)
    local.register.append_complaints([closed_row("C-1", old), closed_row("C-2", old)])
    local.register.archive_rows({ARCHIVE: ["C-1", "C-2"]})
    values = reply_to_archived(local, reply_item(TENANT, "不满意 还是坏的"), NOW)
    assert values["status"] == Status.RETURN_VISIT.label
    assert local.rows_by_reference["C-1"] == values
    assert "C-1" in local.known_references
    assert [r.reference for r in local.register.read_register()] == ["C-1"]
    assert local.register.find_archived("C-2")[0] == ARCHIVE
    item = reply_item(TENANT, "谢谢")
    item.reference = "C-2"
    assert reply_to_archived(local, item, NOW) is None
    notes = [e for _, e in local.journal.queued_activity() if e["event"] == Event.NOTE.value]
    assert [n["reference"] for n in notes] == ["C-1", "C-2"]
    assert "moved back from Archive 2025" in notes[0]["detail"]
    assert "谢谢" in notes[1]["detail"] and ARCHIVE in notes[1]["detail"]


# ---- end to end ------------------------------------------------------------------------------


@pytest.fixture
def clock():
    return Clock()


def tab_rows(park, title):
    client = gspread_client(park.emulator.base_url, str(park.key_path))
    values = client.open_by_key(park.spreadsheet_id).worksheet(title).get_all_values()
    keys = {c.header: c.key for c in REGISTER_COLUMNS}
    header = [keys.get(h, h) for h in values[0]]
    return [dict(zip(header, row)) for row in values[1:] if any(row)]


def titles(park):
    client = gspread_client(park.emulator.base_url, str(park.key_path))
    return [ws.title for ws in client.open_by_key(park.spreadsheet_id).worksheets()]


def batch_updates(park) -> int:
    return park.emulator.request_counts().get("sheets.spreadsheets.batchUpdate", 0)


def test_a_closed_complaint_is_archived_a_month_later_and_reopened_from_there(park, clock):
    park.emulator.set_quota(None, None)  # this test reads the sheet far more than staff would
    tenant, reference = register_complaint(park, clock, subject="空调不制冷", body="3楼空调坏了")
    _, still_open = register_complaint(park, clock)
    facilities = park.departments["facilities"]
    member, head = facilities["members"][0], facilities["head"]
    reply(park, head, slip_for(park, head, reference), "完成 已更换压缩机")  # signed off at once
    run(park, clock)
    clock.advance(180)
    run(park, clock)
    visit = latest(park, tenant, reference, "回访")
    reply(park, tenant, visit, "满意")
    run(park, clock)
    closed = row_of(park, reference)
    assert closed["status"] == Status.CLOSED.label

    clock.advance(29 * 24 * 60)  # 29 days: not yet
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.CLOSED.label
    assert ARCHIVE not in titles(park)

    clock.advance(2 * 24 * 60)  # 31 days after closing
    before = batch_updates(park)
    run(park, clock)
    assert batch_updates(park) - before == 1  # the whole move is one atomic batchUpdate
    assert [r["reference"] for r in park.register_rows()] == [still_open]
    [archived] = tab_rows(park, ARCHIVE)
    assert archived == {**closed, "reference": reference}  # every column kept
    archive_events = [a for a in park.activity_rows()
                      if a["reference"] == reference and a["event"] == Event.ARCHIVED.value]
    assert len(archive_events) == 1 and ARCHIVE in archive_events[0]["detail"]
    # The Activity history stays whole and the reference searchable there.
    assert Event.CLOSED.value in events_of(park, reference)
    register = park.daemon(now=clock).adapters.register
    assert [r.reference for r in register.read_register()] == [still_open]
    assert register.find_archived(reference)[0] == ARCHIVE

    run(park, clock)  # nothing more to move
    assert len(tab_rows(park, ARCHIVE)) == 1

    # A thank-you to the archived complaint is kept as a note; it stays archived.
    sent_before = len(mails(park, member))
    reply(park, tenant, visit, "谢谢，一直很好")
    run(park, clock)
    assert [r["reference"] for r in park.register_rows()] == [still_open]
    notes = [a for a in park.activity_rows()
             if a["reference"] == reference and a["event"] == Event.NOTE.value]
    assert any("一直很好" in n["detail"] and ARCHIVE in n["detail"] for n in notes)
    assert len(mails(park, member)) == sent_before

    # Weeks later the tenant answers the return visit again: not satisfied. Back and reopened.
    clock.advance(10 * 24 * 60)
    reply(park, tenant, visit, "不满意 又不制冷了", style="outlook")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.REOPENED.label
    assert not row["signed_off_at"] and not row["satisfaction"] and not row["closed_at"]
    assert row["content"] == closed["content"] and row["message_id"] == closed["message_id"]
    assert tab_rows(park, ARCHIVE) == []
    slips = [m for m in mails(park, member)
             if reference in m["Subject"] and "处理单" in m["Subject"]]
    assert len(slips) == 2 and "又不制冷了" in slips[-1].get_body(("plain",)).get_content()
    assert latest(park, park.service_center, reference, "重新处理")
    events = events_of(park, reference)
    assert events.count(Event.REOPENED.value) == 1 and Event.SATISFACTION.value in events
    assert any(f"moved back from {ARCHIVE}" in a["detail"] for a in park.activity_rows()
               if a["reference"] == reference)
    assert ACTIVITY_TAB in titles(park)
