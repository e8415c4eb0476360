"""The demo's scenario: five tenants complain, departments and tenants answer, the clock moves.

Everything goes through the real daemon: each complaint and each reply is delivered into the
demo Maildir as the mail a tenant's or a department member's mail program would send, and a
fresh ``Daemon(config, now=clock).run(once=True)`` (what cron's ``parkdesk run --once`` does)
takes it in. Nobody waits: the clock is simulated, starting on a Wednesday at 09:30 in the
park's time zone, so the return visit (two hours after sign-off, in office hours) goes out the
same afternoon.

A reply answers the very email ParkDesk sent to that person: the scenario reads the ``.eml``
files ParkDesk wrote into the outbox, finds the one sent *to the replying address* about that
complaint for that purpose (the handling slip, the sign-off request, the return visit ...),
and sets In-Reply-To/References to its Message-ID. ParkDesk honours a command only with the
per-recipient token in that id, so a reply to someone else's copy would not count.

The story (references C-250514-001 ... 005 in order of arrival):

=========  ===============================================  =================================
complaint  what happens                                     where it ends
=========  ===============================================  =================================
elevator   Chinese, UTF-8. Signed for, done, signed off,    Closed, satisfaction 4
           return visit answered 满意
fire       Chinese, serious (冒烟/火灾): leadership gets     Closed, satisfaction 5, review
           the slip. The head resolves it himself (signed   recorded
           off at once), answers the review (检讨) request
rubbish    Chinese in GBK (Foxmail style). Done, signed     Reopened: the slip goes out again
           off; the tenant answers 不满意                    and the service center is told
parking    English, HTML only. Signed for, done; the head   Resolved, awaiting sign-off
           has not signed off yet
leak       English. Nobody signs for it: reminder, then     Signed for (late), progress note
           the service center; then signed for, progress    forwarded to the tenant
=========  ===============================================  =================================
"""

from __future__ import annotations

import logging
import mailbox as stdlib_mailbox
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.authenticity import load_or_create_secret, read_message_id
from daemon.config import load_config
from daemon.demo.park import (
    COMPLAINTS_ADDRESS,
    CONFIG_NAME,
    DEPARTMENTS,
    write_demo_config,
)
from daemon.mailbox import open_mailbox
from daemon.mailer import open_mailer
from daemon.register import open_register
from daemon.register.workbook import WorkbookRegister
from daemon.runner import Adapters, Daemon

log = logging.getLogger("parkdesk.demo")

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 5, 14, 9, 30, tzinfo=SHANGHAI)  # a Wednesday morning


# --- the people -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tenant:
    name: str
    address: str
    company: str


TENANTS: dict[str, Tenant] = {
    "elevator": Tenant("李明", "li.ming@xingchen-tech.test", "星辰科技有限公司"),
    "fire": Tenant("周婷", "zhou.ting@hengyuan-bio.test", "恒远生物科技有限公司"),
    "rubbish": Tenant("王强", "wang.qiang@jinhe-trading.test", "金禾贸易有限公司"),
    "parking": Tenant("Emma Clarke", "emma.clarke@northwind-design.test", "Northwind Design Ltd."),
    "leak": Tenant("Tom Becker", "tom.becker@alpine-robotics.test", "Alpine Robotics GmbH"),
}
COMPLAINT_ORDER: tuple[str, ...] = tuple(TENANTS)


def head_of(department: str) -> str:
    return DEPARTMENTS[department][1]


def members_of(department: str) -> tuple[str, ...]:
    return DEPARTMENTS[department][2]


# --- the complaints, as the tenants' mail programs send them -----------------------------------

def new_message(sender: Tenant | str, subject: str, at: datetime) -> EmailMessage:
    message = EmailMessage()
    if isinstance(sender, Tenant):
        message["From"] = formataddr((sender.name, sender.address))
        domain = sender.address.partition("@")[2]
    else:
        message["From"] = sender
        domain = sender.partition("@")[2]
    message["To"] = COMPLAINTS_ADDRESS
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=domain)
    return message


