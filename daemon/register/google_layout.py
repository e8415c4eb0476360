"""The Google register's layout, built or repaired by ``parkdesk init``: never touches data.

``create_register_spreadsheet`` makes a new spreadsheet owned by the service account (one
spreadsheets.create). ``apply_google_layout`` gives a spreadsheet the register's layout:

- the Register, Activity and Departments tabs with bilingual headers and a frozen header row
  (``GoogleRegister.ensure_layout``);
- the spreadsheet's time zone set to the park's (the highlights compare deadlines with NOW());
- column widths from ``layout_rules`` on columns still at Google's default width (a width staff
  chose is kept);
- drop-downs (status, category, priority, serious, department) on every data row: any other text
  is still accepted, with a warning mark, as staff may type "new";
- conditional formatting of the Register rows: late = light red, waiting for sign-for = amber,
  serious = bold (rules over the whole tab, the header row excepted by the formulas);
- warning-only protection of the columns only ParkDesk writes, of Register's header row and of
  the whole Activity tab;
- the sheet shared as Editor (no notification email) with every service-center address that
  cannot edit it yet; an address without a Google account can only be invited, so Google then
  sends it the invitation email.

It reads first and writes only what is missing or wrong: ensure_layout's read, ONE
spreadsheets.get (properties, header rows, validations, rules, protections) and ONE Drive
permissions.list. Then at most ONE batchUpdate (which Google applies whole or not at all) and
one permissions.create per address to share with. When all is in place nothing is written and
``LayoutReport.changes`` is empty. Cell values are never written: setDataValidation only sets
the rule.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.register.errors import RegisterAccessError, RegisterError
from daemon.register.google_sheet import (
    GoogleRegister,
    column_letter,
    load_service_account,
    quote_sheet,
)
from daemon.register.http_client import DEFAULT_API_ENDPOINT
from daemon.register.layout_rules import (
    LATE_COLOR,
    WAITING_COLOR,
    column_pixels,
    daemon_owned_keys,
    dropdown_lists,
    hex_color,
    late_formula,
    serious_formula,
    waiting_formula,
)
from daemon.sheet_layout import (
    ACTIVITY_COLUMNS,
    ACTIVITY_TAB,
    DEPARTMENT_COLUMNS,
    DEPARTMENTS_TAB,
    REGISTER_COLUMNS,
    REGISTER_TAB,
    Column,
)

DEFAULT_COLUMN_PIXELS = 100  # a column Google has never been told to size
PROTECTION_DESCRIPTION = (
    "ParkDesk 自动填写，请勿修改 / Written by ParkDesk: edit only if you know why"
)
HEADERS = {column.key: column.header for column in REGISTER_COLUMNS}
WIDTH_TABS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    (REGISTER_TAB, REGISTER_COLUMNS),
    (ACTIVITY_TAB, ACTIVITY_COLUMNS),
    (DEPARTMENTS_TAB, DEPARTMENT_COLUMNS),
)
SPREADSHEET_URL = "https://docs.google.com/spreadsheets/d/{}/edit"
STATE_FIELDS = (
    "spreadsheetId,spreadsheetUrl,properties(timeZone),"
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "data(startRow,startColumn,rowData(values(dataValidation)),columnMetadata(pixelSize)),"
    "conditionalFormats,protectedRanges)"
)
ROLE_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 3, "organizer": 3,
             "owner": 4}


@dataclass
class LayoutReport:
    """What ``apply_google_layout`` found and did; ``changes`` is empty when all was in place."""

    spreadsheet_id: str
    spreadsheet_url: str
    changes: list[str] = field(default_factory=list)


class Changes:
    """The changes made, each said in the park's language (``zh-CN`` or ``en``)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.said: list[str] = []

    def add(self, english: str, chinese: str) -> None:
        self.said.append(chinese if self.language == "zh-CN" else english)


# ---- creating the spreadsheet ----------------------------------------------------------------


