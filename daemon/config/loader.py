"""Reading config.yaml: the bytes as UTF-8, the YAML with keys written twice detected, and the
data validated into a Config; every problem found is raised at once, in file order."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from daemon.config.checks import find_consistency_problems
from daemon.config.errors import CONSISTENCY_PROBLEMS, DEFAULT_CONFIG_NAME, ConfigError
from daemon.config.messages import describe_errors
from daemon.config.model import Config


class _DuplicateKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, remembering keys written twice in one section (YAML keeps the last)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first_line:
                self.duplicates.append(
                    f"line {line}: key '{key_node.value}' is written twice in the same section "
                    f"(first on line {first_line[key_node.value]}); keep only one")
            else:
                first_line[key_node.value] = line
        return super().construct_mapping(node, deep)


def read_yaml(text: str) -> tuple[Any, list[str]]:
    """Parse YAML text; return the data and the duplicate-key problems. Syntax errors -> problems."""
    loader = _DuplicateKeyLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable text"
        hint = ("use spaces to indent, not tabs" if "\\t" in problem
                else "check the indentation, the colons and the quotes near there")
        raise ConfigError([f"{where}the YAML cannot be read ({problem}); {hint}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"the YAML cannot be read ({exc})"]) from None
    finally:
        loader.dispose()


STARTER_HINT = ("run 'parkdesk init' to write a starter config there, or copy the example "
                "config.yaml that comes with ParkDesk and edit it")


def read_config_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; {STARTER_HINT}"], path.name) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"], path.name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line} is not UTF-8 text; save the file with "
                           f"the encoding UTF-8"], path.name) from None
    return text


def in_file_order(problems: Iterable[str]) -> list[str]:
    """Problems sorted by section, in the order sections are described in config.yaml."""
    sections = list(Config.model_fields)

    def rank(problem: str) -> tuple[int, int]:
        line = re.match(r"line (\d+)", problem)
        if line:
            return -1, int(line.group(1))
        head = re.match(r"[A-Za-z_]+", problem)
        section = head.group() if head else ""
        return (sections.index(section) if section in sections else len(sections)), 0

    return sorted(problems, key=rank)


def parse_config(data: Any, *, config_dir: str | os.PathLike | None = None,
                 source_name: str = DEFAULT_CONFIG_NAME, known_problems: Iterable[str] = ()) -> Config:
    """Validate parsed YAML (a dict) into a Config, or raise ConfigError listing every problem.

    Relative paths are taken from ``config_dir`` (default: the current folder);
    ``known_problems`` (found while reading the file) are reported with the rest.
    """
    problems = list(known_problems)
    if not isinstance(data, dict):
        found = {list: "a list", str: "a single line of text", type(None): "nothing"}.get(
            type(data), f"a single value ({type(data).__name__})")
        problems.append(f"the file must be made of sections such as 'park:' and 'mailbox:' "
                        f"(key: value lines); found {found}")
        raise ConfigError(problems, source_name)
    context = {"config_dir": Path(config_dir) if config_dir is not None else Path.cwd(),
               "source_name": source_name}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        problems += describe_errors(errors)
        if not any(error["type"] == CONSISTENCY_PROBLEMS for error in errors):
            problems += find_consistency_problems(data)
        raise ConfigError(in_file_order(dict.fromkeys(problems)), source_name) from None
    if problems:
        raise ConfigError(in_file_order(problems), source_name)
    return config


def load_config(path: str | os.PathLike = DEFAULT_CONFIG_NAME) -> Config:
    """Read and check the config file; raise ConfigError with every problem found."""
    path = Path(path).expanduser().absolute()
    text = read_config_text(path)
    try:
        data, duplicates = read_yaml(text)
    except ConfigError as exc:
        raise ConfigError(exc.problems, path.name) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; {STARTER_HINT}"], path.name)
    return parse_config(data, config_dir=path.parent, source_name=path.name,
                        known_problems=duplicates)
