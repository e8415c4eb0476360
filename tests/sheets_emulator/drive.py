"""The Drive v3 subset gspread uses, for spreadsheet files only.

files: create, list (``q``, ``orderBy``, paging), get, update (name, trashed, starred),
delete, copy, export (CSV/TSV of the first sheet); permissions: create, list, get,
delete; comments: list (no comments exist: creating one is not implemented); the v2
media upload gspread's ``import_csv`` uses. Drive hides files you cannot see (404
``File not found``); what you see but may not change is 403
``insufficientFilePermissions``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from typing import Any

from .call import Call
from .cell_values import input_value
from .errors import ApiError, drive_insufficient_permissions, drive_invalid, not_implemented
from .evaluation import BookEvaluator
from .store import ROLE_RANK, Spreadsheet, new_grid_sheet, new_spreadsheet, new_spreadsheet_id
from .values import grid_values

SHEET_MIME = "application/vnd.google-apps.spreadsheet"
DEFAULT_FILE_FIELDS = ("kind", "id", "name", "mimeType")
DEFAULT_PERMISSION_FIELDS = ("kind", "id", "type", "role")


# -- resources -------------------------------------------------------------------------
def permission_id(perm: dict[str, Any]) -> str:
    if perm["type"] == "anyone":
        return "anyoneWithLink" if not perm.get("allowFileDiscovery") else "anyone"
    key = perm.get("emailAddress") or perm.get("domain") or ""
    digest = hashlib.sha256(key.lower().encode()).hexdigest()
    return str(int(digest, 16) % 10**20).zfill(20)


def permission_out(perm: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "drive#permission", "id": permission_id(perm), "type": perm["type"]}
    if perm.get("emailAddress"):
        out["emailAddress"] = perm["emailAddress"]
        out["displayName"] = perm["emailAddress"].partition("@")[0]
    if perm.get("domain"):
        out["domain"] = perm["domain"]
    out["role"] = perm["role"]
    if perm["type"] in ("domain", "anyone"):
        out["allowFileDiscovery"] = bool(perm.get("allowFileDiscovery"))
    out["deleted"] = False
    out["pendingOwner"] = False
    return out


def _user(email: str, me: str) -> dict[str, Any]:
    perm = {"type": "user", "emailAddress": email}
    return {
        "kind": "drive#user",
        "displayName": email.partition("@")[0],
        "me": email.lower() == me.lower(),
        "permissionId": permission_id(perm),
        "emailAddress": email,
    }


def file_out(book: Spreadsheet, user: str) -> dict[str, Any]:
    role = book.role_of(user) or "reader"
    can_write = ROLE_RANK[role] >= ROLE_RANK["writer"]
    out: dict[str, Any] = {
        "kind": "drive#file",
        "id": book.id,
        "name": book.title,
        "mimeType": SHEET_MIME,
        "starred": bool(book.drive.get("starred")),
        "trashed": bool(book.drive.get("trashed")),
        "explicitlyTrashed": bool(book.drive.get("trashed")),
        "spaces": ["drive"],
        "webViewLink": f"https://docs.google.com/spreadsheets/d/{book.id}/edit?usp=drivesdk",
        "iconLink": "https://drive-thirdparty.googleusercontent.com/16/type/application/vnd.google-apps.spreadsheet",
        "createdTime": book.drive["createdTime"],
        "modifiedTime": book.drive["modifiedTime"],
        "owners": [_user(book.owner, user)],
        "shared": len(book.permissions) > 1,
        "ownedByMe": book.owner.lower() == user.lower(),
        "capabilities": {
            "canEdit": can_write,
            "canShare": can_write,
            "canCopy": True,
            "canComment": ROLE_RANK[role] >= ROLE_RANK["commenter"],
            "canRename": can_write,
            "canDelete": role == "owner",
            "canTrash": role == "owner",
            "canUntrash": role == "owner",
            "canDownload": True,
        },
        "exportLinks": {
            kind: f"https://docs.google.com/spreadsheets/export?id={book.id}&exportFormat={fmt}"
            for kind, fmt in (
                ("text/csv", "csv"),
                ("text/tab-separated-values", "tsv"),
                ("application/pdf", "pdf"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
            )
        },
    }
    if book.drive.get("parents"):
        out["parents"] = list(book.drive["parents"])
    if can_write:
        out["permissions"] = [permission_out(p) for p in book.permissions]
        out["permissionIds"] = [permission_id(p) for p in book.permissions]
    return out


def _default_fields(resource: dict[str, Any], call: Call, defaults: tuple[str, ...]) -> dict[str, Any]:
    """Without ``fields`` Drive answers a few default fields only."""
    if call.param("fields"):
        return resource
    return {k: resource[k] for k in defaults if k in resource}


# -- the q language ---------------------------------------------------------------------
_Q_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<op>!=|<=|>=|=|<|>|\(|\))|(?P<word>[A-Za-z_][\w.]*))"
)
_TEXT_FIELDS = {"name", "mimeType", "fullText"}
_TIME_FIELDS = {"modifiedTime", "createdTime", "viewedByMeTime"}
_LIST_FIELDS = {"parents", "owners", "writers", "readers"}


def _q_tokens(q: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = _Q_TOKEN.match(q, pos)
        if not m:
            raise drive_invalid("Invalid Value", location="q")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append((kind, text))
        pos = m.end()
    return tokens


class _Query:
    """Parses Drive's ``q`` into a predicate over (book, user)."""

    def __init__(self, q: str) -> None:
        self.tokens = _q_tokens(q)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise drive_invalid("Invalid Value", location="q")
        self.pos += 1
        return token

    def parse(self):  # noqa: ANN201 - returns a predicate
        pred = self.disjunction()
        if self.peek() is not None:
            raise drive_invalid("Invalid Value", location="q")
        return pred

    def disjunction(self):  # noqa: ANN201
        left = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda f: a(f) or b(f))(left, right)
        return left

    def conjunction(self):  # noqa: ANN201
        left = self.negation()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.negation()
            left = (lambda a, b: lambda f: a(f) and b(f))(left, right)
        return left

    def negation(self):  # noqa: ANN201
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.negation()
            return lambda f: not inner(f)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise drive_invalid("Invalid Value", location="q")
            return inner
        return self.comparison()

    def comparison(self):  # noqa: ANN201
        first = self.take()
        if first[0] == "str":
            if self.take() != ("word", "in"):
                raise drive_invalid("Invalid Value", location="q")
            field = self.take()[1]
            if field not in _LIST_FIELDS:
                raise drive_invalid("Invalid Value", location="q")
            value = first[1].lower()
            return lambda f: value in [v.lower() for v in f[field]]
        field = first[1]
        if field == "sharedWithMe":
            return lambda f: f["sharedWithMe"]
        op = self.take()
        value_token = self.take()
        if field in ("trashed", "starred"):
            if value_token[1] not in ("true", "false") or op[1] not in ("=", "!="):
                raise drive_invalid("Invalid Value", location="q")
            wanted = value_token[1] == "true"
            return lambda f: (f[field] == wanted) == (op[1] == "=")
        if value_token[0] != "str":
            raise drive_invalid("Invalid Value", location="q")
        value = value_token[1]
        if field in _TEXT_FIELDS:
            if op[1] == "=":
                return lambda f: f[field] == value
            if op[1] == "!=":
                return lambda f: f[field] != value
            if op == ("word", "contains"):
                return lambda f: value.lower() in f[field].lower()
            raise drive_invalid("Invalid Value", location="q")
        if field in _TIME_FIELDS and op[1] in ("=", "!=", "<", "<=", ">", ">="):
            cmp = {
                "=": "__eq__",
                "!=": "__ne__",
                "<": "__lt__",
                "<=": "__le__",
                ">": "__gt__",
                ">=": "__ge__",
            }[op[1]]
            return lambda f: getattr(f[field], cmp)(value)
        raise drive_invalid("Invalid Value", location="q")


