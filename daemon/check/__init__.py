"""`parkdesk check`: try everything ParkDesk needs, and say for each failure what to fix.

Each check is a small function returning ``CheckResult``s: the config file, the templates
(rendered with sample data; a variable the daemon never passes is a typo), the mailbox (IMAP:
reach, TLS, login, ID, IDLE, folders; or the Maildir), the SMTP server (reach, TLS, login,
optionally a test message), the register (opened, layout in place, read back), and whether departments and
people fit together. ``run_checks`` runs them all; ``format_checklist`` prints them.

The checks live in one module each (``config_file``, ``templates``, ``people``,
``mailbox``/``imap``, ``smtp``/``smtp_fixes``/``delivery``, ``register``);
``results`` holds ``CheckResult`` and the printed checklist. Every name is re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from daemon.check.config_file import check_config_file
from daemon.check.defaults import DEFAULT_TIMEOUT_SECONDS
from daemon.check.delivery import send_test_message
from daemon.check.imap import (
    NETEASE_DOMAINS,
    check_idle,
    check_imap,
    check_imap_id,
    imap_fix,
    is_netease,
)
from daemon.check.mailbox import check_mailbox, check_maildir
from daemon.check.people import check_people
from daemon.check.register import QUOTA_FIX, check_register, check_sheet_editable
from daemon.check.results import (
    CheckResult,
    failed,
    format_checklist,
    format_result,
    passed,
    warned,
)
from daemon.check.smtp import (
    SMTP_SECURITY_WORDS,
    SmtpStepFailed,
    check_smtp,
    check_smtp_login,
    check_smtp_server,
    smtp_port,
    smtp_reach,
    smtp_tls,
)
from daemon.check.smtp_fixes import (
    describe_smtp_failure,
    smtp_login_fix,
    smtp_reach_fix,
    smtp_tls_fix,
)
from daemon.check.templates import (
    SAMPLE_VALUES,
    TEMPLATE_VARIABLES,
    check_digest_template,
    check_templates,
    find_unknown_variables,
    template_names,
)

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "NETEASE_DOMAINS",
    "QUOTA_FIX",
    "SAMPLE_VALUES",
    "SMTP_SECURITY_WORDS",
    "TEMPLATE_VARIABLES",
    "CheckResult",
    "SmtpStepFailed",
    "check_config_file",
    "check_digest_template",
    "check_idle",
    "check_imap",
    "check_imap_id",
    "check_mailbox",
    "check_maildir",
    "check_people",
    "check_register",
    "check_sheet_editable",
    "check_smtp",
    "check_smtp_login",
    "check_smtp_server",
    "check_templates",
    "describe_smtp_failure",
    "failed",
    "find_unknown_variables",
    "format_checklist",
    "format_result",
    "imap_fix",
    "is_netease",
    "passed",
    "run_checks",
    "send_test_message",
    "smtp_login_fix",
    "smtp_port",
    "smtp_reach",
    "smtp_reach_fix",
    "smtp_tls",
    "smtp_tls_fix",
    "template_names",
    "warned",
]


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
        *check_mailbox(config, timeout=timeout),
        *check_smtp(config, send_test=send_test, timeout=timeout),
        *check_register(config),
    ]
