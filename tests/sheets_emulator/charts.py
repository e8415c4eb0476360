"""Sheets v4 embedded charts: ``addChart``, ``updateChartSpec``, ``deleteEmbeddedObject``.

The request body has already passed the discovery check (``discovery.py``: unknown fields,
wrong types and unknown enum values are 400 before a handler runs). These handlers add what
the Sheets backend checks itself, with the error prefixed ``Invalid requests[i].addChart:``:

- a chart spec names exactly one chart type; the emulator draws nothing, but it keeps basic
  charts (BAR, LINE, AREA, COLUMN, SCATTER, COMBO, STEPPED_AREA) and pie charts and answers
  501 for the other types, which it does not check;
- a basic chart has a chartType, a stackedType only where Sheets stacks (BAR, COLUMN, AREA,
  STEPPED_AREA, COMBO), at most one domain, at least one series, axes at distinct positions,
  series on an axis the chart type has (bar charts: BOTTOM_AXIS; the others: LEFT or RIGHT);
- every data range is on an existing sheet, inside its grid, one row or one column, and the
  domain and every series have the same number of ranges;
- the chart sits over a grid sheet (``overlayPosition.anchorCell`` inside the grid); a chart on
  its own sheet (``newSheet``, ``sheetId``) answers 501.

A stored chart is answered as Google shapes ``EmbeddedChart`` in ``spreadsheets.get``
(``sheets[].charts``) and in the ``addChart`` reply: ``chartId``, ``spec`` with the defaults
Google fills in (``hiddenDimensionStrategy``, each series' ``targetAxis``), ``position``
(``overlayPosition`` with Google's default 600 x 371 pixels and zero offsets left out) and a
white ``border``. Zero values are left out, as proto3 JSON does (a sheetId of 0).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from .batch_common import Batch
from .errors import ApiError, not_implemented
from .formats import strip_nulls
from .store import Sheet, Spreadsheet

CHART_TYPES = ("basicChart", "pieChart", "bubbleChart", "candlestickChart", "orgChart",
               "histogramChart", "waterfallChart", "treemapChart", "scorecardChart")
KEPT_TYPES = ("basicChart", "pieChart")
STACKABLE = {"BAR", "COLUMN", "AREA", "STEPPED_AREA", "COMBO"}
DEFAULT_WIDTH_PIXELS = 600
DEFAULT_HEIGHT_PIXELS = 371
DEFAULT_BORDER = {"color": {"red": 1, "green": 1, "blue": 1},
                  "colorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}}}


# -- storage ----------------------------------------------------------------------------------
def all_charts(book: Spreadsheet) -> list[tuple[Sheet, dict[str, Any]]]:
    return [(sheet, chart) for sheet in book.sheets for chart in sheet.charts]


def find_chart(batch: Batch, chart_id: Any) -> tuple[Sheet, dict[str, Any]]:
    for sheet, chart in all_charts(batch.book):
        if chart["chartId"] == chart_id:
            return sheet, chart
    raise batch.fail(f"No chart with id: {chart_id}")


def new_chart_id(book: Spreadsheet) -> int:
    taken = {chart["chartId"] for _, chart in all_charts(book)}
    while True:
        value = random.randrange(100_000_000, 2_147_483_647)
        if value not in taken:
            return value


# -- checks -----------------------------------------------------------------------------------
def _as_int(batch: Batch, value: Any, name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise batch.fail(f"{name} must be an integer.") from None


def check_source(batch: Batch, rng: dict[str, Any], where: str) -> dict[str, Any]:
    """One GridRange of chart data: on a sheet, inside it, one row or one column."""
    sheet, r0, c0, r1, c1 = batch.bounds(rng)
    if r1 <= r0 or c1 <= c0:
        raise batch.fail(f"{where}: the range is empty.")
    if r1 - r0 > 1 and c1 - c0 > 1:
        raise batch.fail(f"{where}: a chart data range must be a single row or a single column.")
    stored = {"sheetId": sheet.sheet_id, "startRowIndex": r0, "endRowIndex": r1,
              "startColumnIndex": c0, "endColumnIndex": c1}
    return stored


def check_chart_data(batch: Batch, data: dict[str, Any] | None, where: str) -> list[dict[str, Any]]:
    """A ChartData's sourceRange: its checked GridRanges (a data source column is 501)."""
    data = data or {}
    if data.get("columnReference") or data.get("groupRule") or data.get("aggregateType"):
        raise not_implemented(f"chart data with a data source, group rule or aggregate ({where})")
    sources = (data.get("sourceRange") or {}).get("sources") or []
    if not sources:
        raise batch.fail(f"{where} must have a sourceRange with at least one source.")
    checked = [check_source(batch, rng, f"{where}.sourceRange.sources[{i}]")
               for i, rng in enumerate(sources)]
    data["sourceRange"] = {"sources": checked}
    return checked


