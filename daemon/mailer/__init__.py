"""Sending mail: the outcome of each message, and the one error that needs the operator.

This package is the only place that talks SMTP (see :mod:`daemon.mailer.smtp`) or writes
``.eml`` files (:mod:`daemon.mailer.outbox`); ``open_mailer`` picks one by ``smtp.backend``.
A batch of messages gives one :class:`SendResult` per message; only a configuration or login
problem raises :class:`MailerError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SendResult:
    """What happened to one message.

    ``ok``: the server accepted it for at least one recipient. ``permanent``: a 5xx refusal,
    sending it again will not help. A temporary failure (4xx, timeout, lost connection) may
    still have been delivered when the server's answer was lost: the caller's journal, not
    this result, is what prevents a second copy from being a surprise.
    ``refused`` lists recipients the server refused although others accepted the message:
    ``{"a@b.example": (550, "No such user")}``.
    """

    message_id: str | None
    ok: bool
    permanent: bool = False
    error: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class MailerError(Exception):
    """The SMTP settings or login are wrong; the message says which key to fix."""


# The adapters import the types above, so they come last.
from daemon.mailer.outbox import OutboxMailer  # noqa: E402
from daemon.mailer.smtp import SmtpMailer  # noqa: E402


def open_mailer(
    smtp_cfg: Any, *, now: Callable[[], datetime] | None = None
) -> SmtpMailer | OutboxMailer:
    """The mailer named by ``smtp.backend``: ``smtp`` (a server) or ``outbox`` (.eml files).

    ``now`` (the park's clock) dates the outbox's file names; the machine's local time if None.
    """
    backend = str(getattr(smtp_cfg, "backend", "smtp") or "smtp")
    if backend == "smtp":
        return SmtpMailer(smtp_cfg)
    if backend == "outbox":
        return OutboxMailer(smtp_cfg, now=now)
    raise MailerError(f"smtp.backend is {backend!r}: use smtp (a mail server) or outbox "
                      f"(.eml files in a folder).")


__all__ = ["MailerError", "OutboxMailer", "SendResult", "SmtpMailer", "open_mailer"]