def elevator_complaint(at: datetime) -> EmailMessage:
    """Plain Chinese text in UTF-8, as QQ Mail sends it."""
    tenant = TENANTS["elevator"]
    message = new_message(tenant, "3号楼电梯故障，停在5楼不动", at)
    message.set_content(
        "您好：\n\n3号楼的电梯今天早上停在5楼不动了，员工只能走楼梯，有同事还搬着设备。"
        "请尽快安排维修。\n\n公司：星辰科技有限公司\n联系人：李明\n电话：0571-88886666\n")
    return message


def fire_complaint(at: datetime) -> EmailMessage:
    """The serious one: smoke in a warehouse."""
    tenant = TENANTS["fire"]
    message = new_message(tenant, "紧急！B座仓库冒烟，疑似火灾", at)
    message.set_content(
        "B座1楼仓库门缝里有烟冒出来，能闻到焦味，我们已经把员工疏散到楼外。请马上派人来！\n\n"
        "恒远生物科技有限公司\n周婷 13800138000\n")
    return message


def rubbish_complaint_gbk(at: datetime) -> bytes:
    """Chinese in GBK, subject and name as GBK encoded-words (Foxmail, older Outlook)."""
    tenant = TENANTS["rubbish"]
    body = ("你好，\n\nC座2楼楼道的垃圾已经三天没人清理了，天气热，异味很大，"
            "客户来访都闻得到。请物业尽快处理。\n\n公司：金禾贸易有限公司\n位置：C座2楼\n"
            "电话：0571-87651234\n")
    message = MIMEText(body, "plain", "gbk")
    message["From"] = formataddr((tenant.name, tenant.address), charset="gbk")
    message["To"] = COMPLAINTS_ADDRESS
    message["Subject"] = Header("楼道垃圾三天没清理，异味很大", "gbk")
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain="jinhe-trading.test")
    message["X-Mailer"] = "Foxmail 7.2.25.228[cn]"
    return message.as_bytes()


def parking_complaint_html(at: datetime) -> EmailMessage:
    """English, HTML only: no plain-text part at all."""
    tenant = TENANTS["parking"]
    message = new_message(tenant, "Our parking spaces are blocked by delivery trucks", at)
    message.set_content(
        "<html><body><p>Dear Park Management,</p>"
        "<p>For the third day running, delivery trucks have been left in the <b>parking</b> "
        "spaces reserved for our staff in front of Building A. Our visitors cannot park.</p>"
        "<p>Could you please sort this out?</p>"
        "<p>Best regards,<br>Emma Clarke<br>Company: Northwind Design Ltd.<br>"
        "Tel: 0571-86660000</p></body></html>", subtype="html")
    return message


def leak_complaint(at: datetime) -> EmailMessage:
    """English plain text."""
    tenant = TENANTS["leak"]
    message = new_message(tenant, "Water leak from the ceiling in Building B, room 305", at)
    message.set_content(
        "Hello,\n\nWater is dripping from the ceiling of our office, Building B room 305, "
        "onto two desks. We have put buckets under it.\n\nTom Becker\nAlpine Robotics GmbH\n"
        "Phone: 0571-89990000\n")
    return message


COMPLAINTS: dict[str, Callable[[datetime], EmailMessage | bytes]] = {
    "elevator": elevator_complaint,
    "fire": fire_complaint,
    "rubbish": rubbish_complaint_gbk,
    "parking": parking_complaint_html,
    "leak": leak_complaint,
}


# --- replies, as mail programs write them ------------------------------------------------------

def reply_to(sender: str, original: Message, first_line: str, at: datetime) -> EmailMessage:
    """A reply to ``original`` written on top of the quoted original: QQ Mail style for a
    Chinese first line, Gmail style for an English one. Threaded on the original's Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = original["From"]
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    quoted = original.get_body(("plain",)).get_content()
    original_sender = parseaddr(original["From"])[1]
    if first_line.isascii():
        message["Subject"] = "Re: " + original["Subject"]
        body = (f"{first_line}\n\nOn {original['Date']}, {original['From']} wrote:\n"
                + "\n".join("> " + line for line in quoted.splitlines()) + "\n")
    else:
        message["Subject"] = "回复：" + original["Subject"]
        body = (f"{first_line}\n\n------------------ 原始邮件 ------------------\n"
                f"发件人: <{original_sender}>;\n发送时间: {original['Date']}\n收件人: <{sender}>;\n"
                f"主题: {original['Subject']}\n\n{quoted}")
    message.set_content(body)
    return message


# --- the park the scenario acts on -------------------------------------------------------------

class SimulatedClock:
    """The park's clock for the demo: moved by the scenario, never waited for."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, hour: int, minute: int) -> datetime:
        target = self.now.replace(hour=hour, minute=minute)
        if target < self.now:
            raise ValueError(f"the demo clock cannot go back from {self.now:%H:%M} to {target:%H:%M}")
        self.now = target
        return target


