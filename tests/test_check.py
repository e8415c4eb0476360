"""Tests for `parkdesk check`: against the real Dovecot, SMTP relay and Sheets emulator, working
and broken one way at a time (wrong password, unshared sheet, unknown host, bad template)."""

from __future__ import annotations

import shutil
import time
from email import message_from_bytes

import pytest
import yaml

from daemon.check import (
    CheckResult,
    check_templates,
    format_checklist,
    run_checks,
)
from daemon.cli import main
from daemon.templates import default_templates_dir
from tests.sheets_emulator.fixtures import SERVICE_ACCOUNT_EMAIL


@pytest.fixture
def park_env(park, monkeypatch):
    """The park, with its passwords in this process's environment (as the operator sets them)."""
    for name, value in park.env().items():
        if name.startswith("PARKDESK_"):
            monkeypatch.setenv(name, value)
    return park


def by_name(results: list[CheckResult], start: str) -> CheckResult:
    [result] = [r for r in results if r.name.startswith(start)]
    return result


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


def test_working_park_is_all_green_and_the_test_message_arrives(park_env, capsys):
    park = park_env
    code = main(["check", "--config", str(park.config_path), "--send-test", park.service_center])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[FAIL]" not in out and "[WARN]" not in out
    assert out.rstrip().endswith("All checks passed.")
    for line in (f"[ OK ] IMAP login as {park.complaints}", "[ OK ] IMAP IDLE offered",
                 "[ OK ] IMAP folder 'INBOX' opens", f"[ OK ] test message to {park.service_center}",
                 f"[ OK ] Google Sheet {park.spreadsheet_id} reachable and writable",
                 "[ OK ] templates in "):
        assert line in out
    [raw] = park.mail_of(park.service_center)
    assert message_from_bytes(raw)["From"] == park.complaints
    # The missing IMAP folders were created, as the daemon would at its start.
    assert {"Processed", "Quarantine"} <= set(park.bench.folders(park.complaints))
    # The register's layout was put in place (the Register tab exists, with no rows yet).
    assert park.register_rows() == []


def test_wrong_imap_password_fails_at_login_with_the_servers_refusal(park_env, monkeypatch, capsys):
    park = park_env
    monkeypatch.setenv("PARKDESK_IMAP_PASSWORD", "not-the-password")
    code = main(["check", "--config", str(park.config_path)])
    out = capsys.readouterr().out
    assert code == 1
    results = run_checks(park.config_path)
    login = by_name(results, "IMAP login")
    assert not login.ok
    assert f"The mail server refused the login for {park.complaints}" in login.detail
    assert "PARKDESK_IMAP_PASSWORD" in login.detail
    assert "check mailbox.username and the password" in login.fix
    assert [r.name for r in failures(results)] == [login.name]  # SMTP, sheet still green
    assert by_name(results, "IMAP reachable").ok
    assert not any(r.name.startswith("IMAP folder") for r in results)  # stopped at login
    assert f"[FAIL] IMAP login as {park.complaints}" in out
    assert "→ fix: check mailbox.username" in out
    assert out.rstrip().endswith("1 of 10 checks failed.")


def test_unshared_sheet_says_share_it_with_the_service_account(park_env):
    park = park_env
    other = park.emulator.create_spreadsheet("someone-else@x.test")
    config = park.write_config(register={"spreadsheet_id": other})
    results = run_checks(config)
    [register] = failures(results)
    assert register.name == f"Google Sheet {other} reachable and writable"
    assert (f"Share the sheet with {SERVICE_ACCOUNT_EMAIL} as Editor" in register.detail)
    assert register.fix.startswith(f"share the sheet with {SERVICE_ACCOUNT_EMAIL} as Editor")


def test_unknown_hosts_say_cannot_reach_quickly(park_env):
    park = park_env
    config = park.write_config(mailbox={"host": "nonexistent.invalid"},
                               smtp={"host": "nonexistent.invalid"})
    started = time.monotonic()
    results = run_checks(config, timeout=3)
    assert time.monotonic() - started < 10
    imap, smtp = failures(results)
    assert imap.name.startswith("IMAP reachable at nonexistent.invalid")
    assert imap.detail.startswith("Cannot reach mail server nonexistent.invalid: "
                                  "the host name cannot be resolved")
    assert "check mailbox.host" in imap.fix
    assert smtp.name.startswith("SMTP nonexistent.invalid")
    assert "Cannot use the SMTP server nonexistent.invalid" in smtp.detail
    assert "cannot be resolved" in smtp.detail
    assert "check smtp.host" in smtp.fix


