"""Sending mail: the outcome of each message, and the one error that needs the operator.

This package is the only place that talks SMTP (see :mod:`daemon.mailer.smtp`). A batch of
messages gives one :class:`SendResult` per message; only a configuration or login problem
raises :class:`MailerError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


# The adapter imports the types above, so it comes last.
from daemon.mailer.smtp import SmtpMailer  # noqa: E402

__all__ = ["MailerError", "SendResult", "SmtpMailer"]
