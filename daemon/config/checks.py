"""Checks across keys that no single field shows: what each backend requires (host, password,
oauth2 keys), keys written twice in a list, and keys that refer to keys that do not exist.

These read plain data (the parsed YAML, or a valid Config dumped to a dict) and tolerate any
shape: where a part is malformed, the type error is pydantic's to report, and it is skipped here.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from daemon.config.errors import _quote
from daemon.config.fields import Section
from daemon.config.mail import MailboxConfig, SmtpConfig
from daemon.config.oauth2 import (
    OAUTH2_OPTIONAL,
    OAUTH2_REQUIREMENTS,
    OAUTH2_SECRETS,
    OAuth2Config,
)
from daemon.config.passwords import PASSWORD_KEYS, PasswordSource
from daemon.config.register import RegisterConfig

BACKEND_REQUIREMENTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "mailbox": ("imap", {"imap": ("host", "security", "username"), "maildir": ("path",)}),
    "smtp": ("smtp", {"smtp": ("host", "security"), "outbox": ("path",)}),
    "register": ("google", {"google": ("spreadsheet_id", "credentials_file"), "workbook": ("path",)}),
}
SECTION_MODELS: dict[str, type[Section]] = {
    "mailbox": MailboxConfig, "smtp": SmtpConfig, "register": RegisterConfig}


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _entries(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _given(section: dict, key: str) -> bool:
    return section.get(key) is not None


def find_consistency_problems(data: dict) -> list[str]:
    """Problems no single key shows: backend requirements, duplicates, dangling references."""
    return [*find_backend_problems(data), *find_reference_problems(data)]


def find_backend_problems(data: dict) -> list[str]:
    problems = []
    for name, (default, required_by_backend) in BACKEND_REQUIREMENTS.items():
        section = data.get(name)
        if not isinstance(section, dict):
            continue
        backend = section.get("backend", default)
        # A list or mapping here is reported by the field itself; it names no backend to check.
        if not isinstance(backend, str) or backend not in required_by_backend:
            continue
        for key in required_by_backend[backend]:
            if not _given(section, key):
                expected = SECTION_MODELS[name].model_fields[key].description
                what = f"; expected {expected}" if expected else ""
                problems.append(f"{name}.{key}: required when {name}.backend is {backend}{what}")
        problems += _password_problems(name, backend, section)
        problems += _oauth2_problems(name, backend, section)
    return problems


def _oauth2_problems(name: str, backend: str, section: dict) -> list[str]:
    """With ``auth: oauth2``: a login, an oauth2 section, and the keys its provider needs."""
    model = SECTION_MODELS[name]
    if (not issubclass(model, PasswordSource) or backend != model.server_backend
            or section.get("auth") != "oauth2"):
        return []
    problems = []
    if not _given(section, "username"):
        problems.append(f"{name}.username: required when {name}.auth is oauth2; write the "
                        f"mailbox address the access token is for")
    oauth2 = section.get("oauth2")
    if not isinstance(oauth2, dict):
        if oauth2 is None:
            problems.append(f"{name}.oauth2: required when {name}.auth is oauth2; write an "
                            f"oauth2 section with provider: and its keys (see the example "
                            f"config.yaml)")
        return problems
    provider = oauth2.get("provider")
    if provider not in OAUTH2_REQUIREMENTS:
        return problems  # a missing or unknown provider is reported on its own
    for key in OAUTH2_REQUIREMENTS[provider]:
        if key in OAUTH2_SECRETS:
            problems += _oauth2_secret_problems(name, provider, oauth2, key, required=True)
        elif not _given(oauth2, key):
            expected = OAuth2Config.model_fields[key].description
            problems.append(f"{name}.oauth2.{key}: required when provider is {provider}; "
                            f"expected {expected}")
    for key in OAUTH2_SECRETS:
        if key in OAUTH2_OPTIONAL[provider]:
            problems += _oauth2_secret_problems(name, provider, oauth2, key, required=False)
    used = {*OAUTH2_REQUIREMENTS[provider], *OAUTH2_OPTIONAL[provider], "provider"}
    for key in oauth2:
        stem = re.sub(r"_(env|file)$", "", str(key))
        stem = stem if stem in OAUTH2_SECRETS else str(key)
        if key in OAuth2Config.model_fields and stem not in used and _given(oauth2, key):
            problems.append(f"{name}.oauth2.{key}: not used by provider {provider}; remove it "
                            f"(or check provider)")
    return problems


def _oauth2_secret_problems(name: str, provider: str, oauth2: dict, secret: str,
                            required: bool) -> list[str]:
    sources = [f"{secret}_{kind}" for kind in ("env", "file") if _given(oauth2, f"{secret}_{kind}")]
    if len(sources) == 2:
        return [f"{name}.oauth2: both {secret}_env and {secret}_file are set; keep only one"]
    if required and not sources:
        label = secret.replace("_", " ")
        return [f"{name}.oauth2.{secret}_env: required when provider is {provider}; write "
                f"{secret}_env: PARKDESK_{name.upper()}_{secret.upper()} and set that "
                f"environment variable to the {label}, or write {secret}_file: "
                f"{name}-{secret.replace('_', '-')}.txt (never the {label} itself)"]
    return []


def _password_problems(name: str, backend: str, section: dict) -> list[str]:
    model = SECTION_MODELS[name]
    if not issubclass(model, PasswordSource) or backend != model.server_backend:
        return []
    if section.get("auth") == "oauth2":
        return []  # the login uses an access token; see _oauth2_problems
    if any(str(key).casefold() in PASSWORD_KEYS for key in section):
        return []  # a password written in the file gets its own message
    sources = [key for key in ("password_env", "password_file") if _given(section, key)]
    if len(sources) == 2:
        return [f"{name}: both password_env and password_file are set; keep only one"]
    needs_login = backend == "imap" or _given(section, "username")
    if needs_login and not sources:
        return [f"{name}.password_env: required when {name}.backend is {backend}; write "
                f"password_env: {model.example_env} and set that environment variable to the "
                f"password, or write password_file: {model.example_file}"]
    if sources and not needs_login:
        return [f"{name}.{sources[0]}: a password is set but {name}.username is not; "
                f"add username, or remove {sources[0]} to send without logging in"]
    return []


def find_reference_problems(data: dict) -> list[str]:
    problems = []
    department_keys = _unique_keys(data, "departments", problems)
    category_keys = _unique_keys(data, "categories", problems)
    priority_keys = _unique_keys(data, "priorities", problems)
    if isinstance(data.get("departments"), (list, tuple)):
        for index, category in enumerate(_entries(data.get("categories"))):
            department = _mapping(category).get("department")
            if isinstance(department, str):
                problems += _dangling(f"categories[{index}].department", department,
                                      department_keys, "department")
    intake = _mapping(data.get("intake"))
    for key, section, keys, kind in (("default_category", "categories", category_keys, "category"),
                                     ("default_priority", "priorities", priority_keys, "priority")):
        if isinstance(intake.get(key), str) and isinstance(data.get(section), (list, tuple)):
            problems += _dangling(f"intake.{key}", intake[key], keys, kind)
    return problems


def _unique_keys(data: dict, name: str, problems: list[str]) -> list[str]:
    first_index: dict[str, int] = {}
    for index, entry in enumerate(_entries(data.get(name))):
        key = _mapping(entry).get("key")
        if not isinstance(key, str):
            continue
        if key in first_index:
            problems.append(f"{name}[{index}].key: '{key}' is already the key of "
                            f"{name}[{first_index[key]}]; each key must be different")
        else:
            first_index[key] = index
    return list(first_index)


def _dangling(path: str, value: str, keys: list[str], kind: str) -> list[str]:
    if not keys or value.strip() in keys:
        return []  # no keys at all is reported on its own
    guess = difflib.get_close_matches(value, keys, n=1, cutoff=0.6)
    if guess:
        return [f"{path}: {_quote(value)} is not a {kind} key (did you mean '{guess[0]}'?)"]
    return [f"{path}: {_quote(value)} is not a {kind} key; the {kind} keys are {', '.join(keys)}"]
