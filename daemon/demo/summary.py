"""What the demo prints: the story step by step, the register, the emails, where the files are.

Everything is read back from the files the daemon wrote (``register.xlsx`` through the
workbook register, the ``.eml`` files of the outbox), not from what the scenario meant to do.
Lines fit a 100-column terminal: Chinese characters take two columns
(``unicodedata.east_asian_width``), and long texts are cut with ``…``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from daemon.register.workbook import WorkbookRegister

WIDTH = 100
GAP = "  "


# --- text that lines up in a terminal ----------------------------------------------------------

def text_width(text: str) -> int:
    """Columns ``text`` takes: wide (W) and full-width (F) characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def one_line(text: str) -> str:
    """A cell's text on one line: line breaks and runs of spaces become one space."""
    return " ".join(str(text or "").split())


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in ``…`` when cut."""
    if text_width(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        size = text_width(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…"


def pad(text: str, width: int) -> str:
    """``text`` clipped to ``width`` columns and filled with spaces to exactly ``width``."""
    text = clip(text, width)
    return text + " " * (width - text_width(text))


def format_table(headers: list[str], rows: list[list[str]], limits: list[int]) -> list[str]:
    """Columns as wide as their widest cell (at most its limit), indented by two spaces; the
    last column takes what is left of ``WIDTH`` and is not padded."""
    rows = [[one_line(cell) for cell in row] for row in rows]
    columns = list(zip(*rows)) if rows else [()] * len(headers)
    widths = [min(limit, max(text_width(cell) for cell in [header, *column]))
              for header, limit, column in zip(headers, limits, columns)]
    room = WIDTH - 2 - sum(widths[:-1]) - len(GAP) * (len(widths) - 1)
    widths[-1] = max(1, min(widths[-1], room))
    lines = []
    for cells in [headers, *rows]:
        parts = [pad(cell, width) for cell, width in zip(cells[:-1], widths[:-1])]
        parts.append(clip(cells[-1], widths[-1]))
        lines.append("  " + GAP.join(parts).rstrip())
    lines.insert(1, "  " + GAP.join("-" * width for width in widths))
    return lines


# --- what was written ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SentMail:
    """One ``.eml`` file of the outbox, as its recipient would see it."""

    file: Path
    to: tuple[str, ...]
    subject: str
    date: datetime | None


def read_outbox(folder: Path) -> list[SentMail]:
    """Every ``.eml`` file of the outbox, in the order ParkDesk wrote them."""
    mails = []
    for path in sorted(Path(folder).glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        to = tuple(address.lower() for _, address in getaddresses(message.get_all("To", []))
                   if address)
        try:
            date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
        except (TypeError, ValueError):
            date = None
        mails.append(SentMail(file=path, to=to, subject=str(message["Subject"] or ""), date=date))
    return mails


def short_time(value: str, day: str) -> str:
    """``2025-05-14 10:30`` -> ``10:30`` on the demo's day, ``05-15 10:30`` on another, ``-`` if empty."""
    value = value.strip()
    if not value:
        return "-"
    date, _, time = value.partition(" ")
    return time if date == day else value[5:]


def describe_people(config, register_rows) -> dict[str, str]:
    """Address -> who that is: the tenant and its company, a department member or head ..."""
    people: dict[str, str] = {}
    for row in register_rows:
        address = row.get("email").strip().lower()
        if address and address not in people:
            people[address] = f"tenant, {row.get('company') or row.get('contact_name')}"
    for department in config.departments:
        for member in department.members:
            people.setdefault(member.lower(), department.name)
        people.setdefault(department.head.lower(), f"head of {department.name}")
    for address in config.service_center:
        people.setdefault(address.lower(), "service center 园区服务中心")
    for address in config.leadership:
        people.setdefault(address.lower(), "leadership 公司领导")
    return people


# --- the summary --------------------------------------------------------------------------------

def format_summary(run, *, elapsed_seconds: float | None = None) -> str:
    """The whole summary as text; ``run`` is the scenario's ``DemoRun``."""
    config = run.config
    rows = list(WorkbookRegister(run.register_path).read_register())
    mails = read_outbox(run.outbox_path)
    day = run.steps[0].at.strftime("%Y-%m-%d") if run.steps else ""
    lines = [
        f"ParkDesk demo: {config.park.name}",
        f"Simulated clock: {run.steps[0].at:%A %Y-%m-%d}, {config.park.timezone}. Each step is "
        f"one real `parkdesk run --once`." if run.steps else "",
        "",
        *format_steps(run.steps),
        "",
        f"The register ({run.register_path.name}, tab Register): {len(rows)} complaints",
        *format_register(rows),
        "",
        *format_timings(rows, day),
        "",
        f"Emails ParkDesk wrote ({len(mails)} .eml files in {run.outbox_path.name}/), by recipient",
        *format_mails(mails, describe_people(config, rows), run.references),
        "",
        *format_files(run, len(mails)),
    ]
    if elapsed_seconds is not None:
        lines += ["", f"Demo finished in {elapsed_seconds:.1f} s."]
    return "\n".join(lines) + "\n"