def create_register_spreadsheet(credentials_file: Path, api_endpoint: str, title: str) -> str:
    """Create a new spreadsheet owned by the service account; return its id.

    One spreadsheets.create, whose only tab is an empty Register tab (``apply_google_layout``
    then lays it out). Google refusing (e.g. a service account without Drive storage, as new
    Google Cloud projects have) raises ``RegisterAccessError`` saying to create the sheet by hand
    and share it.
    """
    register = GoogleRegister(
        spreadsheet_id="",
        credentials=load_service_account(credentials_file),
        api_endpoint=api_endpoint or DEFAULT_API_ENDPOINT,
        credentials_file=str(credentials_file),
    )
    http = register.http_client
    body = {
        "properties": {"title": title},
        "sheets": [{"properties": {"title": REGISTER_TAB,
                                   "gridProperties": {"rowCount": 1000, "columnCount": 26,
                                                      "frozenRowCount": 1}}}],
    }
    try:
        response = http.request("post", "https://sheets.googleapis.com/v4/spreadsheets", json=body)
    except RegisterAccessError as error:
        if error.status != 403:
            raise
        email = register.service_account_email or "the service account"
        raise RegisterAccessError(
            f"Google did not let {email} create a spreadsheet. Create an empty Google Sheet "
            f"yourself, share it with {email} as Editor (Share button), and give ParkDesk its id "
            "(register.spreadsheet_id: the part of its address between /d/ and /edit).",
            status=error.status,
        ) from None
    spreadsheet_id = str(response.json().get("spreadsheetId") or "")
    if not spreadsheet_id:
        raise RegisterError("Google created a spreadsheet but did not say its id; try again.")
    return spreadsheet_id


# ---- the layout ------------------------------------------------------------------------------


def apply_google_layout(
    config: Any, *, sleep: Callable[[float], object] = time.sleep, max_attempts: int = 6
) -> LayoutReport:
    """Build or repair the layout; never touches data.

    ``config`` is a ``daemon.config.Config`` (register.spreadsheet_id, credentials_file and
    api_endpoint; park.timezone; categories, priorities, departments; service_center). Errors
    are ``RegisterError``s in plain words (403: share the sheet with the service account as
    Editor; 404: no such spreadsheet; quota: Google did not answer after retries). ``sleep``
    and ``max_attempts`` bound the retries of each request (tests pass a fake sleep).
    """
    register = GoogleRegister.from_config(config.register, sleep=sleep, max_attempts=max_attempts)
    http = register.http_client
    spreadsheet_id = register.spreadsheet_id
    changes = Changes(config.park.language)

    writes_before = _write_count(register)
    register.ensure_layout()
    if _write_count(register) > writes_before:
        changes.add("Created the missing tabs or header cells (Register, Activity, Departments) "
                    "and froze their header rows",
                    "已补建缺少的工作表或表头（Register、Activity、Departments），并冻结表头行")

    columns = register.header_columns(REGISTER_TAB) or {}
    lists = {key: values for key, values in dropdown_lists(config).items()
             if key in columns and values}
    state = read_state(register, list(lists), columns)
    sheets = {sheet["properties"]["title"]: sheet for sheet in state.get("sheets", [])}
    register_sheet = sheets.get(REGISTER_TAB)
    if register_sheet is None:
        raise RegisterError(f"The spreadsheet has no {REGISTER_TAB} tab after laying it out; "
                            "run parkdesk init again.")

    requests: list[dict[str, Any]] = []
    requests += time_zone_requests(state, config.park.timezone, changes)
    for title, tab_columns in WIDTH_TABS:
        sheet = sheets.get(title)
        mapping = columns if title == REGISTER_TAB else register.header_columns(title)
        if sheet is not None:
            requests += width_requests(sheet, mapping or positions(tab_columns), tab_columns,
                                       changes)
    requests += validation_requests(register_sheet, columns, lists, changes)
    requests += rule_requests(register_sheet, columns, changes)
    requests += protection_requests(register_sheet, protected_register_ranges(register_sheet,
                                                                               columns),
                                    REGISTER_TAB, changes)
    activity = sheets.get(ACTIVITY_TAB)
    if activity is not None:
        whole = [{"sheetId": activity["properties"]["sheetId"]}]
        requests += protection_requests(activity, whole, ACTIVITY_TAB, changes)
    if requests:
        http.batch_update(spreadsheet_id, {"requests": requests})

    share_with_service_center(register, config.service_center, changes)
    url = str(state.get("spreadsheetUrl") or SPREADSHEET_URL.format(spreadsheet_id))
    return LayoutReport(spreadsheet_id=spreadsheet_id, spreadsheet_url=url, changes=changes.said)