def _facts(book: Spreadsheet, user: str) -> dict[str, Any]:
    def people(role: str) -> list[str]:
        return [
            p["emailAddress"]
            for p in book.permissions
            if p.get("emailAddress") and ROLE_RANK[p["role"]] >= ROLE_RANK[role]
        ]

    return {
        "name": book.title,
        "mimeType": SHEET_MIME,
        "fullText": book.title,
        "trashed": bool(book.drive.get("trashed")),
        "starred": bool(book.drive.get("starred")),
        "modifiedTime": book.drive["modifiedTime"],
        "createdTime": book.drive["createdTime"],
        "viewedByMeTime": book.drive["modifiedTime"],
        "parents": list(book.drive.get("parents") or ["root"]),
        "owners": [book.owner],
        "writers": people("writer"),
        "readers": people("reader"),
        "sharedWithMe": book.owner.lower() != user.lower(),
    }


def _listed_for(book: Spreadsheet, user: str) -> bool:
    """files.list shows owned files and those shared with the user or their domain."""
    domain = user.rpartition("@")[2].lower()
    for perm in book.permissions:
        if perm["type"] in ("user", "group") and perm.get("emailAddress", "").lower() == user.lower():
            return True
        if perm["type"] == "domain" and perm.get("domain", "").lower() == domain:
            return True
    return False


