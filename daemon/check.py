"""`parkdesk check`: try everything ParkDesk needs, and say for each failure what to fix.

Each check is a small function returning ``CheckResult``s: the config file, the templates
(rendered with sample data; a variable the daemon never passes is a typo), the mailbox (IMAP:
reach, TLS, login, ID, IDLE, folders; or the Maildir), the SMTP server (reach, TLS, login,
optionally a test message), the register (opened, layout in place, read back), and whether departments and
people fit together. ``run_checks`` runs them all; ``format_checklist`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import jinja2
import jinja2.meta

from daemon.config import Config, ConfigError, load_config
from daemon.mail_refusals import login_refusal_fix
from daemon.templates import Templates, default_templates_dir

DEFAULT_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: ``ok`` False is a failure; ``warn`` marks an OK with a doubt."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    warn: bool = False


def passed(name: str, detail: str = "") -> CheckResult:
    return CheckResult(name, True, detail)


def failed(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, False, detail, fix)


def warned(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, True, detail, fix, warn=True)


# --- config ------------------------------------------------------------------------------------

def check_config_file(path: str | Path) -> tuple[Config | None, CheckResult]:
    """Load the config; on failure the result lists every problem ConfigError names."""
    name = f"config {path} is valid"
    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, failed(name, str(exc), "correct the keys named above "
                                            "(`parkdesk check-config` lists them too)")
    return config, passed(name)


# --- templates ---------------------------------------------------------------------------------

# The variables the daemon passes to each template (see the render()/send_to() calls in
# daemon/intake, daemon/dispatch and daemon/resolution). A template using any other name fails
# at 3 a.m. with StrictUndefined, so here it fails first.
TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    "command_confirmation": frozenset({"action", "at", "detail", "park_name", "reference"}),
    "commands_help": frozenset({"commands_help", "park_name", "reference"}),
    "handling_slip": frozenset({
        "ack_due", "attachments", "category_name", "commands_help", "company", "contact_name",
        "content", "department_name", "email", "feedback", "head", "location", "park_name",
        "phone", "priority_name", "received_at", "reference", "resolve_by", "satisfaction",
        "serious", "subject"}),
    "progress_to_tenant": frozenset({"contact_name", "park_name", "reference", "text"}),
    "quarantine_notice": frozenset({"attempts", "folder", "reason", "sender", "subject"}),
    "refused_command": frozenset({"first_line", "park_name", "reason", "reference", "sender"}),
    "reminder": frozenset({"company", "deadline", "department_name", "head", "minutes_late",
                           "park_name", "priority_name", "reference", "stage", "subject"}),
    "reopened_notice": frozenset({"department_name", "feedback", "park_name", "reference",
                                  "satisfaction"}),
    "resolution_rejected": frozenset({"department_name", "head", "park_name", "reason",
                                      "reference", "result"}),
    "result_to_tenant": frozenset({"contact_name", "park_name", "reference", "result", "subject"}),
    "return_visit": frozenset({"contact_name", "park_name", "reference", "reminder", "result",
                               "subject", "visit_sent_at"}),
    "review_request": frozenset({"chase", "escalated", "head_name", "park_name", "reference",
                                 "requested_at", "result", "subject"}),
    "signoff_request": frozenset({"company", "head_name", "park_name", "reference",
                                  "resolved_at", "resolved_by", "result", "subject"}),
    "tenant_ack": frozenset({"category_name", "contact_name", "park_name", "received_at",
                             "reference", "subject"}),
    "tenant_followup": frozenset({"department_name", "park_name", "reference", "tenant", "text"}),
}

# Sample values for every variable above (flags true so conditional parts render too).
SAMPLE_VALUES: dict[str, object] = {
    "action": "签收 signed for", "at": "2026-05-14 09:30", "detail": "已派人 someone is on it",
    "park_name": "东湖科技产业园", "reference": "C-260514-007",
    "commands_help": "收到 / ACK: sign for", "ack_due": "2026-05-14 10:00",
    "attachments": "photo.jpg", "category_name": "设施维护", "company": "光谷电子有限公司",
    "contact_name": "王芳", "content": "3号楼电梯停了。The lift in building 3 stopped.",
    "department_name": "物业管理部", "email": "wang.fang@tenant.example",
    "feedback": "还是坏的 still broken", "head": "head@park.example", "location": "3号楼",
    "phone": "13800000000", "priority_name": "紧急", "received_at": "2026-05-14 09:00",
    "resolve_by": "2026-05-14 17:00", "satisfaction": "2", "serious": True,
    "subject": "电梯故障 lift broken", "text": "维修工已到 the technician is there",
    "attempts": 3, "folder": "Quarantine", "reason": "sample reason", "sender": "x@example.com",
    "first_line": "完成", "deadline": "2026-05-14 10:00", "minutes_late": 30, "stage": "ack",
    "result": "已修复 repaired", "reminder": True, "visit_sent_at": "2026-05-15 10:00",
    "chase": True, "escalated": True, "head_name": "李明", "requested_at": "2026-05-15 10:00",
    "resolved_at": "2026-05-14 16:00", "resolved_by": "member@park.example",
    "tenant": "wang.fang@tenant.example",
}


def _add_health_templates() -> None:
    """The health alert and recovery messages, with the variables daemon.health gives them."""
    from daemon.health import TEMPLATE_SAMPLES, TEMPLATE_VARIABLES as HEALTH_VARIABLES

    TEMPLATE_VARIABLES.update(HEALTH_VARIABLES)
    for name, value in TEMPLATE_SAMPLES.items():
        SAMPLE_VALUES.setdefault(name, value)


_add_health_templates()


def template_names(folder: Path) -> list[str]:
    """``tenant_ack`` for ``tenant_ack.subject.j2`` etc., sorted."""
    return sorted({p.name.split(".")[0] for p in folder.glob("*.j2")})


def find_unknown_variables(source: str, known: frozenset[str]) -> list[str]:
    """Names a template uses that the daemon does not pass (TemplateSyntaxError if it is broken)."""
    used = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(source))
    return sorted(used - known)


def check_templates(language: str, root: Path | None = None) -> list[CheckResult]:
    """Every template of ``language`` uses only the daemon's variables and renders."""
    root = Path(root) if root else default_templates_dir()
    folder = root / language
    name = f"templates in {folder}"
    try:
        templates = Templates(language, root=root)
    except FileNotFoundError as exc:
        return [failed(name, str(exc), "set park.language to a language that has templates")]
    problems: list[str] = []
    present = template_names(folder)
    for missing in sorted(set(TEMPLATE_VARIABLES) - set(present)):
        problems.append(f"{missing}: no {missing}.subject.j2 / {missing}.txt.j2")
    for template in present:
        known = TEMPLATE_VARIABLES.get(template)
        if known is None:
            continue  # a file ParkDesk never sends: harmless
        for path in sorted(folder.glob(f"{template}.*.j2")):
            try:
                unknown = find_unknown_variables(path.read_text(encoding="utf-8"), known)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{path.name} line {exc.lineno}: {exc.message}")
                continue
            if unknown:
                problems.append(f"{path.name}: unknown variable {', '.join(unknown)} "
                                f"(it may use: {', '.join(sorted(known))})")
        if not any(p.startswith(f"{template}.") for p in problems):
            try:
                templates.render(template, **{k: SAMPLE_VALUES[k] for k in known})
            except jinja2.TemplateNotFound as exc:
                problems.append(f"{template}: {exc.name} is missing")
            except jinja2.TemplateError as exc:
                problems.append(f"{template}: {exc}")
    if problems:
        return [failed(name, "; ".join(problems),
                       "correct the template files named above (variable names are listed)")]
    return [passed(name, f"{len(present)} messages render with sample data")]


