"""The Dashboard and Recurring tabs of the workbook register, with openpyxl charts.

``write_dashboard_tabs(register, dashboard, recurring)`` writes two ``TabContent``s
(``daemon.review.dashboard``) in ONE save through ``WorkbookRegister.change_workbook``: the
same lock-file wait, atomic replace and retry-on-change as every register write. Each tab is
replaced whole (removed and created again at its place among the tabs, so old values, formats
and charts go); the data tabs are not touched. The Dashboard gets a stacked column chart
(``BarChart``) of complaints per week by category and a line chart (``LineChart``) of sign-for
times, both reading the chart tables of the tab; openpyxl keeps them through later saves of
the register.
"""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from daemon.register.archive import find_tab
from daemon.register.workbook import (
    HEADER_FILL,
    HEADER_FONT,
    WorkbookRegister,
    write_text,
)
from daemon.review.dashboard import (
    CHART_HEIGHT_PIXELS,
    CHART_WIDTH_PIXELS,
    NUMBER_FORMATS,
    ChartPlan,
    TabContent,
    Value,
)

CM_PER_PIXEL = 2.54 / 96
TITLE_FONT = Font(bold=True, size=14)
FIRST_COLUMN_WIDTH = 24
COLUMN_WIDTH = 14


def fresh_sheet(workbook: Workbook, title: str) -> Worksheet:
    """An empty sheet named ``title`` where the old one was (at the end if there was none)."""
    existing = find_tab(workbook.sheetnames, title)
    if existing is None:
        return workbook.create_sheet(title)
    index = workbook.sheetnames.index(existing)
    workbook.remove(workbook[existing])
    return workbook.create_sheet(title, index)


def put(sheet: Worksheet, row: int, column: int, value: Value,
        number_format: str | None = None) -> None:
    """One cell (0-based position): text stays text, numbers get their format."""
    cell = sheet.cell(row=row + 1, column=column + 1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.value = value
        if number_format:
            cell.number_format = NUMBER_FORMATS[number_format]
    elif value not in (None, ""):
        write_text(cell, value)


def fill(sheet: Worksheet, content: TabContent) -> None:
    put(sheet, 0, 0, content.heading)
    sheet.cell(row=1, column=1).font = TITLE_FONT
    put(sheet, 1, 0, content.subtitle)
    for block in content.blocks:
        place = content.placements[block.key]
        put(sheet, place.heading_row, 0, block.heading)
        sheet.cell(row=place.heading_row + 1, column=1).font = HEADER_FONT
        for column, text in enumerate(block.header):
            put(sheet, place.header_row, column, text)
            cell = sheet.cell(row=place.header_row + 1, column=column + 1)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        for offset, values in enumerate(block.rows):
            for column, value in enumerate(values):
                number_format = block.formats[column] if column < len(block.formats) else None
                put(sheet, place.first_data_row + offset, column, value, number_format)
    sheet.column_dimensions["A"].width = FIRST_COLUMN_WIDTH
    for column in range(2, content.width + 1):
        sheet.column_dimensions[get_column_letter(column)].width = COLUMN_WIDTH


def chart_of(sheet: Worksheet, content: TabContent, plan: ChartPlan) -> BarChart | LineChart:
    """The plan's chart: the block's first column as categories, each other column a series
    named by its header cell."""
    place = content.placements[plan.block]
    if plan.kind == "stacked_column":
        chart: BarChart | LineChart = BarChart()
        chart.type, chart.grouping, chart.overlap = "col", "stacked", 100
    elif plan.kind == "line":
        chart = LineChart()
    else:
        raise ValueError(f"unknown chart kind {plan.kind!r}")
    data = Reference(sheet, min_col=2, max_col=place.width,
                     min_row=place.header_row + 1, max_row=place.end_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=place.first_data_row + 1,
                                   max_row=place.end_row))
    chart.title = plan.title
    chart.x_axis.title, chart.y_axis.title = plan.x_title, plan.y_title
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides axes otherwise
    chart.legend.position = "b"
    chart.width = CHART_WIDTH_PIXELS * CM_PER_PIXEL
    chart.height = CHART_HEIGHT_PIXELS * CM_PER_PIXEL
    return chart


def write_dashboard_tabs(register: WorkbookRegister, dashboard: TabContent,
                         recurring: TabContent) -> int:
    """Replace both tabs and the dashboard's charts in one save; returns how many charts the
    Dashboard tab now has."""

    def change(workbook: Workbook) -> tuple[int, bool]:
        for content in (dashboard, recurring):
            sheet = fresh_sheet(workbook, content.title)
            fill(sheet, content)
            for index, plan in enumerate(content.charts):
                row, column = content.chart_anchor(index)
                sheet.add_chart(chart_of(sheet, content, plan),
                                f"{get_column_letter(column + 1)}{row + 1}")
        return len(dashboard.charts), True

    return register.change_workbook(change)