# -- files ------------------------------------------------------------------------------
def visible_book(call: Call, file_id: str) -> Spreadsheet:
    book = call.store.spreadsheet(file_id)
    if book is None or book.role_of(call.user) is None:
        raise ApiError(
            404,
            f"File not found: {file_id}.",
            reason="notFound",
            location="fileId",
            location_type="parameter",
        )
    return book


def create_file(call: Call) -> dict[str, Any]:
    body = call.body_dict()
    mime = body.get("mimeType")
    if mime != SHEET_MIME:
        raise not_implemented(
            f"Drive files.create of mimeType {mime!r} (only Google Sheets files are emulated)"
        )
    book = new_spreadsheet(body.get("name") or "Untitled spreadsheet", call.user)
    if body.get("parents"):
        book.drive["parents"] = list(body["parents"])
    call.store.add(book)
    call.book = book
    return _default_fields(file_out(book, call.user), call, DEFAULT_FILE_FIELDS)


def list_files(call: Call) -> dict[str, Any]:
    predicate = _Query(call.param("q") or "").parse() if (call.param("q") or "").strip() else (lambda f: True)
    page_size = call.integer("pageSize", 100)
    if not 1 <= page_size <= 1000:
        raise drive_invalid(
            f"Invalid value '{page_size}'. Values must be within the range: [1, 1000]",
            reason="invalidParameter",
            location="pageSize",
        )
    books = [b for b in call.store.spreadsheets.values() if _listed_for(b, call.user)]
    books = [b for b in books if predicate(_facts(b, call.user))]
    books.sort(key=lambda b: b.drive["modifiedTime"], reverse=True)
    for part in reversed([p.strip() for p in (call.param("orderBy") or "").split(",") if p.strip()]):
        key, _, direction = part.partition(" ")
        getter = {
            "name": lambda b: b.title.lower(),
            "modifiedTime": lambda b: b.drive["modifiedTime"],
            "createdTime": lambda b: b.drive["createdTime"],
        }.get(key)
        if getter is None:
            raise drive_invalid("Invalid Value", reason="invalid", location="orderBy")
        books.sort(key=getter, reverse=direction.strip() == "desc")
    token = call.param("pageToken") or "0"
    try:
        offset = int(token.removeprefix("emu-"))
    except ValueError:
        raise drive_invalid("Invalid Value", reason="invalid", location="pageToken") from None
    page = books[offset : offset + page_size]
    answer: dict[str, Any] = {"kind": "drive#fileList"}
    if offset + page_size < len(books):
        answer["nextPageToken"] = f"emu-{offset + page_size}"
    answer["incompleteSearch"] = False
    files = [file_out(b, call.user) for b in page]
    answer["files"] = (
        files if call.param("fields") else [{k: f[k] for k in DEFAULT_FILE_FIELDS} for f in files]
    )
    return answer


def get_file(call: Call) -> dict[str, Any]:
    book = visible_book(call, call.path_args["fileId"])
    if call.param("alt") == "media":
        raise ApiError(
            403,
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
            reason="fileNotDownloadable",
            location="alt",
            location_type="parameter",
        )
    return _default_fields(file_out(book, call.user), call, DEFAULT_FILE_FIELDS)


