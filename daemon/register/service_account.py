"""The service-account key: read from its JSON file into Google credentials, with a plain
``RegisterError`` naming ``register.credentials_file`` when the file is wrong."""

from __future__ import annotations

import json
from pathlib import Path

from google.oauth2.service_account import Credentials

from daemon.logs import register_secret
from daemon.register.errors import RegisterError

SCOPES = [
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
]


def load_service_account(path: Path | str) -> Credentials:
    """Credentials from a service-account JSON key; ``RegisterError`` saying what is wrong with it.

    Messages name ``register.credentials_file`` and never quote the key's content.
    """
    path = Path(path)
    where = f"The service-account key file in register.credentials_file ({path})"
    if not path.exists():
        raise RegisterError(
            f"{where} does not exist. Download a JSON key for the service account (Google Cloud "
            "console > IAM & Admin > Service accounts > Keys > Add key) and put its path in "
            "register.credentials_file."
        )
    if path.is_dir():
        raise RegisterError(f"{where} is a folder; it must be the JSON key file itself.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RegisterError(f"{where} is not a JSON key file (it is not text).") from None
    except OSError as error:
        raise RegisterError(
            f"{where} cannot be read ({error.strerror or type(error).__name__}); check that "
            "ParkDesk's user may read it."
        ) from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as error:
        raise RegisterError(
            f"{where} is not valid JSON (line {error.lineno}, column {error.colno}). Download the "
            "key again and choose JSON as the key type."
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        found = f" (its type is {kind!r})" if isinstance(kind, str) and len(kind) < 40 else ""
        raise RegisterError(
            f"{where} is not a service-account key{found}. ParkDesk needs the JSON key of a "
            "service account, not an OAuth client file."
        )
    missing = [name for name in ("client_email", "private_key", "token_uri") if not info.get(name)]
    if missing:
        raise RegisterError(f"{where} lacks the field(s) {', '.join(missing)}. Download a new key.")
    for secret in ("private_key", "private_key_id"):  # masked in every log line from now on
        register_secret(info.get(secret) if isinstance(info.get(secret), str) else None)
    try:
        return Credentials.from_service_account_info(info, scopes=SCOPES)
    except Exception:  # noqa: BLE001 - whatever the parser says may quote the key
        raise RegisterError(
            f"{where} has a private_key that cannot be read. Download a new key."
        ) from None
