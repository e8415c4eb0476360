"""The questions `parkdesk init` asks, in order, and how answers are collected.

Each ``Question`` names its flag, its bilingual prompt, how its answer is read (a
``daemon.setup.answers.parse_*`` function), its default (which may depend on earlier answers:
the provider is guessed from the mailbox address) and when it applies (server names only for
the ``custom`` provider). ``collect_answers`` goes through them once: a value given as a flag is
used (and, when interactive, re-asked if it is wrong), a missing one is asked at the prompt, or,
without a prompt, the default is taken; what is still missing or wrong is listed in one
``AnswersIncomplete``. Prompts and input are passed in, so tests script them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.config import IMAP_PORTS, SMTP_PORTS
from daemon.setup.answers import (
    AnswerError,
    DepartmentAnswer,
    InitAnswers,
    parse_address_list,
    parse_api_endpoint,
    parse_credentials_file,
    parse_department,
    parse_department_keys,
    parse_email,
    parse_host,
    parse_language,
    parse_member_list,
    parse_port,
    parse_provider,
    parse_reference_prefix,
    parse_register_backend,
    parse_security,
    parse_spreadsheet_id,
    parse_text,
    parse_timezone,
    parse_workbook_path,
)
from daemon.setup.presets import (
    CUSTOM,
    PRESET_LIST,
    Server,
    custom_servers,
    guess_preset,
)
from daemon.setup.starter import STARTER_DEPARTMENTS, starter_department_name

InputFunction = Callable[[str], str]
Output = Callable[[str], None]
DEFAULT_API_ENDPOINT = "https://sheets.googleapis.com"
DEFAULT_KEY_FILE = "service-account.json"


class AnswersIncomplete(Exception):
    """Answers missing or wrong without a prompt to ask them again: one line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__(problems)
        self.problems = problems


class InitAborted(Exception):
    """The person stopped answering (end of input or Ctrl+C)."""


def _no_default(answers: Mapping[str, Any]) -> str | None:
    return None


def _always(answers: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Question:
    key: str
    flag: str
    label: str
    parse: Callable[[str], Any]
    default: Callable[[Mapping[str, Any]], str | None] = _no_default
    applies: Callable[[Mapping[str, Any]], bool] = _always
    optional: bool = False
    help: Callable[[Mapping[str, Any]], str] | None = None
    suggestion_only: bool = False  # the default is offered at the prompt, never taken unasked


def _custom(answers: Mapping[str, Any]) -> bool:
    provider = answers.get("provider")
    return provider is not None and provider.key == CUSTOM


def _google(answers: Mapping[str, Any]) -> bool:
    return answers.get("register_backend") == "google"


def _workbook(answers: Mapping[str, Any]) -> bool:
    return answers.get("register_backend") == "workbook"


def _guessed_provider(answers: Mapping[str, Any]) -> str | None:
    address = answers.get("mailbox_address")
    return guess_preset(address).key if address else None


def _provider_list(answers: Mapping[str, Any]) -> str:
    lines = ["邮箱服务商 Mail providers:"]
    for preset in PRESET_LIST:
        lines.append(f"  {preset.key:<18} {preset.name.zh} / {preset.name.en}")
    return "\n".join(lines)


def _server_default(kind: str, part: str) -> Callable[[Mapping[str, Any]], str | None]:
    def default(answers: Mapping[str, Any]) -> str | None:
        imap, smtp = custom_servers(answers.get("mailbox_address") or "")
        if part == "host":
            return (imap if kind == "imap" else smtp).host
        if part == "security":
            return (imap if kind == "imap" else smtp).security
        ports = IMAP_PORTS if kind == "imap" else SMTP_PORTS
        return str(ports.get(answers.get(f"{kind}_security") or "ssl"))
    return default


def _register_default(answers: Mapping[str, Any]) -> str:
    return "google" if answers.get("_credentials_given") else "workbook"


def _key_file_default(answers: Mapping[str, Any]) -> str | None:
    return DEFAULT_KEY_FILE if Path(DEFAULT_KEY_FILE).is_file() else None


QUESTIONS: tuple[Question, ...] = (
    Question("park_name", "--park-name", "园区名称 Park name", parse_text),
    Question("language", "--language", "语言 Language (zh-CN / en)", parse_language,
             default=lambda a: "zh-CN"),
    Question("timezone", "--timezone", "时区 Time zone", parse_timezone,
             default=lambda a: "Asia/Shanghai"),
    Question("mailbox_address", "--mailbox-address",
             "投诉邮箱地址 Complaints mailbox address", parse_email),
    Question("provider", "--provider", "邮箱服务商 Mail provider", parse_provider,
             default=_guessed_provider, help=_provider_list),
    Question("imap_host", "--imap-host", "IMAP 服务器 IMAP server", parse_host,
             default=_server_default("imap", "host"), applies=_custom, suggestion_only=True),
    Question("imap_security", "--imap-security", "IMAP 加密 IMAP security (ssl / starttls / none)",
             parse_security, default=_server_default("imap", "security"), applies=_custom),
    Question("imap_port", "--imap-port", "IMAP 端口 IMAP port", parse_port,
             default=_server_default("imap", "port"), applies=_custom),
    Question("smtp_host", "--smtp-host", "SMTP 服务器 SMTP server", parse_host,
             default=_server_default("smtp", "host"), applies=_custom, suggestion_only=True),
    Question("smtp_security", "--smtp-security", "SMTP 加密 SMTP security (ssl / starttls / none)",
             parse_security, default=_server_default("smtp", "security"), applies=_custom),
    Question("smtp_port", "--smtp-port", "SMTP 端口 SMTP port", parse_port,
             default=_server_default("smtp", "port"), applies=_custom),
    Question("smtp_from", "--smtp-from", "发件地址 Address emails are sent from", parse_email,
             default=lambda a: a.get("mailbox_address")),
    Question("service_center", "--service-center",
             "园区服务中心邮箱(逗号分隔) Service center addresses (comma-separated)",
             parse_address_list),
    Question("leadership", "--leadership",
             "公司领导邮箱(逗号分隔) Leadership addresses (comma-separated)", parse_address_list),
    Question("register_backend", "--register",
             "登记表 Register: google (Google 表格 Google Sheet) / workbook (本地 .xlsx 文件 local file)",
             parse_register_backend, default=_register_default),
    Question("credentials_file", "--credentials-file",
             "服务账号密钥文件 Service-account key file (JSON)", parse_credentials_file,
             default=_key_file_default, applies=_google),
    Question("spreadsheet_id", "--spreadsheet-id",
             "已有表格的地址或 ID,留空则新建 Existing sheet's address or id (empty: create one)",
             parse_spreadsheet_id, default=lambda a: a.get("_existing_spreadsheet_id") or "",
             applies=_google, optional=True),
    Question("workbook_path", "--workbook", "登记表文件 Register file (.xlsx)",
             parse_workbook_path, default=lambda a: "register.xlsx", applies=_workbook),
)
QUESTION_BY_KEY = {question.key: question for question in QUESTIONS}
FLAG_ONLY: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "api_endpoint": ("--api-endpoint", parse_api_endpoint, DEFAULT_API_ENDPOINT),
    "reference_prefix": ("--reference-prefix", parse_reference_prefix, "C"),
}


