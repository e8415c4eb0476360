"""The mailbox section (where complaints arrive) and the smtp section (how mail leaves)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import EmailStr, Field

from daemon.config.fields import ConfigPath, Port, Security, Text
from daemon.config.passwords import PasswordSource

IMAP_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class MailboxConfig(PasswordSource):
    """Where complaints arrive: an IMAP mailbox, or a local Maildir folder (no account)."""

    section: ClassVar[str] = "mailbox"
    server_backend: ClassVar[str] = "imap"
    default_ports: ClassVar[dict[str, int]] = IMAP_PORTS
    secret_label: ClassVar[str] = "mailbox (IMAP)"
    example_env: ClassVar[str] = "PARKDESK_IMAP_PASSWORD"
    example_file: ClassVar[str] = "imap-password.txt"

    backend: Literal["imap", "maildir"] = "imap"
    host: Text | None = Field(None, description="the IMAP server, e.g. imap.exmail.qq.com")
    port: Port | None = Field(None, description="the IMAP port (993 for ssl, 143 otherwise)")
    security: Security | None = Field(None, description="ssl, starttls or none")
    username: Text | None = Field(None, description="the mailbox login, usually its address")
    ca_file: ConfigPath | None = Field(None, description="a CA certificate file (PEM)")
    folder: Text = "INBOX"
    processed_folder: Text = "Processed"
    quarantine_folder: Text = "Quarantine"
    idle: bool = True
    poll_seconds: int = Field(60, ge=1, description="seconds between checks when IDLE is off")
    batch_size: int = Field(50, ge=1, description="messages fetched at a time (memory stays small)")
    path: ConfigPath | None = Field(None, description="the Maildir folder, e.g. ./mail/inbox")


class SmtpConfig(PasswordSource):
    """How mail leaves: an SMTP server, or a local outbox folder of .eml files (no account)."""

    section: ClassVar[str] = "smtp"
    server_backend: ClassVar[str] = "smtp"
    default_ports: ClassVar[dict[str, int]] = SMTP_PORTS
    secret_label: ClassVar[str] = "SMTP"
    example_env: ClassVar[str] = "PARKDESK_SMTP_PASSWORD"
    example_file: ClassVar[str] = "smtp-password.txt"

    backend: Literal["smtp", "outbox"] = "smtp"
    host: Text | None = Field(None, description="the SMTP server, e.g. smtp.exmail.qq.com")
    port: Port | None = Field(None, description="the SMTP port (465 ssl, 587 starttls, 25 none)")
    security: Security | None = Field(None, description="ssl, starttls or none")
    username: Text | None = Field(None, description="the login; leave out to send without one")
    ca_file: ConfigPath | None = Field(None, description="a CA certificate file (PEM)")
    from_address: EmailStr = Field(
        description="the address replies go to, e.g. complaints@park.example.com")
    from_name: Text | None = Field(None, description="the sender name people see")
    timeout_seconds: float = Field(30, gt=0, description="seconds to wait for the server")
    path: ConfigPath | None = Field(None, description="the outbox folder, e.g. ./mail/outbox")
