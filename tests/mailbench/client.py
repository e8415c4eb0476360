"""Client-side helpers for tests: talk to the bench's servers as a mail program would.

    with connect_imap("127.0.0.1", 14300, "starttls", ca_file) as imap:   # imapclient.IMAPClient
        imap.login(user, password)
        fetch_messages(imap, "INBOX")          # -> [b"raw RFC 5322 message", ...]
    send_smtp("127.0.0.1", 12500, "a@x.test", ["b@park.test"], message)

``security`` is one of ``"starttls"`` (plain port, upgrade with STARTTLS), ``"ssl"`` (implicit
TLS port) or ``"none"`` (plain text). TLS always verifies the bench CA and the host name.
"""

from __future__ import annotations

import email.generator
import email.message
import io
import re
import smtplib
from typing import Iterable, Union

from imapclient import IMAPClient

from tests.mailbench.tls import make_client_context

SECURITY_MODES = ("starttls", "ssl", "none")

Message = Union[bytes, str, email.message.Message]
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def message_to_bytes(message: Message) -> bytes:
    """RFC 5322 bytes with CRLF line ends from bytes, str or an ``email`` message object."""
    if isinstance(message, bytes):
        data = message
    elif isinstance(message, str):
        data = message.encode("utf-8")
    else:
        buffer = io.BytesIO()
        policy = message.policy.clone(linesep="\r\n")
        email.generator.BytesGenerator(buffer, policy=policy).flatten(message)
        return buffer.getvalue()
    return re.sub(rb"\r?\n", b"\r\n", data)


def connect_imap(
    host: str, port: int, security: str, ca_file: str | None = None, timeout: float = 10.0
) -> IMAPClient:
    """An unauthenticated ``IMAPClient``; TLS (if asked) is already on."""
    _check_security(security)
    context = make_client_context(ca_file) if ca_file and security != "none" else None
    if security == "ssl":
        return IMAPClient(host, port, ssl=True, ssl_context=context, timeout=timeout)
    client = IMAPClient(host, port, ssl=False, timeout=timeout)
    if security == "starttls":
        client.starttls(context)
    return client


def fetch_messages(client: IMAPClient, folder: str = "INBOX") -> list[bytes]:
    """Every message of ``folder`` in UID order, read with ``BODY.PEEK[]`` (\\Seen untouched)."""
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))
    if not uids:
        return []
    fetched = client.fetch(uids, ["BODY.PEEK[]"])
    return [fetched[uid][b"BODY[]"] for uid in uids if uid in fetched]


def append_message(
    client: IMAPClient, folder: str, message: Message, flags: Iterable[bytes | str] = ()
) -> int | None:
    """APPEND to ``folder`` (created if missing); the new UID from APPENDUID (RFC 4315)."""
    if not client.folder_exists(folder):
        client.create_folder(folder)
    response = client.append(folder, message_to_bytes(message), flags=tuple(flags))
    match = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
    return int(match.group(1)) if match else None


def send_smtp(
    host: str,
    port: int,
    from_addr: str,
    to_addrs: str | Iterable[str],
    message: Message,
    *,
    security: str = "none",
    ca_file: str | None = None,
    login: tuple[str, str] | None = None,
    timeout: float = 10.0,
) -> dict[str, tuple[int, bytes]]:
    """One SMTP transaction; returns smtplib's dict of refused recipients (empty when all ok).

    Raises smtplib's exceptions (``SMTPRecipientsRefused``, ``SMTPSenderRefused``,
    ``SMTPDataError`` carrying ``smtp_code``) as a real client would see them.
    """
    _check_security(security)
    recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
    context = make_client_context(ca_file) if ca_file else None
    if security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, local_hostname="client.test", timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(host, port, local_hostname="client.test", timeout=timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=context)
        if login:
            smtp.login(*login)
        return smtp.sendmail(from_addr, recipients, message_to_bytes(message))


def _check_security(security: str) -> None:
    if security not in SECURITY_MODES:
        raise ValueError(f"security must be one of {SECURITY_MODES}, not {security!r}")