def check_digest_template(config: Config, root: Path | None = None) -> list[CheckResult]:
    """The digest (its own templates, given a whole review) renders for this park."""
    from daemon.review import build_review
    from daemon.review.digest import build_digest

    name = "digest template renders"
    if not config.review.digest_enabled:
        return [passed(name, "the digest is turned off (review.digest_enabled)")]
    now = datetime.now(config.park.tz)
    try:
        templates = Templates(config.park.language, root=root)
        review = build_review([], config, now, period_kind=config.review.digest_period)
        build_digest(review, config, templates, now=now)
    except FileNotFoundError as exc:
        return [failed(name, str(exc), "set park.language to a language that has templates")]
    except jinja2.TemplateError as exc:
        return [failed(name, f"digest: {exc}",
                       "correct digest.subject.j2 / digest.txt.j2 / digest.html.j2 "
                       "(or digest_labels.j2) in the templates folder")]
    return [passed(name)]


# --- mailbox -----------------------------------------------------------------------------------

def check_mailbox(config: Config, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    if config.mailbox.backend == "maildir":
        return check_maildir(config)
    return check_imap(config, timeout=timeout)


def check_maildir(config: Config) -> list[CheckResult]:
    from daemon.mailbox import MailboxError, open_mailbox

    name = f"Maildir {config.mailbox.path}"
    try:
        mailbox = open_mailbox(config.mailbox).open()
        try:
            count = len(mailbox.list_uids())
        finally:
            mailbox.close()
    except (MailboxError, OSError) as exc:
        return [failed(name, str(exc), "check mailbox.path and that ParkDesk may write there")]
    return [passed(name, f"readable, {count} messages waiting")]


def imap_fix(exc: Exception, host: str | None = None) -> str:
    from daemon.mailbox import MailboxAuthError, MailboxUnavailable

    if isinstance(exc, ConfigError):
        return "set the mailbox password as mailbox.password_env / password_file says"
    if isinstance(exc, MailboxAuthError):
        return login_refusal_fix(str(exc), host, "mailbox",
                                 "check mailbox.username and the password (for QQ/163 mail: the "
                                 "authorization code)")
    if isinstance(exc, MailboxUnavailable):
        return "check mailbox.host, mailbox.port and mailbox.security, and that this machine " \
               "can reach the server (DNS, firewall)"
    return "see the message: it names the key to change"


def check_imap(config: Config, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Each step of ImapMailbox.open() as its own line, stopping at the first that fails."""
    from daemon.mailbox import ImapMailbox, MailboxError

    cfg = config.mailbox
    mailbox = ImapMailbox(cfg, timeout=timeout)
    security = {"ssl": "TLS", "starttls": "STARTTLS", "none": "no encryption"}.get(
        str(cfg.security), str(cfg.security))
    described = {
        "connect": (f"IMAP reachable at {cfg.host}:{cfg.port} ({security})",
                    "certificate valid" if cfg.security != "none" else "unencrypted"),
        "login": (f"IMAP login as {cfg.username}", ""),
        "id": ("IMAP ID", ""),
        "folders": (f"IMAP folders {cfg.processed_folder!r} and {cfg.quarantine_folder!r} exist",
                    "created if they were missing"),
        "select": (f"IMAP folder {cfg.folder!r} opens", ""),
    }
    results: list[CheckResult] = []
    try:
        with mailbox.opening():
            for key, step in mailbox.opening_steps():
                name, detail = described[key]
                try:
                    step()
                except (MailboxError, ConfigError) as exc:
                    results.append(failed(name, str(exc), imap_fix(exc, cfg.host)))
                    return results
                results.append(check_imap_id(cfg, mailbox.offers("ID")) if key == "id"
                               else passed(name, detail))
            results.append(check_idle(config, mailbox.offers("IDLE")))
    finally:
        mailbox.close()
    return results


NETEASE_DOMAINS = ("163.com", "126.com", "yeah.net")


def is_netease(host: str | None, username: str | None) -> bool:
    """NetEase mail (163, 126, yeah.net): by the server's name or the mailbox's address."""
    host = (host or "").lower().rstrip(".")
    domain = (username or "").lower().rpartition("@")[2]
    return any(name == d or name.endswith("." + d)
               for name in (host, domain) if name for d in NETEASE_DOMAINS)


def check_imap_id(cfg, offered: bool) -> CheckResult:
    """The ID command (RFC 2971) is sent when offered; NetEase refuses SELECT without it."""
    name = "IMAP ID"
    if offered:
        return passed(name, "sent (ParkDesk names itself to the server)")
    if is_netease(cfg.host, cfg.username):
        return warned(
            name, "NetEase mail (163/126/yeah.net) needs the ID command before opening a folder, "
                  "but this server did not offer it, so it was not sent",
            "check that mailbox.host is NetEase's (imap.163.com, imap.126.com or imap.yeah.net); "
            "if opening the folder fails with \"Unsafe Login\", turn on IMAP/SMTP in the "
            "mailbox's web settings and use its authorization code (授权码) as the password")
    return passed(name, "not offered by the server; not needed")


def check_idle(config: Config, offered: bool) -> CheckResult:
    name = "IMAP IDLE offered"
    if not config.mailbox.idle:
        return passed(name, f"mailbox.idle is off: polling every {config.mailbox.poll_seconds} s")
    if offered:
        return passed(name, "new mail is seen at once")
    return warned(name, f"not offered: ParkDesk polls every {config.mailbox.poll_seconds} s",
                  "nothing to do, or set mailbox.idle: false to say so")


# --- SMTP --------------------------------------------------------------------------------------

def check_smtp(config: Config, *, send_test: str | None = None,
               timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """The outbox folder; or the SMTP server step by step (reach, TLS, login), stopping at the
    first step that fails; then the test message if asked."""
    from daemon.mailer import MailerError, OutboxMailer, SmtpMailer

    cfg = config.smtp
    if cfg.backend == "outbox":
        mailer = OutboxMailer(cfg)
        name = f"outbox folder {cfg.path} writable"
        try:
            mailer.check()
        except (MailerError, ConfigError) as exc:
            return [failed(name, str(exc), "check smtp.path and that ParkDesk's user may write "
                                           "there")]
        results = [passed(name)]
    else:
        mailer = SmtpMailer(cfg, timeout=timeout)
        results = check_smtp_server(cfg, mailer, timeout=timeout)
        if not all(result.ok for result in results):
            return results
    if send_test:
        results.append(send_test_message(config, mailer, send_test))
    return results


SMTP_SECURITY_WORDS = {"ssl": "TLS", "starttls": "STARTTLS", "none": "no encryption"}


def smtp_port(cfg) -> int:
    return cfg.port or {"ssl": 465, "starttls": 587}.get(cfg.security, 25)


def check_smtp_server(cfg, mailer, *, timeout: float) -> list[CheckResult]:
    """Reach, TLS (certificate valid) and login as their own lines; the first failure ends it."""
    import smtplib
    import ssl

    port = smtp_port(cfg)
    security = SMTP_SECURITY_WORDS.get(str(cfg.security), str(cfg.security))
    reach = f"SMTP reachable at {cfg.host}:{port} ({security})"
    tls = f"SMTP {security} with a valid certificate"
    results: list[CheckResult] = []
    connection: smtplib.SMTP | None = None
    try:
        try:
            connection = smtp_reach(cfg, port, timeout)
        except (OSError, smtplib.SMTPException) as exc:
            return [failed(reach, f"Cannot use the SMTP server {cfg.host}:{port}: "
                                  f"{describe_smtp_failure(exc, timeout)}", smtp_reach_fix(exc, cfg))]
        if cfg.security == "none":
            return [passed(reach, "unencrypted"), *check_smtp_login(cfg, mailer)]
        results.append(passed(reach))
        try:
            smtp_tls(cfg, connection, port, timeout)
        except SmtpStepFailed as exc:
            return [*results, failed(tls, exc.detail, exc.fix)]
        except ssl.SSLCertVerificationError as exc:
            from daemon.tls import describe_certificate_failure

            return [*results, failed(tls, describe_certificate_failure(
                exc, host=cfg.host, ca_key="smtp.ca_file", host_key="smtp.host"),
                "the TLS certificate is not valid for this name: check smtp.host (it must be "
                "the name on the server's certificate); if the server uses a certificate of "
                "the park's own, set smtp.ca_file to its CA file")]
        except (OSError, smtplib.SMTPException) as exc:
            return [*results, failed(tls, describe_smtp_failure(exc, timeout),
                                     smtp_tls_fix(exc))]
        results.append(passed(tls))
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
    return [*results, *check_smtp_login(cfg, mailer)]


class SmtpStepFailed(Exception):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


def smtp_reach(cfg, port: int, timeout: float):
    """A connection that got the server's greeting and answered EHLO (for ssl: a plain TCP
    connection, closed at once: TLS is the next step)."""
    import smtplib
    import socket

    if cfg.security == "ssl":
        socket.create_connection((cfg.host, port), timeout=timeout).close()
        return None
    connection = smtplib.SMTP(cfg.host, port, timeout=timeout)
    try:
        connection.ehlo()
    except BaseException:
        connection.close()
        raise
    return connection


def smtp_tls(cfg, connection, port: int, timeout: float) -> None:
    """STARTTLS on ``connection``, or a new TLS connection for ssl; the certificate verified."""
    import smtplib

    from daemon.tls import TlsSetupError, make_ssl_context

    try:
        context = make_ssl_context(cfg.ca_file, config_key="smtp.ca_file")
    except TlsSetupError as exc:
        raise SmtpStepFailed(str(exc), "correct smtp.ca_file, or remove it for a public mail "
                                       "service") from None
    if cfg.security == "ssl":
        smtplib.SMTP_SSL(cfg.host, port, timeout=timeout, context=context).quit()
        return
    if not connection.has_extn("starttls"):
        raise SmtpStepFailed(f"The SMTP server {cfg.host}:{port} does not offer STARTTLS",
                             "set smtp.security to ssl (usually port 465), or check smtp.port")
    connection.starttls(context=context)
    connection.ehlo()


def check_smtp_login(cfg, mailer) -> list[CheckResult]:
    """The mailer's own login (password or XOAUTH2), on a fresh connection."""
    from daemon.mailer import MailerError

    if not cfg.username:
        return [passed("SMTP login", "none: smtp.username is not set, mail is sent without one")]
    name = f"SMTP login as {cfg.username}"
    try:
        mailer.check()
    except ConfigError as exc:
        return [failed(name, str(exc), "set the SMTP password as smtp.password_env / "
                                       "password_file says")]
    except MailerError as exc:
        return [failed(name, str(exc), smtp_login_fix(str(exc), cfg.host))]
    return [passed(name)]


def describe_smtp_failure(exc: BaseException, timeout: float) -> str:
    from daemon.mailer.smtp import describe_failure

    return describe_failure(exc, timeout)


def smtp_reach_fix(exc: BaseException, cfg) -> str:
    import socket

    if isinstance(exc, socket.gaierror):
        return ("unknown host: check the spelling of smtp.host, and that this machine can look "
                "names up (DNS)")
    if isinstance(exc, ConnectionRefusedError):
        return ("the port refused the connection: check smtp.port and smtp.security (ssl is "
                "usually 465, starttls 587) and that the server lets this machine in")
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return ("no answer: check smtp.host and smtp.port; a firewall may be dropping the "
                "connection (some networks block ports 25 and 465)")
    return "check smtp.host, smtp.port and smtp.security"


def smtp_tls_fix(exc: BaseException) -> str:
    import ssl

    from daemon.tls import NOT_TLS_REASONS

    if isinstance(exc, ssl.SSLError) and exc.reason in NOT_TLS_REASONS:
        return ("smtp.security and smtp.port do not match: ssl is usually port 465, "
                "starttls 587")
    return "check smtp.security and smtp.port; then try again"


def smtp_login_fix(message: str, host: str | None = None) -> str:
    if "refused the login" in message or "refused a new access token" in message:
        return login_refusal_fix(
            message, host, "smtp",
            "wrong user name or password: check smtp.username and the SMTP password (for QQ and "
            "NetEase mail: the authorization code 授权码, not the web password)")
    if "encrypted connection" in message or "STARTTLS" in message:
        return "set smtp.security to starttls or ssl"
    return "do what the message above says (it names the key to change)"


def send_test_message(config: Config, mailer, recipient: str) -> CheckResult:
    from daemon.mailer import MailerError

    name = f"test message to {recipient}"
    message = EmailMessage()
    message["From"] = config.smtp.from_address
    message["To"] = recipient
    message["Subject"] = f"ParkDesk test message / 测试邮件 ({config.park.name})"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=config.smtp.from_address.split("@")[-1])
    message.set_content("ParkDesk can send mail from this address.\n"
                        "ParkDesk 可以从此地址发送邮件。\n")
    try:
        [result] = mailer.send_all([message])
    except MailerError as exc:
        return failed(name, str(exc), "do what the message above says")
    if not result.ok:
        return failed(name, result.error or "not sent",
                      "check that the server lets smtp.username send as smtp.from_address and "
                      "to this recipient")
    return passed(name, "sent")


