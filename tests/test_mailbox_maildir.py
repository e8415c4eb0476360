"""The Maildir mailbox: stable integer UIDs across runs, exact bytes, atomic moves into the
Maildir++ folders, polling for new mail, and a Maildir written by a real Dovecot."""

from __future__ import annotations

import json
import mailbox
import os
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.mailbox import (
    MailboxError,
    MaildirMailbox,
    ReconnectingMailbox,
    UidValidityChanged,
    open_mailbox,
)
from daemon.mailbox.maildir import INDEX_NAME, message_key


def settings(path: Path, **overrides) -> SimpleNamespace:
    values = dict(backend="maildir", path=path, folder="INBOX", processed_folder="Processed",
                  quarantine_folder="Quarantine", poll_seconds=5, batch_size=2, idle=True)
    values.update(overrides)
    return SimpleNamespace(**values)


def raw_message(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"tenant{n}@tenant.test"
    message["Subject"] = f"投诉 {n}"
    message["Message-ID"] = f"<m{n}@tenant.test>"
    message.set_content(f"第 {n} 封\r\n")
    return bytes(message)


class Clock:
    """A monotonic clock moved on by the fake sleep."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []
        self.on_sleep = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def deliver(path: Path, raw: bytes, *, when: int | None = None, seen: bool = False) -> str:
    """Put a message in the Maildir as a delivery agent would; returns its key."""
    box = mailbox.Maildir(path, create=True)
    message = mailbox.MaildirMessage(raw)
    if seen:
        message.set_subdir("cur")
        message.set_flags("S")
    key = box.add(message)
    if when is not None:
        file = next((path / sub / name) for sub in ("new", "cur")
                    for name in os.listdir(path / sub) if message_key(name) == key)
        os.utime(file, (when, when))
    return key


def files_in(folder: Path) -> list[str]:
    return sorted(f"{sub}/{name}" for sub in ("new", "cur") for name in os.listdir(folder / sub)
                  if not name.startswith("."))


@pytest.fixture
def maildir(tmp_path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def box(maildir) -> MaildirMailbox:
    return MaildirMailbox(settings(maildir)).open()


def test_open_creates_the_maildir_and_its_maildirpp_folders(maildir):
    box = MaildirMailbox(settings(maildir)).open()
    for folder in (maildir, maildir / ".Processed", maildir / ".Quarantine"):
        assert all((folder / sub).is_dir() for sub in ("new", "cur", "tmp"))
    assert (maildir / ".Processed" / "maildirfolder").exists()
    assert box.uidvalidity > 0 and not box.uidvalidity_changed()
    assert json.loads((maildir / INDEX_NAME).read_text())["uidvalidity"] == box.uidvalidity
    assert sorted(mailbox.Maildir(maildir).list_folders()) == ["Processed", "Quarantine"]


def test_an_existing_empty_folder_becomes_a_maildir(maildir):
    maildir.mkdir()
    box = MaildirMailbox(settings(maildir)).open()
    assert all((maildir / sub).is_dir() for sub in ("new", "cur", "tmp"))
    deliver(maildir, raw_message(1))
    assert box.list_uids() == [1]


def test_messages_in_new_and_cur_are_listed_in_order_of_arrival_and_read_untouched(box, maildir):
    keys = [deliver(maildir, raw_message(1), when=1_000_300),
            deliver(maildir, raw_message(2), when=1_000_100, seen=True),
            deliver(maildir, raw_message(3), when=1_000_200)]
    before = files_in(maildir)
    uids = box.list_uids()
    assert uids == [1, 2, 3]
    fetched = box.fetch(uids)
    assert [m.raw for m in fetched] == [raw_message(2), raw_message(3), raw_message(1)]
    assert {m.uidvalidity for m in fetched} == {box.uidvalidity}
    assert files_in(maildir) == before  # no flag set, nothing moved (like BODY.PEEK[])
    assert len(keys) == 3


def test_uids_stay_the_same_across_runs_and_are_never_reused(maildir):
    deliver(maildir, raw_message(1), when=1_000_000)
    deliver(maildir, raw_message(2), when=1_000_001)
    first = MaildirMailbox(settings(maildir)).open()
    assert first.list_uids() == [1, 2]
    first.move_to_processed([1])
    first.close()
    deliver(maildir, raw_message(3), when=1_000_002)
    second = MaildirMailbox(settings(maildir)).open()  # the daemon restarted
    assert second.uidvalidity == first.uidvalidity
    assert second.list_uids() == [2, 3]
    assert [m.raw for m in second.fetch([2, 3])] == [raw_message(2), raw_message(3)]


def test_batches_are_slices_of_one_listing(box, maildir):
    for n in range(5):
        deliver(maildir, raw_message(n), when=1_000_000 + n)
    batches = list(box.iter_batches())
    assert [[m.uid for m in batch] for batch in batches] == [[1, 2], [3, 4], [5]]
    assert [len(batch) for batch in box.iter_batches(batch_size=4)] == [4, 1]


def test_moves_keep_name_and_flags_and_leave_one_copy(box, maildir):
    keys = [deliver(maildir, raw_message(1), when=1_000_000),
            deliver(maildir, raw_message(2), when=1_000_001, seen=True),
            deliver(maildir, raw_message(3), when=1_000_002)]
    box.list_uids()
    box.move_to_processed([1, 2, 99])  # 99 was never there: ignored, like IMAP
    box.move_to_quarantine([3])
    assert files_in(maildir) == []
    assert files_in(maildir / ".Processed") == [f"cur/{keys[1]}:2,S", f"new/{keys[0]}"]
    assert [m.get_payload(decode=True) for m in mailbox.Maildir(maildir / ".Quarantine")] \
        == [b"\xe7\xac\xac 3 \xe5\xb0\x81\n"]
    assert box.list_uids() == []
    box.move([], "Elsewhere")
    deliver(maildir, raw_message(4))
    box.move(box.list_uids(), "Archive/2025")  # a folder that did not exist
    assert len(files_in(maildir / ".Archive.2025")) == 1


def test_a_move_never_overwrites_a_message_of_the_same_name(box, maildir):
    deliver(maildir, raw_message(1))
    [name] = files_in(maildir)
    (maildir / ".Processed" / name).write_bytes(b"an older message")
    box.move_to_processed(box.list_uids())
    processed = files_in(maildir / ".Processed")
    assert len(processed) == 2
    assert (maildir / ".Processed" / name).read_bytes() == b"an older message"


def test_a_message_a_mail_program_moved_to_cur_is_still_fetched_and_moved(box, maildir):
    key = deliver(maildir, raw_message(1))
    [uid] = box.list_uids()
    os.rename(maildir / "new" / key, maildir / "cur" / f"{key}:2,S")
    assert [m.raw for m in box.fetch([uid])] == [raw_message(1)]
    box.move_to_processed([uid])
    assert files_in(maildir / ".Processed") == [f"cur/{key}:2,S"]


def test_fetch_leaves_out_messages_that_are_gone(box, maildir):
    key = deliver(maildir, raw_message(1), when=1_000_000)
    deliver(maildir, raw_message(2), when=1_000_001)
    uids = box.list_uids()
    (maildir / "new" / key).unlink()
    assert [m.uid for m in box.fetch(uids)] == [2]


def test_a_lost_index_is_a_new_uidvalidity_and_stale_uids_are_refused(maildir):
    deliver(maildir, raw_message(1))
    box = MaildirMailbox(settings(maildir)).open()
    old = box.uidvalidity
    uids = box.list_uids()
    box.close()
    (maildir / INDEX_NAME).unlink()
    box.open()
    assert box.uidvalidity != old and box.uidvalidity_changed()
    with pytest.raises(UidValidityChanged):
        box.fetch(uids)
    assert box.list_uids() == [1]
    assert [m.uidvalidity for m in box.fetch([1])] == [box.uidvalidity]


def test_an_unreadable_index_starts_afresh(maildir, caplog):
    deliver(maildir, raw_message(1))
    maildir.joinpath(INDEX_NAME).write_text("{not json", encoding="utf-8")
    box = MaildirMailbox(settings(maildir)).open()
    assert box.list_uids() == [1] and "cannot be read" in caplog.text


def test_another_folder_than_inbox_is_a_subfolder(tmp_path):
    root = tmp_path / "mail"
    box = MaildirMailbox(settings(root, folder="Complaints")).open()
    deliver(root / ".Complaints", raw_message(1))
    deliver(root, raw_message(2))  # INBOX itself is not the complaints folder here
    assert [m.raw for batch in box.iter_batches() for m in batch] == [raw_message(1)]


def test_wait_for_mail_polls_until_a_message_comes(box, maildir):
    clock = Clock()
    box = MaildirMailbox(settings(maildir), sleep=clock.sleep, clock=clock).open()
    box.list_uids()
    clock.on_sleep = lambda n: n == 2 and deliver(maildir, raw_message(1))
    assert box.wait_for_mail(300) is True
    assert clock.sleeps == [5, 5]
    assert box.wait_for_mail(300) is True and clock.sleeps == [5, 5]  # not listed yet: at once


def test_wait_for_mail_gives_up_at_its_timeout(box, maildir):
    clock = Clock()
    box = MaildirMailbox(settings(maildir), sleep=clock.sleep, clock=clock).open()
    box.list_uids()
    assert box.wait_for_mail(12) is False
    assert clock.sleeps == [5, 5, 2]


def test_a_file_where_the_maildir_should_be_is_a_setting_to_fix(tmp_path):
    (tmp_path / "inbox").write_text("not a folder")
    with pytest.raises(MailboxError, match="mailbox.path"):
        MaildirMailbox(settings(tmp_path / "inbox")).open()
    with pytest.raises(MailboxError, match="mailbox.path is not set"):
        MaildirMailbox(settings(None))


def test_open_mailbox_picks_the_backend(tmp_path):
    assert isinstance(open_mailbox(settings(tmp_path / "m")), MaildirMailbox)
    imap = SimpleNamespace(backend="imap", host="imap.example.test", batch_size=50)
    assert isinstance(open_mailbox(imap), ReconnectingMailbox)
    with pytest.raises(MailboxError, match="mailbox.backend"):
        open_mailbox(SimpleNamespace(backend="pop3"))


def test_a_maildir_written_by_dovecot_is_read_and_moved_where_imap_sees_it(mail_bench):
    address, _ = mail_bench.new_user("maildir")
    with mail_bench.imap_client(address) as client:  # folders made by Dovecot, owned by it
        client.create_folder("Processed")
        client.create_folder("Quarantine")
    sent = []
    for n in range(3):
        message = EmailMessage()
        message["From"] = "tenant@tenant.test"
        message["To"] = address
        message["Subject"] = f"电梯坏了 {n}"
        message["Message-ID"] = f"<dovecot-{n}@tenant.test>"
        message.set_content("请修理")
        mail_bench.send("tenant@tenant.test", [address], message)
        sent.append(message["Message-ID"])
    maildir = mail_bench._server.homes_dir / address / "Maildir"  # where Dovecot keeps it
    box = MaildirMailbox(settings(maildir, batch_size=50)).open()
    fetched = [m for batch in box.iter_batches() for m in batch]
    assert [m.raw.count(f"Message-ID: {sent[i]}".encode()) for i, m in enumerate(fetched)] \
        == [1, 1, 1]
    box.move_to_processed([m.uid for m in fetched[:2]])
    box.move_to_quarantine([fetched[2].uid])
    assert mail_bench.count(address, "INBOX") == 0
    assert mail_bench.count(address, "Processed") == 2
    assert mail_bench.count(address, "Quarantine") == 1
    over_imap = [raw.replace(b"\r\n", b"\n") for raw in mail_bench.fetch_all(address, "Processed")]
    assert over_imap == [m.raw for m in fetched[:2]]  # Dovecot stores LF; IMAP sends CRLF
