"""HTTP: routes Google's URLs to handlers, in the order Google checks a request.

For each API request: injected failure -> latency -> bearer token (401) -> OAuth scope
(403) -> per-minute quota (429, Sheets only) -> JSON body and discovery validation
(400) -> spreadsheet and sharing (404/403) -> handler -> ``fields`` mask -> save.
Sheets errors use the google.rpc envelope, Drive errors Drive's own.
"""

from __future__ import annotations

import importlib
import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable

from . import batch_update, drive, spreadsheets, values
from .admin import handle_admin, is_loopback
from .auth import TokenError, exchange_grant, lookup_token, project_number, scope_allows
from .call import Call
from .errors import (
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    ApiError,
    injected_failure,
    insufficient_scopes,
    invalid_argument,
    not_found,
    not_implemented,
    permission_denied,
    unauthenticated,
)
from .field_mask import MaskError, filter_value, parse_mask

if TYPE_CHECKING:
    from .emulator import SheetsEmulator

MAX_BODY = 10 * 1024 * 1024
_ID = r"(?P<spreadsheetId>[^/:]+)"
_FILE = r"(?P<fileId>[^/]+)"


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    http_method: str
    pattern: re.Pattern[str]
    method_id: str
    api: str  # "sheets" | "drive"
    kind: str  # "read" | "write"
    handler: Callable[[Call], Any] | None  # None: not implemented (501)
    role: str | None = None  # Sheets: role needed on {spreadsheetId}


def _route(
    method: str, path: str, method_id: str, api: str, kind: str, handler: Any, role: str | None = None
) -> Route:
    return Route(method, re.compile("^" + path + "$"), method_id, api, kind, handler, role)


V4 = "/v4/spreadsheets"
D3 = "/drive/v3/files"
ROUTES = [
    _route("POST", V4, "sheets.spreadsheets.create", "sheets", "write", spreadsheets.create),
    _route("GET", f"{V4}/{_ID}", "sheets.spreadsheets.get", "sheets", "read", spreadsheets.get, "reader"),
    _route(
        "POST",
        f"{V4}/{_ID}:batchUpdate",
        "sheets.spreadsheets.batchUpdate",
        "sheets",
        "write",
        batch_update.batch_update,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}:getByDataFilter",
        "sheets.spreadsheets.getByDataFilter",
        "sheets",
        "read",
        None,
        "reader",
    ),
    _route(
        "GET",
        f"{V4}/{_ID}/values:batchGet",
        "sheets.spreadsheets.values.batchGet",
        "sheets",
        "read",
        values.batch_get,
        "reader",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values:batchUpdate",
        "sheets.spreadsheets.values.batchUpdate",
        "sheets",
        "write",
        values.batch_update,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values:batchClear",
        "sheets.spreadsheets.values.batchClear",
        "sheets",
        "write",
        values.batch_clear,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values:batchGetByDataFilter",
        "sheets.spreadsheets.values.batchGetByDataFilter",
        "sheets",
        "read",
        None,
        "reader",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values:batchUpdateByDataFilter",
        "sheets.spreadsheets.values.batchUpdateByDataFilter",
        "sheets",
        "write",
        None,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values:batchClearByDataFilter",
        "sheets.spreadsheets.values.batchClearByDataFilter",
        "sheets",
        "write",
        None,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values/(?P<range>.+):append",
        "sheets.spreadsheets.values.append",
        "sheets",
        "write",
        values.append,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/values/(?P<range>.+):clear",
        "sheets.spreadsheets.values.clear",
        "sheets",
        "write",
        values.clear,
        "writer",
    ),
    _route(
        "GET",
        f"{V4}/{_ID}/values/(?P<range>.+)",
        "sheets.spreadsheets.values.get",
        "sheets",
        "read",
        values.get,
        "reader",
    ),
    _route(
        "PUT",
        f"{V4}/{_ID}/values/(?P<range>.+)",
        "sheets.spreadsheets.values.update",
        "sheets",
        "write",
        values.update,
        "writer",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/sheets/(?P<sheetId>[0-9]+):copyTo",
        "sheets.spreadsheets.sheets.copyTo",
        "sheets",
        "write",
        spreadsheets.copy_to,
        "reader",
    ),
    _route(
        "GET",
        f"{V4}/{_ID}/developerMetadata/(?P<metadataId>[^/]+)",
        "sheets.spreadsheets.developerMetadata.get",
        "sheets",
        "read",
        None,
        "reader",
    ),
    _route(
        "POST",
        f"{V4}/{_ID}/developerMetadata:search",
        "sheets.spreadsheets.developerMetadata.search",
        "sheets",
        "read",
        None,
        "reader",
    ),
    _route("POST", D3, "drive.files.create", "drive", "write", drive.create_file),
    _route("GET", D3, "drive.files.list", "drive", "read", drive.list_files),
    _route("GET", f"{D3}/{_FILE}", "drive.files.get", "drive", "read", drive.get_file),
    _route("PATCH", f"{D3}/{_FILE}", "drive.files.update", "drive", "write", drive.update_file),
    _route("DELETE", f"{D3}/{_FILE}", "drive.files.delete", "drive", "write", drive.delete_file),
    _route("POST", f"{D3}/{_FILE}/copy", "drive.files.copy", "drive", "write", drive.copy_file),
    _route("GET", f"{D3}/{_FILE}/export", "drive.files.export", "drive", "read", drive.export_file),
    _route(
        "POST",
        f"{D3}/{_FILE}/permissions",
        "drive.permissions.create",
        "drive",
        "write",
        drive.create_permission,
    ),
    _route(
        "GET", f"{D3}/{_FILE}/permissions", "drive.permissions.list", "drive", "read", drive.list_permissions
    ),
    _route(
        "GET",
        f"{D3}/{_FILE}/permissions/(?P<permissionId>[^/]+)",
        "drive.permissions.get",
        "drive",
        "read",
        drive.get_permission,
    ),
    _route(
        "DELETE",
        f"{D3}/{_FILE}/permissions/(?P<permissionId>[^/]+)",
        "drive.permissions.delete",
        "drive",
        "write",
        drive.delete_permission,
    ),
    _route(
        "PATCH",
        f"{D3}/{_FILE}/permissions/(?P<permissionId>[^/]+)",
        "drive.permissions.update",
        "drive",
        "write",
        None,
    ),
    _route("GET", f"{D3}/{_FILE}/comments", "drive.comments.list", "drive", "read", drive.list_comments),
    _route("POST", f"{D3}/{_FILE}/comments", "drive.comments.create", "drive", "write", None),
    _route(
        "PUT", f"/upload/drive/v2/files/{_FILE}", "drive.files.update", "drive", "write", drive.import_csv
    ),
    _route("POST", "/upload/drive/v3/files", "drive.files.create", "drive", "write", None),
    _route("GET", "/drive/v3/about", "drive.about.get", "drive", "read", None),
]
SHEETS_BODY_METHODS = {
    "sheets.spreadsheets.create",
    "sheets.spreadsheets.batchUpdate",
    "sheets.spreadsheets.values.update",
    "sheets.spreadsheets.values.append",
    "sheets.spreadsheets.values.batchUpdate",
    "sheets.spreadsheets.values.batchClear",
    "sheets.spreadsheets.sheets.copyTo",
}
GRPC_METHODS = {
    "sheets.spreadsheets.get": "GetSpreadsheet",
    "sheets.spreadsheets.create": "CreateSpreadsheet",
    "sheets.spreadsheets.batchUpdate": "BatchUpdateSpreadsheet",
    "sheets.spreadsheets.values.get": "GetValues",
    "sheets.spreadsheets.values.batchGet": "BatchGetValues",
    "sheets.spreadsheets.values.update": "UpdateValues",
    "sheets.spreadsheets.values.batchUpdate": "BatchUpdateValues",
    "sheets.spreadsheets.values.append": "AppendValues",
    "sheets.spreadsheets.values.clear": "ClearValues",
    "sheets.spreadsheets.values.batchClear": "BatchClearValues",
}