class Dialog:
    """Asks at a prompt: ``input_fn`` reads a line (after showing the prompt), ``out`` prints."""

    def __init__(self, input_fn: InputFunction, out: Output):
        self.input_fn = input_fn
        self.out = out

    def ask(self, label: str, parse: Callable[[str], Any], default: str | None = None,
            optional: bool = False) -> Any:
        """Ask until the answer reads; Enter takes ``default``."""
        prompt = f"{label} [{default}]: " if default else f"{label}: "
        while True:
            try:
                typed = self.input_fn(prompt)
            except (EOFError, KeyboardInterrupt):
                raise InitAborted("init stopped before every question was answered; nothing "
                                  "was written") from None
            text = typed.strip() or (default or "")
            if not text and not optional:
                self.out("  此项必填。 This answer is needed.")
                continue
            try:
                return parse(text)
            except AnswerError as exc:
                self.out(f"  {exc}. 请重新输入。 Please try again.")


def collect_answers(given: Mapping[str, Any], *, dialog: Dialog | None,
                    existing_spreadsheet_id: str | None = None) -> InitAnswers:
    """Answers from ``given`` (question key -> the flag's text; ``departments`` -> list of
    ``key:name:head[:members]``), asking the rest through ``dialog``; without a dialog, defaults
    are taken and ``AnswersIncomplete`` lists whatever is missing or wrong."""
    answers: dict[str, Any] = {"_existing_spreadsheet_id": existing_spreadsheet_id,
                               "_credentials_given": given.get("credentials_file") is not None}
    problems: list[str] = []
    for question in QUESTIONS:
        value = _answer(question, given.get(question.key), answers, dialog, problems)
        if value is not _MISSING:
            answers[question.key] = value
        if question.key == "leadership":
            departments = _departments(given.get("departments") or [], answers, dialog, problems)
            if departments is not None:
                answers["departments"] = departments
    for key, (flag, parse, default) in FLAG_ONLY.items():
        text = given.get(key)
        try:
            answers[key] = parse(default if text is None else text)
        except AnswerError as exc:
            problems.append(f"{flag}: {exc}")
    if problems:
        raise AnswersIncomplete(problems)
    return _build(answers)