def _write_count(register: GoogleRegister) -> int:
    counts = register.request_counts
    return counts.get("spreadsheets.batchUpdate", 0) + counts.get("values.batchUpdate", 0)


def positions(columns: Sequence[Column]) -> dict[str, int]:
    return {column.key: index for index, column in enumerate(columns)}


def read_state(register: GoogleRegister, validated: Sequence[str],
               columns: Mapping[str, int]) -> dict[str, Any]:
    """One spreadsheets.get: the tabs' properties, header-row column widths, the validation of
    every data row of the ``validated`` Register columns, rules and protected ranges."""
    ranges = [f"{quote_sheet(title)}!1:1" for title, _ in WIDTH_TABS]
    ranges += [f"{quote_sheet(REGISTER_TAB)}!{column_letter(columns[key])}2:"
               f"{column_letter(columns[key])}" for key in validated]
    params = {"includeGridData": "true", "ranges": ranges, "fields": STATE_FIELDS}
    return register.http_client.fetch_sheet_metadata(register.spreadsheet_id, params=params)


# ---- the time zone ---------------------------------------------------------------------------


def time_zone_requests(state: Mapping[str, Any], time_zone: str,
                       changes: Changes) -> list[dict[str, Any]]:
    if (state.get("properties") or {}).get("timeZone") == time_zone:
        return []
    changes.add(f"Set the spreadsheet's time zone to {time_zone}, the park's, so that late "
                "complaints are highlighted on time",
                f"表格时区已设为园区时区 {time_zone}，以便按时标出超时投诉")
    return [{"updateSpreadsheetProperties": {"properties": {"timeZone": time_zone},
                                             "fields": "timeZone"}}]


# ---- widths ----------------------------------------------------------------------------------


def width_requests(sheet: Mapping[str, Any], mapping: Mapping[str, int],
                   columns: Sequence[Column], changes: Changes) -> list[dict[str, Any]]:
    """Size the columns still at Google's default width (a width staff chose is kept)."""
    properties = sheet["properties"]
    header = (sheet.get("data") or [{}])[0]
    metadata = header.get("columnMetadata") or []
    requests, sized = [], []
    for column in columns:
        index = mapping.get(column.key)
        if index is None or index >= len(metadata):
            continue
        current = metadata[index].get("pixelSize", DEFAULT_COLUMN_PIXELS)
        wanted = column_pixels(column)
        if current != DEFAULT_COLUMN_PIXELS or wanted == DEFAULT_COLUMN_PIXELS:
            continue
        requests.append({"updateDimensionProperties": {
            "range": {"sheetId": properties["sheetId"], "dimension": "COLUMNS",
                      "startIndex": index, "endIndex": index + 1},
            "properties": {"pixelSize": wanted},
            "fields": "pixelSize",
        }})
        sized.append(column.header)
    if sized:
        changes.add(f"Set the widths of {len(sized)} column(s) of the {properties['title']} tab",
                    f"已设置 {properties['title']} 工作表 {len(sized)} 列的列宽")
    return requests


# ---- drop-downs ------------------------------------------------------------------------------


