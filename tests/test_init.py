"""`parkdesk init`: mail-provider presets, answers read and re-asked, the config.yaml written
(it must load), files never replaced without --force, and the register set up for real: a
workbook, and a Google Sheet on the Sheets API emulator (checked through gspread, twice)."""

from __future__ import annotations

import argparse
import json
from collections import deque
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from daemon.config import SMTP_PORTS, load_config
from daemon.mailbox.imap import ImapMailbox
from daemon.setup import add_init_command
from daemon.setup.answers import (
    AnswerError,
    parse_department,
    parse_email,
    parse_spreadsheet_id,
)
from daemon.setup.command import existing_spreadsheet_id
from daemon.setup.config_text import flow_list
from daemon.setup.presets import (
    CUSTOM,
    LOCAL,
    PRESET_LIST,
    PRESETS,
    find_preset,
    guess_preset,
)
from daemon.sheet_layout import DEPARTMENTS_TAB, REGISTER_TAB

PARK = "东湖科技产业园"
REQUIRED_FLAGS = [
    "--park-name", PARK,
    "--mailbox-address", "complaints@qq.com",
    "--service-center", "service@donghu.example.com",
    "--leadership", "boss@donghu.example.com,deputy@donghu.example.com",
    "--department", "property:物业管理部:zhang@donghu.example.com:a@donghu.example.com,b@donghu.example.com",
    "--department", "facilities：设施维护部：li@donghu.example.com",
]


class Console:
    """Scripted answers for the prompts, and everything init printed."""

    def __init__(self, *answers: str):
        self.answers = deque(answers)
        self.prompts: list[str] = []
        self.printed: list[str] = []
        self.errors: list[str] = []

    def input(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.popleft()

    def out(self, text: str) -> None:
        self.printed.append(text)

    def err(self, text: str) -> None:
        self.errors.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.printed)


def init(argv: list[str], console: Console | None = None) -> tuple[int, Console]:
    """Run `parkdesk init ARGV` through its own parser and handler."""
    console = console or Console()
    parser = argparse.ArgumentParser(prog="parkdesk")
    add_init_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["init", *argv])
    code = args.handler(args, input_fn=console.input, out=console.out, err=console.err,
                        now=lambda: datetime(2026, 5, 14, 9, 30, 0))
    return code, console


def workbook_flags(tmp_path: Path, *extra: str) -> list[str]:
    return [*REQUIRED_FLAGS, "--output", str(tmp_path / "config.yaml"), *extra]


# --- presets ---------------------------------------------------------------------------------

def test_presets_name_servers_with_matching_security_and_ports():
    with_servers = [p for p in PRESET_LIST if p.key not in (CUSTOM, LOCAL)]
    assert {p.key for p in with_servers} >= {"gmail", "google-workspace", "microsoft365", "qq",
                                             "exmail", "163", "126", "yeah", "aliyun",
                                             "aliyun-enterprise"}
    for preset in with_servers:
        assert preset.imap.security == "ssl" and preset.imap.port == 993, preset.key
        assert preset.smtp.port == SMTP_PORTS[preset.smtp.security], preset.key
        assert preset.imap.host.startswith(("imap.", "outlook.")), preset.key
        assert preset.notes and preset.secret.en and preset.secret.zh, preset.key
    assert PRESETS["microsoft365"].smtp.host == "smtp.office365.com"
    assert PRESETS["microsoft365"].smtp.security == "starttls"
    assert PRESETS["gmail"].smtp_alternatives[0].port == 587
    assert PRESETS["exmail"].imap.host == "imap.exmail.qq.com"
    assert PRESETS["aliyun-enterprise"].smtp.host == "smtp.qiye.aliyun.com"
    assert PRESETS[CUSTOM].imap is None and PRESETS[LOCAL].uses_accounts is False


