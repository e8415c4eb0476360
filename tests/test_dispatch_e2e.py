"""Dispatch end to end: handling slips by email, sign-for by reply from real clients' reply
shapes, reminders and escalation as the clock moves (across restarts), spoofing refused, staff
edits and transfers re-dispatching. Real Dovecot, real SMTP, the Sheets emulator; the daemon
runs in this process with a clock the test moves (it never sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import pytest

from daemon.sheet_layout import Event, Status

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 5, 14, 10, 0, tzinfo=SHANGHAI)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def advance(self, minutes: float):
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock():
    return Clock()


def run(park, clock):
    """One cycle and a deadline check, as a fresh daemon process would (a restart each time)."""
    return park.daemon(now=clock).run(once=True)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def mails(park, address):
    return [parsed(raw) for raw in park.mail_of(address)]


def row_of(park, reference):
    [row] = [r for r in park.register_rows() if r["reference"] == reference]
    return row


def register_complaint(park, clock, subject="3号楼电梯坏了", body="电梯停在5楼，请尽快修理。"):
    tenant = park.new_tenant()
    park.send_complaint(tenant, subject, body)
    report = run(park, clock)
    [reference] = report.registered
    return tenant, reference


def reply(park, sender: str, original, first_line: str, *, style: str = "qq", **headers) -> EmailMessage:
    """A reply as a Chinese or Western client writes it: quote header, quoted original."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = original["From"]
    message["Subject"] = ("回复：" if style != "outlook" else "RE: ") + original["Subject"]
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    quoted = original.get_body(("plain",)).get_content()
    if style == "qq":
        body = (f"{first_line}\n\n------------------ 原始邮件 ------------------\n"
                f"发件人: \"园区服务中心\" <{park.complaints}>;\n发送时间: 2025年5月14日(星期三) 上午10:00\n"
                f"收件人: <{sender}>;\n主题: {original['Subject']}\n\n{quoted}")
    else:
        body = (f"{first_line}\n\n________________________________\n发件人: 园区服务中心 <{park.complaints}>\n"
                f"发送时间: 2025年5月14日 10:00:00\n收件人: {sender}\n主题: {original['Subject']}\n\n"
                + "\n".join("> " + line for line in quoted.splitlines()))
    message.set_content(body)
    park.bench.send(sender, [park.complaints], message)
    return message


def slip_for(park, address, reference):
    found = [m for m in mails(park, address) if reference in m["Subject"] and "处理单" in m["Subject"]]
    assert found, f"no slip for {reference} in {address}'s mailbox"
    return found[-1]


def test_slip_goes_to_the_department_and_a_qq_reply_signs_for_it(park, clock):
    tenant, reference = register_complaint(park, clock)
    facilities = park.departments["facilities"]
    row = row_of(park, reference)
    assert row["status"] == Status.DISPATCHED.label and row["department"] == "设施维护部"
    assert row["dispatched_at"] == "2025-05-14 10:00" and row["ack_due"] == "2025-05-14 10:05"
    for address in [*facilities["members"], facilities["head"]]:
        slip = slip_for(park, address, reference)
        text = slip.get_body(("plain",)).get_content()
        assert "电梯停在5楼" in text and "2025-05-14 10:05" in text and "收到" in text
    assert not any(reference in m["Subject"] for m in mails(park, park.departments["security"]["head"]))

    member = facilities["members"][0]
    clock.advance(2)
    reply(park, member, slip_for(park, member, reference), "收到，马上安排", style="qq")
    run(park, clock)
    row = row_of(park, reference)
    assert row["status"] == Status.ACKNOWLEDGED.label
    assert row["acknowledged_at"] == "2025-05-14 10:02" and member in row["acknowledged_by"]
    confirmations = [m for m in mails(park, member) if "已记录" in m["Subject"]]
    assert len(confirmations) == 1 and reference in confirmations[0]["Subject"]
    events = [a["event"] for a in park.activity_rows() if a["reference"] == reference]
    assert Event.DISPATCHED.value in events and Event.ACKNOWLEDGED.value in events


def test_outlook_style_ack_and_the_same_reply_twice_is_applied_once(park, clock):
    _, reference = register_complaint(park, clock)
    member = park.departments["facilities"]["members"][1]
    answer = reply(park, member, slip_for(park, member, reference), "签收", style="outlook")
    park.bench.send(member, [park.complaints], answer)  # delivered twice
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.ACKNOWLEDGED.label
    assert len([m for m in mails(park, member) if "已记录" in m["Subject"]]) == 1


def test_reminder_then_service_center_then_leadership_each_once_across_restarts(park, clock):
    _, reference = register_complaint(park, clock)
    facilities = park.departments["facilities"]
    member, head = facilities["members"][0], facilities["head"]

    def reminders(address):
        return [m for m in mails(park, address) if reference in m["Subject"] and "催办" in m["Subject"]]

    clock.advance(4)
    run(park, clock)
    assert reminders(member) == []
    clock.advance(1)  # 10:05: sign-for deadline
    run(park, clock)
    assert len(reminders(member)) == 1 and len(reminders(head)) == 1
    assert reminders(park.service_center) == []
    clock.advance(1)
    run(park, clock)  # a restart in between changes nothing
    assert len(reminders(member)) == 1
    clock.advance(4)  # 10:10
    run(park, clock)
    assert len(reminders(park.service_center)) == 1 and reminders(park.leader) == []
    clock.advance(20)  # 10:30
    run(park, clock)
    run(park, clock)
    assert len(reminders(park.leader)) == 1
    assert len(reminders(member)) == 1 and len(reminders(park.service_center)) == 1
    escalations = row_of(park, reference)["escalations"]
    assert escalations.count("ack+") == 3


