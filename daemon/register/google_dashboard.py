"""The Dashboard and Recurring tabs of the Google register, with native charts.

``write_dashboard_tabs(register, dashboard, recurring)`` writes two ``TabContent``s
(``daemon.review.dashboard``) in two requests, whatever was there before:

    spreadsheets.get    the tabs' ids and sizes, and the charts over the Dashboard tab
    ONE batchUpdate     addSheet for a missing tab, appendDimension if a tab is too small,
                        deleteEmbeddedObject for every chart over the two tabs, updateCells
                        over each whole tab (values and formats: what the content does not
                        fill is cleared), addChart for each chart of the content

Google applies the batchUpdate whole or not at all, so the tabs never show half a rebuild and
charts never pile up: the old ones go in the same request that adds the new ones. Only these
two tabs are touched; the data tabs are read by the caller, never written here. Text is written
as text (a tenant's ``=...`` in a subject stays text); numbers as numbers with a number format,
so the charts can plot them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.register.archive import choose_sheet_id, find_tab
from daemon.register.google_sheet import (
    GoogleRegister,
    cell_text,
    lengthen_request,
    widen_request,
)
from daemon.review.dashboard import (
    CHART_HEIGHT_PIXELS,
    CHART_WIDTH_PIXELS,
    NUMBER_FORMATS,
    ChartPlan,
    TabContent,
    Value,
)

TABS_FIELDS = ("sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),"
               "charts(chartId))")
HEADER_BACKGROUND = {"red": 0.867, "green": 0.922, "blue": 0.969}  # as the workbook's headers
CHART_TYPES = {"stacked_column": ("COLUMN", "STACKED"), "line": ("LINE", None)}
MIN_ROWS = 100
MIN_COLUMNS = 26


def value_cell(value: Value, number_format: str | None = None,
               style: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """CellData: text as ``stringValue``, numbers as ``numberValue`` with their format."""
    cell: dict[str, Any] = {}
    fmt: dict[str, Any] = dict(style or {})
    if isinstance(value, bool) or value is None or value == "":
        pass
    elif isinstance(value, (int, float)):
        cell["userEnteredValue"] = {"numberValue": value}
        if number_format:
            kind = "PERCENT" if number_format == "percent" else "NUMBER"
            fmt["numberFormat"] = {"type": kind, "pattern": NUMBER_FORMATS[number_format]}
    else:
        cell["userEnteredValue"] = {"stringValue": cell_text(value)}
    if fmt:
        cell["userEnteredFormat"] = fmt
    return cell


def tab_rows(content: TabContent) -> list[dict[str, Any]]:
    """The whole tab as RowData: title and headings bold, header rows shaded, numbers formatted."""
    bold = {"textFormat": {"bold": True}}
    header = {"textFormat": {"bold": True}, "backgroundColor": HEADER_BACKGROUND}
    rows = [{"values": [value_cell(content.heading, style={"textFormat": {"bold": True,
                                                                           "fontSize": 14}})]},
            {"values": [value_cell(content.subtitle)]}]
    for block in content.blocks:
        rows.append({})
        rows.append({"values": [value_cell(block.heading, style=bold)]})
        rows.append({"values": [value_cell(text, style=header) for text in block.header]})
        for row in block.rows:
            formats = list(block.formats) + [None] * (len(row) - len(block.formats))
            rows.append({"values": [value_cell(value, formats[i]) for i, value in enumerate(row)]})
    return rows


def source(sheet_id: int, content: TabContent, plan: ChartPlan, column: int) -> dict[str, Any]:
    """One column of the plan's block, header row included (``headerCount`` 1 names the series)."""
    place = content.placements[plan.block]
    return {"sourceRange": {"sources": [{
        "sheetId": sheet_id, "startRowIndex": place.header_row, "endRowIndex": place.end_row,
        "startColumnIndex": column, "endColumnIndex": column + 1}]}}