def test_netease_presets_record_the_imap_id_quirk_and_imap_mailbox_sends_id_before_select():
    netease = {p.key for p in PRESET_LIST if p.imap_id_required}
    assert netease == {"163", "126", "yeah"}
    for key in netease:
        preset = PRESETS[key]
        assert preset.imap.host == f"imap.{preset.domains[0]}"
        assert any("Unsafe Login" in note.en and "ID" in note.zh for note in preset.notes)
    # The quirk is handled by the mailbox adapter: ID is one of its opening steps, before SELECT.
    steps = [name for name, _ in ImapMailbox.opening_steps(ImapMailbox.__new__(ImapMailbox))]
    assert steps.index("login") < steps.index("id") < steps.index("select")


def test_presets_are_found_by_other_spellings_and_guessed_from_public_domains():
    assert find_preset("Office365").key == "microsoft365"
    assert find_preset(" QQ ").key == "qq"
    assert find_preset("netease-163").key == "163"
    assert find_preset("alimail").key == "aliyun-enterprise"
    assert find_preset("yahoo") is None
    assert guess_preset("a@163.com").key == "163"
    assert guess_preset("a@Foxmail.com").key == "qq"
    assert guess_preset("a@hotmail.com").key == "outlook"
    assert guess_preset("complaints@donghu-park.example.com").key == CUSTOM


# --- answers ---------------------------------------------------------------------------------

def test_department_specs_accept_full_width_colons_and_refuse_bad_ones():
    department = parse_department("env：环境卫生部：chen@park.example.com：c@park.example.com、d@park.example.com")
    assert department.key == "env" and department.name == "环境卫生部"
    assert department.members == ("c@park.example.com", "d@park.example.com")
    for bad, words in [("property:物业管理部", "key:name:head"),
                       ("物业:物业管理部:zhang@park.example.com", "letters, digits"),
                       ("property:物业管理部:zhang at park", "not an email address")]:
        with pytest.raises(AnswerError, match=words):
            parse_department(bad)


def test_email_and_spreadsheet_answers():
    assert parse_email(" Service@Park.Example.com ") == "Service@park.example.com"
    with pytest.raises(AnswerError, match="not an email address"):
        parse_email("service.park.example.com")
    url = "https://docs.google.com/spreadsheets/d/1AbC_def-GHIjklMNOpqr/edit#gid=0"
    assert parse_spreadsheet_id(url) == "1AbC_def-GHIjklMNOpqr"
    assert parse_spreadsheet_id("") is None
    with pytest.raises(AnswerError, match="not a spreadsheet id"):
        parse_spreadsheet_id("my sheet")


def test_long_keyword_lists_wrap_and_still_read_as_one_list():
    import yaml

    words = [f"关键词{n}" for n in range(40)]
    text = "keywords: " + flow_list(words, len("keywords: "))
    assert text.count("\n") >= 3
    assert yaml.safe_load(text) == {"keywords": words}


# --- non-interactive -------------------------------------------------------------------------

def test_non_interactive_init_writes_a_config_that_loads(tmp_path):
    code, console = init(workbook_flags(tmp_path, "--yes"))
    assert code == 0, console.errors
    config = load_config(tmp_path / "config.yaml")
    assert config.park.name == PARK and config.park.language == "zh-CN"
    assert config.park.timezone == "Asia/Shanghai"
    assert (config.mailbox.host, config.mailbox.port, config.mailbox.security) == \
        ("imap.qq.com", 993, "ssl")
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == ("smtp.qq.com", 465, "ssl")
    assert config.mailbox.username == config.smtp.username == "complaints@qq.com"
    assert config.mailbox.password_env == config.smtp.password_env == "PARKDESK_MAIL_PASSWORD"
    assert config.leadership == ("boss@donghu.example.com", "deputy@donghu.example.com")
    assert [(d.key, d.name, d.head, d.members) for d in config.departments] == [
        ("property", "物业管理部", "zhang@donghu.example.com",
         ("a@donghu.example.com", "b@donghu.example.com")),
        ("facilities", "设施维护部", "li@donghu.example.com", ())]
    # Starter categories go to the park's departments; the example's others fall back to the first.
    assert {c.key: c.department for c in config.categories} == {
        "property": "property", "facilities": "facilities", "environment": "property",
        "security": "property", "other": "property"}
    assert [p.key for p in config.priorities] == ["urgent", "high", "normal", "low"]
    assert config.register.backend == "workbook"
    assert config.register.path == tmp_path / "register.xlsx"
    text = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert "授权码" in text or "authorization code" in text  # the provider's note is a comment
    assert "PARKDESK_MAIL_PASSWORD" in console.text and "parkdesk check --config" in console.text
    assert "parkdesk run --config" in console.text