def validation_rule(values: Sequence[str]) -> dict[str, Any]:
    """A drop-down of ``values``; other text is accepted with a warning mark (strict false)."""
    return {
        "condition": {"type": "ONE_OF_LIST",
                      "values": [{"userEnteredValue": value} for value in values]},
        "strict": False,
        "showCustomUi": True,
    }


def same_validation(actual: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Google leaves false booleans out of its answers: compare what they mean."""
    if not actual:
        return False
    return (
        (actual.get("condition") or {}) == wanted["condition"]
        and bool(actual.get("strict")) == bool(wanted.get("strict"))
        and bool(actual.get("showCustomUi")) == bool(wanted.get("showCustomUi"))
        and not actual.get("inputMessage")
    )


def validation_requests(sheet: Mapping[str, Any], columns: Mapping[str, int],
                        lists: Mapping[str, Sequence[str]],
                        changes: Changes) -> list[dict[str, Any]]:
    """setDataValidation on rows 2 to the end of each drop-down column that lacks it anywhere."""
    properties = sheet["properties"]
    row_count = properties["gridProperties"]["rowCount"]
    data = {(grid.get("startRow", 0), grid.get("startColumn", 0)): grid
            for grid in sheet.get("data") or []}
    requests, fixed = [], []
    for key, values in lists.items():
        index = columns[key]
        rule = validation_rule(values)
        rows = (data.get((1, index)) or {}).get("rowData") or []
        cells = [((row.get("values") or [{}])[0]).get("dataValidation") for row in rows]
        if len(cells) >= row_count - 1 and all(same_validation(cell, rule) for cell in cells):
            continue
        requests.append({"setDataValidation": {
            "range": {"sheetId": properties["sheetId"], "startRowIndex": 1,
                      "endRowIndex": row_count, "startColumnIndex": index,
                      "endColumnIndex": index + 1},
            "rule": rule,
        }})
        fixed.append(HEADERS[key])
    if fixed:
        changes.add(f"Set the drop-down lists of {', '.join(fixed)} on the {REGISTER_TAB} tab",
                    f"已在 {REGISTER_TAB} 工作表设置下拉列表：{'、'.join(fixed)}")
    return requests


# ---- conditional formatting ------------------------------------------------------------------


def wanted_rules(sheet_id: int, columns: Mapping[str, int]) -> list[dict[str, Any]]:
    """The three highlights of the Register rows, first rule first: late (light red), waiting
    for sign-for (amber), serious (bold). They cover the whole tab, so rows inserted anywhere
    (values.append inserts rows below the header) are covered; the formulas skip row 1."""
    letters = {key: column_letter(index) for key, index in columns.items()}
    rows = [{"sheetId": sheet_id}]

    def rule(formula: str, format_: dict[str, Any]) -> dict[str, Any]:
        return {"ranges": rows, "booleanRule": {
            "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": formula}]},
            "format": format_,
        }}

    return [
        rule(late_formula(letters), {"backgroundColor": hex_color(LATE_COLOR)}),
        rule(waiting_formula(letters), {"backgroundColor": hex_color(WAITING_COLOR)}),
        rule(serious_formula(letters), {"textFormat": {"bold": True}}),
    ]


def _color(format_: Mapping[str, Any]) -> tuple[int, int, int] | None:
    color = format_.get("backgroundColor")
    if color is None:
        color = (format_.get("backgroundColorStyle") or {}).get("rgbColor")
    if color is None:
        return None
    return tuple(round(float(color.get(name, 0)) * 255) for name in ("red", "green", "blue"))


def same_look(actual: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether two rule formats show the same: background colour (8 bits a channel), bold."""
    actual_bold = bool((actual.get("textFormat") or {}).get("bold"))
    wanted_bold = bool((wanted.get("textFormat") or {}).get("bold"))
    return _color(actual) == _color(wanted) and actual_bold == wanted_bold


def formula_text(text: str) -> str:
    """A formula compared without spaces outside its quoted strings, case-insensitively."""
    parts = re.split(r'("(?:[^"]|"")*")', text)
    return "".join(part if part.startswith('"') else re.sub(r"\s+", "", part).upper()
                   for part in parts)


def normal_range(grid_range: Mapping[str, Any], sheet: Mapping[str, Any]) -> tuple[int, ...]:
    """A GridRange of ``sheet`` with its open ends at the grid's ends, to compare ranges
    whether Google answers them open or bounded."""
    grid = sheet["properties"]["gridProperties"]
    return (
        int(grid_range.get("sheetId") or sheet["properties"]["sheetId"] or 0),
        int(grid_range.get("startRowIndex") or 0),
        int(grid_range.get("endRowIndex") or grid["rowCount"]),
        int(grid_range.get("startColumnIndex") or 0),
        int(grid_range.get("endColumnIndex") or grid["columnCount"]),
    )


def same_rule(actual: Mapping[str, Any], wanted: Mapping[str, Any],
              sheet: Mapping[str, Any]) -> bool:
    boolean = actual.get("booleanRule") or {}
    condition = boolean.get("condition") or {}
    wanted_condition = wanted["booleanRule"]["condition"]
    values = [formula_text(str(v.get("userEnteredValue", ""))) for v in condition.get("values") or []]
    wanted_values = [formula_text(v["userEnteredValue"]) for v in wanted_condition["values"]]
    return (
        condition.get("type") == wanted_condition["type"] and values == wanted_values
        and same_look(boolean.get("format") or {}, wanted["booleanRule"]["format"])
        and sorted(normal_range(rng, sheet) for rng in actual.get("ranges") or [])
        == sorted(normal_range(rng, sheet) for rng in wanted["ranges"])
    )


def is_ours(actual: Mapping[str, Any], wanted: Sequence[Mapping[str, Any]]) -> bool:
    """A custom-formula rule with exactly the look of one of ours is ours (an older version)."""
    boolean = actual.get("booleanRule") or {}
    if (boolean.get("condition") or {}).get("type") != "CUSTOM_FORMULA":
        return False
    return any(same_look(boolean.get("format") or {}, rule["booleanRule"]["format"])
               for rule in wanted)


def rule_requests(sheet: Mapping[str, Any], columns: Mapping[str, int],
                  changes: Changes) -> list[dict[str, Any]]:
    """Nothing if our three rules are there, in order; else ours are deleted and added again
    at the top (staff's own rules stay, below them)."""
    sheet_id = sheet["properties"]["sheetId"]
    needed = [key for key in ("status", "ack_due", "acknowledged_at", "resolve_by",
                              "resolved_at", "serious") if key not in columns]
    if needed:
        raise RegisterError(f"The {REGISTER_TAB} tab lacks the column(s) {', '.join(needed)}; "
                            "run parkdesk init again.")
    wanted = wanted_rules(sheet_id, columns)
    existing = list(sheet.get("conditionalFormats") or [])
    ours = [index for index, rule in enumerate(existing) if is_ours(rule, wanted)]
    if len(ours) == len(wanted) and all(
            same_rule(existing[i], rule, sheet) for i, rule in zip(ours, wanted)):
        return []
    requests: list[dict[str, Any]] = [
        {"deleteConditionalFormatRule": {"sheetId": sheet_id, "index": index}}
        for index in reversed(ours)
    ]
    requests += [{"addConditionalFormatRule": {"rule": rule, "index": index}}
                 for index, rule in enumerate(wanted)]
    changes.add(f"Set the highlights of the {REGISTER_TAB} rows: late = red, waiting for "
                "sign-for = amber, serious = bold",
                f"已设置 {REGISTER_TAB} 各行的条件格式：超时标红，待签收标琥珀色，严重加粗")
    return requests


# ---- protection ------------------------------------------------------------------------------


def protected_register_ranges(sheet: Mapping[str, Any],
                              columns: Mapping[str, int]) -> list[dict[str, Any]]:
    """The header row, and each run of adjacent columns only ParkDesk writes (whole height)."""
    sheet_id = sheet["properties"]["sheetId"]
    owned = sorted(columns[key] for key in daemon_owned_keys() if key in columns)
    ranges = [{"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1}]
    run: list[int] = []
    for index in owned + [None]:  # type: ignore[list-item]
        if run and (index is None or index != run[-1] + 1):
            ranges.append({"sheetId": sheet_id, "startColumnIndex": run[0],
                           "endColumnIndex": run[-1] + 1})
            run = []
        if index is not None:
            run.append(index)
    return ranges


def protection_requests(sheet: Mapping[str, Any], ranges: Sequence[Mapping[str, Any]],
                        title: str, changes: Changes) -> list[dict[str, Any]]:
    """Warning-only protected ranges ParkDesk owns (by their description): missing ones added,
    ones that are no longer wanted (columns moved) or not warning-only removed."""
    wanted = {normal_range(rng, sheet): rng for rng in ranges}
    requests: list[dict[str, Any]] = []
    present = set()
    for item in sheet.get("protectedRanges") or []:
        if item.get("description") != PROTECTION_DESCRIPTION:
            continue
        key = normal_range(item.get("range") or {}, sheet)
        if key in wanted and item.get("warningOnly") and key not in present:
            present.add(key)
            continue
        requests.append({"deleteProtectedRange": {"protectedRangeId": item["protectedRangeId"]}})
    for key, rng in wanted.items():
        if key not in present:
            requests.append({"addProtectedRange": {"protectedRange": {
                "range": dict(rng), "description": PROTECTION_DESCRIPTION, "warningOnly": True,
            }}})
    if requests:
        changes.add(f"Protected (with a warning only) what ParkDesk writes in the {title} tab",
                    f"已保护 {title} 工作表中由 ParkDesk 填写的部分（修改时仅提示警告）")
    return requests


# ---- sharing ---------------------------------------------------------------------------------


def share_with_service_center(register: GoogleRegister, addresses: Sequence[str],
                              changes: Changes) -> None:
    """Share the sheet as Editor, without a notification email, with each address that cannot
    edit it yet: one permissions.list, one permissions.create per address."""
    http = register.http_client
    spreadsheet_id = register.spreadsheet_id
    roles: dict[str, int] = {}
    for permission in http.list_permissions(spreadsheet_id):
        email = str(permission.get("emailAddress") or "").casefold()
        if email and permission.get("type") in ("user", "group"):
            roles[email] = max(roles.get(email, 0), ROLE_RANK.get(str(permission.get("role")), 0))
    missing = [address for address in dict.fromkeys(addresses)
               if roles.get(address.casefold(), 0) < ROLE_RANK["writer"]]
    invited = []
    for address in missing:
        try:
            try:
                http.insert_permission(spreadsheet_id, address, perm_type="user", role="writer",
                                       notify=False)
            except RegisterError as error:
                # Google shares with an address that has no Google account only by inviting it.
                if error.status != 400 or "Google account" not in error.message:
                    raise
                http.insert_permission(spreadsheet_id, address, perm_type="user", role="writer",
                                       notify=True)
                invited.append(address)
        except RegisterAccessError as error:
            if error.status not in (403, 404):
                raise
            email = register.service_account_email or "the service account"
            raise RegisterAccessError(
                f"{email} may not share the spreadsheet with {address}. Share it yourself "
                f"(Share button) with {', '.join(missing)} as Editor, or let editors share it "
                "(Share > settings > Editors can change permissions and share).",
                status=error.status,
            ) from None
    if missing:
        changes.add(f"Shared the sheet as Editor with {', '.join(missing)}",
                    f"已将表格共享给 {'、'.join(missing)}（编辑者）")
    if invited:
        verb = "has" if len(invited) == 1 else "have"
        changes.add(f"{', '.join(invited)} {verb} no Google account: Google emailed an "
                    "invitation, which must be accepted to open the sheet",
                    f"{'、'.join(invited)} 没有 Google 账号：Google 已发出邀请邮件，接受后才能打开表格")