@dataclass
class Step:
    """One step of the story, for the summary: when, what arrived, what ParkDesk did."""

    at: datetime
    what: str
    registered: list[str] = field(default_factory=list)
    emails_written: int = 0


@dataclass
class DemoRun:
    """What the scenario leaves behind: where the files are, and what happened when."""

    folder: Path
    config: object
    references: dict[str, str] = field(default_factory=dict)  # complaint key -> reference
    steps: list[Step] = field(default_factory=list)

    @property
    def register_path(self) -> Path:
        return Path(self.config.register.path)

    @property
    def outbox_path(self) -> Path:
        return Path(self.config.smtp.path)

    @property
    def maildir_path(self) -> Path:
        return Path(self.config.mailbox.path)

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_NAME


class DemoPark:
    """The demo folder with its config: deliver mail, run the daemon, read what it wrote."""

    def __init__(self, folder: Path, clock: SimulatedClock):
        self.folder = Path(folder)
        self.clock = clock
        self.config = load_config(write_demo_config(self.folder))
        self.inbox = stdlib_mailbox.Maildir(self.config.mailbox.path, create=True)
        self.run = DemoRun(folder=self.folder, config=self.config)

    # delivering

    def deliver(self, message: EmailMessage | bytes, *, at: datetime | None = None) -> None:
        """Put a message in the inbox's new/ as a delivery agent would; the file's time is
        ``at`` (default: the clock), which is the order the daemon takes messages in."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        key = self.inbox.add(raw)
        stamp = (at or self.clock()).timestamp()
        os.utime(Path(self.config.mailbox.path) / "new" / key, (stamp, stamp))

    # running ParkDesk

    def run_daemon(self, what: str) -> Step:
        """One ``run --once`` at the clock's time: a fresh daemon, as cron would start it. The
        outbox is given the simulated clock too, so its file names carry the demo's times."""
        before = len(self.outbox_files())
        adapters = Adapters(register=open_register(self.config.register),
                            mailbox=open_mailbox(self.config.mailbox),
                            mailer=open_mailer(self.config.smtp, now=self.clock))
        report = Daemon(self.config, adapters=adapters, now=self.clock).run(once=True)
        step = Step(at=self.clock(), what=what, registered=list(report.registered),
                    emails_written=len(self.outbox_files()) - before)
        self.run.steps.append(step)
        return step

    # reading what ParkDesk wrote

    def outbox_files(self) -> list[Path]:
        return sorted(Path(self.config.smtp.path).glob("*.eml"))

    def sent_to(self, address: str, reference: str, purpose: str) -> Message:
        """The last email ParkDesk wrote to ``address`` about ``reference`` for ``purpose``
        (``slip``, ``signoff``, ``visit``, ``review`` ...), read from its Message-ID token."""
        secret = load_or_create_secret(self.config.state_dir)
        found = None
        for path in self.outbox_files():
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            token = read_message_id(secret, message.get("Message-ID", ""))
            if (token is not None and token.reference == reference and token.purpose == purpose
                    and parseaddr(message["To"])[1].lower() == address.lower()):
                found = message
        if found is None:
            raise LookupError(f"ParkDesk wrote no {purpose!r} email to {address} about {reference}")
        return found

    def answer(self, sender: str, complaint: str, purpose: str, first_line: str) -> None:
        """``sender`` replies ``first_line`` to the ``purpose`` email they got about ``complaint``."""
        original = self.sent_to(sender, self.run.references[complaint], purpose)
        self.deliver(reply_to(sender, original, first_line, self.clock()))

    def learn_references(self, message_ids: dict[str, str]) -> None:
        """Complaint key -> reference, from the register's Message-ID column."""
        rows = WorkbookRegister(self.config.register.path).read_register()
        by_message_id = {row.get("message_id"): row.reference for row in rows}
        for key, message_id in message_ids.items():
            self.run.references[key] = by_message_id[message_id]


