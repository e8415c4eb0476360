"""`parkdesk demo`: the whole procedure on the local backends, run as a user runs it.

The demo runs in this process through ``daemon.cli.main(["demo", "--dir", ...])``; then the
register it left is checked cell by cell against the story in ``daemon/demo/script.py``, the
outbox email by email (who got what about which complaint), the Maildir, and the printed
summary. Also: running it again starts afresh without touching other files, folders that are
not the demo's are refused, and the package as installed (templates included) runs it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from daemon.authenticity import load_or_create_secret, read_message_id
from daemon.cli import main
from daemon.demo.folder import MARKER_NAME
from daemon.demo.summary import text_width
from daemon.register.workbook import WorkbookRegister

ROOT = Path(__file__).resolve().parent.parent

WANG_FANG, ZHANG_WEI = "wang.fang@demo-park.test", "zhang.wei@demo-park.test"
ZHAO_LEI, REPAIRS, LI_QIANG = "zhao.lei@demo-park.test", "repairs@demo-park.test", "li.qiang@demo-park.test"
SUN_HAO, LIU_YANG = "sun.hao@demo-park.test", "liu.yang@demo-park.test"
SERVICE, DIRECTOR = "service@demo-park.test", "director@demo-park.test"
LI_MING, ZHOU_TING = "li.ming@xingchen-tech.test", "zhou.ting@hengyuan-bio.test"
WANG_QIANG, EMMA = "wang.qiang@jinhe-trading.test", "emma.clarke@northwind-design.test"
TOM = "tom.becker@alpine-robotics.test"

DAY = "2025-05-14 "
COMMON = {"received_at": DAY + "09:30", "check": "", "notes": "", "attachments": ""}

# Every cell the story decides, per complaint (content and times of updates apart).
EXPECTED_ROWS = {
    "C-250514-001": {
        "status": "Closed 已结案", "company": "星辰科技有限公司", "contact_name": "李明",
        "email": LI_MING, "phone": "0571-88886666", "location": "3号楼",
        "subject": "3号楼电梯故障，停在5楼不动", "category": "设施维护 Facilities",
        "priority": "高 High", "serious": "", "department": "设施维护部 Facilities",
        "assignee": ZHAO_LEI, "dispatched_at": DAY + "09:30", "ack_due": DAY + "09:35",
        "acknowledged_at": DAY + "09:33", "acknowledged_by": ZHAO_LEI,
        "resolve_by": "2025-05-15 09:30", "escalations": "", "resolved_at": DAY + "10:30",
        "resolved_by": ZHAO_LEI, "result": "已更换电梯控制板，电梯恢复运行",
        "signed_off_by": LI_QIANG, "signed_off_at": DAY + "10:40",
        "visit_sent_at": DAY + "12:45", "satisfaction": "4", "feedback": "谢谢，修得很快",
        "review": "", "closed_at": DAY + "14:00",
    },
    "C-250514-002": {
        "status": "Closed 已结案", "company": "恒远生物科技有限公司", "contact_name": "周婷",
        "email": ZHOU_TING, "phone": "13800138000", "location": "B座1楼",
        "subject": "紧急！B座仓库冒烟，疑似火灾", "category": "安全 Safety",
        "priority": "紧急 Urgent", "serious": "是 Yes", "department": "安保部 Security",
        "assignee": SUN_HAO, "dispatched_at": DAY + "09:30", "ack_due": DAY + "09:35",
        "acknowledged_at": DAY + "09:33", "acknowledged_by": SUN_HAO,
        "resolve_by": DAY + "13:30", "escalations": "", "resolved_at": DAY + "10:30",
        "resolved_by": LIU_YANG, "result": "仓库配电箱短路冒烟，已断电灭火，无人受伤",
        "signed_off_by": LIU_YANG, "signed_off_at": DAY + "10:30",
        "visit_sent_at": DAY + "12:45", "satisfaction": "5", "feedback": "处理非常及时",
        "review": "原因：配电箱老化短路。措施：已更换配电箱。预防：每月巡检电气线路。",
        "closed_at": DAY + "14:00",
    },
    # Reopened by the unhappy answer: dispatched afresh, the round's cells emptied.
    "C-250514-003": {
        "status": "Reopened 重新处理", "company": "金禾贸易有限公司", "contact_name": "王强",
        "email": WANG_QIANG, "phone": "0571-87651234", "location": "C座2楼",
        "subject": "楼道垃圾三天没清理，异味很大", "category": "环境卫生 Environment",
        "priority": "中 Normal", "serious": "", "department": "物业管理部 Property Management",
        "assignee": "", "dispatched_at": DAY + "14:00", "ack_due": DAY + "14:10",
        "acknowledged_at": "", "acknowledged_by": "", "resolve_by": "2025-05-17 14:00",
        "escalations": "", "resolved_at": "", "resolved_by": "", "result": "",
        "signed_off_by": "", "signed_off_at": "", "visit_sent_at": "", "satisfaction": "",
        "feedback": "", "review": "", "closed_at": "",
    },
    "C-250514-004": {
        "status": "Resolved 已处理", "company": "Northwind Design Ltd.",
        "contact_name": "Emma Clarke", "email": EMMA, "phone": "0571-86660000",
        "location": "Building A", "subject": "Our parking spaces are blocked by delivery trucks",
        "category": "物业管理 Property", "priority": "中 Normal", "serious": "",
        "department": "物业管理部 Property Management", "assignee": WANG_FANG,
        "dispatched_at": DAY + "09:30", "ack_due": DAY + "09:40",
        "acknowledged_at": DAY + "09:33", "acknowledged_by": WANG_FANG,
        "resolve_by": "2025-05-17 09:30", "escalations": "", "resolved_at": DAY + "10:30",
        "resolved_by": WANG_FANG,
        "result": "The trucks were moved; a loading zone is now marked at Building C",
        "signed_off_by": "", "signed_off_at": "", "visit_sent_at": "", "satisfaction": "",
        "feedback": "", "review": "", "closed_at": "",
    },
    "C-250514-005": {
        "status": "Acknowledged 已签收", "company": "Alpine Robotics GmbH",
        "contact_name": "Tom Becker", "email": TOM, "phone": "0571-89990000",
        "location": "Building B room 305",
        "subject": "Water leak from the ceiling in Building B, room 305",
        "category": "设施维护 Facilities", "priority": "高 High", "serious": "",
        "department": "设施维护部 Facilities", "assignee": REPAIRS,
        "dispatched_at": DAY + "09:30", "ack_due": DAY + "09:35",
        "acknowledged_at": DAY + "09:45", "acknowledged_by": REPAIRS,
        "resolve_by": "2025-05-15 09:30",
        "escalations": f"ack+0min→部门 {DAY}09:36; ack+5min→服务中心 {DAY}09:41",
        "resolved_at": "", "resolved_by": "", "result": "", "signed_off_by": "",
        "signed_off_at": "", "visit_sent_at": "", "satisfaction": "", "feedback": "",
        "review": "", "closed_at": "",
    },
}

# Part of what each tenant wrote, as the register must show it (GBK and HTML decoded).
CONTENT = {
    "C-250514-001": "员工只能走楼梯",
    "C-250514-002": "能闻到焦味",
    "C-250514-003": "C座2楼楼道的垃圾已经三天没人清理了",  # sent in GBK
    "C-250514-004": "delivery trucks have been left in the parking spaces",  # HTML only
    "C-250514-005": "Water is dripping from the ceiling",
}

# Who got what: (complaint number, purpose of the email) per recipient. Purposes are read from
# our Message-ID tokens; the apology to a new complaint carries no token.
EXPECTED_MAIL = {
    LI_MING: [(1, "apology"), (1, "result"), (1, "visit")],
    ZHOU_TING: [(2, "apology"), (2, "result"), (2, "visit")],
    WANG_QIANG: [(3, "apology"), (3, "result"), (3, "visit")],
    EMMA: [(4, "apology")],
    TOM: [(5, "apology"), (5, "progress")],
    ZHAO_LEI: [(1, "slip"), (5, "slip"), (1, "note"), (5, "reminder"), (1, "note")],
    REPAIRS: [(1, "slip"), (5, "slip"), (5, "reminder"), (5, "note"), (5, "note")],
    LI_QIANG: [(1, "slip"), (5, "slip"), (5, "reminder"), (1, "signoff"), (1, "note")],
    SUN_HAO: [(2, "slip"), (2, "note")],
    LIU_YANG: [(2, "slip"), (2, "note"), (2, "review"), (2, "note")],
    WANG_FANG: [(3, "slip"), (4, "slip"), (3, "note"), (4, "note"), (3, "note"), (4, "note"),
                (3, "slip")],
    ZHANG_WEI: [(3, "slip"), (4, "slip"), (3, "signoff"), (4, "signoff"), (3, "note"),
                (3, "slip")],
    SERVICE: [(5, "reminder"), (3, "reopened")],
    DIRECTOR: [(2, "slip")],
}


def run_demo_command(folder: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["demo", "--dir", str(folder)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "parkdesk-demo"
    started = time.perf_counter()
    code, out, err = run_demo_command(folder)
    print(f"\nparkdesk demo ran in {time.perf_counter() - started:.2f} s")
    assert code == 0, err
    return folder, out, err


def register_rows(folder: Path) -> dict[str, dict[str, str]]:
    return {row.reference: dict(row.values)
            for row in WorkbookRegister(folder / "register.xlsx").read_register()}


def outbox(folder: Path) -> list:
    return [message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted((folder / "outbox").glob("*.eml"))]


def purpose_of(message, secret) -> str:
    token = read_message_id(secret, message["Message-ID"])
    return token.purpose if token else "apology"


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_the_register_is_as_the_story_says_cell_by_cell(demo):
    folder, _, _ = demo
    rows = register_rows(folder)
    assert list(rows) == list(EXPECTED_ROWS)  # one row each, in order of arrival
    for reference, expected in EXPECTED_ROWS.items():
        row = rows[reference]
        for key, value in {**COMMON, **expected}.items():
            assert row[key] == value, f"{reference} {key}: {row[key]!r}, expected {value!r}"
        assert CONTENT[reference] in " ".join(row["content"].split())
        assert row["message_id"].startswith("<") and row["message_id"].endswith(">")


def test_every_email_went_to_the_right_person_for_the_right_reason(demo):
    folder, _, _ = demo
    secret = load_or_create_secret(folder / "state")
    got: dict[str, Counter] = {}
    for message in outbox(folder):
        [recipient] = [address.strip().lower() for address in message["To"].split(",")]
        reference = message["X-ParkDesk-Reference"]
        assert f"[{reference}]" in message["Subject"]
        number = int(reference.rsplit("-", 1)[1])
        got.setdefault(recipient, Counter())[(number, purpose_of(message, secret))] += 1
    assert got == {address: Counter(mails) for address, mails in EXPECTED_MAIL.items()}


def test_the_emails_say_what_happened(demo):
    folder, _, _ = demo
    secret = load_or_create_secret(folder / "state")
    mails = outbox(folder)

    def one(recipient, reference, purpose, index=-1):
        found = [m for m in mails if m["To"] == recipient and m["X-ParkDesk-Reference"] == reference
                 and purpose_of(m, secret) == purpose]
        return found[index]

    apology = one(WANG_QIANG, "C-250514-003", "apology")  # the GBK complaint, decoded
    assert "楼道垃圾三天没清理" in apology["Subject"] and apology["Auto-Submitted"] == "auto-replied"
    assert "Our parking spaces" in one(EMMA, "C-250514-004", "apology")["Subject"]
    leader_slip = one(DIRECTOR, "C-250514-002", "slip")
    assert "严重" in leader_slip["Subject"] and LIU_YANG in body_of(leader_slip)
    assert "Valve closed" in body_of(one(TOM, "C-250514-005", "progress"))
    assert "已更换电梯控制板" in body_of(one(LI_MING, "C-250514-001", "result"))
    assert "已更换电梯控制板" in body_of(one(LI_QIANG, "C-250514-001", "signoff"))
    assert "楼道还是有味道" in body_of(one(SERVICE, "C-250514-003", "reopened"))
    assert "楼道还是有味道" in body_of(one(WANG_FANG, "C-250514-003", "slip"))  # the second slip
    assert "楼道还是有味道" not in body_of(one(WANG_FANG, "C-250514-003", "slip", index=0))
    for tenant, reference in ((LI_MING, "C-250514-001"), (ZHOU_TING, "C-250514-002"),
                              (WANG_QIANG, "C-250514-003")):
        assert one(tenant, reference, "visit")["Date"].datetime.strftime("%H:%M") == "12:45"


def test_every_mail_in_the_maildir_was_handled(demo):
    folder, _, _ = demo
    maildir = folder / "maildir"
    assert not list((maildir / "new").iterdir()) and not list((maildir / "cur").iterdir())
    processed = [*(maildir / ".Processed" / "new").iterdir(), *(maildir / ".Processed" / "cur").iterdir()]
    # 5 complaints, 4 sign-fors, 1 late sign-for, 5 results and notes, 2 sign-offs, 3 answers and a review
    assert len(processed) == 5 + 4 + 1 + 5 + 2 + 4
    quarantine = maildir / ".Quarantine"
    assert not [*(quarantine / "new").iterdir(), *(quarantine / "cur").iterdir()]


def test_the_summary_shows_the_register_the_emails_and_the_files(demo):
    folder, out, err = demo
    assert err == ""  # quiet: no log lines
    lines = out.splitlines()
    wide = [line for line in lines if text_width(line) > 100 and str(folder) not in line]
    assert not wide  # only a line with a long path (never cut) may be wider
    rows = register_rows(folder)
    for reference, expected in EXPECTED_ROWS.items():
        [line] = [line for line in lines if line.startswith(f"  {reference}")
                  and expected["status"] in line]
        assert expected["priority"] in line and expected["category"] in line
    timings = {line.split()[0]: line.split()[1:7] for line in lines
               if line.startswith("  C-250514-") and ":" in line.split()[1]}
    assert timings["C-250514-001"] == ["09:30", "09:33", "10:30", "10:40", "14:00", "4"]
    assert timings["C-250514-002"] == ["09:30", "09:33", "10:30", "10:30", "14:00", "5"]
    assert timings["C-250514-003"][0] == "09:30" and timings["C-250514-004"][3] == "-"
    assert "49 .eml files in outbox/" in out and f"{len(rows)} complaints" in out
    assert str(folder / "register.xlsx") in out and str(folder / "outbox") in out
    assert str(folder / "config.yaml") in out
    for address, mails in EXPECTED_MAIL.items():
        assert any(line.startswith(f"  {address} (") and line.endswith(f": {len(mails)}")
                   for line in lines), address
    assert "  14:00  [C-250514-003] 企业不满意" in out  # the service center told of the reopening
    steps = [line for line in lines if line[:2] == "  " and line[2:7].count(":") == 1
             and line[7:9] == "  " and not line.startswith("    ")]
    assert [line[2:7] for line in steps] == ["09:30", "09:33", "09:36", "09:41", "09:45",
                                              "10:30", "10:40", "12:45", "14:00"]
    assert steps[0].endswith("5 registered, 18 emails")
    assert lines[-1].startswith("Demo finished in ")


def test_running_it_again_starts_afresh_and_leaves_other_files_alone(demo, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(demo[0], folder)
    (folder / "my notes.txt").write_text("mine", encoding="utf-8")
    code, out, err = run_demo_command(folder)
    assert code == 0, err
    assert (folder / "my notes.txt").read_text(encoding="utf-8") == "mine"
    assert list(register_rows(folder)) == list(EXPECTED_ROWS)  # 5 rows, not 10
    assert len(outbox(folder)) == sum(len(mails) for mails in EXPECTED_MAIL.values())
    assert "49 .eml files" in out


@pytest.mark.parametrize("name", ["config.yaml", "register.xlsx", "outbox", "state"])
def test_a_folder_with_files_the_demo_did_not_make_is_refused(tmp_path, name):
    target = tmp_path / name
    if "." in name:
        target.write_text("the park's own", encoding="utf-8")
    else:
        target.mkdir()
        (target / "keep.txt").write_text("the park's own", encoding="utf-8")
    code, out, err = run_demo_command(tmp_path)
    assert code == 1 and out == ""
    assert name in err and MARKER_NAME in err and "--dir" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    kept = target if "." in name else target / "keep.txt"
    assert kept.read_text(encoding="utf-8") == "the park's own"


def test_a_changed_demo_config_is_not_removed(demo, tmp_path):
    folder = tmp_path / "changed"
    shutil.copytree(demo[0], folder)
    config = folder / "config.yaml"
    config.write_text("park:\n  name: Our real park\n", encoding="utf-8")
    code, _, err = run_demo_command(folder)
    assert code == 1 and "config.yaml" in err and "not the demo park's config" in err
    assert config.read_text(encoding="utf-8") == "park:\n  name: Our real park\n"
    assert (folder / "register.xlsx").exists()


def test_the_demo_refuses_while_its_register_is_open_in_excel(demo, tmp_path):
    folder = tmp_path / "open"
    shutil.copytree(demo[0], folder)
    (folder / "~$register.xlsx").write_bytes(b"\x00")
    code, _, err = run_demo_command(folder)
    assert code == 1 and "~$register.xlsx" in err and "Close it" in err
    assert len(list((folder / "outbox").glob("*.eml"))) == 49


def test_pyproject_ships_every_subpackage_and_the_templates():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    subpackages = sorted(".".join(path.parent.relative_to(ROOT).parts)
                         for path in (ROOT / "daemon").rglob("__init__.py"))
    assert sorted(p for p in setuptools["packages"] if p.startswith("daemon")) == subpackages
    assert setuptools["package-dir"]["parkdesk_templates"] == "templates"
    assert "parkdesk_templates" in setuptools["packages"]


# setuptools' build_py with the project's configuration: the files `pip install .` installs.
BUILD_PY = """
import sys
from setuptools.dist import Distribution