def format_steps(steps) -> list[str]:
    lines = ["What happened (mail delivered into the Maildir, then one daemon cycle; what it did):"]
    for step in steps:
        did = []
        if step.registered:
            did.append(f"{len(step.registered)} registered")
        did.append(f"{step.emails_written} email{'' if step.emails_written == 1 else 's'}")
        lines.append(f"  {step.at:%H:%M}  {pad(step.what, 60)}  {', '.join(did)}".rstrip())
    return lines


def format_register(rows) -> list[str]:
    headers = ["编号 Reference", "企业 Company", "类别 Category", "优先级 Priority", "状态 Status"]
    table = [[row.reference + (" !" if row.get("serious").strip() else ""), row.get("company"),
              row.get("category"), row.get("priority"), row.get("status")] for row in rows]
    lines = format_table(headers, table, [15, 20, 20, 16, 20])
    if any(row.get("serious").strip() for row in rows):
        lines.append("  ! serious 严重: leadership got the slip, and the head owes a review (检讨)")
    return lines


def format_timings(rows, day: str) -> list[str]:
    headers = ["编号 Reference", "收到", "签收", "处理", "审核", "结案", "满意",
               "签收人 / 结果, 反馈 or 催办"]
    table = []
    for row in rows:
        outcome = (row.get("feedback") or row.get("result") or row.get("escalations")
                   or describe_dispatch(row, day))
        signer = row.get("acknowledged_by").partition("@")[0]
        times = [short_time(row.get(key), day) for key in
                 ("received_at", "acknowledged_at", "resolved_at", "signed_off_at", "closed_at")]
        said = " / ".join(part for part in (signer, outcome) if part) or "-"
        table.append([row.reference, *times, row.get("satisfaction") or "-", said])
    lines = ["Timings: 收到 received, 签收 signed for, 处理 resolved, 审核 signed off, 结案 closed;",
             ("满意 satisfaction (1-5); who signed for it / the result, the tenant's feedback or "
              "the escalations")]
    return lines + format_table(headers, table, [15, 5, 5, 5, 5, 5, 4, WIDTH])


def describe_dispatch(row, day: str) -> str:
    """For a row waiting on its department: when the slip went out and the sign-for deadline."""
    if not row.get("dispatched_at").strip():
        return ""
    again = "slip sent again 重新派单" if "reopened" in row.get("status").casefold() else "slip sent"
    return (f"{again} {short_time(row.get('dispatched_at'), day)}, sign-for due "
            f"{short_time(row.get('ack_due'), day)}")


def format_mails(mails: list[SentMail], people: dict[str, str], references: dict[str, str]) -> list[str]:
    by_recipient: dict[str, list[SentMail]] = {}
    for mail in mails:
        for address in mail.to:
            by_recipient.setdefault(address, []).append(mail)
    order = {address: index for index, address in enumerate(people)}
    lines = []
    for address in sorted(by_recipient, key=lambda a: (order.get(a, len(order)), a)):
        received = by_recipient[address]
        who = people.get(address, "")
        lines.append(clip(f"  {address} ({who}): {len(received)}", WIDTH))
        for mail in received:
            when = f"{mail.date:%H:%M}" if mail.date else "     "
            lines.append(clip(f"    {when}  {mail.subject}", WIDTH))
    return lines


def format_files(run, mail_count: int) -> list[str]:
    """Where the files are; paths are printed whole, however long."""
    rows = [
        ("Register", f"{run.register_path}", "open it in Excel, WPS or LibreOffice"),
        ("Outbox", f"{run.outbox_path}{'/' if not str(run.outbox_path).endswith('/') else ''}",
         f"{mail_count} .eml files: any mail program opens them"),
        ("Mailbox", f"{run.maildir_path}/", "a Maildir: handled mail is in .Processed/"),
        ("Config", f"{run.config_path}", "the demo park: departments, categories, backends"),
    ]
    lines = ["Files to open:"]
    for name, path, note in rows:
        lines.append(f"  {name:<9} {path}")
        lines.append(f"  {'':<9} ({note})")
    lines += ["", "Go on yourself: put an email (an .eml file) into the Maildir's new/ folder and run",
              f"  parkdesk run --config {run.config_path} --once",
              "(on the real clock: what the demo left open is long overdue, so expect reminders).",
              "The same `parkdesk demo` again starts afresh: only the demo's own files are replaced."]
    return lines