# --- the story ---------------------------------------------------------------------------------

def run_scenario(folder: Path, *, start: datetime = START) -> DemoRun:
    """Play the whole story in ``folder`` (which must hold nothing of a previous demo)."""
    clock = SimulatedClock(start)
    park = DemoPark(folder, clock)
    facilities, property_, security = "facilities", "property", "security"

    # 09:30 Five complaints have come in since 09:25, one a minute.
    message_ids = {}
    for minute, key in enumerate(COMPLAINT_ORDER):
        sent_at = start - timedelta(minutes=len(COMPLAINT_ORDER) - minute)
        message = COMPLAINTS[key](sent_at)
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        message_ids[key] = message_from_bytes(raw, policy=policy.default)["Message-ID"]
        park.deliver(raw, at=sent_at)
    park.run_daemon("5 complaints: Chinese, GBK, HTML-only, English; 1 serious")
    park.learn_references(message_ids)

    # 09:33 Departments sign for four slips by replying 签收 / ACK.
    clock.move_to(9, 33)
    park.answer(members_of(facilities)[0], "elevator", "slip", "签收")
    park.answer(members_of(security)[0], "fire", "slip", "收到，已派人赶往B座")
    park.answer(members_of(property_)[0], "rubbish", "slip", "签收")
    park.answer(members_of(property_)[0], "parking", "slip", "ACK")
    park.run_daemon("departments sign for 4 slips by reply (签收 / ACK)")

    # 09:36 Nobody signed for the leak by 09:35: a reminder to the department.
    clock.move_to(9, 36)
    park.run_daemon("the leak's slip is not signed for: reminder to facilities")

    # 09:41 Still nobody: the service center is told.
    clock.move_to(9, 41)
    park.run_daemon("still not signed for: the service center is told")

    # 09:45 Signed for, late.
    clock.move_to(9, 45)
    park.answer(members_of(facilities)[1], "leak", "slip", "收到，马上去看")
    park.run_daemon("the leak's slip is signed for, late (收到)")

    # 10:30 Results; the security head resolves the fire himself (signed off at once).
    clock.move_to(10, 30)
    park.answer(members_of(facilities)[0], "elevator", "slip", "完成 已更换电梯控制板，电梯恢复运行")
    park.answer(head_of(security), "fire", "slip",
                "完成 仓库配电箱短路冒烟，已断电灭火，无人受伤")
    park.answer(members_of(property_)[0], "rubbish", "slip", "完成 已清运垃圾并消毒，每日增加一次保洁")
    park.answer(members_of(property_)[0], "parking", "slip",
                "DONE The trucks were moved; a loading zone is now marked at Building C")
    park.answer(members_of(facilities)[1], "leak", "slip",
                "NOTE Valve closed, no more dripping; the pipe is replaced tomorrow at 9:00")
    park.run_daemon("results (完成 / DONE) and a progress note (NOTE)")

    # 10:40 Heads sign off by replying 确认 to the sign-off request (parking: not yet).
    clock.move_to(10, 40)
    park.answer(head_of(facilities), "elevator", "signoff", "确认")
    park.answer(head_of(property_), "rubbish", "signoff", "确认")
    park.run_daemon("heads sign off two results (确认)")

    # 12:45 Two hours after sign-off, in office hours: the return visits go out.
    clock.move_to(12, 45)
    park.run_daemon("two hours later: return visits (回访)")

    # 14:00 Tenants answer; the security head sends the review of the serious complaint.
    clock.move_to(14, 0)
    park.answer(TENANTS["elevator"].address, "elevator", "visit", "满意，谢谢，修得很快")
    park.answer(TENANTS["fire"].address, "fire", "visit", "5 处理非常及时")
    park.answer(TENANTS["rubbish"].address, "rubbish", "visit", "不满意 楼道还是有味道")
    park.answer(head_of(security), "fire", "review",
                "检讨 原因：配电箱老化短路。措施：已更换配电箱。预防：每月巡检电气线路。")
    park.run_daemon("3 answers (one unhappy: reopened); the review (检讨)")
    return park.run
