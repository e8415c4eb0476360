"""Logging in to the IMAP server: by password or by OAuth2 (XOAUTH2), and why a login failed.

:class:`ImapLogin` is the ``login`` step of :meth:`~daemon.mailbox.imap.ImapMailbox.open`. A
password goes as LOGIN (or SASL PLAIN when not ASCII); ``mailbox.auth = oauth2`` presents an
access token from :mod:`daemon.oauth`, renewed once if refused. A refusal becomes a
:class:`MailboxAuthError` saying what to fix; RFC 5530 "not now" codes become
:class:`MailboxUnavailable`, so the login is tried again later.
"""

from __future__ import annotations

import imaplib
import logging
from typing import Any

from imapclient.exceptions import LoginError

from daemon.mail_refusals import login_refusal_fix
from daemon.mailbox import MailboxAuthError, MailboxError, MailboxUnavailable
from daemon.mailbox.imap_connection import TEMPORARY_CODES, ImapConnection, server_text
from daemon.tls import describe_password_source

log = logging.getLogger("parkdesk.mailbox")


class ImapLogin(ImapConnection):
    """The login step of :class:`~daemon.mailbox.imap.ImapMailbox` (a mixin; ImapMailbox sets
    the attributes below), on top of :class:`ImapConnection`."""

    _capabilities: frozenset[bytes]
    _tokens: Any  # daemon.oauth.TokenSource, made at the first XOAUTH2 login

    def _login(self) -> None:
        if getattr(self._cfg, "auth", "password") == "oauth2":
            self._login_with_token()
            return
        client = self._require_client()
        username = self._cfg.username
        password = self._cfg.password()
        with self._io("log in"):
            if b"LOGINDISABLED" in client.capabilities():
                raise MailboxError(
                    f"The mail server {self.host} refuses passwords on an unencrypted "
                    f"connection: set mailbox.security to starttls or ssl."
                )
            try:
                if f"{username}{password}".isascii():
                    client.login(username, password)
                else:  # LOGIN is ASCII-only; SASL PLAIN carries UTF-8 (RFC 4616)
                    client.plain_login(username, password)
            except LoginError as exc:
                if isinstance(exc.__context__, imaplib.IMAP4.abort):
                    raise exc.__context__ from None  # the connection broke; not a refusal
                raise self._login_failure(server_text(exc)) from None
            self._capabilities = frozenset(client.capabilities())

    def _login_with_token(self) -> None:
        """XOAUTH2 login with an access token; a refused token is renewed once and retried
        (it may have expired or been revoked before the time it was issued for)."""
        # Imported here: daemon.oauth imports this package.
        from daemon.oauth import TokenRefreshError, TokenServiceUnavailable, token_source_for

        username = self._cfg.username
        try:
            if self._tokens is None:
                self._tokens = token_source_for(self._cfg, "mailbox")
            self._present_token(self._tokens)
        except TokenServiceUnavailable as exc:
            raise MailboxUnavailable(f"Cannot log in to {self.host} as {username}: {exc}; "
                                     f"it will be tried again.") from None
        except TokenRefreshError:
            self._tokens = None  # the next login reads the mailbox.oauth2 secrets again
            raise

    def _present_token(self, tokens: Any) -> None:
        client = self._require_client()
        username = self._cfg.username
        token = tokens.access_token()
        with self._io("log in"):
            if b"AUTH=XOAUTH2" not in client.capabilities():
                raise MailboxError(
                    f"The mail server {self.host} does not offer OAuth2 logins (XOAUTH2): set "
                    f"mailbox.auth to password, or check mailbox.host and mailbox.security."
                )
            for attempt in (1, 2):
                try:
                    client.oauth2_login(username, token)
                    break
                except LoginError as exc:
                    if isinstance(exc.__context__, imaplib.IMAP4.abort):
                        raise exc.__context__ from None  # the connection broke; not a refusal
                    text = server_text(exc)
                    if attempt == 2 or any(code in text for code in TEMPORARY_CODES):
                        raise self._token_login_failure(text) from None
                log.info("%s refused the access token for %s (%s); getting a new one",
                         self.host, username, text)
                token = tokens.refresh()
            self._capabilities = frozenset(client.capabilities())

    def _cannot_check_now(self, text: str) -> MailboxUnavailable | None:
        """A refusal that says "try later" (``[UNAVAILABLE]`` ...): an outage, not a refusal."""
        if not any(code in text for code in TEMPORARY_CODES):
            return None
        return MailboxUnavailable(
            f"The mail server {self.host} cannot check the login for {self._cfg.username} "
            f"right now ({text}); it will be tried again."
        )

    def _token_login_failure(self, text: str) -> MailboxError:
        username = self._cfg.username
        if temporary := self._cannot_check_now(text):
            return temporary
        return MailboxAuthError(
            f"The mail server {self.host} refused a new access token for {username} ({text}) "
            f"from {self._tokens.description}: check that mailbox.username is the mailbox the "
            f"token is for, that IMAP and OAuth2 (XOAUTH2) logins are allowed for it, and the "
            f"mailbox.oauth2 section."
        )

    def _login_failure(self, text: str) -> MailboxError:
        username = self._cfg.username
        if temporary := self._cannot_check_now(text):
            return temporary
        if "[PRIVACYREQUIRED]" in text:
            return MailboxError(
                f"The mail server {self.host} refuses passwords on an unencrypted connection "
                f"({text}): set mailbox.security to starttls or ssl."
            )
        where = describe_password_source(self._cfg, "mailbox")
        fix = login_refusal_fix(text, self.host, "mailbox",
                                f"check mailbox.username and {where}")
        return MailboxAuthError(f"The mail server refused the login for {username} ({text}): {fix}.")
