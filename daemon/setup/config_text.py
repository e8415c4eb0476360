"""The text of a new config.yaml, written from init's answers with a comment on every setting.

``render_config(answers, config_dir)`` returns YAML in the layout and comment style of the
example config.yaml that comes with ParkDesk. Values are written by PyYAML (so a name such as
``'0571'`` or one containing ``: `` is quoted as needed); comments are in English, like the
example's, and name the provider's quirks. Secrets are never written: each account names the
environment variable that will hold its password (see ``password_variables``).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from daemon.setup.answers import InitAnswers
from daemon.setup.presets import LOCAL, Bilingual
from daemon.setup.starter import (
    DEFAULT_CATEGORY,
    DEFAULT_PRIORITY,
    STARTER_CATEGORIES,
    STARTER_PRIORITIES,
)

COMMENT_COLUMN = 35
WRAP_WIDTH = 100
MAIL_PASSWORD_ENV = "PARKDESK_MAIL_PASSWORD"
IMAP_PASSWORD_ENV = "PARKDESK_IMAP_PASSWORD"
SMTP_PASSWORD_ENV = "PARKDESK_SMTP_PASSWORD"
PLACEHOLDER_SPREADSHEET_ID = "CREATED-BY-PARKDESK-INIT"
MAILDIR_PATH = "./mail/inbox"
OUTBOX_PATH = "./mail/outbox"


@dataclass(frozen=True)
class PasswordVariable:
    """An environment variable the park must set: its name, for which account, what goes in it."""

    name: str
    account: str
    sections: tuple[str, ...]
    secret: Bilingual


def scalar(value: object) -> str:
    """One YAML value on one line: ``"0571"`` -> ``'0571'``, ``"物业管理部"`` -> ``物业管理部``."""
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10**9)
    return text.strip()[1:-1]


def flow_list(items: tuple[str, ...] | list[str], indent: int) -> str:
    """``[a, b, c]``; when long, wrapped onto more lines aligned under the first item.

    ``indent`` is the column where the ``[`` stands on the first line.
    """
    if not items:
        return "[]"
    pieces = [scalar(item) for item in items]
    lines, current, column = [], "[" + pieces[0], indent
    for piece in pieces[1:]:
        if column + display_width(current) + len(", ") + display_width(piece) + 1 > WRAP_WIDTH:
            lines.append(current + ",")
            current, column = " " * (indent + 1) + piece, 0
        else:
            current += ", " + piece
    lines.append(current + "]")
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width editor: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def line(content: str, comment: str = "") -> str:
    """``content``, then ``# comment`` aligned at COMMENT_COLUMN (or one space after)."""
    if not comment:
        return content
    padding = max(COMMENT_COLUMN - 1 - display_width(content), 1)
    return f"{content}{' ' * padding}# {comment}"


def password_variables(answers: InitAnswers) -> list[PasswordVariable]:
    """The environment variables config.yaml names: one when IMAP and SMTP use the same login."""
    if not answers.provider.uses_accounts:
        return []
    secret = answers.provider.secret
    if smtp_username(answers) == answers.mailbox_address:
        return [PasswordVariable(MAIL_PASSWORD_ENV, answers.mailbox_address, ("mailbox", "smtp"),
                                 secret)]
    return [PasswordVariable(IMAP_PASSWORD_ENV, answers.mailbox_address, ("mailbox",), secret),
            PasswordVariable(SMTP_PASSWORD_ENV, smtp_username(answers), ("smtp",), secret)]


def smtp_username(answers: InitAnswers) -> str:
    """ParkDesk logs in to SMTP as the address it sends from."""
    return answers.smtp_from


def _password_env(answers: InitAnswers, section: str) -> str:
    return next(variable.name for variable in password_variables(answers)
                if section in variable.sections)


def config_path_text(path: Path, config_dir: Path) -> str:
    """A path as written into config.yaml: relative to its folder when inside it."""
    absolute = path.expanduser().absolute()
    try:
        return absolute.relative_to(config_dir.absolute()).as_posix()
    except ValueError:
        return os.fspath(absolute)


def render_config(answers: InitAnswers, config_dir: Path) -> str:
    """The whole config.yaml for ``answers``; relative paths are relative to ``config_dir``."""
    sections = [_header(answers), _park(answers), _mailbox(answers), _smtp(answers),
                _register(answers, config_dir), _people(answers), _categories(answers),
                _priorities(answers), _rest()]
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def _heading(title: str) -> str:
    return f"# --- {title} ".ljust(96, "-")


def _header(answers: InitAnswers) -> str:
    return "\n".join([
        f"# ParkDesk configuration for {answers.park_name}, written by `parkdesk init`.",
        "#",
        "# Check it with:   parkdesk check-config --config config.yaml",
        "# then try every connection with:   parkdesk check --config config.yaml",
        "#",
        "# Rules of this file:",
        "#   - Indent with spaces, never tabs. A list item starts with \"- \".",
        ("#   - Put text in quotes if it could be read as a number or contains \": \" "
         "(for example '0571')."),
        "#   - Passwords are NEVER written here. Each account names an environment variable",
        "#     (password_env) or a file (password_file) that holds its password.",
        "#   - Relative paths (./state, service-account.json ...) are relative to this file's folder.",
    ])


def _park(answers: InitAnswers) -> str:
    return "\n".join([
        _heading("The park"),
        "park:",
        line(f"  name: {scalar(answers.park_name)}", "shown to tenants in every email"),
        line(f"  timezone: {scalar(answers.timezone)}",
             "IANA time zone; all times and deadlines use it"),
        line(f"  language: {scalar(answers.language)}",
             "language of emails and sheet headers: zh-CN or en"),
        line(f"  reference_prefix: {scalar(answers.reference_prefix)}",
             f"reference numbers look like {answers.reference_prefix}-250514-007"),
        "",
        "# Where ParkDesk keeps its own bookkeeping (the journal of processed mail, pending deadlines).",
        "# Keep it: deleting it can make reminders and escalations be sent again.",
        "state_dir: ./state",
    ])


def _quirk_comments(answers: InitAnswers) -> list[str]:
    preset = answers.provider
    lines = [f"# Mail provider: {preset.name.en} (parkdesk init preset '{preset.key}')."]
    for note in preset.notes:
        lines += _wrapped_comment(note.en)
    return lines


def _wrapped_comment(text: str) -> list[str]:
    words, lines, current = text.split(), [], "#"
    for word in words:
        if len(current) + 1 + len(word) > WRAP_WIDTH - 2 and current != "#":
            lines.append(current)
            current = "#  "
        current += " " + word
    lines.append(current)
    return lines


def _mailbox(answers: InitAnswers) -> str:
    lines = [_heading("Incoming mail: the complaints mailbox"), *_quirk_comments(answers)]
    lines.append("mailbox:")
    if answers.provider.key == LOCAL:
        lines += [
            line("  backend: maildir", "a local Maildir folder instead of an IMAP account"),
            line(f"  path: {MAILDIR_PATH}", "new complaints are read from here"),
            line("  processed_folder: Processed", "handled mail is moved here, never deleted"),
            line("  quarantine_folder: Quarantine", "mail that cannot be read is kept here"),
        ]
        return "\n".join(lines)
    imap = answers.imap
    assert imap is not None
    lines += [
        "  backend: imap",
        line(f"  host: {scalar(imap.host)}", "the IMAP server"),
        line(f"  security: {imap.security}", "ssl, starttls or none"),
        line(f"  port: {imap.port}", "993 for ssl, 143 otherwise"),
        line(f"  username: {scalar(answers.mailbox_address)}", "the mailbox login"),
        line(f"  password_env: {_password_env(answers, 'mailbox')}",
             "the password is in this environment variable"),
        "  # password_file: imap-password.txt     # ...or in this file (its only line); use one of the two",
        "  # ca_file: park-ca.pem                 # only if the server uses a certificate of your own",
        line("  folder: INBOX", "where complaints arrive"),
        line("  processed_folder: Processed", "handled mail is moved here, never deleted"),
        line("  quarantine_folder: Quarantine",
             "mail that cannot be read is kept here for staff to look at"),
        line("  idle: true", "wait for new mail to be pushed (IMAP IDLE) when the server can"),
        line("  poll_seconds: 60", "otherwise check every this many seconds"),
        line("  batch_size: 50", "messages fetched at a time (keeps memory small in a burst)"),
        *_oauth2_comments(answers),
    ]
    return "\n".join(lines)


OAUTH2_EXAMPLES = {
    "google": ["  # oauth2:",
               "  #   provider: google_service_account   # a service account with domain-wide "
               "delegation",
               "  #   key_file: mail-service-account.json",
               "  #   subject: {address}"],
    "microsoft": ["  # oauth2:",
                  "  #   provider: microsoft_client_credentials   # an app registered in Entra ID",
                  "  #   tenant: your-park.onmicrosoft.com",
                  "  #   client_id: 00000000-0000-0000-0000-000000000000",
                  "  #   client_secret_env: PARKDESK_OAUTH_CLIENT_SECRET"],
}


def _oauth2_comments(answers: InitAnswers) -> list[str]:
    """For providers that refuse passwords: the OAuth2 (XOAUTH2) lines to use instead, commented."""
    if not answers.provider.oauth2_needed:
        return []
    kind = "google" if answers.provider.key in ("gmail", "google-workspace") else "microsoft"
    return ["  # If the password is refused, sign in with OAuth2 instead: remove password_env,",
            "  # and uncomment and fill these (the same in the smtp section):",
            "  # auth: oauth2",
            *(text.format(address=answers.mailbox_address) for text in OAUTH2_EXAMPLES[kind])]


def _from_name(answers: InitAnswers) -> str:
    suffix = "园区服务中心" if answers.language == "zh-CN" else "Service Center"
    return f"{answers.park_name} {suffix}"


def _smtp(answers: InitAnswers) -> str:
    lines = [_heading("Outgoing mail"), "smtp:"]
    if answers.provider.key == LOCAL:
        lines += [
            line("  backend: outbox", "write each email as an .eml file; nothing is sent"),
            line(f"  path: {OUTBOX_PATH}", "the .eml files go here"),
        ]
    else:
        smtp = answers.smtp
        assert smtp is not None
        alternatives = [f"{server.port} {server.security}"
                        for server in answers.provider.smtp_alternatives if server.host == smtp.host]
        port_note = f"this server also takes {', '.join(alternatives)}" if alternatives else \
            "465 for ssl, 587 for starttls, 25 for none"
        lines += [
            "  backend: smtp",
            line(f"  host: {scalar(smtp.host)}", "the SMTP server"),
            line(f"  security: {smtp.security}", "ssl, starttls or none"),
            line(f"  port: {smtp.port}", port_note),
            line(f"  username: {scalar(smtp_username(answers))}", "the login for sending"),
            line(f"  password_env: {_password_env(answers, 'smtp')}",
                 "the password is in this environment variable"),
            "  # password_file: smtp-password.txt",
            "  # ca_file: park-ca.pem",
        ]
    lines += [
        line(f"  from_address: {scalar(answers.smtp_from)}", "tenants and departments reply to this"),
        line(f"  from_name: {scalar(_from_name(answers))}", "the sender name people see"),
    ]
    if answers.provider.key != LOCAL:
        lines.append("  timeout_seconds: 30")
    return "\n".join(lines)


def _register(answers: InitAnswers, config_dir: Path) -> str:
    if answers.register_backend == "workbook":
        return "\n".join([
            _heading("The register (the workbook)"),
            "# A local .xlsx file (for parks that cannot reach Google). Keep it closed in Excel or",
            "# WPS while ParkDesk writes to it, or ParkDesk waits until it is closed.",
            "register:",
            "  backend: workbook",
            line(f"  path: {scalar(_relative_text(answers.workbook_path, config_dir))}",
                 "the workbook file"),
        ])
    assert answers.credentials_file is not None
    lines = [
        _heading("The register (the shared spreadsheet)"),
        "# A Google Sheet, used through a service account; init shared it with the service center.",
        "register:",
        "  backend: google",
        line(f"  spreadsheet_id: {scalar(answers.spreadsheet_id or PLACEHOLDER_SPREADSHEET_ID)}",
             "the long id in the sheet's address, between /d/ and /edit"),
        line(f"  credentials_file: {scalar(config_path_text(answers.credentials_file, config_dir))}",
             "the service account's key (keep it private)"),
    ]
    endpoint = answers.api_endpoint.rstrip("/")
    if endpoint != "https://sheets.googleapis.com":
        lines.append(line(f"  api_endpoint: {scalar(endpoint)}",
                          "only for a proxy or a test server"))
    else:
        lines.append("  # api_endpoint: https://sheets.googleapis.com      "
                     "# only change for a proxy or a test server")
    return "\n".join(lines)


def _relative_text(path_text: str, config_dir: Path) -> str:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        return path.as_posix() if path_text.startswith(".") else "./" + path.as_posix()
    return config_path_text(path, config_dir)


def _address_list(addresses: tuple[str, ...], indent: str = "  ") -> list[str]:
    return [f"{indent}- {scalar(address)}" for address in addresses]


def _people(answers: InitAnswers) -> str:
    lines = [
        _heading("People"),
        "# 园区服务中心 (the service center): watches the register, gets escalations and the review.",
        "service_center:", *_address_list(answers.service_center), "",
        "# 公司领导 (leadership): gets serious and overdue complaints and the periodic review.",
        "leadership:", *_address_list(answers.leadership), "",
        "# Departments that handle complaints. \"key\" is a short name used in this file (letters,",
        "# digits, _ or -); \"name\" is what people see. The head signs off results; the head and",
        "# the members get handling slips (处理单) and may sign for them (签收) by replying.",
        "departments:",
    ]
    for department in answers.departments:
        lines += [f"  - key: {scalar(department.key)}",
                  f"    name: {scalar(department.name)}",
                  f"    head: {scalar(department.head)}"]
        if department.members:
            lines += ["    members:", *_address_list(department.members, "      ")]
        else:
            lines.append(line("    members: []", "add the members' addresses here"))
    return "\n".join(lines)


def category_department(category_department_key: str, answers: InitAnswers) -> str:
    """The starter category's department if the park has it, else the park's first department."""
    keys = [department.key for department in answers.departments]
    return category_department_key if category_department_key in keys else keys[0]


def _categories(answers: InitAnswers) -> str:
    lines = [
        _heading("Categories"),
        "# Each category goes to one department (its key). Keywords, Chinese or English, are looked for",
        "# in the subject and the text of a complaint; a word in the subject counts more. When two",
        "# categories score the same, the one listed first wins. Staff can always change the category",
        "# in the register, and ParkDesk follows their choice.",
        "categories:",
    ]
    for category in STARTER_CATEGORIES:
        department = category_department(category.department, answers)
        note = "" if department == category.department else \
            f"no '{category.department}' department: check this"
        lines += [f"  - key: {category.key}",
                  f"    name: {scalar(category.name.in_language(answers.language))}",
                  line(f"    department: {scalar(department)}", note),
                  f"    keywords: {flow_list(category.keywords, len('    keywords: '))}"]
    return "\n".join(lines)


def _priorities(answers: InitAnswers) -> str:
    lines = [
        _heading("Priorities"),
        "# List them from most to least urgent: a keyword of a more urgent priority always wins.",
        "# ack_minutes: time for the department to sign for the slip (签收) before a reminder and then",
        "# escalation. resolve_hours: time to resolve it before it is overdue and escalates.",
        "# serious: true sends the complaint to leadership at once, and the department head owes a",
        "# review (检讨) after it is resolved.",
        "priorities:",
    ]
    for priority in STARTER_PRIORITIES:
        lines += [f"  - key: {priority.key}",
                  f"    name: {scalar(priority.name.in_language(answers.language))}",
                  f"    keywords: {flow_list(priority.keywords, len('    keywords: '))}",
                  f"    ack_minutes: {priority.ack_minutes}",
                  f"    resolve_hours: {priority.resolve_hours}",
                  f"    serious: {'true' if priority.serious else 'false'}"]
    return "\n".join(lines)


def _rest() -> str:
    return "\n".join([
        _heading("Intake"),
        "intake:",
        line(f"  default_category: {DEFAULT_CATEGORY}",
             "used when no category keyword matches (staff are asked to check)"),
        line(f"  default_priority: {DEFAULT_PRIORITY}", "used when no priority keyword matches"),
        line("  replies_per_sender_per_hour: 3",
             "no sender gets more automatic replies than this in an hour"),
        line("  max_attempts: 3", "a message that fails this many times goes to quarantine"),
        line("  body_max_chars: 45000",
             "longer complaint texts are cut in the register (a Google cell holds 50000)"),
        "",
        _heading("Dispatch: handling slips and deadlines"),
        "# A complaint's slip goes to its department's members and head at once. Sign-for (签收) is due",
        "# within the priority's ack_minutes, resolution within its resolve_hours. When a deadline",
        "# passes, ParkDesk tells the people below, one step at a time, each step once.",
        "dispatch:",
        line("  ack_ladder:", "not signed for: minutes after the sign-for deadline"),
        line("    - {after_minutes: 0, notify: department}",
             "reminder to the department (members + head)"),
        line("    - {after_minutes: 5, notify: service_center}", "then the service center"),
        line("    - {after_minutes: 25, notify: leadership}", "then leadership"),
        line("  resolve_ladder:", "not resolved: minutes after the resolve-by deadline"),
        "    - {after_minutes: 0, notify: head}",
        "    - {after_minutes: 120, notify: leadership}",
        line("  forward_notes_to_tenant: false",
             "send the department's 进展/NOTE replies on to the tenant"),
        line("  sla_check_seconds: 30", "how often deadlines are checked"),
        "",
        _heading("Aftercare: return visit (回访), review (检讨), archive"),
        "aftercare:",
        line("  return_visit_delay_hours: 2",
             "hours after sign-off before the tenant is asked if satisfied"),
        line("  office_hours: [9, 18]", "return visits are sent only between these hours"),
        line("  office_days: [1, 2, 3, 4, 5]", "working days, 1 = Monday ... 7 = Sunday"),
        line("  visit_reminder_days: 3", "days without an answer before one reminder"),
        line("  visit_close_days: 4", "more days without an answer before it is closed"),
        line("  review_escalate_days: 3", "working days without a review before leadership is told"),
        line("  archive_after_days: 30", "days after closing before a complaint moves to its archive tab"),
        "",
        _heading("Reply commands: the first line of a department's reply decides what it does"),
        "commands:",
        line("  ack: [收到, 签收, ACK, OK]", "sign for the slip"),
        line("  note: [进展, NOTE]", "a progress note"),
        line("  done: [完成, 已处理, 已解决, DONE]", "resolved, with the result after the word"),
        line("  approve: [确认, APPROVE]", "the head signs off the result"),
        line("  reject: [退回, REJECT]", "the head sends the result back"),
        line("  transfer: [转, TRANSFER]", "move to another department: 转 环境卫生部"),
        line("  review: [检讨, REVIEW]", "the head's review of a serious complaint"),
    ])
