"""The park's whole procedure end to end, through mail clients' reply styles, with the clock
moved rather than waited for, and a fresh daemon (a restart) for every step."""

from __future__ import annotations

import pytest

from daemon.sheet_layout import Event, Status
from tests.test_dispatch_e2e import (Clock, mails, register_complaint, reply, row_of, run,
                                     slip_for)


@pytest.fixture
def clock():
    return Clock()


def latest(park, address, reference, words):
    found = [m for m in mails(park, address) if reference in m["Subject"] and words in m["Subject"]]
    assert found, f"no mail with {words!r} for {reference} in {address}'s mailbox"
    return found[-1]


def events_of(park, reference):
    return [a["event"] for a in park.activity_rows() if a["reference"] == reference]


def resolve_and_sign_off(park, clock, reference, member, head, result):
    reply(park, member, slip_for(park, member, reference), f"完成 {result}", style="outlook")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.RESOLVED.label and row["result"] == result
    assert row["resolved_by"] == member and not row["signed_off_at"]
    clock.advance(5)
    reply(park, head, latest(park, head, reference, "审核"), "确认")
    run(park, clock)
    row = row_of(park, reference)
    assert row["signed_off_by"] == head and row["signed_off_at"]
    return row


def test_the_whole_procedure_with_an_unhappy_tenant_first(park, clock):
    tenant, reference = register_complaint(park, clock, subject="办公室漏水", body="天花板漏水\n公司：星辰科技")
    facilities = park.departments["facilities"]
    member, head = facilities["members"][0], facilities["head"]
    assert latest(park, tenant, reference, "已收到")

    clock.advance(2)
    reply(park, member, slip_for(park, member, reference), "收到")
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.ACKNOWLEDGED.label

    clock.advance(60)
    resolve_and_sign_off(park, clock, reference, member, head, "已更换水管")
    told = latest(park, tenant, reference, "已处理")
    assert "已更换水管" in told.get_body(("plain",)).get_content()

    clock.advance(60)  # 12:07: under the 2-hour delay
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.RESOLVED.label
    clock.advance(60)  # 13:07
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.RETURN_VISIT.label
    visit = latest(park, tenant, reference, "回访")

    clock.advance(30)
    reply(park, tenant, visit, "不满意 还是在漏", style="qq")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.REOPENED.label and not row["signed_off_at"]
    assert not row["satisfaction"] and not row["result"]  # the answer is in Activity
    slips = [m for m in mails(park, member) if reference in m["Subject"] and "处理单" in m["Subject"]]
    assert len(slips) == 2 and "还是在漏" in slips[-1].get_body(("plain",)).get_content()
    assert latest(park, park.service_center, reference, "重新处理")

    clock.advance(30)
    resolve_and_sign_off(park, clock, reference, member, head, "重新密封了管道接口")
    clock.advance(150)
    run(park, clock)
    visits = [m for m in mails(park, tenant) if reference in m["Subject"] and "回访" in m["Subject"]]
    assert len(visits) == 2
    reply(park, tenant, visits[-1], "满意 谢谢")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.CLOSED.label and row["satisfaction"] == "4"
    assert row["feedback"] == "谢谢" and row["closed_at"]

    events = events_of(park, reference)
    for event in (Event.REGISTERED, Event.DISPATCHED, Event.ACKNOWLEDGED, Event.RESOLVED,
                  Event.SIGNOFF_REQUESTED, Event.SIGNED_OFF, Event.TENANT_TOLD, Event.VISIT_SENT,
                  Event.SATISFACTION, Event.REOPENED, Event.CLOSED):
        assert event.value in events, event
    assert events.count(Event.VISIT_SENT.value) == 2
    run(park, clock)  # nothing more happens
    assert len([m for m in mails(park, tenant) if reference in m["Subject"]]) == 5


def test_no_answer_gets_one_reminder_then_closes(park, clock):
    tenant, reference = register_complaint(park, clock)
    facilities = park.departments["facilities"]
    head = facilities["head"]
    reply(park, head, slip_for(park, head, reference), "完成 已修好")  # the head: signed off at once
    run(park, clock)
    assert row_of(park, reference)["signed_off_by"] == head
    clock.advance(180)
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.RETURN_VISIT.label
    clock.advance(3 * 24 * 60)  # Saturday 13:00: due, but reminders wait for office hours
    run(park, clock)
    assert len([m for m in mails(park, tenant) if "回访" in m["Subject"]]) == 1
    clock.advance(2 * 24 * 60)  # Monday 13:00
    run(park, clock)
    run(park, clock)
    visits = [m for m in mails(park, tenant) if reference in m["Subject"] and "回访" in m["Subject"]]
    assert len(visits) == 2  # the visit and one reminder
    clock.advance(4 * 24 * 60)
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.CLOSED.label and "no reply" in row["feedback"]


def test_the_head_sends_a_result_back(park, clock):
    _, reference = register_complaint(park, clock)
    facilities = park.departments["facilities"]
    member, head = facilities["members"][0], facilities["head"]
    reply(park, member, slip_for(park, member, reference), "DONE fixed")
    run(park, clock)
    reply(park, head, latest(park, head, reference, "审核"), "退回 没有修好，请再去看看")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.ACKNOWLEDGED.label and not row["result"]
    assert latest(park, member, reference, "退回")
    assert Event.RESOLUTION_REJECTED.value in events_of(park, reference)


def test_a_serious_complaint_owes_a_review_chased_until_given(park, clock):
    _, reference = register_complaint(park, clock, subject="仓库火灾", body="B座仓库冒烟，有人受伤")
    security = park.departments["security"]
    head = security["head"]
    reply(park, head, slip_for(park, head, reference), "完成 已灭火，伤者送医")
    run(park, clock)
    request = latest(park, head, reference, "检讨")
    clock.advance(24 * 60)  # Thursday
    run(park, clock)
    run(park, clock)
    chases = [m for m in mails(park, head) if reference in m["Subject"] and "检讨" in m["Subject"]]
    assert len(chases) == 2  # the request and one chase for this working day
    clock.advance(5 * 24 * 60)  # the next Tuesday: past the escalation
    run(park, clock)
    assert latest(park, park.leader, reference, "检讨")
    reply(park, head, request, "检讨 原因：电线老化。措施：已更换。预防：每月巡检。")
    run(park, clock)
    row = row_of(park, reference)
    assert row["review"].startswith("原因：电线老化")
    clock.advance(24 * 60)
    before = len(mails(park, head))
    run(park, clock)
    assert len(mails(park, head)) == before  # no more chases


def test_staff_typing_the_satisfaction_of_a_phone_return_visit_closes_it(park, clock):
    from tests.sheets_emulator.client import gspread_client

    tenant, reference = register_complaint(park, clock)
    head = park.departments["facilities"]["head"]
    reply(park, head, slip_for(park, head, reference), "完成 已修好")
    run(park, clock)
    sheet = gspread_client(park.emulator.base_url, str(park.key_path)).open_by_key(
        park.spreadsheet_id).worksheet("Register")
    header = sheet.row_values(1)
    row_number = sheet.find(reference).row
    sheet.update_cell(row_number, header.index("满意度 Satisfaction") + 1, "5")
    clock.advance(10)
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.CLOSED.label and row["closed_at"]
