"""Check the outgoing mail: the outbox folder, or the SMTP server step by step (reach, TLS with
a valid certificate, login), then the test message if asked."""

from __future__ import annotations

from daemon.check.defaults import DEFAULT_TIMEOUT_SECONDS
from daemon.check.delivery import send_test_message
from daemon.check.results import CheckResult, failed, passed
from daemon.check.smtp_fixes import (
    describe_smtp_failure,
    smtp_login_fix,
    smtp_reach_fix,
    smtp_tls_fix,
)
from daemon.config import Config, ConfigError


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