# --- register ----------------------------------------------------------------------------------

QUOTA_FIX = ("Google's per-minute request quota for this service account is used up: wait a "
             "minute and run check again; if it keeps happening, something else (another "
             "program, a second ParkDesk) uses the same key: give ParkDesk a service account of "
             "its own, or ask for a higher quota in the Google Cloud console (IAM & Admin → "
             "Quotas, \"Google Sheets API\")")


def check_register(config: Config) -> list[CheckResult]:
    """Open the register, put its layout in place (writes only what is missing), read it."""
    from daemon.register import (
        RegisterAccessError,
        RegisterError,
        RegisterUnavailable,
        open_register,
    )

    cfg = config.register
    if cfg.backend == "workbook":
        name = f"workbook {cfg.path} opens and is writable"
        fix = "check register.path, that the folder is writable and the file not locked"
    else:
        name = f"Google Sheet {cfg.spreadsheet_id} reachable and writable"
        fix = "do what the message above says (it names the key or file to change)"
    register = None
    try:
        register = open_register(cfg, max_attempts=2, max_wait_seconds=5)
        register.ensure_layout()
        rows = register.read_register()
    except RegisterAccessError as exc:
        email = getattr(register, "service_account_email", "") or "the service account"
        return [failed(name, str(exc),
                       f"share the sheet with {email} as Editor, or correct "
                       f"register.spreadsheet_id / register.credentials_file")]
    except RegisterUnavailable as exc:
        if "quota" in str(exc) or "429" in str(exc):
            return [failed(name, str(exc), QUOTA_FIX)]
        return [failed(name, str(exc), "check register.api_endpoint (if set) and this "
                                       "machine's connection to Google; then try again")]
    except (RegisterError, ConfigError, OSError) as exc:
        return [failed(name, str(exc), fix)]
    layout = passed(name, f"{len(rows)} complaint rows; tabs and headers in place (any that "
                          f"were missing were written now)")
    if cfg.backend != "google":
        return [layout]
    return [layout, check_sheet_editable(register)]