def check_basic_chart(batch: Batch, basic: dict[str, Any]) -> None:
    chart_type = basic.get("chartType") or "BASIC_CHART_TYPE_UNSPECIFIED"
    if chart_type == "BASIC_CHART_TYPE_UNSPECIFIED":
        raise batch.fail("basicChart.chartType must be specified.")
    stacked = basic.get("stackedType") or "BASIC_CHART_STACKED_TYPE_UNSPECIFIED"
    if stacked in ("STACKED", "PERCENT_STACKED") and chart_type not in STACKABLE:
        raise batch.fail(f"Stacking is not supported for the chart type {chart_type}.")
    positions = [axis.get("position") for axis in basic.get("axis") or []]
    if any(p in (None, "BASIC_CHART_AXIS_POSITION_UNSPECIFIED") for p in positions):
        raise batch.fail("basicChart.axis[].position must be specified.")
    if len(set(positions)) != len(positions):
        raise batch.fail("basicChart.axis has two axes at the same position.")
    domains = basic.get("domains") or []
    if len(domains) > 1:
        raise batch.fail("A basic chart supports at most one domain.")
    series = basic.get("series") or []
    if not series:
        raise batch.fail("A basic chart needs at least one series.")
    counts = {len(check_chart_data(batch, d.get("domain"), f"basicChart.domains[{i}].domain"))
              for i, d in enumerate(domains)}
    allowed_axes = {"BOTTOM_AXIS"} if chart_type == "BAR" else {"LEFT_AXIS", "RIGHT_AXIS"}
    for i, item in enumerate(series):
        where = f"basicChart.series[{i}]"
        counts.add(len(check_chart_data(batch, item.get("series"), f"{where}.series")))
        axis = item.get("targetAxis")
        if axis in (None, "BASIC_CHART_AXIS_POSITION_UNSPECIFIED"):
            item["targetAxis"] = "BOTTOM_AXIS" if chart_type == "BAR" else "LEFT_AXIS"
        elif axis not in allowed_axes:
            raise batch.fail(f"{where}.targetAxis {axis} is not an axis of a {chart_type} chart.")
        own_type = item.get("type")
        if own_type and own_type != "BASIC_CHART_TYPE_UNSPECIFIED" and chart_type != "COMBO" \
                and own_type != chart_type:
            raise batch.fail(f"{where}.type may differ from the chart type only in a COMBO chart.")
    if len(counts) > 1:
        raise batch.fail("The domain and every series must have the same number of source ranges.")


def check_pie_chart(batch: Batch, pie: dict[str, Any]) -> None:
    check_chart_data(batch, pie.get("domain"), "pieChart.domain")
    check_chart_data(batch, pie.get("series"), "pieChart.series")


def check_spec(batch: Batch, spec: Any) -> dict[str, Any]:
    """The spec as stored: checked, nulls dropped, Google's defaults filled in."""
    spec = strip_nulls(copy.deepcopy(spec or {}))
    kinds = [kind for kind in CHART_TYPES if spec.get(kind) is not None]
    if not kinds:
        raise batch.fail("The chart spec must set one chart type (basicChart, pieChart ...).")
    if len(kinds) > 1:
        raise batch.fail(f"The chart spec sets more than one chart type: {', '.join(kinds)}.")
    if kinds[0] not in KEPT_TYPES:
        raise not_implemented(f"charts of type {kinds[0]}")
    if spec.get("dataSourceChartProperties"):
        raise not_implemented("data source charts")
    if kinds[0] == "basicChart":
        check_basic_chart(batch, spec["basicChart"])
    else:
        check_pie_chart(batch, spec["pieChart"])
    spec.setdefault("hiddenDimensionStrategy", "SKIP_HIDDEN_ROWS_AND_COLUMNS")
    return spec