dist = Distribution({"script_name": "setup.py"})
dist.parse_config_files()
command = dist.get_command_obj("build_py")
command.build_lib = sys.argv[1]
command.ensure_finalized()
command.run()
"""
RUN_DEMO = """
import sys
from daemon.cli import main
from daemon.templates import default_templates_dir

print(default_templates_dir())
sys.exit(main(["demo", "--dir", "demo"]))
"""


def test_the_built_package_runs_the_demo_with_its_own_templates(tmp_path):
    """What `pip install .` puts in site-packages (setuptools' build_py, no network), run from
    elsewhere: the templates must come from the installed data package."""
    build = tmp_path / "build"
    subprocess.run([sys.executable, "-c", BUILD_PY, str(build)], cwd=ROOT, check=True,
                   capture_output=True)
    shipped = sorted(p.relative_to(build / "parkdesk_templates")
                     for p in (build / "parkdesk_templates").rglob("*.j2"))
    assert shipped == sorted(p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*.j2"))
    modules = sorted(p.relative_to(ROOT) for p in (ROOT / "daemon").rglob("*.py"))
    assert sorted(p.relative_to(build) for p in (build / "daemon").rglob("*.py")) == modules

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", RUN_DEMO], cwd=elsewhere,
                            env={**os.environ, "PYTHONPATH": str(build)}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(build / "parkdesk_templates")
    assert "49 .eml files" in result.stdout