def chart_request(sheet_id: int, content: TabContent, plan: ChartPlan,
                  index: int) -> dict[str, Any]:
    """addChart of ``plan``: the block's first column is the domain, the others the series."""
    chart_type, stacked = CHART_TYPES[plan.kind]
    width = content.placements[plan.block].width
    basic: dict[str, Any] = {
        "chartType": chart_type,
        "legendPosition": "BOTTOM_LEGEND",
        "headerCount": 1,
        "axis": [{"position": "BOTTOM_AXIS", "title": plan.x_title},
                 {"position": "LEFT_AXIS", "title": plan.y_title}],
        "domains": [{"domain": source(sheet_id, content, plan, 0)}],
        "series": [{"series": source(sheet_id, content, plan, column), "targetAxis": "LEFT_AXIS"}
                   for column in range(1, width)],
    }
    if stacked:
        basic["stackedType"] = stacked
    row, column = content.chart_anchor(index)
    return {"addChart": {"chart": {
        "spec": {"title": plan.title, "basicChart": basic},
        "position": {"overlayPosition": {
            "anchorCell": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column},
            "widthPixels": CHART_WIDTH_PIXELS, "heightPixels": CHART_HEIGHT_PIXELS}},
    }}}


def grid_size(content: TabContent) -> tuple[int, int]:
    """(rows, columns) the tab needs: its content, and room right of it for the charts."""
    rows = max(content.height, *(content.chart_anchor(i)[0] + 1
                                 for i in range(len(content.charts))), 0) + 1
    columns = content.width + (3 if content.charts else 0)
    return max(rows, MIN_ROWS), max(columns, MIN_COLUMNS)


def tab_requests(content: TabContent, tabs: Mapping[str, Mapping[str, Any]],
                 taken: set[int]) -> tuple[int, list[dict[str, Any]], list[int]]:
    """(the tab's sheetId, the requests that size and fill it, its old chart ids)."""
    rows, columns = grid_size(content)
    title = find_tab(tabs, content.title)
    if title is None:
        sheet_id = choose_sheet_id(content.title, taken)
        taken.add(sheet_id)
        requests = [{"addSheet": {"properties": {
            "sheetId": sheet_id, "title": content.title,
            "gridProperties": {"rowCount": rows, "columnCount": columns}}}}]
        old_charts: list[int] = []
    else:
        tab = tabs[title]
        sheet_id = tab["sheetId"]
        requests = [*widen_request(sheet_id, tab["columnCount"], columns),
                    *lengthen_request(sheet_id, tab["rowCount"], rows)]
        old_charts = list(tab["charts"])
    requests.append({"updateCells": {"range": {"sheetId": sheet_id}, "rows": tab_rows(content),
                                     "fields": "userEnteredValue,userEnteredFormat"}})
    return sheet_id, requests, old_charts


def read_tabs(register: GoogleRegister) -> dict[str, dict[str, Any]]:
    """Every tab: ``{title: {"sheetId", "rowCount", "columnCount", "charts": [chartId ...]}}``."""
    meta = register.http_client.fetch_sheet_metadata(
        register.spreadsheet_id, params={"includeGridData": "false", "fields": TABS_FIELDS})
    tabs = {}
    for sheet in meta.get("sheets", []):
        properties = sheet.get("properties") or {}
        if "title" not in properties:
            continue
        grid = properties.get("gridProperties") or {}
        tabs[properties["title"]] = {
            "sheetId": int(properties.get("sheetId", 0) or 0),
            "rowCount": int(grid.get("rowCount", 0) or 0),
            "columnCount": int(grid.get("columnCount", 0) or 0),
            "charts": [int(chart["chartId"]) for chart in sheet.get("charts") or []
                       if "chartId" in chart],
        }
    return tabs


def write_dashboard_tabs(register: GoogleRegister, dashboard: TabContent,
                         recurring: TabContent) -> int:
    """Write both tabs and the dashboard's charts in one batchUpdate (after one read); returns
    how many charts the Dashboard tab now has."""
    tabs = read_tabs(register)
    taken = {tab["sheetId"] for tab in tabs.values()}
    structure: list[dict[str, Any]] = []
    writes: list[dict[str, Any]] = []
    charts: list[dict[str, Any]] = []
    for content in (dashboard, recurring):
        sheet_id, requests, old_charts = tab_requests(content, tabs, taken)
        sized = [r for r in requests if "updateCells" not in r]
        structure += sized
        structure += [{"deleteEmbeddedObject": {"objectId": chart_id}} for chart_id in old_charts]
        writes += [r for r in requests if "updateCells" in r]
        charts += [chart_request(sheet_id, content, plan, index)
                   for index, plan in enumerate(content.charts)]
    register.http_client.batch_update(register.spreadsheet_id,
                                      {"requests": structure + writes + charts})
    return len(dashboard.charts)