def check_position(batch: Batch, position: Any) -> tuple[Sheet, dict[str, Any]]:
    """(the sheet the chart sits over, the stored overlayPosition)."""
    position = strip_nulls(copy.deepcopy(position or {}))
    if position.get("newSheet") or "overlayPosition" not in position:
        raise not_implemented("charts on their own sheet (position.newSheet or position.sheetId)")
    overlay = position["overlayPosition"]
    anchor = overlay.get("anchorCell")
    if not anchor:
        raise batch.fail("position.overlayPosition.anchorCell must be set.")
    sheet = batch.sheet(anchor.get("sheetId"))
    row = _as_int(batch, anchor.get("rowIndex"), "anchorCell.rowIndex")
    column = _as_int(batch, anchor.get("columnIndex"), "anchorCell.columnIndex")
    if row < 0 or column < 0 or row >= sheet.row_count or column >= sheet.column_count:
        raise ApiError(
            400, f"{batch.prefix}The anchor cell (row {row}, column {column}) is outside the grid "
                 f"of sheet {sheet.sheet_id}. Max rows: {sheet.row_count}, "
                 f"max columns: {sheet.column_count}")
    stored = {"anchorCell": {"rowIndex": row, "columnIndex": column}}
    for key, default in (("offsetXPixels", 0), ("offsetYPixels", 0),
                         ("widthPixels", DEFAULT_WIDTH_PIXELS),
                         ("heightPixels", DEFAULT_HEIGHT_PIXELS)):
        value = _as_int(batch, overlay.get(key, default), f"overlayPosition.{key}")
        if value < 0 or (key in ("widthPixels", "heightPixels") and value == 0):
            raise batch.fail(f"overlayPosition.{key} must be positive.")
        stored[key] = value
    return sheet, stored


# -- requests ---------------------------------------------------------------------------------
def add_chart(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    chart = req.get("chart") or {}
    spec = check_spec(batch, chart.get("spec"))
    sheet, overlay = check_position(batch, chart.get("position"))
    chart_id = chart.get("chartId")
    if chart_id is None:
        chart_id = new_chart_id(batch.book)
    else:
        chart_id = _as_int(batch, chart_id, "chartId")
        if any(other["chartId"] == chart_id for _, other in all_charts(batch.book)):
            raise batch.fail(f"An embedded object with id {chart_id} already exists.")
    stored = {"chartId": chart_id, "spec": spec, "overlayPosition": overlay,
              "border": strip_nulls(copy.deepcopy(chart.get("border"))) or DEFAULT_BORDER}
    sheet.charts.append(stored)
    return {"addChart": {"chart": chart_out(sheet, stored)}}


def update_chart_spec(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    _, chart = find_chart(batch, req.get("chartId"))
    chart["spec"] = check_spec(batch, req.get("spec"))
    return {}


def delete_embedded_object(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    object_id = req.get("objectId")
    for sheet, chart in all_charts(batch.book):
        if chart["chartId"] == object_id:
            sheet.charts.remove(chart)
            return {}
    raise batch.fail(f"No embedded object with id: {object_id}")


HANDLERS = {
    "addChart": add_chart,
    "updateChartSpec": update_chart_spec,
    "deleteEmbeddedObject": delete_embedded_object,
}


# -- answers ----------------------------------------------------------------------------------
def _without_zero_sheet(value: Any) -> Any:
    """proto3 JSON leaves zero values out: ``sheetId: 0`` and zero indexes disappear."""
    if isinstance(value, dict):
        return {key: _without_zero_sheet(item) for key, item in value.items()
                if not (key in ("sheetId", "startRowIndex", "startColumnIndex", "rowIndex",
                                "columnIndex", "offsetXPixels", "offsetYPixels") and item == 0)}
    if isinstance(value, list):
        return [_without_zero_sheet(item) for item in value]
    return value


def chart_out(sheet: Sheet, chart: dict[str, Any]) -> dict[str, Any]:
    """One stored chart as ``EmbeddedChart``; the anchor is on the sheet that holds it."""
    overlay = copy.deepcopy(chart["overlayPosition"])
    overlay["anchorCell"] = {"sheetId": sheet.sheet_id, **overlay["anchorCell"]}
    return _without_zero_sheet({
        "chartId": chart["chartId"],
        "spec": copy.deepcopy(chart["spec"]),
        "position": {"overlayPosition": overlay},
        "border": copy.deepcopy(chart["border"]),
    })


def charts_out(sheet: Sheet) -> list[dict[str, Any]]:
    return [chart_out(sheet, chart) for chart in sheet.charts]