@pytest.mark.parametrize("preset", [p.key for p in PRESET_LIST])
def test_every_preset_writes_a_config_that_loads(tmp_path, preset):
    extra = ["--imap-host", "mail.donghu.example.com", "--smtp-host", "mail.donghu.example.com",
             "--smtp-security", "starttls"] if preset == CUSTOM else []
    code, console = init(workbook_flags(tmp_path, "--yes", "--provider", preset,
                                        "--language", "en", *extra))
    assert code == 0, console.errors
    config = load_config(tmp_path / "config.yaml")
    expected = PRESETS[preset]
    if preset == LOCAL:
        assert (config.mailbox.backend, config.smtp.backend) == ("maildir", "outbox")
        assert config.mailbox.path == tmp_path / "mail" / "inbox"
        assert "PASSWORD" not in console.text
    elif preset == CUSTOM:
        assert (config.mailbox.host, config.mailbox.port) == ("mail.donghu.example.com", 993)
        assert (config.smtp.port, config.smtp.security) == (587, "starttls")
    else:
        assert (config.mailbox.host, config.mailbox.port, config.mailbox.security) == \
            (expected.imap.host, expected.imap.port, expected.imap.security)
        assert (config.smtp.host, config.smtp.port, config.smtp.security) == \
            (expected.smtp.host, expected.smtp.port, expected.smtp.security)
    assert config.park.language == "en"
    assert config.category("facilities").name == "Facilities"


def test_a_different_sender_gets_its_own_password_variable_and_flags_override_the_preset(tmp_path):
    code, console = init(workbook_flags(tmp_path, "--yes", "--provider", "gmail",
                                        "--smtp-from", "noreply@qq.com",
                                        "--smtp-security", "starttls"))
    assert code == 0, console.errors
    config = load_config(tmp_path / "config.yaml")
    assert config.mailbox.password_env == "PARKDESK_IMAP_PASSWORD"
    assert (config.smtp.username, config.smtp.password_env) == ("noreply@qq.com",
                                                                "PARKDESK_SMTP_PASSWORD")
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == \
        ("smtp.gmail.com", 587, "starttls")
    assert "PARKDESK_IMAP_PASSWORD" in console.text and "PARKDESK_SMTP_PASSWORD" in console.text


def test_non_interactive_init_lists_every_missing_answer_and_writes_nothing(tmp_path):
    code, console = init(["--non-interactive", "--output", str(tmp_path / "config.yaml")])
    assert code == 2
    message = "\n".join(console.errors)
    for flag in ("--park-name", "--mailbox-address", "--service-center", "--leadership",
                 "--department"):
        assert flag in message
    assert "--provider" not in message and "--imap-host" not in message  # follow from the address
    assert not (tmp_path / "config.yaml").exists()


def test_non_interactive_init_names_the_flag_of_a_wrong_answer(tmp_path):
    code, console = init(workbook_flags(tmp_path, "--yes", "--timezone", "Asia/Shangai",
                                        "--language", "fr", "--provider", "custom"))
    assert code == 2
    message = "\n".join(console.errors)
    assert "--timezone" in message and "did you mean 'Asia/Shanghai'" in message
    assert "--language" in message and "zh-CN" in message
    assert "--imap-host is required" in message and "--smtp-host is required" in message
    assert not (tmp_path / "config.yaml").exists()


