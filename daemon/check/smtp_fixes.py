"""What an SMTP failure means and what to change for it: unknown host, refused port, no answer,
TLS mismatch, refused login."""

from __future__ import annotations

from daemon.mail_refusals import login_refusal_fix


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