def match_route(method: str, raw_path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        m = route.pattern.match(raw_path)
        if m and route.http_method == method:
            return route, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
    return None, {}


def _discovery() -> Any:
    name = f"{__package__}.discovery"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None  # no validator: requests are not schema-checked
        raise


def discovery_problems(method_id: str, body: Any) -> list[str]:
    """Body problems from the discovery-document validator (discovery.py), in Google's words."""
    module = _discovery()
    return [] if module is None else list(module.validate_request(method_id, body))


def query_problems(method_id: str, query: dict[str, list[str]]) -> list[str]:
    module = _discovery()
    if module is None or not hasattr(module, "validate_query"):
        return []
    return list(module.validate_query(method_id, query))


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    return Response(status, body, headers=headers or {})


def error_response(error: ApiError, api: str) -> Response:
    return json_response(error.code, error.body_for(api), error.headers)


def handle_token(emu: "SheetsEmulator", body: bytes) -> Response:
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    try:
        answer = exchange_grant(emu.store, form, emu.base_url + "/token")
    except TokenError as error:
        emu.counts.add("oauth2.token", None)
        return json_response(error.status, error.body())
    emu.counts.add("oauth2.token", None)
    return json_response(200, answer)


def _authenticate(
    emu: "SheetsEmulator", route: Route, headers: dict[str, str], query: dict[str, list[str]]
) -> dict[str, Any]:
    authorization = headers.get("authorization")
    if not authorization and query.get("access_token"):
        authorization = "Bearer " + query["access_token"][-1]
    with emu.store.lock:
        info, problem = lookup_token(emu.store, authorization)
    service = "sheets.googleapis.com" if route.api == "sheets" else "drive.googleapis.com"
    grpc = GRPC_METHODS.get(route.method_id)
    method = f"google.apps.sheets.v4.SpreadsheetsService.{grpc}" if grpc else None
    if info is None:
        if problem == "missing":
            raise unauthenticated(MISSING_CREDENTIALS, "CREDENTIALS_MISSING", service, method)
        reason = "ACCESS_TOKEN_EXPIRED" if problem == "expired" else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
        raise unauthenticated(INVALID_CREDENTIALS, reason, service, method)
    if not scope_allows(info["scopes"], route.api, route.kind):
        raise insufficient_scopes(service, method)
    return info


def _parse_body(route: Route, raw: bytes, content_type: str) -> Any:
    if route.method_id == "drive.files.update" and route.pattern.pattern.startswith("^/upload"):
        return None
    if not raw.strip():
        return None
    if "json" not in content_type and route.api == "drive" and not raw.lstrip().startswith((b"{", b"[")):
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid_argument("Invalid JSON payload received. Unexpected token.") from None


def _run(emu: "SheetsEmulator", route: Route, call: Call) -> Response:
    if route.handler is None:
        raise not_implemented(f"method {route.method_id}")
    if route.api == "sheets":
        problems = query_problems(route.method_id, call.query)
        if problems:
            raise invalid_argument("\n".join(problems), problems)
    if route.api == "sheets" and route.method_id in SHEETS_BODY_METHODS:
        if not isinstance(call.body, (dict, type(None))):
            raise invalid_argument("Invalid JSON payload received. Expected an object.")
        problems = discovery_problems(route.method_id, call.body)
        if problems:
            raise invalid_argument("\n".join(problems), problems)
    fields = call.param("fields")
    mask = None
    if fields:
        try:
            mask = parse_mask(fields)
        except MaskError:
            raise ApiError(
                400, f"Invalid field selection {fields}", reason="invalidParameter", location="fields"
            ) from None
    with emu.store.lock:
        if route.role is not None:
            book = emu.store.spreadsheet(call.path_args["spreadsheetId"])
            if book is None:
                raise not_found()
            if not book.can(call.user, route.role):
                raise permission_denied()
            call.book = book
        result = route.handler(call)
        if route.kind == "write":
            if call.book is not None and call.book.id in emu.store.spreadsheets:
                call.book.touch()
            emu.store.save()
    if result is None:
        return Response(204, b"", content_type="text/html")
    if isinstance(result, tuple):
        return Response(200, result[0], content_type=result[1])
    if mask is not None:
        result = filter_value(result, mask)
    return json_response(200, result)


def dispatch(
    emu: "SheetsEmulator",
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    client: str,
) -> Response:
    """Answer one HTTP request (headers lower-cased)."""
    split = urllib.parse.urlsplit(target)
    raw_path = split.path
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    if raw_path.startswith("/_emulator/"):
        if not is_loopback(client):
            return json_response(403, {"error": "admin endpoints answer loopback clients only"})
        status, payload = handle_admin(emu, method, raw_path, body)
        return json_response(status, payload)
    if raw_path == "/token" and method == "POST":
        return handle_token(emu, body)
    route, path_args = match_route(method, raw_path)
    if route is None:
        error = ApiError(404, f"The requested URL {raw_path} was not found on this server.")
        return error_response(error, "drive" if "/drive/" in raw_path else "sheets")
    emu.counts.add(route.method_id, route.kind if route.api == "sheets" else None)
    try:
        injected = emu.faults.take()
        if injected is not None:
            raise injected_failure(injected)
        if emu.latency > 0:
            time.sleep(emu.latency)
        if len(body) > MAX_BODY:
            raise invalid_argument(f"Request payload size exceeds the limit: {MAX_BODY} bytes.")
        info = _authenticate(emu, route, headers, query)
        if route.api == "sheets":
            emu.quota.charge(
                info["email"], info["project_id"], project_number(info["project_id"]), route.kind
            )
        call = Call(
            method_id=route.method_id,
            http_method=method,
            path_args=path_args,
            query=query,
            body=_parse_body(route, body, headers.get("content-type", "")),
            raw_body=body,
            user=info["email"],
            project=info["project_id"],
            store=emu.store,
            base_url=emu.base_url,
        )
        return _run(emu, route, call)
    except ApiError as error:
        return error_response(error, route.api)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK
    # stalls every answer by ~40 ms.
    disable_nagle_algorithm = True
    emulator: "SheetsEmulator"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = dispatch(self.emulator, self.command, self.path, headers, body, self.client_address[0])
        except Exception as error:  # noqa: BLE001 - an emulator bug must still answer
            self.emulator.last_internal_error = error
            response = json_response(500, ApiError(500, f"Emulator internal error: {error!r}").sheets_body())
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.emulator.verbose:
            super().log_message(format, *args)


class EmulatorServer(ThreadingHTTPServer):
    """A threaded server that can drop its open keep-alive connections when it stops,
    so no client keeps talking to a stopped emulator's state."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_server(emu: "SheetsEmulator", host: str, port: int) -> EmulatorServer:
    handler = type("EmulatorHandler", (_Handler,), {"emulator": emu})
    return EmulatorServer((host, port), handler)