def test_init_never_replaces_a_file_without_force_and_keeps_a_backup(tmp_path):
    target = tmp_path / "config.yaml"
    target.write_text("# the park's own config\n", encoding="utf-8")
    code, console = init(workbook_flags(tmp_path, "--yes"))
    assert code == 1 and "--force" in "\n".join(console.errors)
    assert target.read_text(encoding="utf-8") == "# the park's own config\n"

    code, console = init(workbook_flags(tmp_path, "--yes", "--force"))
    assert code == 0, console.errors
    backup = tmp_path / "config.yaml.bak-20260514-093000"
    assert backup.read_text(encoding="utf-8") == "# the park's own config\n"
    assert load_config(target).park.name == PARK

    # The same answers again: the file already says this, so no --force is needed.
    code, console = init(workbook_flags(tmp_path, "--yes"))
    assert code == 0, console.errors
    assert "未作改动" in console.text
    assert sorted(p.name for p in tmp_path.glob("config.yaml.bak*")) == [backup.name]
    # Different answers need --force again.
    code, console = init(workbook_flags(tmp_path, "--yes", "--timezone", "Asia/Hong_Kong"))
    assert code == 1
    assert load_config(target).park.timezone == "Asia/Shanghai"


# --- interactive -----------------------------------------------------------------------------

def test_interactive_init_takes_defaults_and_asks_again_after_a_bad_answer(tmp_path):
    console = Console(
        PARK,                       # park name
        "",                         # language: zh-CN
        "Asia/Shangai",             # time zone: a typo, asked again
        "",                         # time zone: Asia/Shanghai
        "complaints at qq.com",     # mailbox address: not one, asked again
        "complaints@qq.com",
        "",                         # provider: guessed qq
        "",                         # sender: the mailbox address
        "service@donghu.example.com",
        "boss@donghu.example.com",
        "",                         # department keys: the four usual ones
        "", "zhang@donghu.example.com", "a@donghu.example.com, b@donghu.example.com",
        "", "li@donghu.example.com", "",
        "", "chen@donghu.example.com", "",
        "保卫处", "", "liu@donghu.example.com", "",   # a name typed; the head left empty: asked again
        "",                         # register: workbook
        "",                         # file: register.xlsx
    )
    code, console = init(["--output", str(tmp_path / "config.yaml")], console)
    assert code == 0, console.errors
    assert not console.answers
    printed = console.text
    assert "did you mean 'Asia/Shanghai'" in printed
    assert "'complaints at qq.com' is not an email address" in printed
    assert "This answer is needed" in printed
    assert any("[qq]" in prompt for prompt in console.prompts)
    assert "园区名称 Park name: " in console.prompts  # prompts in both languages
    assert "时区 Time zone [Asia/Shanghai]: " in console.prompts
    config = load_config(tmp_path / "config.yaml")
    assert config.mailbox.host == "imap.qq.com"
    assert [d.key for d in config.departments] == ["property", "facilities", "environment",
                                                   "security"]
    assert config.department("security").name == "保卫处"
    assert config.department("security").head == "liu@donghu.example.com"
    assert config.department("environment").name == "环境卫生部"
    assert config.department("property").members == ("a@donghu.example.com",
                                                     "b@donghu.example.com")
    assert (tmp_path / "register.xlsx").is_file()


def test_interactive_init_uses_given_flags_and_stops_cleanly_when_input_ends(tmp_path):
    code, console = init(["--output", str(tmp_path / "config.yaml"), "--park-name", PARK],
                         Console("en"))
    assert code == 2
    assert "nothing was written" in "\n".join(console.errors)
    assert not any("Park name" in prompt for prompt in console.prompts)
    assert not (tmp_path / "config.yaml").exists()


def test_interactive_init_asks_before_replacing_a_file(tmp_path):
    target = tmp_path / "config.yaml"
    target.write_text("park: {}\n", encoding="utf-8")
    code, console = init(workbook_flags(tmp_path), Console(""))
    assert code == 1
    assert target.read_text(encoding="utf-8") == "park: {}\n"
    code, console = init(workbook_flags(tmp_path), Console("yes", "", "", "", "", "", ""))
    assert code == 0, console.errors
    assert load_config(target).park.name == PARK
    assert (tmp_path / "config.yaml.bak-20260514-093000").read_text(encoding="utf-8") == \
        "park: {}\n"