def test_refused_port_says_cannot_reach(park_env):
    park = park_env
    config = park.write_config(mailbox={"host": "127.0.0.1", "port": 1})
    imap = by_name(run_checks(config, timeout=3), "IMAP reachable")
    assert not imap.ok
    assert imap.detail == ("Cannot reach mail server 127.0.0.1: connection refused "
                           "(is the server running, and are host and port right?)")


def copy_templates(tmp_path):
    root = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), root)
    return root


def test_template_typo_is_named_with_its_file(park_env, tmp_path):
    park = park_env
    root = copy_templates(tmp_path)
    path = root / "zh-CN" / "tenant_ack.txt.j2"
    path.write_text(path.read_text(encoding="utf-8") + "编号 {{ referense }}\n", encoding="utf-8")
    results = run_checks(park.config_path, templates_root=root)
    [templates] = failures(results)
    assert templates.name == f"templates in {root / 'zh-CN'}"
    assert templates.detail.startswith("tenant_ack.txt.j2: unknown variable referense "
                                       "(it may use: category_name, contact_name, park_name, ")
    assert "correct the template files" in templates.fix


def test_template_typo_inside_a_condition_is_caught_too(tmp_path):
    # Rendering alone would not see it (the branch is not taken); the variable list does.
    root = copy_templates(tmp_path)
    path = root / "en" / "reminder.txt.j2"
    path.write_text(path.read_text(encoding="utf-8")
                    + '{% if stage == "never" %}{{ dept_name }}{% endif %}\n', encoding="utf-8")
    [result] = check_templates("en", root)
    assert not result.ok
    assert result.detail.startswith("reminder.txt.j2: unknown variable dept_name")


def test_template_syntax_error_and_missing_template(tmp_path):
    root = copy_templates(tmp_path)
    (root / "en" / "handling_slip.subject.j2").write_text("[{{ reference }] slip\n", encoding="utf-8")
    (root / "en" / "return_visit.txt.j2").unlink()
    [result] = check_templates("en", root)
    assert not result.ok
    assert "handling_slip.subject.j2 line 1: " in result.detail
    assert "return_visit: return_visit.txt.j2 is missing" in result.detail


def test_shipped_templates_pass_in_every_language():
    for language in ("en", "zh-CN"):
        [result] = check_templates(language)
        assert result.ok, result.detail


def test_complaints_mailbox_as_a_department_member_fails(park_env):
    park = park_env
    data = park.config_data()
    data["departments"][0]["members"] = [park.complaints]
    park.config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    results = run_checks(park.config_path)
    [people] = failures(results)
    assert people.name == "the complaints mailbox is not a department member"
    assert people.detail == f"{park.complaints} in {data['departments'][0]['key']}"


def test_invalid_config_is_one_failing_line(tmp_path, capsys):
    path = tmp_path / "config.yaml"
    path.write_text("park:\n  name: x\n", encoding="utf-8")
    assert main(["check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"[FAIL] config {path} is valid: ")
    assert "smtp: is missing" in out
    assert out.rstrip().endswith("1 of 1 checks failed.")


def test_format_checklist_marks_ok_warn_and_fail():
    text = format_checklist([
        CheckResult("a", True),
        CheckResult("b", True, "polls", "nothing", warn=True),
        CheckResult("c", False, "broken", "mend it"),
    ])
    assert text == ("[ OK ] a\n"
                    "[WARN] b: polls\n       → fix: nothing\n"
                    "[FAIL] c: broken\n       → fix: mend it\n"
                    "1 of 3 checks failed.\n")


def test_sheet_shared_read_only_fails_even_when_its_layout_is_in_place(park_env):
    park = park_env
    assert not failures(run_checks(park.config_path))  # lays the sheet out, as the daemon would
    other = park.emulator.create_spreadsheet("someone-else@x.test")
    park.emulator.share(other, SERVICE_ACCOUNT_EMAIL, "writer")
    config = park.write_config(register={"spreadsheet_id": other})
    assert not failures(run_checks(config))  # laid out now; from here on nothing is written
    park.emulator.share(other, SERVICE_ACCOUNT_EMAIL, "reader")
    [editable] = failures(run_checks(config))
    assert editable.name == f"{SERVICE_ACCOUNT_EMAIL} may edit the sheet"
    assert editable.detail == "the sheet is shared with it read-only"
    assert editable.fix == f"share the sheet with {SERVICE_ACCOUNT_EMAIL} as Editor"