def test_no_reminder_once_signed_for(park, clock):
    _, reference = register_complaint(park, clock)
    member = park.departments["facilities"]["members"][0]
    reply(park, member, slip_for(park, member, reference), "ACK")
    run(park, clock)
    clock.advance(40)
    run(park, clock)
    assert not [m for m in mails(park, park.service_center) if "催办" in m["Subject"]]


def test_spoofed_and_foreign_commands_change_nothing(park, clock):
    tenant, reference = register_complaint(park, clock)
    member = park.departments["facilities"]["members"][0]
    # 1. The tenant answers 收到 to its own apology.
    apology = [m for m in mails(park, tenant) if reference in m["Subject"]][0]
    reply(park, tenant, apology, "收到")
    # 2. A stranger forges the member's From, without our token (a new message naming the reference).
    forged = EmailMessage()
    forged["From"] = member
    forged["To"] = park.complaints
    forged["Subject"] = f"回复：[{reference}] 处理单"
    forged["Message-ID"] = make_msgid(domain="evil.test")
    forged.set_content("收到")
    park.bench.send(member, [park.complaints], forged)
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.DISPATCHED.label
    # 3. The member's real reply, but the receiving server says the domain failed DMARC.
    reply(park, member, slip_for(park, member, reference), "收到",
          Authentication_Results="mx.park.test; dmarc=fail (p=reject) header.from=park.test; "
                                 "spf=fail smtp.mailfrom=park.test; dkim=none")
    run(park, clock)
    assert row_of(park, reference)["status"] == Status.DISPATCHED.label
    events = [a["event"] for a in park.activity_rows() if a["reference"] == reference]
    assert events.count(Event.COMMAND_REFUSED.value) == 2
    assert Event.TENANT_FOLLOWUP.value in events
    told = [m for m in mails(park, park.service_center) if "refused" in m["Subject"]]
    assert len(told) == 2


def test_staff_changing_the_department_sends_a_new_slip_and_old_reminders_stop(park, clock):
    from tests.sheets_emulator.client import gspread_client

    _, reference = register_complaint(park, clock)
    sheet = gspread_client(park.emulator.base_url, str(park.key_path)).open_by_key(
        park.spreadsheet_id).worksheet("Register")
    header = sheet.row_values(1)
    cell = sheet.find(reference)
    sheet.update_cell(cell.row, header.index("责任部门 Department") + 1, "环境卫生部")
    clock.advance(3)
    report = run(park, clock)
    assert report.redispatched == [reference]
    environment = park.departments["environment"]
    slip_for(park, environment["members"][0], reference)
    row = row_of(park, reference)
    assert row["department"] == "环境卫生部" and row["ack_due"] == "2025-05-14 10:08"
    clock.advance(3)  # 10:06: past the old deadline, before the new one
    run(park, clock)
    old_member = park.departments["facilities"]["members"][0]
    assert not [m for m in mails(park, old_member) if "催办" in m["Subject"]]


def test_transfer_by_reply_and_unknown_commands(park, clock):
    _, reference = register_complaint(park, clock, subject="楼道垃圾", body="垃圾很多，有异味")
    environment = park.departments["environment"]
    member = environment["members"][0]
    reply(park, member, slip_for(park, member, reference), "这是什么？")
    run(park, clock)
    help_mail = [m for m in mails(park, member) if "Reply not understood" in m["Subject"]]
    assert len(help_mail) == 1 and "收到" in help_mail[0].get_body(("plain",)).get_content()
    reply(park, member, slip_for(park, member, reference), "转 物业管理部 这是物业的事")
    run(park, clock)
    assert row_of(park, reference)["department"] == "物业管理部"
    slip_for(park, park.departments["property"]["members"][0], reference)
    events = [a["event"] for a in park.activity_rows() if a["reference"] == reference]
    assert Event.TRANSFERRED.value in events and Event.COMMAND_UNKNOWN.value in events


def test_serious_complaints_go_to_leadership_at_once(park, clock):
    _, reference = register_complaint(park, clock, subject="仓库冒烟，疑似火灾", body="B座仓库冒烟")
    row = row_of(park, reference)
    assert row["priority"] == "紧急" and row["serious"]
    slip = slip_for(park, park.leader, reference)
    assert "严重" in slip["Subject"]
    assert park.departments["security"]["head"] in slip.get_body(("plain",)).get_content()


def test_small_attachments_travel_with_the_slip_and_big_ones_are_listed(park, clock):
    tenant = park.new_tenant()
    message = EmailMessage()
    message["From"] = tenant
    message["To"] = park.complaints
    message["Subject"] = "漏水照片 photos of the leak"
    message["Message-ID"] = make_msgid(domain="tenant.test")
    message.set_content("天花板漏水，见照片")
    message.add_attachment(b"\x89PNG small photo" * 100, maintype="image", subtype="png",
                           filename="漏水1.png")
    message.add_attachment(b"\xff" * 6_000_000, maintype="image", subtype="jpeg",
                           filename="big.jpg")
    park.bench.send(tenant, [park.complaints], message)
    [reference] = run(park, clock).registered
    member = park.departments["facilities"]["members"][0]
    slip = slip_for(park, member, reference)
    attached = [(part.get_filename(), len(part.get_content())) for part in slip.iter_attachments()]
    assert attached == [("漏水1.png", 1600)]
    text = slip.get_body(("plain",)).get_content()
    assert "漏水1.png" in text and "big.jpg" in text  # both listed