def check_sheet_editable(register) -> CheckResult:
    """Ask Drive whether the service account may edit the sheet (a reader can pass the rest:
    ensure_layout writes nothing when the layout is in place)."""
    from daemon.register import RegisterError

    email = register.service_account_email or "the service account"
    name = f"{email} may edit the sheet"
    try:
        editable = register.service_account_can_edit()
    except RegisterError as exc:
        return warned(name, f"Google Drive did not say ({exc})",
                      f"make sure the sheet is shared with {email} as Editor")
    if not editable:
        return failed(name, "the sheet is shared with it read-only",
                      f"share the sheet with {email} as Editor")
    return passed(name)


# --- departments and people --------------------------------------------------------------------

def check_people(config: Config) -> list[CheckResult]:
    """Departments and addresses fit: categories have departments; we are nobody's colleague."""
    results: list[CheckResult] = []
    keys = {d.key for d in config.departments}
    orphans = sorted({c.department for c in config.categories} - keys)
    name = "every category has its department"
    if orphans:
        results.append(failed(name, f"unknown departments: {', '.join(orphans)}",
                              "add them under departments: or correct categories[].department"))
    else:
        results.append(passed(name, f"{len(config.categories)} categories, {len(keys)} departments"))

    ours = {a.lower() for a in (config.smtp.from_address, config.mailbox.username or "") if a}
    clashes = []
    for department in config.departments:
        for address in (department.head, *department.members):
            if address.lower() in ours:
                clashes.append(f"{address} in {department.key}")
    for address in (*config.service_center, *config.leadership):
        if address.lower() in ours:
            clashes.append(f"{address} in service_center/leadership")
    name = "the complaints mailbox is not a department member"
    if clashes:
        results.append(failed(name, "; ".join(clashes),
                              "list people's own addresses there: mail to the complaints mailbox "
                              "comes back in as a new complaint"))
    else:
        results.append(passed(name))

    name = "smtp.from_address is the complaints mailbox"
    if (config.mailbox.backend == "imap" and config.mailbox.username
            and config.smtp.from_address.lower() != config.mailbox.username.lower()):
        results.append(warned(
            name, f"mail goes out from {config.smtp.from_address} but is read from "
                  f"{config.mailbox.username}",
            "replies go to smtp.from_address: make sure it delivers into the mailbox ParkDesk reads"))
    else:
        results.append(passed(name))
    return results


