"""The emulator's admin endpoints (``/_emulator/...``): no auth, loopback clients only.

POST /_emulator/keys           {"key_id", "email", "public_key", "project_id"[, "client_id"]}
POST /_emulator/spreadsheets   {"owner", "title"}            -> {"spreadsheetId"}
POST /_emulator/share          {"spreadsheetId", "email", "role"}
POST /_emulator/fail-next      {"count", "status"}
POST /_emulator/latency        {"seconds"}
POST /_emulator/quota          {"user_per_minute", "project_per_minute"}  (null = unlimited)
POST /_emulator/reset-quota
POST /_emulator/advance-clock  {"seconds"}
GET  /_emulator/counts         -> {"sheets.spreadsheets.values.append": 3, ..., "reads", "writes"}
POST /_emulator/reset-counts
POST /_emulator/reset          (forget spreadsheets and tokens; keys stay)
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import SheetsEmulator


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def handle_admin(emu: "SheetsEmulator", method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) for an admin call."""
    try:
        data = json.loads(body) if body.strip() else {}
    except json.JSONDecodeError:
        return 400, {"error": "body must be JSON"}
    action = path.removeprefix("/_emulator/").strip("/")
    try:
        if method == "GET" and action == "counts":
            return 200, emu.request_counts()
        if method != "POST":
            return 405, {"error": f"use POST for /_emulator/{action}"}
        if action == "keys":
            emu.register_key(
                data["key_id"],
                data["email"],
                data["public_key"],
                data["project_id"],
                data.get("client_id", ""),
            )
            return 200, {"registered": data["key_id"]}
        if action == "spreadsheets":
            return 200, {
                "spreadsheetId": emu.create_spreadsheet(
                    data["owner"], data.get("title", "Untitled spreadsheet")
                )
            }
        if action == "share":
            emu.share(data["spreadsheetId"], data["email"], data.get("role", "writer"))
            return 200, {}
        if action == "fail-next":
            emu.fail_next(int(data.get("count", 1)), int(data.get("status", 500)))
            return 200, {}
        if action == "latency":
            emu.set_latency(float(data["seconds"]))
            return 200, {}
        if action == "quota":
            emu.set_quota(data.get("user_per_minute"), data.get("project_per_minute"))
            return 200, {}
        if action == "reset-quota":
            emu.reset_quota()
            return 200, {}
        if action == "advance-clock":
            emu.advance_clock(float(data["seconds"]))
            return 200, {}
        if action == "reset-counts":
            emu.reset_counts()
            return 200, {}
        if action == "reset":
            emu.reset()
            return 200, {}
    except (KeyError, TypeError, ValueError) as error:
        return 400, {"error": f"bad admin request: {error}"}
    return 404, {"error": f"unknown admin endpoint /_emulator/{action}"}
