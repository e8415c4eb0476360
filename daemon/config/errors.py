"""ConfigError, the one exception for an unusable config, and the helpers that word refusals.

Every problem is one plain-language line for park staff; validators raise ``_refuse(...)`` so
that their text reaches the message unchanged.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic_core import PydanticCustomError

DEFAULT_CONFIG_NAME = "config.yaml"

# Pydantic error types raised by the config's own validators.
VALUE_PROBLEM = "config_value"
CONSISTENCY_PROBLEMS = "config_consistency"


class ConfigError(Exception):
    """The config cannot be used. ``problems`` holds one plain-language line per problem."""

    def __init__(self, problems: Iterable[str], source: str = DEFAULT_CONFIG_NAME):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"{self.source} has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


def _refuse(problem: str) -> PydanticCustomError:
    """A validation error whose text is already written for park staff."""
    return PydanticCustomError(VALUE_PROBLEM, "{problem}", {"problem": problem})


def _quote(value: Any, limit: int = 60) -> str:
    text = str(value)
    return f"'{text if len(text) <= limit else text[:limit] + '...'}'"