def update_file(call: Call) -> dict[str, Any]:
    book = visible_book(call, call.path_args["fileId"])
    body = call.body_dict()
    unsupported = [k for k in body if k not in ("name", "trashed", "starred", "mimeType")]
    if unsupported or call.param("addParents") or call.param("removeParents"):
        raise not_implemented(f"Drive files.update of {', '.join(unsupported) or 'parents'}")
    if "trashed" in body and book.role_of(call.user) != "owner":
        raise drive_insufficient_permissions()
    if "name" in body and not book.can(call.user, "writer"):
        raise drive_insufficient_permissions()
    if body.get("name"):
        book.properties["title"] = body["name"]
    for key in ("trashed", "starred"):
        if key in body:
            book.drive[key] = bool(body[key])
    book.touch()
    return _default_fields(file_out(book, call.user), call, DEFAULT_FILE_FIELDS)


def delete_file(call: Call) -> None:
    book = visible_book(call, call.path_args["fileId"])
    if book.role_of(call.user) != "owner":
        raise drive_insufficient_permissions()
    del call.store.spreadsheets[book.id]


def copy_file(call: Call) -> dict[str, Any]:
    source = visible_book(call, call.path_args["fileId"])
    body = call.body_dict()
    if body.get("mimeType") not in (None, SHEET_MIME):
        raise not_implemented("Drive files.copy converting to another mimeType")
    title = body.get("name") or f"Copy of {source.title}"
    book = source.copy_as(new_spreadsheet_id(), title, call.user)
    if body.get("parents"):
        book.drive["parents"] = list(body["parents"])
    call.store.add(book)
    call.book = book
    return _default_fields(file_out(book, call.user), call, DEFAULT_FILE_FIELDS)


