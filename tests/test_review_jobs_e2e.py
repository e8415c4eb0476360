"""The daemon's own review jobs through the real servers: the Dashboard and Recurring tabs
rebuilt once a day, and the digest mailed once per week, by `run --once` as cron runs it.

The jobs themselves are tested in test_dashboard.py and test_digest.py; this checks that the
daemon runs them, at most once a day / once a period, on its clock.
"""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

from tests.park_harness import park  # noqa: F401 - pytest fixture
from tests.sheets_emulator.client import gspread_client
from tests.test_dispatch_e2e import Clock

DIGEST_SUBJECT = "投诉处理周报"


def charts_by_tab(park) -> dict[str, list[int]]:
    client = gspread_client(park.emulator.base_url, str(park.key_path))
    metadata = client.open_by_key(park.spreadsheet_id).fetch_sheet_metadata(
        params={"fields": "sheets(properties(title),charts(chartId))"})
    return {sheet["properties"]["title"]: [c["chartId"] for c in sheet.get("charts", [])]
            for sheet in metadata["sheets"]}


def dashboard_values(park) -> list[list[str]]:
    client = gspread_client(park.emulator.base_url, str(park.key_path))
    return client.open_by_key(park.spreadsheet_id).worksheet("Dashboard").get_all_values()


def digests_of(park, address: str) -> list:
    found = [message_from_bytes(raw, policy=default_policy) for raw in park.mail_of(address)]
    return [m for m in found if DIGEST_SUBJECT in str(m["Subject"])]


def test_run_once_rebuilds_the_dashboard_daily_and_mails_the_digest_once(park):
    park.config_path = park.write_config(review={"dashboard_enabled": True,
                                                 "digest_enabled": True})
    clock = Clock()  # Wednesday 2025-05-14 10:00 in Shanghai (ISO week 2025-W20)
    for subject, body in (("3号楼电梯坏了", "电梯停在5楼"), ("空调不制冷", "办公室空调坏了")):
        park.send_complaint(park.new_tenant(), subject, body)
    report = park.daemon(now=clock).run(once=True)
    assert len(report.registered) == 2

    tabs = charts_by_tab(park)
    assert len(tabs["Dashboard"]) == 2 and "Recurring" in tabs
    first_charts = tabs["Dashboard"]

    clock.advance(60)  # the same day: no second rebuild
    park.daemon(now=clock).run(once=True)
    assert charts_by_tab(park)["Dashboard"] == first_charts
    assert digests_of(park, park.leader) == []  # week 20 is not over

    clock.now = clock.now + timedelta(days=5, hours=-1)  # Monday 2025-05-19 09:00
    park.daemon(now=clock).run(once=True)
    clock.advance(5)
    park.daemon(now=clock).run(once=True)  # and a run after: still one digest

    rebuilt = charts_by_tab(park)["Dashboard"]
    assert len(rebuilt) == 2 and set(rebuilt).isdisjoint(first_charts)  # a new day's charts
    values = [[cell for cell in row if cell] for row in dashboard_values(park)]
    assert ["2025-W20", "2"] in values  # complaints per week, the week just ended
    assert ["全园区 Whole park", "2025-W20", "2", "0", "0.0%"] in values  # received, resolved
    overdue = {row[0] for row in values if row and row[0].startswith("C-")}
    assert overdue == set(report.registered)  # neither was signed for
    for address in (park.leader, park.service_center):
        [digest] = digests_of(park, address)
        assert "2025-W20" in str(digest["Subject"])
        assert digest.get_body(("html",)) is not None and digest.get_body(("plain",)) is not None
