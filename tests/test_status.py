"""`parkdesk status` on a whole park on real servers, after a few cycles: the counts are right."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from daemon.config import load_config
from daemon.health import INTAKE, HealthMonitor
from daemon.journal import Journal
from daemon.status import add_status_command
from daemon.templates import Templates


def status_of(park, capsys, now: datetime) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_status_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["status", "--config", str(park.config_path)])
    code = args.handler(args, now=now)
    return code, capsys.readouterr().out


def line(output: str, start: str) -> str:
    [found] = [text for text in output.splitlines() if text.startswith(start)]
    return found


def test_status_before_the_first_run_says_so(park, capsys):
    code, out = status_of(park, capsys, datetime.now(timezone.utc))
    assert "ParkDesk has not run yet" in out and "parkdesk run" in out
    assert line(out, "上次正常运行 Last good cycle") .endswith("none yet")


def test_status_after_a_few_cycles(park, capsys):
    tenants = [park.new_tenant() for _ in range(3)]
    for i, tenant in enumerate(tenants[:2]):
        park.send_complaint(tenant, f"3号楼漏水 {i}", "天花板一直在漏水")
    park.bench.append(park.complaints, "INBOX", b"\x00\x01\x02 not an email at all \xff\xfe")
    park.run_once_ok()
    park.send_complaint(tenants[2], "停车位被占", "我们的车位被占了")
    park.run_once_ok()
    finished = datetime.now(timezone.utc)

    code, out = status_of(park, capsys, finished + timedelta(minutes=2))
    assert code == 0, out
    assert "东湖科技产业园" in out
    last_good = line(out, "上次正常运行 Last good cycle")
    assert "minutes ago" in last_good and ("2 minutes" in last_good or "3 minutes" in last_good)
    assert line(out, "运行状况 Health") == "运行状况 Health: OK"
    assert line(out, "待发邮件 Outbox") == "待发邮件 Outbox: 0 waiting to be sent"
    assert line(out, "已隔离邮件 Quarantined mail").startswith("已隔离邮件 Quarantined mail: 1 ")
    assert line(out, "未结投诉 Open complaints") == "未结投诉 Open complaints: 3"
    assert line(out, "逾期投诉 Overdue complaints") == "逾期投诉 Overdue complaints: 0"

    # An hour later nobody has signed for the slips (5 minutes each): all three are overdue.
    # And no cycle ran in that hour: ParkDesk is not running.
    code, out = status_of(park, capsys, finished + timedelta(hours=1))
    assert code == 1
    assert line(out, "运行状况 Health").startswith(
        "运行状况 Health: NOT RUNNING? no cycle for 1 h 0 min: check that ParkDesk runs "
        "(systemd: systemctl status parkdesk;")
    overdue = line(out, "逾期投诉 Overdue complaints")
    assert overdue.startswith("逾期投诉 Overdue complaints: 3 (")
    references = {row["reference"] for row in park.register_rows()}
    assert len(references) == 3 and all(reference in overdue for reference in references)
    assert "签收 sign-for" in overdue


def test_status_shows_a_failing_intake_and_exits_1(park, capsys):
    park.run_once_ok()
    config = load_config(park.config_path)
    journal = Journal(config.state_dir / "journal.sqlite3")
    clock = datetime.now(config.park.tz)
    try:
        HealthMonitor(config=config, journal=journal, templates=Templates("zh-CN"),
                      now=lambda: clock).record_failure(
            INTAKE, "Cannot reach mail server 127.0.0.1: connection refused")
    finally:
        journal.close()
    code, out = status_of(park, capsys, clock + timedelta(minutes=20))
    assert code == 1
    assert line(out, "运行状况 Health") == "运行状况 Health: FAILING"
    problem = line(out, "  - ")
    assert "intake" in problem and "20 min" in problem and "connection refused" in problem
    assert f"alert due: sent at the daemon's next cycle to {park.service_center}" in problem


def test_status_of_a_local_park_that_never_ran_changes_nothing(tmp_path, capsys):
    import yaml
    from pathlib import Path

    data = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text("utf-8"))
    data["park"]["language"] = "en"
    data["state_dir"] = str(tmp_path / "state")
    data["mailbox"] = {"backend": "maildir", "path": str(tmp_path / "mail")}
    data["smtp"] = {"backend": "outbox", "path": str(tmp_path / "out"), "from_address": "c@park.test"}
    data["register"] = {"backend": "workbook", "path": str(tmp_path / "register.xlsx")}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_status_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["status", "--config", str(config_path)])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "Last good cycle: none yet" in out and "Open complaints: 0" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_complaint_late_at_two_stages_counts_once():
    from daemon.health import HealthState
    from daemon.status import ParkStatus, format_status

    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    now = datetime(2026, 5, 14, 12, 0, tzinfo=timezone.utc)
    status = ParkStatus(now=now, health=HealthState(now - timedelta(minutes=2), {}),
                        outbox_pending=0, outbox_failed=0, quarantined=0, open_complaints=2,
                        overdue=["C-1 签收 sign-for 3h late", "C-2 处理 resolution 1h late",
                                 "C-1 处理 resolution 2h late"],
                        overdue_complaints=2)
    overdue = line(format_status(status, config), "逾期投诉 Overdue complaints")
    assert overdue.startswith("逾期投诉 Overdue complaints: 2 (3 deadlines passed: C-1 签收")
