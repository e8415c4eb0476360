"""The intake cycle's decisions, with in-memory adapters: rows, apologies, notes, duplicates,
failures and quarantine, crash recovery from every journal state, walk-ins."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from daemon.authenticity import load_or_create_secret
from daemon.config import load_config
from daemon.intake.cycle import IntakeCycle
from daemon.journal import Journal
from daemon.register import RegisterUnavailable
from daemon.sheet_layout import Event, Status
from daemon.templates import Templates
from tests.fakes.adapters import FakeMailbox, FakeMailer, FakeRegister

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config():
    return load_config(ROOT / "config.yaml")


@pytest.fixture
def park(tmp_path, config):
    clock = {"now": datetime(2025, 5, 14, 10, 42, tzinfo=config.park.tz)}

    class Park:
        register, mailbox, mailer = FakeRegister(), FakeMailbox(), FakeMailer()
        journal = Journal(tmp_path / "journal.sqlite3")

        secret = load_or_create_secret(tmp_path)

        def cycle(self):
            return IntakeCycle(config=config, register=self.register, mailbox=self.mailbox,
                               mailer=self.mailer, journal=self.journal,
                               templates=Templates("zh-CN"), now=lambda: clock["now"],
                               secret=self.secret)

        def sent_to(self, address):
            return [m for m in self.mailer.sent if m["To"] == address]

        def run(self):
            return self.cycle().run()

    return Park()


def complaint(sender="wang@tenant.test", subject="3号楼电梯坏了", body="电梯停在5楼，请尽快修理。",
              message_id=True, **headers) -> bytes:
    message = EmailMessage()
    message["From"] = f"王芳 <{sender}>"
    message["To"] = "complaints@donghu-park.example.com"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = make_msgid(domain="tenant.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def test_a_complaint_becomes_one_row_an_apology_and_moves_to_processed(park, config):
    park.mailbox.deliver(complaint())
    report = park.run()
    assert report.registered == ["C-250514-001"]
    [row] = park.register.rows
    assert row["reference"] == "C-250514-001"
    assert row["status"] == Status.DISPATCHED.label
    assert row["category"] == "设施维护" and row["department"] == "设施维护部"
    assert row["ack_due"] == "2025-05-14 10:47" and row["resolve_by"] == "2025-05-17 10:42"
    assert row["email"] == "wang@tenant.test" and row["contact_name"] == "王芳"
    assert row["received_at"] == "2025-05-14 10:42"
    [apology] = park.sent_to("wang@tenant.test")
    assert "[C-250514-001]" in apology["Subject"]
    assert apology["To"] == "wang@tenant.test"
    assert apology["Auto-Submitted"] == "auto-replied"
    assert park.mailbox.messages == {} and len(park.mailbox.folders["Processed"]) == 1
    slips = [m for m in park.mailer.sent if "处理单" in m["Subject"]]
    facilities = config.department("facilities")
    assert sorted(m["To"] for m in slips) == sorted([*facilities.members, facilities.head])
    events = [e["event"] for e in park.register.activity]
    assert events[:2] == [Event.REGISTERED.value, Event.DISPATCHED.value]
    assert events.count(Event.TENANT_ACKNOWLEDGED.value) == 1


def test_a_burst_is_written_in_few_requests(park):
    for i in range(30):
        park.mailbox.deliver(complaint(sender=f"t{i}@tenant.test"))
    report = park.run()
    assert len(report.registered) == 30 and len(set(report.registered)) == 30
    assert park.register.calls.count("append") == 1
    assert park.register.calls.count("activity") <= 2
    assert len([m for m in park.mailer.sent if "处理单" not in m["Subject"]]) == 30


def test_the_same_message_twice_is_registered_once(park):
    raw = complaint()
    park.mailbox.deliver(raw)
    park.mailbox.deliver(raw)
    report = park.run()
    assert len(park.register.rows) == 1 and report.duplicates == 1
    assert len(park.sent_to("wang@tenant.test")) == 1
    park.mailbox.deliver(raw)  # and again in a later cycle
    assert park.run().duplicates == 1 and len(park.register.rows) == 1


def test_same_text_from_two_tenants_without_message_id_is_two_complaints(park):
    park.mailbox.deliver(complaint(sender="a@one.test", message_id=False))
    park.mailbox.deliver(complaint(sender="b@two.test", message_id=False))
    assert len(park.run().registered) == 2


def test_auto_replies_are_recorded_and_never_answered(park):
    park.mailbox.deliver(complaint(subject="Automatic reply: 投诉", Auto_Submitted="auto-replied"))
    report = park.run()
    assert report.automated == 1 and park.register.rows == [] and park.mailer.sent == []
    assert park.register.activity[0]["event"] == Event.AUTO_REPLY_IGNORED.value


def test_a_tenant_reply_is_added_to_the_complaint_and_passed_to_the_department(park, config):
    park.mailbox.deliver(complaint())
    park.run()
    [apology] = park.sent_to("wang@tenant.test")
    park.mailbox.deliver(complaint(subject="Re: " + apology["Subject"], body="还有，楼道灯也坏了",
                                   In_Reply_To=apology["Message-ID"]))
    report = park.run()
    assert report.notes == 1 and len(park.register.rows) == 1
    note = [e for e in park.register.activity if e["event"] == Event.TENANT_FOLLOWUP.value][0]
    assert note["reference"] == "C-250514-001" and "楼道灯" in note["detail"]
    head = config.department("facilities").head
    passed_on = [m for m in park.sent_to(head) if "补充" in m["Subject"]]
    assert len(passed_on) == 1 and "楼道灯" in passed_on[0].get_body(("plain",)).get_content()


def test_a_reference_in_the_subject_finds_the_complaint_without_headers(park):
    park.mailbox.deliver(complaint())
    park.run()
    park.mailbox.deliver(complaint(subject="回复: [C-250514-001] 电梯", body="已经修好了吗？"))
    assert park.run().notes == 1


def test_an_unknown_reference_in_the_subject_is_a_new_complaint(park):
    park.mailbox.deliver(complaint(subject="[C-240101-999] old"))
    assert park.run().registered == ["C-250514-001"]


def test_a_looping_auto_responder_gets_at_most_the_configured_replies(park, config):
    for i in range(6):
        park.mailbox.deliver(complaint(sender="bot@loop.test", subject=f"投诉 {i}"))
    park.run()
    assert len(park.sent_to("bot@loop.test")) == config.intake.replies_per_sender_per_hour
    limited = [e for e in park.register.activity if e["event"] == Event.REPLY_LIMITED.value]
    assert len(limited) == 6 - config.intake.replies_per_sender_per_hour


def test_formula_text_is_kept_as_is(park):
    park.mailbox.deliver(complaint(subject="=IMPORTXML(\"http://x\",\"//a\")"))
    park.run()
    assert park.register.rows[0]["subject"] == "=IMPORTXML(\"http://x\",\"//a\")"


def test_unparseable_message_goes_to_quarantine_and_the_service_center_is_told(park):
    park.mailbox.deliver(b"")
    report = park.run()
    assert report.quarantined == 1 and park.mailbox.folders["Quarantine"] == [b""]
    [notice] = park.mailer.sent
    assert notice["To"] == "service@donghu-park.example.com"
    assert park.register.activity[0]["event"] == Event.QUARANTINED.value


def test_a_message_failing_three_times_is_quarantined_and_the_rest_go_on(park, monkeypatch):
    import daemon.intake.cycle as cycle_module

    real_decide = cycle_module.decide

    def flaky_decide(message, context):
        if "poison" in message.subject:
            raise RuntimeError("boom")
        return real_decide(message, context)

    monkeypatch.setattr(cycle_module, "decide", flaky_decide)
    park.mailbox.deliver(complaint(subject="poison"))
    park.mailbox.deliver(complaint(subject="漏水", sender="ok@tenant.test"))
    first = park.run()
    assert first.failed == 1 and len(first.registered) == 1 and len(park.mailbox.messages) == 1
    park.run()
    third = park.run()
    assert third.quarantined == 1 and park.mailbox.messages == {}
    assert len(park.mailbox.folders["Quarantine"]) == 1


def test_register_outage_loses_nothing_and_duplicates_nothing(park):
    park.mailbox.deliver(complaint())
    park.register.fail_append = 1
    with pytest.raises(RegisterUnavailable):
        park.run()
    assert park.register.rows == [] and len(park.mailbox.messages) == 1
    report = park.run()
    assert report.registered == ["C-250514-001"]  # the reserved reference is reused
    assert len(park.register.rows) == 1 and len(park.sent_to("wang@tenant.test")) == 1


def test_row_written_but_journal_lost_is_not_written_again(park, tmp_path):
    raw = complaint()
    park.mailbox.deliver(raw)
    park.run()
    # Simulate a crash after the append and a lost state_dir: the message is back in the inbox.
    park.mailbox.deliver(raw)
    park.journal = Journal(tmp_path / "fresh.sqlite3")
    report = park.run()
    assert len(park.register.rows) == 1
    assert report.registered == ["C-250514-001"]
    assert park.mailbox.messages == {}


def test_new_references_continue_after_a_lost_journal(park, tmp_path):
    park.mailbox.deliver(complaint())
    park.run()
    park.journal = Journal(tmp_path / "fresh.sqlite3")
    park.mailbox.deliver(complaint(sender="other@tenant.test"))
    assert park.run().registered == ["C-250514-002"]


def test_temporary_smtp_failure_keeps_the_message_until_the_apology_is_out(park):
    park.mailbox.deliver(complaint())
    park.mailer.fail_temporarily = 1
    park.run()
    assert len(park.register.rows) == 1 and len(park.mailbox.messages) == 1
    park.run()
    assert len(park.register.rows) == 1 and len(park.sent_to("wang@tenant.test")) == 1
    assert park.mailbox.messages == {}


def test_walk_in_rows_get_a_reference_classification_and_apology(park):
    park.register.rows.append({"subject": "办公室空调不制冷", "company": "星辰科技",
                               "email": "li@star.test", "content": "电话投诉"})
    park.register.rows.append({"subject": "楼道有人抽烟冒烟", "phone": "13800138000",
                               "category": "安全"})
    report = park.run()
    assert report.walk_ins == ["C-250514-001", "C-250514-002"]
    first, second = park.register.rows
    assert first["category"] == "设施维护" and first["status"] == Status.DISPATCHED.label
    assert first["department"] == "设施维护部" and first["received_at"] == "2025-05-14 10:42"
    assert second["category"] == "安全"  # staff's choice is kept
    assert second["priority"] == "紧急" and second["serious"]
    assert first["status"] == Status.DISPATCHED.label and first["ack_due"]
    [apology] = park.sent_to("li@star.test")
    assert apology["To"] == "li@star.test" and "C-250514-001" in apology["Subject"]
    assert park.run().walk_ins == []  # numbered once


def test_a_burst_bigger_than_an_outbox_page_is_finished_in_one_cycle(park):
    for i in range(300):  # 300 apologies + 900 slips: more than one page of the outbox
        park.mailbox.deliver(complaint(sender=f"t{i}@tenant.test", subject=f"漏水 {i}"))
    report = park.run()
    assert len(report.registered) == 300 and park.mailbox.messages == {}
    assert len([m for m in park.mailer.sent if "处理单" not in m["Subject"]]) == 300
    assert park.journal.pending_mail() == []


def test_staff_ticking_serious_sends_the_slip_to_leadership_once(park, config):
    park.mailbox.deliver(complaint(subject="楼道灯不亮", body="三楼楼道灯坏了"))
    park.run()
    leader = config.leadership[0]
    assert park.sent_to(leader) == []
    park.register.rows[0]["serious"] = "是 Yes"
    park.run()
    [slip] = park.sent_to(leader)
    assert "C-250514-001" in slip["Subject"]
    park.run()
    assert len(park.sent_to(leader)) == 1
    escalated = [e for e in park.register.activity if e["event"] == Event.ESCALATED.value]
    assert len(escalated) == 1


def test_a_complaint_serious_from_the_start_does_not_go_to_leadership_twice(park, config):
    park.mailbox.deliver(complaint(subject="仓库火灾", body="冒烟了"))
    park.run()
    park.run()
    assert len(park.sent_to(config.leadership[0])) == 1