# --- the workbook register -------------------------------------------------------------------

def test_workbook_init_creates_the_register_and_a_second_run_keeps_its_rows(tmp_path):
    from daemon.register import open_register

    code, console = init(workbook_flags(tmp_path, "--yes", "--workbook", "data/register.xlsx"))
    assert code == 0, console.errors
    path = tmp_path / "data" / "register.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert {REGISTER_TAB, "Activity", DEPARTMENTS_TAB} <= set(workbook.sheetnames)
    departments = [[cell for cell in row if cell] for row in
                   workbook[DEPARTMENTS_TAB].iter_rows(values_only=True)]
    assert any("zhang@donghu.example.com" in row for row in departments)

    config = load_config(tmp_path / "config.yaml")
    register = open_register(config.register)
    register.append_complaints([{"reference": "C-260514-001", "subject": "空调不制冷"}])
    code, console = init(workbook_flags(tmp_path, "--yes", "--workbook", "data/register.xlsx",
                                        "--force"))
    assert code == 0, console.errors
    rows = open_register(config.register).read_register()
    assert [(row.reference, row.get("subject")) for row in rows] == [("C-260514-001", "空调不制冷")]


# --- the Google register on the emulator ------------------------------------------------------

def google_flags(tmp_path: Path, emulator, key: Path, *extra: str) -> list[str]:
    return [*REQUIRED_FLAGS, "--output", str(tmp_path / "config.yaml"), "--yes",
            "--register", "google", "--credentials-file", str(key),
            "--api-endpoint", emulator.base_url, *extra]


def test_google_init_creates_lays_out_and_repairs_the_sheet_without_touching_data(
        tmp_path, sheets_emulator, service_account_key):
    pytest.importorskip("daemon.register.google_layout")
    from tests.sheets_emulator.client import gspread_client

    code, console = init(google_flags(tmp_path, sheets_emulator, service_account_key))
    assert code == 0, console.errors
    config = load_config(tmp_path / "config.yaml")
    assert config.register.backend == "google"
    assert config.register.api_endpoint == sheets_emulator.base_url
    assert config.register.credentials_file == service_account_key
    spreadsheet_id = config.register.spreadsheet_id
    assert spreadsheet_id and spreadsheet_id in console.text
    assert "robot@park.iam.gserviceaccount.com" in console.text

    client = gspread_client(sheets_emulator.base_url, service_account_key)
    sheet = client.open_by_key(spreadsheet_id)
    assert {REGISTER_TAB, "Activity", DEPARTMENTS_TAB} <= {w.title for w in sheet.worksheets()}
    register_tab = sheet.worksheet(REGISTER_TAB)
    headers = register_tab.row_values(1)
    assert "编号 Reference" in headers
    metadata = client.http_client.fetch_sheet_metadata(spreadsheet_id)
    register_meta = next(s for s in metadata["sheets"]
                         if s["properties"]["title"] == REGISTER_TAB)
    assert register_meta["properties"]["gridProperties"]["frozenRowCount"] == 1
    assert register_meta.get("protectedRanges"), "daemon-owned columns are protected"
    assert register_meta.get("conditionalFormats"), "late / waiting / serious highlights"
    shared = {p.get("emailAddress") for p in sheet.list_permissions()}
    assert "service@donghu.example.com" in shared
    departments = sheet.worksheet(DEPARTMENTS_TAB).get_all_values()
    assert any("zhang@donghu.example.com" in row for row in departments)

    # Staff write a row; init runs again with the same answers: it adopts the sheet named in
    # config.yaml, repairs nothing that is in place, and the row is still there.
    row = ["C-260514-001", "", "", "", "", "", "", "", "空调不制冷"]
    register_tab.append_row(row, value_input_option="RAW")
    before = register_tab.get_all_values()
    code, console = init(google_flags(tmp_path, sheets_emulator, service_account_key))
    assert code == 0, console.errors
    assert load_config(tmp_path / "config.yaml").register.spreadsheet_id == spreadsheet_id
    assert "未作改动" in console.text and "格式已就绪" in console.text  # file and layout in place
    assert register_tab.get_all_values() == before
    assert len(client.list_spreadsheet_files()) == 1


