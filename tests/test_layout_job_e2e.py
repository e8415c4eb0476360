"""The daemon lays the Google register out again once a day (drop-downs on the rows it appended),
through the real servers: `parkdesk init`'s layout first, then complaints, then `run --once`."""

from __future__ import annotations

import os
from datetime import timedelta

from daemon.config import load_config
from daemon.register.google_layout import apply_google_layout
from daemon.sheet_layout import REGISTER_COLUMNS, REGISTER_TAB
from tests.park_harness import park  # noqa: F401 - pytest fixture
from tests.sheets_emulator.client import gspread_client
from tests.test_dispatch_e2e import Clock

STATUS = next(index for index, column in enumerate(REGISTER_COLUMNS) if column.key == "status")
WRITES = ("sheets.spreadsheets.batchUpdate", "drive.permissions.create")


def status_validations(park) -> list[bool]:
    """For each data row of the Register tab: whether its status cell has a drop-down."""
    client = gspread_client(park.emulator.base_url, str(park.key_path))
    meta = client.open_by_key(park.spreadsheet_id).fetch_sheet_metadata(params={
        "includeGridData": "true", "ranges": [f"'{REGISTER_TAB}'"],
        "fields": "sheets(data(rowData(values(dataValidation,formattedValue))))"})
    rows = meta["sheets"][0]["data"][0]["rowData"]
    data = [row for row in rows[1:] if any(v.get("formattedValue") for v in row.get("values", []))]
    return ["dataValidation" in row["values"][STATUS] for row in data]


def layout_writes(park) -> int:
    counts = park.emulator.request_counts()
    return sum(counts.get(kind, 0) for kind in WRITES)


def test_rows_the_daemon_appends_get_drop_downs_the_same_day_and_the_layout_once_a_day(park):
    park.config_path = park.write_config(register={"repair_layout_daily": True})
    for name, value in park.env().items():
        if name.startswith("PARKDESK_"):
            os.environ[name] = value
    assert apply_google_layout(load_config(park.config_path)).changes  # as `parkdesk init` does

    clock = Clock()
    for subject in ("3号楼电梯坏了", "空调不制冷"):
        park.send_complaint(park.new_tenant(), subject, "请尽快处理")
    report = park.daemon(now=clock).run(once=True)
    assert len(report.registered) == 2
    assert status_validations(park) == [True, True]  # laid out again right after the cycle

    park.send_complaint(park.new_tenant(), "路灯不亮", "园区东门路灯坏了")
    clock.advance(30)
    before = layout_writes(park)
    second = park.daemon(now=clock).run(once=True)
    assert layout_writes(park) - before <= 1  # only the cycle's own writes: no layout today
    assert len(status_validations(park)) == 3
    references = report.registered + second.registered

    clock.now += timedelta(days=1)
    park.daemon(now=clock).run(once=True)
    assert status_validations(park) == [True, True, True]
    assert [row["reference"] for row in park.register_rows()] == references  # data untouched
