"""The journal: states survive reopening, mail is queued once, counters never go backwards."""

from datetime import datetime, timedelta, timezone

from daemon.journal import Journal

NOW = datetime(2025, 5, 14, 10, 0, tzinfo=timezone.utc)


def test_states_survive_reopening(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    journal.record("<a@x>", state="registering", mailbox_key="1:5", kind="complaint",
                   reference="C-250514-001", now=NOW)
    journal.record("<a@x>", state="registered", now=NOW)
    journal.close()
    entry = Journal(tmp_path / "j.sqlite3").entry("<a@x>")
    assert (entry.state, entry.reference, entry.mailbox_key, entry.kind) == (
        "registered", "C-250514-001", "1:5", "complaint")


def test_reference_counter_respects_what_the_sheet_already_has(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    assert journal.next_reference_number("250514") == 1
    assert journal.next_reference_number("250514") == 2
    assert journal.next_reference_number("250514", at_least=10) == 11
    assert journal.next_reference_number("250515") == 1


def test_mail_is_queued_once_per_purpose_and_found_by_message_id(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    kwargs = dict(identity="<a@x>", purpose="tenant_ack", message_id="<m1@park>",
                  reference="C-250514-001", recipient="t@x", raw=b"raw", now=NOW)
    assert journal.queue_mail(**kwargs) is True
    assert journal.queue_mail(**{**kwargs, "message_id": "<m2@park>"}) is False
    [item] = journal.pending_mail()
    assert journal.reference_for_message_id("<m1@park>") == "C-250514-001"
    assert journal.replies_sent_to("t@x", NOW - timedelta(hours=1)) == 1
    journal.mark_send_failed(item.id, "451 try later", permanent=False)
    assert journal.pending_mail()[0].attempts == 1
    journal.mark_sent(item.id, NOW)
    assert journal.pending_mail() == []
    assert journal.pending_mail_for("<a@x>") == 0


def test_failures_are_counted_per_mailbox_position(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    assert journal.add_failure("7:1", "boom") == 1
    assert journal.add_failure("7:1", "boom") == 2
    journal.clear_failures("7:1")
    assert journal.add_failure("7:1", "boom") == 1


def test_activity_queue_keeps_order_until_forgotten(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    journal.queue_activity({"event": "a"})
    journal.queue_activity({"event": "b"})
    queued = journal.queued_activity()
    assert [e["event"] for _, e in queued] == ["a", "b"]
    journal.forget_activity([queued[0][0]])
    assert [e["event"] for _, e in journal.queued_activity()] == ["b"]
