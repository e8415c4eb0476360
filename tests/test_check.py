"""Tests for `parkdesk check`: against the real Dovecot, SMTP relay and Sheets emulator, working
and broken one way at a time (wrong password, unshared sheet, unknown host, bad template)."""

from __future__ import annotations

import shutil
import time
from email import message_from_bytes
from pathlib import Path

import pytest
import yaml

from daemon.check import (
    CheckResult,
    check_imap,
    check_templates,
    format_checklist,
    is_netease,
    run_checks,
)
from daemon.config import load_config
from daemon.cli import main
from daemon.templates import default_templates_dir
from tests.sheets_emulator.fixtures import SERVICE_ACCOUNT_EMAIL


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
    smtp_port = park.bench.smtp_port
    for line in (f"[ OK ] IMAP login as {park.complaints}", "[ OK ] IMAP IDLE offered",
                 "[ OK ] IMAP ID: sent (ParkDesk names itself to the server)",
                 f"[ OK ] SMTP reachable at 127.0.0.1:{smtp_port} (STARTTLS)\n",
                 "[ OK ] SMTP STARTTLS with a valid certificate\n",
                 f"[ OK ] SMTP login as {park.complaints}\n",
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
    assert out.rstrip().endswith("1 of 13 checks failed.")


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
    assert smtp.name.startswith("SMTP reachable at nonexistent.invalid")
    assert "Cannot use the SMTP server nonexistent.invalid" in smtp.detail
    assert "cannot be resolved" in smtp.detail
    assert smtp.fix.startswith("unknown host: check the spelling of smtp.host")


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


# --- SMTP step by step ---------------------------------------------------------------------------

def smtp_lines(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.name.startswith("SMTP")]


def test_wrong_smtp_password_fails_at_smtp_login_only(park_env, monkeypatch):
    park = park_env
    monkeypatch.setenv("PARKDESK_SMTP_PASSWORD", "not-the-password")
    results = run_checks(park.config_path)
    reach, tls, login = smtp_lines(results)
    assert reach.ok and tls.ok
    assert failures(results) == [login]
    assert login.name == f"SMTP login as {park.complaints}"
    assert login.detail.startswith(f"The SMTP server refused the login for {park.complaints} (535")
    assert "PARKDESK_SMTP_PASSWORD" in login.detail and "not-the-password" not in login.detail
    assert login.fix.startswith("wrong user name or password: check smtp.username")


def test_smtp_certificate_not_trusted_fails_at_tls(park_env):
    park = park_env
    config = park.write_config(smtp={"ca_file": None})  # the bench's own CA is not in the system's
    results = run_checks(config)
    reach, tls = smtp_lines(results)
    assert reach.ok
    assert failures(results) == [tls]
    assert tls.name == "SMTP STARTTLS with a valid certificate"
    assert tls.detail.startswith("The certificate of 127.0.0.1 could not be verified (")
    assert "certificate is not valid" in tls.fix and "smtp.ca_file" in tls.fix


def test_smtp_ssl_on_a_starttls_port_says_security_and_port_do_not_match(park_env):
    park = park_env
    config = park.write_config(smtp={"security": "ssl", "port": park.bench.smtp_port})
    reach, tls = smtp_lines(run_checks(config, timeout=5))
    assert reach.ok and reach.name == f"SMTP reachable at 127.0.0.1:{park.bench.smtp_port} (TLS)"
    assert not tls.ok and tls.name == "SMTP TLS with a valid certificate"
    assert tls.fix.startswith("smtp.security and smtp.port do not match")


def test_smtp_port_refused_says_so(park_env):
    park = park_env
    config = park.write_config(smtp={"port": 1})
    [reach] = smtp_lines(run_checks(config, timeout=3))
    assert not reach.ok and reach.name == "SMTP reachable at 127.0.0.1:1 (STARTTLS)"
    assert reach.detail == ("Cannot use the SMTP server 127.0.0.1:1: connection refused (is the "
                            "server running, and are smtp.host and smtp.port right?)")
    assert reach.fix.startswith("the port refused the connection: check smtp.port")


def test_ssl_smtp_with_a_test_message(park_env, capsys):
    park = park_env
    config = park.write_config(smtp={"security": "ssl", "port": park.bench.smtps_port})
    results = run_checks(config, send_test=park.service_center)
    assert not failures(results)
    assert [r.name for r in smtp_lines(results)] == [
        f"SMTP reachable at 127.0.0.1:{park.bench.smtps_port} (TLS)",
        "SMTP TLS with a valid certificate", f"SMTP login as {park.complaints}"]
    assert by_name(results, "test message to").detail == "sent"
    assert len(park.mail_of(park.service_center)) == 1


# --- IMAP ID for NetEase --------------------------------------------------------------------------

def test_netease_is_known_by_host_or_address():
    assert is_netease("imap.163.com", "x@park.test")
    assert is_netease("IMAP.126.COM.", None)
    assert is_netease("127.0.0.1", "complaints@yeah.net")
    assert is_netease("imap.qiye.163.com", "")
    assert not is_netease("imap.exmail.qq.com", "a@qq.com")
    assert not is_netease("imap.x163.com", "a@not163.com")


def netease_mailbox_config(park, monkeypatch, *, port: int | None = None, ca_file=None):
    """The park's config with a 163.com mailbox on the bench (or on another Dovecot's port)."""
    address = f"complaints-{park.complaints.split('@')[0].split('-')[-1]}@163.com"
    password = park.bench.add_user(address)
    monkeypatch.setenv("PARKDESK_IMAP_PASSWORD", password)
    overrides = {"username": address}
    if port:
        overrides.update(port=port, ca_file=ca_file)
    return load_config(park.write_config(mailbox=overrides)), address, password


def test_netease_mailbox_sends_id_when_offered(park_env, monkeypatch):
    config, _, _ = netease_mailbox_config(park_env, monkeypatch)
    results = check_imap(config)
    [id_line] = [r for r in results if r.name == "IMAP ID"]
    assert id_line.ok and not id_line.warn
    assert id_line.detail == "sent (ParkDesk names itself to the server)"


@pytest.fixture
def dovecot_without_id(tmp_path):
    """A real Dovecot whose CAPABILITY does not list ID (as some servers answer)."""
    import tempfile
    from pathlib import Path

    from tests.mailbench import DovecotUnavailable
    from tests.mailbench.dovecot import DovecotServer, resolve_server_account
    from tests.mailbench.tls import create_tls_files

    class NoIdDovecot(DovecotServer):
        def _render_config(self) -> str:
            return super()._render_config().replace(
                "protocol imap {\n",
                "protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ENABLE "
                "IDLE NAMESPACE UIDPLUS MOVE CHILDREN LITERAL+ UNSELECT\n", 1)

    root = Path(tempfile.mkdtemp(prefix="mbid", dir="/tmp"))  # short: Unix socket paths
    server = NoIdDovecot(root, create_tls_files(root), resolve_server_account())
    try:
        server.start()
    except DovecotUnavailable as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def check_imap_once_logged_in(config) -> list[CheckResult]:
    """check_imap, again for a moment until Dovecot has noticed a just-written user."""
    deadline = time.monotonic() + 5
    while True:
        results = check_imap(config)
        if by_name(results, "IMAP login").ok or time.monotonic() > deadline:
            return results
        time.sleep(0.1)


def test_netease_mailbox_whose_server_does_not_offer_id_is_warned(park_env, monkeypatch,
                                                                  dovecot_without_id):
    server = dovecot_without_id
    config, address, password = netease_mailbox_config(
        park_env, monkeypatch, port=server.imap_port, ca_file=str(server.tls.ca_file))
    server.write_user(address, password)
    results = check_imap_once_logged_in(config)
    assert by_name(results, "IMAP login").ok
    [id_line] = [r for r in results if r.name == "IMAP ID"]
    assert id_line.ok and id_line.warn
    assert id_line.detail.startswith("NetEase mail (163/126/yeah.net) needs the ID command")
    assert "授权码" in id_line.fix and "imap.163.com" in id_line.fix
    # The same server for a mailbox that is not NetEase's: nothing to say.
    other = load_config(park_env.write_config(mailbox={
        "username": park_env.complaints, "port": server.imap_port,
        "ca_file": str(server.tls.ca_file)}))
    server.write_user(park_env.complaints, password)
    results = check_imap_once_logged_in(other)
    assert by_name(results, "IMAP login").ok
    [plain] = [r for r in results if r.name == "IMAP ID"]
    assert plain.ok and not plain.warn and plain.detail == "not offered by the server; not needed"


def test_a_typo_in_the_digest_template_fails_the_digest_line(tmp_path):
    import shutil

    from daemon.check import check_digest_template
    from daemon.config import load_config
    from daemon.templates import default_templates_dir

    root = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), root)
    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    [ok] = check_digest_template(config, root)
    assert ok.ok
    html = root / config.park.language / "digest.html.j2"
    html.write_text(html.read_text(encoding="utf-8") + "{{ park_nmae }}", encoding="utf-8")
    [broken] = check_digest_template(config, root)
    assert not broken.ok and "park_nmae" in broken.detail and "digest.html.j2" in broken.fix
