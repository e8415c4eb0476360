"""What can go wrong with the register, in words an operator can act on.

Every message names the account, the config key or the spreadsheet, and says what to do.

    RegisterError              anything the register could not do (bad key file, refused request ...)
    ├── RegisterAccessError    the service account may not open the spreadsheet, or it does not exist
    └── RegisterUnavailable    Google did not answer in time; the next cycle will try again
"""

from __future__ import annotations


class RegisterError(Exception):
    """The register could not do what was asked. ``status`` is the HTTP status, if there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class RegisterAccessError(RegisterError):
    """The spreadsheet cannot be opened with this service account: not shared, not found, bad key."""


class RegisterUnavailable(RegisterError):
    """Google did not answer after the allowed tries; nothing is wrong with the setup."""
