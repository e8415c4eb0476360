"""Defaults the checks share: the network timeout of the mailbox and SMTP checks."""

DEFAULT_TIMEOUT_SECONDS = 15.0
