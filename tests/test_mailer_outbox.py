"""The outbox mailer: one .eml file per message, named in the order written, each written whole
and only once per Message-ID."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

import daemon.mailer.outbox as outbox_module
from daemon.mailer import MailerError, OutboxMailer, SmtpMailer, open_mailer


def message(n: int, *, message_id: bool = True) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "东湖科技产业园 <complaints@park.test>"
    mail["To"] = f"tenant{n}@tenant.test"
    mail["Subject"] = f"[C-250514-{n:03d}] 您的投诉已收到"
    if message_id:
        mail["Message-ID"] = f"<ack-{n}@park.test>"
    mail.set_content(f"尊敬的企业 {n}：您的投诉已登记。")
    return mail


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 5, 14, 10, 42, 7))


@pytest.fixture
def outbox(tmp_path, clock) -> OutboxMailer:
    return OutboxMailer(SimpleNamespace(path=tmp_path / "outbox"), now=clock)


def eml_files(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".eml"))


def test_each_message_is_one_eml_file_named_in_the_order_written(outbox, clock, tmp_path):
    results = outbox.send_all([message(1), message(2)])
    clock.now += timedelta(seconds=1)
    results += outbox.send_all([message(3)])
    assert [(r.message_id, r.ok) for r in results] == [
        ("<ack-1@park.test>", True), ("<ack-2@park.test>", True), ("<ack-3@park.test>", True)]
    names = eml_files(tmp_path / "outbox")
    assert [name[:20] for name in names] == [
        "20250514-104207-0001", "20250514-104207-0002", "20250514-104208-0001"]
    read = [message_from_bytes((tmp_path / "outbox" / n).read_bytes(), policy=policy.default)
            for n in names]
    assert [m["Message-ID"] for m in read] == ["<ack-1@park.test>", "<ack-2@park.test>",
                                               "<ack-3@park.test>"]
    assert read[0]["To"] == "tenant1@tenant.test" and "您的投诉已登记" in read[0].get_content()
    assert b"\r\n" in (tmp_path / "outbox" / names[0]).read_bytes()  # CRLF, as on the wire
    assert [p.name for p in (tmp_path / "outbox").iterdir() if p.name.startswith(".")] == []


def test_numbering_goes_on_after_a_restart_within_the_same_second(outbox, clock, tmp_path):
    outbox.send_all([message(1)])
    again = OutboxMailer(SimpleNamespace(path=tmp_path / "outbox"), now=clock)
    again.send_all([message(2)])
    assert [n[:20] for n in eml_files(tmp_path / "outbox")] == [
        "20250514-104207-0001", "20250514-104207-0002"]


def test_a_message_sent_again_after_a_crash_is_not_written_twice(outbox, clock, tmp_path):
    outbox.send_all([message(1)])
    clock.now += timedelta(minutes=5)
    [result] = outbox.send_all([message(1)])  # the journal did not see the first result
    assert result.ok and len(eml_files(tmp_path / "outbox")) == 1
    outbox.send_all([message(9, message_id=False), message(9, message_id=False)])
    assert len(eml_files(tmp_path / "outbox")) == 2  # without a Message-ID: by its content


def test_a_write_failure_is_temporary_and_leaves_no_partial_file(outbox, tmp_path, monkeypatch):
    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outbox_module.os, "fsync", no_space)
    [result] = outbox.send_all([message(1)])
    assert not result.ok and not result.permanent and "No space left" in result.error
    monkeypatch.undo()
    assert os.listdir(tmp_path / "outbox") == []
    [result] = outbox.send_all([message(1)])
    assert result.ok and len(eml_files(tmp_path / "outbox")) == 1


def test_an_existing_name_is_never_replaced(outbox, tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    digest = outbox_module.message_digest(message(2))
    (folder / f"20250514-104207-0001-{'0' * len(digest)}.eml").write_bytes(b"someone else's")
    outbox.send_all([message(2)])
    assert len(eml_files(folder)) == 2
    assert (folder / f"20250514-104207-0001-{'0' * len(digest)}.eml").read_bytes() \
        == b"someone else's"


def test_check_creates_the_folder_or_says_what_is_wrong(tmp_path):
    OutboxMailer(SimpleNamespace(path=tmp_path / "new" / "outbox")).check()
    assert (tmp_path / "new" / "outbox").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MailerError, match="smtp.path"):
        OutboxMailer(SimpleNamespace(path=tmp_path / "file" / "outbox")).check()
    with pytest.raises(MailerError, match="smtp.path is not set"):
        OutboxMailer(SimpleNamespace(path=None))
    assert [r.ok for r in OutboxMailer(SimpleNamespace(path=tmp_path / "file")).send_all(
        [message(1)])] == [False]


def test_open_mailer_picks_the_backend(tmp_path):
    assert isinstance(open_mailer(SimpleNamespace(backend="outbox", path=tmp_path)), OutboxMailer)
    smtp = SimpleNamespace(backend="smtp", timeout_seconds=5)
    assert isinstance(open_mailer(smtp), SmtpMailer)
    with pytest.raises(MailerError, match="smtp.backend"):
        open_mailer(SimpleNamespace(backend="pigeon"))


def test_long_chinese_subjects_keep_their_spaces_in_the_eml(tmp_path):
    from email import message_from_bytes, policy as email_policy
    from email.message import EmailMessage

    from daemon.mailer.outbox import eml_bytes

    subject = "[C-250514-002] 【严重】处理单 Handling slip：紧急 Urgent · 安全 Safety · 紧急！B座仓库冒烟，有人受伤"
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content("x")
    assert message_from_bytes(eml_bytes(message), policy=email_policy.default)["Subject"] == subject
