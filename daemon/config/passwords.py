"""PasswordSource: the base of the sections that log in to a server (mailbox, smtp). The password
is named in config.yaml (an environment variable or a file), read only when it is used, and
masked in the logs from then on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import Field, PrivateAttr, model_validator

from daemon.config.errors import DEFAULT_CONFIG_NAME, ConfigError
from daemon.config.fields import ConfigPath, EnvVarName, Section
from daemon.config.oauth2 import OAuth2Config
from daemon.logs import register_secret

# Keys under which people write a password itself into config.yaml (refused with a hint).
PASSWORD_KEYS = ("password", "passwd", "pass")


class PasswordSource(Section):
    """A section that logs in with a password kept outside config.yaml."""

    section: ClassVar[str]
    server_backend: ClassVar[str]        # the backend that talks to a server
    default_ports: ClassVar[dict[str, int]]  # security -> port
    secret_label: ClassVar[str]
    example_env: ClassVar[str]
    example_file: ClassVar[str]

    password_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the password")
    password_file: ConfigPath | None = Field(
        None, description="a file holding only the password (relative to config.yaml's folder)")
    auth: Literal["password", "oauth2"] = Field(
        "password", description="password, or oauth2 (XOAUTH2 with an access token)")
    oauth2: OAuth2Config | None = Field(
        None, description="the oauth2 section: provider and its keys (when auth is oauth2)")
    _source: str = PrivateAttr(DEFAULT_CONFIG_NAME)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("source_name"):
            self._source = context["source_name"]
        if self.oauth2 is not None:
            self.oauth2._where = f"{self.section}.oauth2"

    @model_validator(mode="before")
    @classmethod
    def _fill_default_port(cls, data: Any) -> Any:
        """No port written: take the usual one for the security setting."""
        if (isinstance(data, dict) and data.get("port") is None
                and data.get("backend", cls.server_backend) == cls.server_backend
                and isinstance(data.get("security"), str) and data["security"] in cls.default_ports):
            data = {**data, "port": cls.default_ports[data["security"]]}
        return data

    def password(self) -> str:
        """Read the password now, from the environment variable or the file; never logged."""
        if self.password_env:
            return self._password_from_env(self.password_env)
        if self.password_file:
            return self._password_from_file(self.password_file)
        self._fail(f"{self.section}: no password_env or password_file is set, "
                   f"so there is no {self.secret_label} password to use")

    def _password_from_env(self, name: str) -> str:
        where = f"{self.section}.password_env: environment variable {name}"
        value = os.environ.get(name)
        if value is None:
            self._fail(f"{where} is not set; set it to the {self.secret_label} password "
                       f"before starting ParkDesk")
        if not value:
            self._fail(f"{where} is empty; set it to the {self.secret_label} password")
        register_secret(value)  # masked in every log line from now on
        return value

    def _password_from_file(self, path: Path) -> str:
        where = f"{self.section}.password_file: {path}"
        try:
            value = path.read_text(encoding="utf-8-sig").rstrip("\r\n")
        except FileNotFoundError:
            self._fail(f"{where} does not exist; create it with the {self.secret_label} "
                       f"password as its only line")
        except UnicodeDecodeError:
            self._fail(f"{where} is not UTF-8 text; save it as UTF-8")
        except OSError as exc:
            self._fail(f"{where} cannot be read ({exc.strerror})")
        if not value:
            self._fail(f"{where} is empty; write the {self.secret_label} password in it")
        register_secret(value)  # masked in every log line from now on
        return value

    def _fail(self, problem: str) -> NoReturn:
        raise ConfigError([problem], self._source)