def check_token_storage(config: Config) -> list[CheckResult]:
    """A Microsoft refresh token read from an environment variable: Microsoft renews it at each
    use, but a variable cannot be rewritten, so after a restart ParkDesk starts again from the
    first one, which stops working 90 days after it was issued. A file is rewritten."""
    results = []
    for section in ("mailbox", "smtp"):
        cfg = getattr(config, section)
        oauth2 = getattr(cfg, "oauth2", None)
        if (getattr(cfg, "auth", "password") != "oauth2" or oauth2 is None
                or oauth2.provider != "microsoft_refresh_token" or not oauth2.refresh_token_env):
            continue
        results.append(warned(
            f"{section}.oauth2 keeps Microsoft's renewed refresh token",
            f"it is read from the environment variable {oauth2.refresh_token_env}, which "
            f"ParkDesk cannot rewrite: the renewed token lasts only until the next restart, and "
            f"the one in the variable stops working 90 days after it was issued",
            f"put the token in a file and set {section}.oauth2.refresh_token_file instead of "
            f"refresh_token_env: ParkDesk rewrites the file with each token Microsoft sends"))
    return results


# --- all ---------------------------------------------------------------------------------------

def run_checks(config_path: str | Path, *, send_test: str | None = None,
               templates_root: Path | None = None,
               timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Every check, in order; an invalid config stops after its own line."""
    config, result = check_config_file(config_path)
    if config is None:
        return [result]
    return [
        result,
        *check_templates(config.park.language, templates_root),
        *check_digest_template(config, templates_root),
        *check_people(config),
        *check_token_storage(config),
        *check_mailbox(config, timeout=timeout),
        *check_smtp(config, send_test=send_test, timeout=timeout),
        *check_register(config),
    ]


def format_result(result: CheckResult) -> str:
    mark = "[FAIL]" if not result.ok else "[WARN]" if result.warn else "[ OK ]"
    line = f"{mark} {result.name}" + (f": {result.detail}" if result.detail else "")
    if result.fix:
        line += f"\n       → fix: {result.fix}"
    return line


def format_checklist(results: list[CheckResult]) -> str:
    failures = sum(not r.ok for r in results)
    lines = [format_result(r) for r in results]
    lines.append("All checks passed." if not failures else
                 f"{failures} of {len(results)} checks failed.")
    return "\n".join(lines) + "\n"
