"""The oauth2 section of mailbox and smtp: which provider gives the XOAUTH2 access token, what
each provider needs, and reading its client secret or refresh token at the moment of use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import EmailStr, Field, PrivateAttr

from daemon.config.errors import DEFAULT_CONFIG_NAME, ConfigError
from daemon.config.fields import ConfigPath, EnvVarName, HttpUrl, Section, Text
from daemon.logs import register_secret

OAUTH2_PROVIDERS = ("google_service_account", "google_refresh_token",
                    "microsoft_client_credentials", "microsoft_refresh_token")
# What each provider needs besides ``provider``; a secret is "client_secret" or "refresh_token"
# and may be given as ``<secret>_env`` or ``<secret>_file``.
OAUTH2_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "google_service_account": ("key_file",),
    "google_refresh_token": ("client_id", "client_secret", "refresh_token"),
    "microsoft_client_credentials": ("tenant", "client_id", "client_secret"),
    "microsoft_refresh_token": ("tenant", "client_id", "refresh_token"),
}
OAUTH2_OPTIONAL: dict[str, tuple[str, ...]] = {
    "google_service_account": ("subject", "token_url", "scope"),
    "google_refresh_token": ("token_url", "scope"),
    "microsoft_client_credentials": ("authority", "scope"),
    "microsoft_refresh_token": ("client_secret", "authority", "scope"),
}
OAUTH2_SECRETS = ("client_secret", "refresh_token")


class OAuth2Config(Section):
    """How an XOAUTH2 login gets its access token (``auth: oauth2`` in mailbox or smtp)."""

    provider: Literal["google_service_account", "google_refresh_token",
                      "microsoft_client_credentials", "microsoft_refresh_token"] = Field(
        description="google_service_account, google_refresh_token, microsoft_client_credentials "
                    "or microsoft_refresh_token")
    key_file: ConfigPath | None = Field(
        None, description="the service-account key file (JSON) with domain-wide delegation")
    subject: EmailStr | None = Field(
        None, description="the mailbox the service account acts for (default: username)")
    tenant: Text | None = Field(
        None, description="the Microsoft 365 tenant id or domain, e.g. park.onmicrosoft.com")
    client_id: Text | None = Field(None, description="the OAuth client (application) id")
    client_secret_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the client secret")
    client_secret_file: ConfigPath | None = Field(
        None, description="a file holding only the client secret")
    refresh_token_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the refresh token")
    refresh_token_file: ConfigPath | None = Field(
        None, description="a file holding only the refresh token")
    token_url: HttpUrl | None = Field(
        None, description="Google's token address, only to replace "
                          "https://oauth2.googleapis.com/token")
    authority: HttpUrl | None = Field(
        None, description="Microsoft's sign-in address, only to replace "
                          "https://login.microsoftonline.com (national clouds)")
    scope: Text | None = Field(
        None, description="the access asked for (default: https://mail.google.com/ for Google, "
                          "https://outlook.office365.com/.default for Microsoft)")
    _where: str = PrivateAttr("oauth2")
    _source: str = PrivateAttr(DEFAULT_CONFIG_NAME)
    _renewed_token_store: Path | None = PrivateAttr(None)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("source_name"):
            self._source = context["source_name"]

    @property
    def renewed_token_store(self) -> Path | None:
        """Where a renewed refresh token read from a variable is kept (in state_dir); None for
        a section built on its own, outside a whole config."""
        return self._renewed_token_store

    def keep_renewed_tokens_in(self, path: Path) -> None:
        self._renewed_token_store = path

    def client_secret(self) -> str | None:
        """The client secret, read now from its variable or file; None if neither is set."""
        value = self._secret("client_secret", "client secret")
        register_secret(value)  # masked in every log line from now on
        return value

    def refresh_token(self) -> str | None:
        """The refresh token, read now from its variable or file; None if neither is set."""
        value = self._secret("refresh_token", "refresh token")
        register_secret(value)  # masked in every log line from now on
        return value

    def secret_source(self, secret: str) -> str:
        """Where a secret is kept, for messages: ``environment variable X`` or ``file F``."""
        env, file = getattr(self, f"{secret}_env"), getattr(self, f"{secret}_file")
        if env:
            return f"the environment variable {env}"
        if file:
            return f"the file {file}"
        return f"{self._where}.{secret}_env"

    def _secret(self, secret: str, label: str) -> str | None:
        env, file = getattr(self, f"{secret}_env"), getattr(self, f"{secret}_file")
        if env:
            where = f"{self._where}.{secret}_env: environment variable {env}"
            value = os.environ.get(env)
            if not value:
                state = "is not set" if value is None else "is empty"
                self._fail(f"{where} {state}; set it to the {label} before starting ParkDesk")
            return value
        if file:
            where = f"{self._where}.{secret}_file: {file}"
            try:
                value = Path(file).read_text(encoding="utf-8-sig").strip()
            except FileNotFoundError:
                self._fail(f"{where} does not exist; create it with the {label} as its only line")
            except UnicodeDecodeError:
                self._fail(f"{where} is not UTF-8 text; save it as UTF-8")
            except OSError as exc:
                self._fail(f"{where} cannot be read ({exc.strerror})")
            if not value:
                self._fail(f"{where} is empty; write the {label} in it")
            return value
        return None

    def _fail(self, problem: str) -> NoReturn:
        raise ConfigError([problem], self._source)
