"""Google-shaped error bodies for the Sheets API emulator.

Sheets v4 answers errors in the google.rpc envelope
(``{"error": {"code", "message", "status"[, "details"]}}``); Drive v3 answers them in
its classic envelope (``{"error": {"code", "message", "errors": [{"domain",
"reason", "message", ...}]}}``). Handlers raise :class:`ApiError`; the server turns
it into the right body for the API the request went to.
"""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# What Google says when it fails by itself (used by fail_next).
DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "The request timed out. Please try again.",
    409: "The operation was aborted.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    501: "Operation is not implemented, or supported, or enabled.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}

DRIVE_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    429: "rateLimitExceeded",
    500: "internalError",
    501: "notImplemented",
    502: "backendError",
    503: "backendError",
    504: "backendError",
}

MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access "
    "token, login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
CELL_TOO_LONG = "Your input contains more than the maximum of 50000 characters in a single cell."


class ApiError(Exception):
    """An error answer; ``body_for(api)`` renders it as Sheets or Drive would."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        *,
        reason: str | None = None,
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message if message is not None else DEFAULT_MESSAGES.get(code, "Error")
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details
        self.reason = reason or DRIVE_REASONS.get(code, "error")
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}
        super().__init__(f"{code} {self.status}: {self.message}")

    def sheets_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def drive_body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "domain": "global", "reason": self.reason}
        if self.location:
            item["location"] = self.location
            item["locationType"] = self.location_type or "parameter"
        return {"error": {"code": self.code, "message": self.message, "errors": [item]}}

    def body_for(self, api: str) -> dict[str, Any]:
        return self.drive_body() if api == "drive" else self.sheets_body()


def invalid_argument(message: str, field_violations: list[str] | None = None) -> ApiError:
    """400 INVALID_ARGUMENT, optionally with a google.rpc.BadRequest detail."""
    details = None
    if field_violations:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"description": text} for text in field_violations],
            }
        ]
    return ApiError(400, message, details=details)


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.")


def permission_denied() -> ApiError:
    return ApiError(403, "The caller does not have permission")


def not_implemented(feature: str) -> ApiError:
    """501 for a Google feature this emulator does not implement (never a fake success)."""
    return ApiError(
        501,
        f"Not implemented by the ParkDesk Sheets emulator: {feature}. "
        "Real Google supports it; the emulator refuses it rather than pretend.",
    )


def unauthenticated(message: str, reason: str, service: str, method: str | None) -> ApiError:
    metadata = {"service": service}
    if method:
        metadata["method"] = method
    return ApiError(
        401,
        message,
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": metadata,
            }
        ],
        reason="authError",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def insufficient_scopes(service: str, method: str | None) -> ApiError:
    metadata = {"service": service}
    if method:
        metadata["method"] = method
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": metadata,
            }
        ],
        reason="insufficientPermissions",
    )


def drive_file_not_found(file_id: str) -> ApiError:
    return ApiError(
        404,
        f"File not found: {file_id}.",
        reason="notFound",
        location="fileId",
        location_type="parameter",
    )


def drive_insufficient_permissions() -> ApiError:
    return ApiError(
        403,
        "The user does not have sufficient permissions for this file.",
        reason="insufficientFilePermissions",
    )


def drive_invalid(message: str, reason: str = "invalid", location: str | None = None) -> ApiError:
    return ApiError(400, message, reason=reason, location=location, location_type="parameter")


def injected_failure(code: int) -> ApiError:
    """The error Google answers when it fails on its own (fail_next)."""
    return ApiError(code, DEFAULT_MESSAGES.get(code, "Error"))