def export_file(call: Call) -> tuple[bytes, str]:
    book = visible_book(call, call.path_args["fileId"])
    mime = call.param("mimeType")
    delimiters = {"text/csv": ",", "text/tab-separated-values": "\t"}
    if not mime:
        raise drive_invalid("Required parameter: mimeType", reason="required", location="mimeType")
    if mime not in delimiters:
        raise not_implemented(f"Drive files.export to {mime} (CSV and TSV are emulated)")
    sheet = (
        book.first_visible_sheet()
        if mime == "text/csv"
        else sorted(book.sheets, key=lambda s: s.properties["index"])[0]
    )
    rows = grid_values(
        BookEvaluator(book),
        sheet,
        0,
        0,
        sheet.row_count,
        sheet.column_count,
        "ROWS",
        "FORMATTED_VALUE",
        "SERIAL_NUMBER",
    )
    width = max((len(r) for r in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiters[mime], lineterminator="\r\n")
    for row in rows:
        writer.writerow(list(row) + [""] * (width - len(row)))
    return out.getvalue().removesuffix("\r\n").encode("utf-8"), f"{mime}; charset=utf-8"


def list_comments(call: Call) -> dict[str, Any]:
    visible_book(call, call.path_args["fileId"])
    if not call.param("fields"):
        raise drive_invalid(
            "The 'fields' parameter is required for this method.", reason="required", location="fields"
        )
    return {"kind": "drive#commentList", "comments": []}


def import_csv(call: Call) -> dict[str, Any]:
    """The v2 media upload with convert=true: the CSV replaces the spreadsheet's sheets."""
    book = visible_book(call, call.path_args["fileId"])
    if not book.can(call.user, "writer"):
        raise drive_insufficient_permissions()
    if call.param("uploadType") != "media" or not call.flag("convert"):
        raise not_implemented("Drive v2 uploads other than uploadType=media&convert=true")
    text = call.raw_body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    height = max(1000, len(rows))
    width = max(26, max((len(r) for r in rows), default=0))
    sheet = new_grid_sheet(book.sheets[0].sheet_id if book.sheets else 0, book.title, 0, height, width)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            user_value, fmt = input_value(value, "USER_ENTERED")
            if user_value is not None:
                cell: dict[str, Any] = {"userEnteredValue": user_value}
                if fmt:
                    cell["userEnteredFormat"] = {"numberFormat": fmt}
                sheet.set_cell(r, c, cell)
    book.sheets = [sheet]
    book.named_ranges = []
    book.properties["timeZone"] = "America/Los_Angeles"  # conversion uses the Drive account's zone
    book.touch()
    return {
        "kind": "drive#file",
        "id": book.id,
        "title": book.title,
        "mimeType": SHEET_MIME,
        "createdDate": book.drive["createdTime"],
        "modifiedDate": book.drive["modifiedTime"],
        "ownerNames": [book.owner],
        "editable": True,
        "shared": len(book.permissions) > 1,
    }


# -- permissions -------------------------------------------------------------------------------
def create_permission(call: Call) -> dict[str, Any]:
    book = visible_book(call, call.path_args["fileId"])
    if not book.can(call.user, "writer"):
        raise drive_insufficient_permissions()
    body = call.body_dict()
    kind, role = body.get("type"), body.get("role")
    if kind not in ("user", "group", "domain", "anyone"):
        raise drive_invalid(
            "The permission type field is required and must be user, group, domain or anyone.",
            reason="required",
            location="permission.type",
        )
    if role not in ROLE_RANK or role in ("fileOrganizer", "organizer"):
        raise drive_invalid(
            "The permission role field is required and must be reader, commenter, writer or owner.",
            reason="required",
            location="permission.role",
        )
    perm: dict[str, Any] = {"type": kind, "role": role}
    if role == "owner":
        email = (body.get("emailAddress") or "").lower()
        for existing in book.permissions:
            if existing["role"] == "owner" and existing.get("emailAddress", "").lower() == email:
                return _default_fields(permission_out(existing), call, DEFAULT_PERMISSION_FIELDS)
        if not call.flag("transferOwnership"):
            raise ApiError(
                403,
                "The transferOwnership parameter must be enabled when the permission role is 'owner'.",
                reason="forbidden",
                location="transferOwnership",
                location_type="parameter",
            )
        raise not_implemented("Drive ownership transfer (permissions.create with role 'owner')")
    if kind in ("user", "group"):
        email = body.get("emailAddress")
        if not email or "@" not in email:
            raise drive_invalid(
                "The permission emailAddress field is required for user and group permissions.",
                reason="required",
                location="permission.emailAddress",
            )
        if email.lower() in call.store.without_google_account and not call.flag(
            "sendNotificationEmail", True
        ):
            raise ApiError(
                400,
                f'Bad Request. User message: "You are trying to invite {email}. Since there is no '
                "Google account associated with this email address, you must check the \"Notify "
                'people\" box to invite this recipient."',
                reason="invalidSharingRequest",
            )
        perm["emailAddress"] = email
    elif kind == "domain":
        if not body.get("domain"):
            raise drive_invalid(
                "The permission domain field is required for domain permissions.",
                reason="required",
                location="permission.domain",
            )
        perm["domain"] = body["domain"]
    if kind in ("domain", "anyone"):
        perm["allowFileDiscovery"] = bool(body.get("allowFileDiscovery", not body.get("withLink", False)))
    for existing in book.permissions:
        if permission_id(existing) == permission_id(perm) and existing["type"] == kind:
            if existing["role"] == "owner":
                raise ApiError(403, "The owner of a file cannot be given another role.", reason="forbidden")
            existing.update(perm)
            perm = existing
            break
    else:
        book.permissions.append(perm)
    return _default_fields(permission_out(perm), call, DEFAULT_PERMISSION_FIELDS)


def list_permissions(call: Call) -> dict[str, Any]:
    book = visible_book(call, call.path_args["fileId"])
    permissions = [permission_out(p) for p in book.permissions]
    if not call.param("fields"):  # Drive answers a few default fields of each permission
        permissions = [{k: p[k] for k in DEFAULT_PERMISSION_FIELDS if k in p} for p in permissions]
    return {"kind": "drive#permissionList", "permissions": permissions}


def _find_permission(book: Spreadsheet, perm_id: str) -> dict[str, Any]:
    for perm in book.permissions:
        if permission_id(perm) == perm_id:
            return perm
    raise ApiError(
        404,
        f"Permission not found: {perm_id}.",
        reason="notFound",
        location="permissionId",
        location_type="parameter",
    )


def get_permission(call: Call) -> dict[str, Any]:
    book = visible_book(call, call.path_args["fileId"])
    return _default_fields(
        permission_out(_find_permission(book, call.path_args["permissionId"])),
        call,
        DEFAULT_PERMISSION_FIELDS,
    )


def delete_permission(call: Call) -> None:
    book = visible_book(call, call.path_args["fileId"])
    perm = _find_permission(book, call.path_args["permissionId"])
    if perm["role"] == "owner":
        raise ApiError(403, "The owner of a file cannot be removed.", reason="cannotRemoveOwner")
    if not book.can(call.user, "writer"):
        raise drive_insufficient_permissions()
    book.permissions.remove(perm)