def test_google_init_adopts_a_sheet_given_by_its_address(tmp_path, sheets_emulator,
                                                         service_account_key):
    pytest.importorskip("daemon.register.google_layout")
    spreadsheet_id = sheets_emulator.create_spreadsheet("staff@donghu.example.com",
                                                        title="投诉登记")
    sheets_emulator.share(spreadsheet_id, "robot@park.iam.gserviceaccount.com", role="writer")
    url = f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit#gid=0"
    code, console = init(google_flags(tmp_path, sheets_emulator, service_account_key,
                                      "--spreadsheet-id", url, "--language", "en"))
    assert code == 0, console.errors
    assert load_config(tmp_path / "config.yaml").register.spreadsheet_id == spreadsheet_id
    assert existing_spreadsheet_id(tmp_path / "config.yaml") == spreadsheet_id
    assert "Register:" in console.text


def test_google_init_with_an_unshared_sheet_says_what_to_do(tmp_path, sheets_emulator,
                                                            service_account_key):
    pytest.importorskip("daemon.register.google_layout")
    spreadsheet_id = sheets_emulator.create_spreadsheet("staff@donghu.example.com", title="x")
    code, console = init(google_flags(tmp_path, sheets_emulator, service_account_key,
                                      "--spreadsheet-id", spreadsheet_id))
    assert code == 1
    message = "\n".join(console.errors)
    assert "robot@park.iam.gserviceaccount.com" in message and "init" in message
    assert load_config(tmp_path / "config.yaml").register.spreadsheet_id == spreadsheet_id


def test_a_bad_key_file_is_refused_before_anything_is_written(tmp_path):
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"type": "authorized_user"}), encoding="utf-8")
    code, console = init([*REQUIRED_FLAGS, "--output", str(tmp_path / "config.yaml"), "--yes",
                          "--register", "google", "--credentials-file", str(key)])
    assert code == 2
    assert "not a service-account key" in "\n".join(console.errors)
    assert not (tmp_path / "config.yaml").exists()


def test_names_yaml_would_misread_are_quoted(tmp_path):
    flags = [*REQUIRED_FLAGS, "--output", str(tmp_path / "config.yaml"), "--yes",
             "--park-name", "Park: 'East' #1", "--department", "yes:0571:wang@donghu.example.com"]
    code, console = init(flags)
    assert code == 0, console.errors
    config = load_config(tmp_path / "config.yaml")
    assert config.park.name == "Park: 'East' #1"
    assert config.department("yes").name == "0571"


@pytest.mark.parametrize("preset", ["gmail", "microsoft365"])
def test_the_commented_oauth2_lines_load_once_uncommented(tmp_path, preset):
    from daemon.config import MailboxConfig

    if "oauth2" not in MailboxConfig.model_fields:
        pytest.skip("this ParkDesk has no OAuth2 settings yet")
    code, console = init(workbook_flags(tmp_path, "--yes", "--provider", preset))
    assert code == 0, console.errors
    text = (tmp_path / "config.yaml").read_text(encoding="utf-8")
    head, mailbox_and_rest = text.split("\nmailbox:\n", 1)
    mailbox, rest = mailbox_and_rest.split("\n\n", 1)
    lines = []
    for line in mailbox.splitlines():
        if line.startswith("  password_env:"):
            continue
        if line.startswith(("  # auth:", "  # oauth2:", "  #   ")):
            line = "  " + line[len("  # "):]
        lines.append(line)
    (tmp_path / "oauth.yaml").write_text(
        head + "\nmailbox:\n" + "\n".join(lines) + "\n\n" + rest, encoding="utf-8")
    mailbox_config = load_config(tmp_path / "oauth.yaml").mailbox
    assert mailbox_config.auth == "oauth2"
    expected = {"gmail": "google_service_account", "microsoft365": "microsoft_client_credentials"}
    assert mailbox_config.oauth2.provider == expected[preset]
