"""Check the register: it opens, its layout is in place, it reads back; for a Google Sheet, that
the service account may edit it."""

from __future__ import annotations

from daemon.check.results import CheckResult, failed, passed, warned
from daemon.config import Config, ConfigError

QUOTA_FIX = ("Google's per-minute request quota for this service account is used up: wait a "
             "minute and run check again; if it keeps happening, something else (another "
             "program, a second ParkDesk) uses the same key: give ParkDesk a service account of "
             "its own, or ask for a higher quota in the Google Cloud console (IAM & Admin → "
             "Quotas, \"Google Sheets API\")")


def check_register(config: Config) -> list[CheckResult]:
    """Open the register, put its layout in place (writes only what is missing), read it."""
    from daemon.register import (
        RegisterAccessError,
        RegisterError,
        RegisterUnavailable,
        open_register,
    )

    cfg = config.register
    if cfg.backend == "workbook":
        name = f"workbook {cfg.path} opens and is writable"
        fix = "check register.path, that the folder is writable and the file not locked"
    else:
        name = f"Google Sheet {cfg.spreadsheet_id} reachable and writable"
        fix = "do what the message above says (it names the key or file to change)"
    register = None
    try:
        register = open_register(cfg, max_attempts=2, max_wait_seconds=5)
        register.ensure_layout()
        rows = register.read_register()
    except RegisterAccessError as exc:
        email = getattr(register, "service_account_email", "") or "the service account"
        return [failed(name, str(exc),
                       f"share the sheet with {email} as Editor, or correct "
                       f"register.spreadsheet_id / register.credentials_file")]
    except RegisterUnavailable as exc:
        if "quota" in str(exc) or "429" in str(exc):
            return [failed(name, str(exc), QUOTA_FIX)]
        return [failed(name, str(exc), "check register.api_endpoint (if set) and this "
                                       "machine's connection to Google; then try again")]
    except (RegisterError, ConfigError, OSError) as exc:
        return [failed(name, str(exc), fix)]
    layout = passed(name, f"{len(rows)} complaint rows; tabs and headers in place (any that "
                          f"were missing were written now)")
    if cfg.backend != "google":
        return [layout]
    return [layout, check_sheet_editable(register)]


def check_sheet_editable(register) -> CheckResult:
    """Ask Drive whether the service account may edit the sheet (a reader can pass the rest:
    ensure_layout writes nothing when the layout is in place)."""
    from daemon.register import RegisterError

    email = register.service_account_email or "the service account"
    name = f"{email} may edit the sheet"
    try:
        editable = register.service_account_can_edit()
    except RegisterError as exc:
        return warned(name, f"Google Drive did not say ({exc})",
                      f"make sure the sheet is shared with {email} as Editor")
    if not editable:
        return failed(name, "the sheet is shared with it read-only",
                      f"share the sheet with {email} as Editor")
    return passed(name)