_MISSING = object()


def _answer(question: Question, text: str | None, answers: dict[str, Any],
            dialog: Dialog | None, problems: list[str]) -> Any:
    if text is not None:
        try:
            return question.parse(text)
        except AnswerError as exc:
            if dialog is None or not question.applies(answers):
                problems.append(f"{question.flag}: {exc}")
                return _MISSING
            dialog.out(f"{question.flag}: {exc}.")
    if not question.applies(answers):
        return _MISSING
    default = question.default(answers)
    if dialog is not None:
        if question.help:
            dialog.out(question.help(answers))
        return dialog.ask(question.label, question.parse, default, question.optional)
    if default is None or question.suggestion_only:
        if not _depends_on_a_problem(question, answers):
            problems.append(f"{question.flag} is required ({question.label})")
        return _MISSING
    try:
        return question.parse(default)
    except AnswerError as exc:
        problems.append(f"{question.flag}: {exc}")
        return _MISSING


def _depends_on_a_problem(question: Question, answers: Mapping[str, Any]) -> bool:
    """A default that could not be computed because an earlier answer is missing (that one is
    reported already)."""
    return question.key in ("provider", "smtp_from") and "mailbox_address" not in answers


def _departments(specs: list[str], answers: dict[str, Any], dialog: Dialog | None,
                 problems: list[str]) -> tuple[DepartmentAnswer, ...] | None:
    departments, keys = [], set()
    for spec in specs:
        try:
            department = parse_department(spec)
        except AnswerError as exc:
            problems.append(f"--department: {exc}")
            continue
        if department.key in keys:
            problems.append(f"--department: the key {department.key} is given twice; each "
                            f"department key must be different")
            continue
        keys.add(department.key)
        departments.append(department)
    if specs:
        return tuple(departments) if len(departments) == len(specs) else None
    if dialog is None:
        problems.append("--department is required at least once, as key:name:head or "
                        "key:name:head:member,member (for example "
                        "property:物业管理部:zhang@park.example.com)")
        return None
    return _ask_departments(answers.get("language", "zh-CN"), dialog)


def _ask_departments(language: str, dialog: Dialog) -> tuple[DepartmentAnswer, ...]:
    dialog.out("部门:负责处理投诉的部门,每个部门有一个简称(字母)、名称、负责人和成员。\n"
               "Departments handle complaints; each has a short key (letters), a name, a head "
               "and members.")
    keys = dialog.ask("部门简称(逗号分隔) Department keys (comma-separated)",
                      parse_department_keys, ",".join(STARTER_DEPARTMENTS))
    departments = []
    for key in keys:
        name = dialog.ask(f"  {key}: 名称 name", parse_text, starter_department_name(key, language))
        head = dialog.ask(f"  {key}: 负责人邮箱 head's address", parse_email)
        members = dialog.ask(f"  {key}: 成员邮箱(逗号分隔,可留空) members' addresses "
                             f"(comma-separated, may be empty)", parse_member_list, optional=True)
        departments.append(DepartmentAnswer(key, name, head, members))
    return tuple(departments)


def _build(answers: Mapping[str, Any]) -> InitAnswers:
    provider = answers["provider"]
    imap, smtp = provider.imap, provider.smtp
    if provider.uses_accounts:
        imap = _server(answers, "imap", imap, IMAP_PORTS)
        smtp = _server(answers, "smtp", smtp, SMTP_PORTS)
    return InitAnswers(
        park_name=answers["park_name"],
        language=answers["language"],
        timezone=answers["timezone"],
        mailbox_address=answers["mailbox_address"],
        provider=provider,
        imap=imap,
        smtp=smtp,
        smtp_from=answers["smtp_from"],
        service_center=answers["service_center"],
        leadership=answers["leadership"],
        departments=answers["departments"],
        register_backend=answers["register_backend"],
        credentials_file=answers.get("credentials_file"),
        spreadsheet_id=answers.get("spreadsheet_id"),
        api_endpoint=answers["api_endpoint"],
        workbook_path=answers.get("workbook_path") or "register.xlsx",
        reference_prefix=answers["reference_prefix"],
    )


def _server(answers: Mapping[str, Any], kind: str, preset: Server | None,
            default_ports: Mapping[str, int]) -> Server:
    """The preset's server with any of host, security, port given as flags (or asked) instead."""
    host = answers.get(f"{kind}_host") or (preset.host if preset else None)
    security = answers.get(f"{kind}_security") or (preset.security if preset else "ssl")
    port = answers.get(f"{kind}_port")
    if port is None:
        same_security = preset is not None and preset.security == security
        port = preset.port if same_security else default_ports[security]
    assert host is not None  # custom asks it; every other account preset has one
    return Server(host, port, security)
