"""Pydantic's validation errors in plain words for park staff: the key path
(``departments[2].head``), what is wrong and what is expected, with a guess for a mistyped key."""

from __future__ import annotations

import difflib
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from daemon.config.checks import SECTION_MODELS
from daemon.config.errors import CONSISTENCY_PROBLEMS, VALUE_PROBLEM, _quote
from daemon.config.model import Config
from daemon.config.oauth2 import OAUTH2_SECRETS
from daemon.config.passwords import PASSWORD_KEYS

TYPE_PHRASES = {
    "string_type": "must be text (put it in quotes if it looks like a number)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "tuple_type": "must be a list (one '- item' per line)",
    "list_type": "must be a list (one '- item' per line)",
    "model_type": "must be a section of 'key: value' lines",
    "model_attributes_type": "must be a section of 'key: value' lines",
    "dict_type": "must be a section of 'key: value' lines",
    "path_type": "must be a file or folder path",
}


def format_key_path(loc: tuple) -> str:
    """``('departments', 2, 'head')`` -> ``departments[2].head``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def _model_of(annotation: Any) -> Any:
    """The settings class inside ``X | None``, ``tuple[X, ...]`` or ``Annotated[X, ...]``."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        elif origin in (tuple, list, Annotated):
            annotation = get_args(annotation)[0]
        else:
            return annotation


def _target_at(loc: tuple) -> tuple[Any, Any]:
    """What sits at ``loc`` (its type; a settings class for a section) and its field, or Nones."""
    target: Any = Config
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(target, type) and issubclass(target, BaseModel)):
            return None, None
        field = target.model_fields.get(part)
        if field is None:
            return None, None
        target = _model_of(field.annotation)
    return target, field


def _allowed_keys(loc: tuple) -> list[str]:
    target, _ = _target_at(loc)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def describe_unknown_key(loc: tuple) -> str:
    path, key = format_key_path(loc), str(loc[-1])
    parent = tuple(part for part in loc[:-1] if not isinstance(part, int))
    if key.casefold() in PASSWORD_KEYS and parent and parent[-1] in ("mailbox", "smtp"):
        model = SECTION_MODELS[parent[-1]]
        return (f"{path}: passwords must not be written in config.yaml; put it in an environment "
                f"variable and write password_env: {model.example_env}, or in a file and write "
                f"password_file: {model.example_file} (a path relative to config.yaml's folder)")
    if parent and parent[-1] == "oauth2" and key in (*OAUTH2_SECRETS, "access_token"):
        secret = "refresh_token" if key == "access_token" else key
        return (f"{path}: secrets must not be written in config.yaml; put it in an environment "
                f"variable and write {secret}_env: PARKDESK_{secret.upper()}, or in a file and "
                f"write {secret}_file: {secret.replace('_', '-')}.txt")
    allowed = _allowed_keys(loc[:-1])
    guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if guess:
        return f"{path}: unknown key (did you mean '{guess[0]}'?)"
    if allowed:
        return f"{path}: unknown key; the keys allowed here are {', '.join(allowed)}"
    return f"{path}: unknown key"


def describe_error(error: dict) -> str:
    """One pydantic error as one line for park staff: key path, what is wrong, what is expected."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    path = format_key_path(loc)
    if kind == "extra_forbidden":
        return describe_unknown_key(loc)
    if kind == VALUE_PROBLEM:
        return f"{path}: {ctx['problem']}"
    if kind == "value_error" and "reason" in ctx and "email" in error.get("msg", ""):
        reason = str(ctx["reason"]).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        return f"{path}: {_quote(error['input'])} is not an email address ({reason})"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{path}: must be one of {', '.join(options)}"
    _, field = _target_at(loc)
    expected = f"; expected {field.description}" if field is not None and field.description else ""
    if kind == "missing":
        return f"{path}: is missing{expected}"
    if error.get("input", "") is None and kind in TYPE_PHRASES:
        return f"{path}: has no value{expected}"
    if kind in TYPE_PHRASES:
        return f"{path}: {TYPE_PHRASES[kind]}"
    if kind == "string_too_short":
        return f"{path}: must not be empty{expected}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return f"{path}: needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}{expected}"
    bounds = {"greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}
    if kind in bounds:
        words, name = bounds[kind]
        return f"{path}: must be {words} {ctx.get(name)}{expected}"
    return f"{path}: {error.get('msg', 'is not valid')}{expected}"


def describe_errors(errors: list[dict]) -> list[str]:
    problems: list[str] = []
    for error in errors:
        if error["type"] == CONSISTENCY_PROBLEMS:
            problems += error["ctx"]["problems"]
        else:
            problems.append(describe_error(error))
    return problems
