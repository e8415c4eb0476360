"""Config: the whole of config.yaml, section by section, checked across sections on validation;
and the look-ups of a department, category or priority by key."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterable

from pydantic import EmailStr, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from daemon.config.checks import find_consistency_problems
from daemon.config.departments import Category, Department, Priority
from daemon.config.errors import CONSISTENCY_PROBLEMS
from daemon.config.fields import ConfigPath, Section
from daemon.config.health import HealthConfig
from daemon.config.mail import MailboxConfig, SmtpConfig
from daemon.config.park import ParkConfig
from daemon.config.procedure import (
    AftercareConfig,
    CommandsConfig,
    DispatchConfig,
    IntakeConfig,
)
from daemon.config.register import RegisterConfig
from daemon.config.review import ReviewConfig

# ``register`` is also the name of ABCMeta.register, a class method pydantic models inherit;
# the field only shadows it on instances, which is what we want. Silence pydantic's warning.
warnings.filterwarnings("ignore", message='Field name "register" in "Config" shadows')


class Config(Section):
    """Everything ParkDesk reads from config.yaml."""

    park: ParkConfig = Field(description="the park section: name, timezone, language")
    state_dir: ConfigPath = Field(Path("state"), validate_default=True,
                                  description="the folder where ParkDesk keeps its own state")
    mailbox: MailboxConfig = Field(description="the mailbox section: where complaints arrive")
    smtp: SmtpConfig = Field(description="the smtp section: how emails are sent")
    # Field() is needed here: without it pydantic would take ABCMeta.register as the default.
    register: RegisterConfig = Field(description="the register section: the shared sheet")
    service_center: tuple[EmailStr, ...] = Field(
        min_length=1, description="the service center's email addresses")
    leadership: tuple[EmailStr, ...] = Field(
        min_length=1, description="the leaders' email addresses")
    departments: tuple[Department, ...] = Field(
        min_length=1, description="a list of departments, each with key, name, head, members")
    categories: tuple[Category, ...] = Field(
        min_length=1, description="a list of categories, each with key, name, department, keywords")
    priorities: tuple[Priority, ...] = Field(
        min_length=1, description="a list of priorities, each with key, name, keywords, "
                                  "ack_minutes, resolve_hours, serious")
    intake: IntakeConfig = Field(
        description="the intake section: default_category and default_priority")
    dispatch: DispatchConfig = Field(DispatchConfig(),
                                     description="the dispatch section: escalation ladders")
    aftercare: AftercareConfig = Field(
        AftercareConfig(), description="the aftercare section: return visit, review, archive")
    commands: CommandsConfig = Field(CommandsConfig(),
                                     description="the commands section: words of email replies")
    review: ReviewConfig = Field(ReviewConfig(),
                                 description="the review section: the periodic digest email")
    health: HealthConfig = Field(
        HealthConfig(), description="the health section: when ParkDesk alerts about itself")
    _config_dir: Path = PrivateAttr(default_factory=Path.cwd)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("config_dir") is not None:
            self._config_dir = Path(context["config_dir"])
        for section in ("mailbox", "smtp"):
            oauth2 = getattr(getattr(self, section), "oauth2", None)
            if oauth2 is not None:
                oauth2.keep_renewed_tokens_in(
                    Path(self.state_dir) / f"{section}-oauth2-refresh-token.json")

    @model_validator(mode="after")
    def _check_consistency(self) -> Config:
        problems = find_consistency_problems(self.model_dump())
        if problems:
            raise PydanticCustomError(CONSISTENCY_PROBLEMS, "{problems}", {"problems": problems})
        return self

    @property
    def config_dir(self) -> Path:
        """The folder of the config file; relative paths in it were taken from here."""
        return self._config_dir

    def department(self, key: str) -> Department:
        return _find_by_key(self.departments, key, "department")

    def category(self, key: str) -> Category:
        return _find_by_key(self.categories, key, "category")

    def priority(self, key: str) -> Priority:
        return _find_by_key(self.priorities, key, "priority")


def _find_by_key(items: Iterable[Any], key: str, kind: str) -> Any:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(f"no {kind} with key {key!r} in the config")
