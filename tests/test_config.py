"""Tests for daemon.config: the shipped config loads, bad files are refused with exact messages."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from daemon.config import Config, ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO_ROOT / "config.yaml"

BASE = {
    "park": {"name": "测试园区", "timezone": "Asia/Shanghai"},
    "mailbox": {"host": "imap.park.example.com", "security": "ssl",
                "username": "desk@park.example.com", "password_env": "TEST_IMAP_PASSWORD"},
    "smtp": {"host": "smtp.park.example.com", "security": "starttls",
             "username": "desk@park.example.com", "password_env": "TEST_SMTP_PASSWORD",
             "from_address": "desk@park.example.com"},
    "register": {"spreadsheet_id": "sheet-id", "credentials_file": "keys/service-account.json"},
    "service_center": ["service@park.example.com"],
    "leadership": ["boss@park.example.com"],
    "departments": [
        {"key": "property", "name": "物业管理部", "head": "p.head@park.example.com",
         "members": ["p1@park.example.com"]},
        {"key": "facilities", "name": "设施维护部", "head": "f.head@park.example.com"},
        {"key": "security", "name": "安保部", "head": "s.head@park.example.com"},
    ],
    "categories": [
        {"key": "facilities", "name": "设施维护", "department": "facilities", "keywords": ["漏水", "leak"]},
        {"key": "other", "name": "其他", "department": "property"},
    ],
    "priorities": [
        {"key": "urgent", "name": "紧急", "keywords": ["火灾"], "ack_minutes": 5,
         "resolve_hours": 4, "serious": True},
        {"key": "normal", "name": "中", "ack_minutes": 5, "resolve_hours": 72},
    ],
    "intake": {"default_category": "other", "default_priority": "normal"},
}


def base_config() -> dict:
    return copy.deepcopy(BASE)


def write_config(folder: Path, data: dict | str, name: str = "config.yaml") -> Path:
    path = folder / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path, data: dict | str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(folder, data))
    return caught.value.problems


# --- good files ------------------------------------------------------------------------------

def test_shipped_config_loads():
    config = load_config(SHIPPED_CONFIG)

    assert config.park.name == "东湖科技产业园"
    assert config.park.tz == ZoneInfo("Asia/Shanghai")
    assert (config.park.language, config.park.reference_prefix) == ("zh-CN", "C")
    assert [d.key for d in config.departments] == ["property", "facilities", "environment", "security"]
    assert config.department("facilities").name == "设施维护部"
    assert [c.name for c in config.categories] == ["物业管理", "设施维护", "环境问题", "安全", "其他"]
    assert config.category("other").department == "property"
    assert [p.key for p in config.priorities if p.serious] == ["urgent"]
    assert config.priority("urgent").ack_within == timedelta(minutes=5)
    assert config.priority("low").resolve_within == timedelta(hours=168)
    assert config.mailbox.password_env == "PARKDESK_IMAP_PASSWORD"
    assert config.register.credentials_file == REPO_ROOT / "service-account.json"
    assert config.state_dir == REPO_ROOT / "state"
    assert config.config_dir == REPO_ROOT


def test_shipped_config_keywords_cover_the_common_complaints():
    config = load_config(SHIPPED_CONFIG)
    category_words = {word for category in config.categories for word in category.keywords}
    for word in ("漏水", "停电", "电梯", "空调", "噪音", "垃圾", "异味", "门禁", "消防", "盗窃",
                 "leak", "power outage", "elevator", "noise", "smell", "theft", "fire"):
        assert word in category_words, word
    assert {"火灾", "着火", "冒烟", "受伤", "人身安全", "触电", "fire", "smoke", "injury"} <= set(
        config.priority("urgent").keywords)


def test_minimal_config_takes_the_defaults(tmp_path):
    config = load_config(write_config(tmp_path, base_config()))

    assert (config.park.language, config.park.reference_prefix) == ("zh-CN", "C")
    assert config.mailbox.backend == "imap"
    assert (config.mailbox.folder, config.mailbox.processed_folder,
            config.mailbox.quarantine_folder) == ("INBOX", "Processed", "Quarantine")
    assert (config.mailbox.idle, config.mailbox.poll_seconds, config.mailbox.batch_size) == (True, 60, 50)
    assert (config.smtp.backend, config.smtp.timeout_seconds, config.smtp.from_name) == ("smtp", 30, None)
    assert config.register.backend == "google"
    assert config.register.api_endpoint == "https://sheets.googleapis.com"
    assert (config.intake.replies_per_sender_per_hour, config.intake.max_attempts,
            config.intake.body_max_chars) == (3, 3, 45000)
    assert config.department("facilities").members == ()
    assert config.category("other").keywords == ()
    assert config.priority("normal").serious is False


@pytest.mark.parametrize("security, imap_port, smtp_port", [
    ("ssl", 993, 465), ("starttls", 143, 587), ("none", 143, 25)])
def test_port_defaults_follow_security(tmp_path, security, imap_port, smtp_port):
    data = base_config()
    data["mailbox"]["security"] = data["smtp"]["security"] = security

    config = load_config(write_config(tmp_path, data))

    assert (config.mailbox.port, config.smtp.port) == (imap_port, smtp_port)


def test_written_port_wins_over_the_default(tmp_path):
    data = base_config()
    data["mailbox"]["port"] = 10993
    assert load_config(write_config(tmp_path, data)).mailbox.port == 10993


def test_relative_paths_are_taken_from_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    data = base_config()
    data["state_dir"] = "./var/state"
    data["mailbox"]["ca_file"] = "certs/ca.pem"
    data["smtp"]["ca_file"] = "/absolute/ca.pem"
    monkeypatch.chdir(tmp_path)  # the current folder must not matter

    config = load_config(write_config(folder, data))

    assert config.config_dir == folder
    assert config.state_dir == folder / "var" / "state"
    assert config.mailbox.ca_file == folder / "certs" / "ca.pem"
    assert config.smtp.ca_file == Path("/absolute/ca.pem")
    assert config.register.credentials_file == folder / "keys" / "service-account.json"


def test_local_backends_need_no_accounts(tmp_path):
    data = base_config()
    data["mailbox"] = {"backend": "maildir", "path": "mail/inbox"}
    data["smtp"] = {"backend": "outbox", "path": "mail/outbox", "from_address": "desk@park.example.com"}
    data["register"] = {"backend": "workbook", "path": "register.xlsx"}

    config = load_config(write_config(tmp_path, data))

    assert config.mailbox.path == tmp_path / "mail" / "inbox"
    assert config.mailbox.port is None
    assert config.smtp.path == tmp_path / "mail" / "outbox"
    assert config.register.path == tmp_path / "register.xlsx"


def test_smtp_without_username_sends_without_login(tmp_path):
    data = base_config()
    del data["smtp"]["username"], data["smtp"]["password_env"]

    config = load_config(write_config(tmp_path, data))

    assert config.smtp.username is None
    with pytest.raises(ConfigError) as caught:
        config.smtp.password()
    assert caught.value.problems == [
        "smtp: no password_env or password_file is set, so there is no SMTP password to use"]


def test_lookups_by_key(tmp_path):
    config = load_config(write_config(tmp_path, base_config()))

    assert config.department("security").head == "s.head@park.example.com"
    assert config.priority("urgent").serious is True
    with pytest.raises(KeyError, match="no category with key 'nope'"):
        config.category("nope")


def test_department_membership_includes_the_head_and_ignores_case(tmp_path):
    department = load_config(write_config(tmp_path, base_config())).department("property")

    assert department.is_member("P.Head@Park.Example.com")
    assert department.is_member(" p1@park.example.com ")
    assert not department.is_member("f.head@park.example.com")


def test_config_is_immutable(tmp_path):
    config = load_config(write_config(tmp_path, base_config()))

    with pytest.raises(ValidationError):
        config.park.name = "Other park"
    with pytest.raises(ValidationError):
        config.mailbox.port = 25
    with pytest.raises(AttributeError):
        config.departments.append(config.departments[0])  # a tuple, not a list
    assert config.park.name == "测试园区"


# --- bad files: one exact message each -------------------------------------------------------

def test_unknown_key_suggests_the_closest_key(tmp_path):
    data = base_config()
    data["mailbox"]["pasword"] = "x"
    assert problems_of(tmp_path, data) == [
        "mailbox.pasword: unknown key (did you mean 'password_env'?)"]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path):
    data = base_config()
    data["departments"][1]["phone"] = "123"
    assert problems_of(tmp_path, data) == [
        "departments[1].phone: unknown key; the keys allowed here are key, name, head, members"]


def test_bad_email_address(tmp_path):
    data = base_config()
    data["departments"][2]["head"] = "li wei"
    assert problems_of(tmp_path, data) == [
        "departments[2].head: 'li wei' is not an email address "
        "(an email address must have an @-sign)"]


def test_bad_email_in_a_list(tmp_path):
    data = base_config()
    data["leadership"] = ["boss@park.example.com", "boss at park"]
    assert problems_of(tmp_path, data) == [
        "leadership[1]: 'boss at park' is not an email address (an email address must have an @-sign)"]


def test_bad_security_choice(tmp_path):
    data = base_config()
    data["mailbox"]["security"] = "tls"
    assert problems_of(tmp_path, data) == ["mailbox.security: must be one of ssl, starttls, none"]


def test_bad_time_zone_suggests_the_closest(tmp_path):
    data = base_config()
    data["park"]["timezone"] = "Asia/Shangai"
    assert problems_of(tmp_path, data) == [
        "park.timezone: 'Asia/Shangai' is not a time zone from the IANA database "
        "(did you mean 'Asia/Shanghai'?)"]


@pytest.mark.parametrize("zone, hint", [
    ("Beijing", "use a name such as Asia/Shanghai"),
    ("UTC+8", "use a place name such as Asia/Shanghai, not an offset"),
    ("asia/shanghai", "did you mean 'Asia/Shanghai'?"),
])
def test_unknown_time_zone_shows_an_example(tmp_path, zone, hint):
    data = base_config()
    data["park"]["timezone"] = zone
    assert problems_of(tmp_path, data) == [
        f"park.timezone: '{zone}' is not a time zone from the IANA database ({hint})"]


def test_literal_password_is_refused_and_never_repeated(tmp_path):
    data = base_config()
    data["smtp"]["password"] = "s3cret-Passw0rd"
    del data["smtp"]["password_env"]

    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, data))

    assert caught.value.problems == [
        "smtp.password: passwords must not be written in config.yaml; put it in an environment "
        "variable and write password_env: PARKDESK_SMTP_PASSWORD, or in a file and write "
        "password_file: smtp-password.txt (a path relative to config.yaml's folder)"]
    assert "s3cret" not in str(caught.value) + repr(caught.value)
    assert caught.value.__suppress_context__  # pydantic's error (holding the value) is not shown


def test_password_written_into_password_env_is_not_repeated(tmp_path):
    data = base_config()
    data["mailbox"]["password_env"] = "my pass word!"
    problems = problems_of(tmp_path, data)
    assert problems == [
        "mailbox.password_env: must be the name of an environment variable (letters, digits "
        "and _), such as PARKDESK_IMAP_PASSWORD, not the password itself"]


def test_category_pointing_at_an_unknown_department(tmp_path):
    data = base_config()
    data["categories"][0]["department"] = "facility"
    data["categories"][1]["department"] = "cleaning"
    assert problems_of(tmp_path, data) == [
        "categories[0].department: 'facility' is not a department key (did you mean 'facilities'?)",
        "categories[1].department: 'cleaning' is not a department key; the department keys are "
        "property, facilities, security"]


def test_intake_defaults_must_exist(tmp_path):
    data = base_config()
    data["intake"] = {"default_category": "others", "default_priority": "medium"}
    assert problems_of(tmp_path, data) == [
        "intake.default_category: 'others' is not a category key (did you mean 'other'?)",
        "intake.default_priority: 'medium' is not a priority key; the priority keys are urgent, normal"]


def test_duplicate_keys(tmp_path):
    data = base_config()
    data["departments"][2]["key"] = "property"
    data["categories"][1]["key"] = "facilities"
    data["priorities"].append(copy.deepcopy(data["priorities"][0]))
    assert problems_of(tmp_path, data) == [
        "departments[2].key: 'property' is already the key of departments[0]; each key must be different",
        "categories[1].key: 'facilities' is already the key of categories[0]; each key must be different",
        "priorities[2].key: 'urgent' is already the key of priorities[0]; each key must be different",
        "intake.default_category: 'other' is not a category key; the category keys are facilities"]


@pytest.mark.parametrize("section, change, expected", [
    ("mailbox", {"host": None},
     ["mailbox.host: required when mailbox.backend is imap; expected the IMAP server, "
      "e.g. imap.exmail.qq.com"]),
    ("mailbox", {"security": None, "username": None},
     ["mailbox.security: required when mailbox.backend is imap; expected ssl, starttls or none",
      "mailbox.username: required when mailbox.backend is imap; expected the mailbox login, "
      "usually its address"]),
    ("mailbox", {"password_env": None},
     ["mailbox.password_env: required when mailbox.backend is imap; write password_env: "
      "PARKDESK_IMAP_PASSWORD and set that environment variable to the password, or write "
      "password_file: imap-password.txt"]),
    ("mailbox", {"password_file": "imap.txt"},
     ["mailbox: both password_env and password_file are set; keep only one"]),
    ("mailbox", {"backend": "maildir"},
     ["mailbox.path: required when mailbox.backend is maildir; expected the Maildir folder, "
      "e.g. ./mail/inbox"]),
    ("smtp", {"host": None},
     ["smtp.host: required when smtp.backend is smtp; expected the SMTP server, "
      "e.g. smtp.exmail.qq.com"]),
    ("smtp", {"username": None},
     ["smtp.password_env: a password is set but smtp.username is not; add username, or remove "
      "password_env to send without logging in"]),
    ("smtp", {"backend": "outbox"},
     ["smtp.path: required when smtp.backend is outbox; expected the outbox folder, e.g. ./mail/outbox"]),
    ("register", {"spreadsheet_id": None, "credentials_file": None},
     ["register.spreadsheet_id: required when register.backend is google; expected the long id "
      "in the sheet's address, between /d/ and /edit",
      "register.credentials_file: required when register.backend is google; expected the "
      "service-account key file (JSON), e.g. service-account.json"]),
    ("register", {"backend": "workbook"},
     ["register.path: required when register.backend is workbook; expected the workbook file, "
      "e.g. ./register.xlsx"]),
])
def test_backend_requirements(tmp_path, section, change, expected):
    data = base_config()
    for key, value in change.items():
        if value is None:
            data[section].pop(key)
        else:
            data[section][key] = value
    assert problems_of(tmp_path, data) == expected


def test_values_out_of_range(tmp_path):
    data = base_config()
    data["priorities"][1]["ack_minutes"] = 0
    data["park"]["reference_prefix"] = "C-"
    data["register"]["api_endpoint"] = "sheets.googleapis.com"
    data["intake"]["body_max_chars"] = 60000
    assert problems_of(tmp_path, data) == [
        "park.reference_prefix: 'C-' must be 1 to 6 letters or digits (A-Z, 0-9), such as C",
        "register.api_endpoint: 'sheets.googleapis.com' is not an http(s) URL such as "
        "https://sheets.googleapis.com",
        "priorities[1].ack_minutes: must be greater than 0; expected minutes a department has to "
        "sign for a slip",
        "intake.body_max_chars: must be at most 50000; expected characters of a complaint kept in "
        "the register (a Google Sheets cell holds at most 50000)"]


def test_wrong_shapes(tmp_path):
    data = base_config()
    data["park"]["name"] = None
    data["mailbox"]["idle"] = "sometimes"
    data["register"]["spreadsheet_id"] = 12345
    data["categories"][0]["keywords"] = "漏水"
    data["departments"] = []
    assert problems_of(tmp_path, data) == [
        "park.name: has no value; expected the park's name as tenants see it, e.g. 东湖科技产业园",
        "mailbox.idle: must be true or false",
        "register.spreadsheet_id: must be text (put it in quotes if it looks like a number)",
        "departments: needs at least 1 entry; expected a list of departments, each with key, "
        "name, head, members",
        "categories[0].keywords: must be a list (one '- item' per line)"]


def test_missing_sections(tmp_path):
    data = base_config()
    del data["smtp"], data["intake"]
    assert problems_of(tmp_path, data) == [
        "smtp: is missing; expected the smtp section: how emails are sent",
        "intake: is missing; expected the intake section: default_category and default_priority"]


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    text = "park:\n  name: 东湖\n  timezone: Asia/Shanghai\n mailbox:\n"
    assert problems_of(tmp_path, text) == [
        "line 4, column 2: the YAML cannot be read (expected <block end>, but found "
        "'<block mapping start>'); check the indentation, the colons and the quotes near there"]


def test_tabs_are_explained(tmp_path):
    assert problems_of(tmp_path, "park:\n\tname: x\n") == [
        "line 2, column 1: the YAML cannot be read (found character '\\t' that cannot start "
        "any token); use spaces to indent, not tabs"]


def test_key_written_twice_is_reported(tmp_path):
    text = yaml.safe_dump(base_config(), allow_unicode=True, sort_keys=False)
    text = text.replace("  security: ssl\n", "  security: ssl\n  security: starttls\n", 1)
    problems = problems_of(tmp_path, text)
    line = text.splitlines().index("  security: starttls") + 1
    assert problems == [f"line {line}: key 'security' is written twice in the same section "
                        f"(first on line {line - 1}); keep only one"]


def test_several_problems_in_one_message(tmp_path):
    data = base_config()
    data["park"]["timezone"] = "Mars/Olympus"
    data["mailbox"]["security"] = "tls"
    data["mailbox"]["passwd"] = "hunter2"
    data["departments"][0]["head"] = "nobody"
    data["categories"][1]["department"] = "finance"
    data["extra_section"] = {}

    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, data, name="park.yaml"))

    assert str(caught.value) == "\n".join([
        "park.yaml has 6 problems:",
        "  park.timezone: 'Mars/Olympus' is not a time zone from the IANA database "
        "(use a name such as Asia/Shanghai)",
        "  mailbox.security: must be one of ssl, starttls, none",
        "  mailbox.passwd: passwords must not be written in config.yaml; put it in an environment "
        "variable and write password_env: PARKDESK_IMAP_PASSWORD, or in a file and write "
        "password_file: imap-password.txt (a path relative to config.yaml's folder)",
        "  departments[0].head: 'nobody' is not an email address (an email address must have an @-sign)",
        "  categories[1].department: 'finance' is not a department key; the department keys are "
        "property, facilities, security",
        "  extra_section: unknown key; the keys allowed here are park, state_dir, mailbox, smtp, "
        "register, service_center, leadership, departments, categories, priorities, intake, dispatch, aftercare, commands, review, health",
    ])
    assert "hunter2" not in str(caught.value)


def test_one_problem_says_problem(tmp_path):
    data = base_config()
    data["mailbox"]["security"] = "tls"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, data))
    assert str(caught.value) == ("config.yaml has 1 problem:\n"
                                 "  mailbox.security: must be one of ssl, starttls, none")


def test_missing_file(tmp_path):
    path = tmp_path / "config.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: file not found; run 'parkdesk init' to write a starter config there, or copy "
        f"the example config.yaml that comes with ParkDesk and edit it"]


def test_empty_file_and_wrong_top_level(tmp_path):
    path = tmp_path / "config.yaml"
    assert problems_of(tmp_path, "# nothing yet\n") == [
        f"{path}: the file is empty; run 'parkdesk init' to write a starter config there, or copy "
        f"the example config.yaml that comes with ParkDesk and edit it"]
    assert problems_of(tmp_path, "- park\n- mailbox\n") == [
        "the file must be made of sections such as 'park:' and 'mailbox:' (key: value lines); "
        "found a list"]


def test_file_not_in_utf8(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes("park:\n  name: 东湖科技产业园\n".encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: line 2 is not UTF-8 text; save the file with the encoding UTF-8"]


def test_utf8_with_byte_order_mark_is_accepted(tmp_path):
    path = write_config(tmp_path, base_config())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Windows Notepad saves it
    assert load_config(path).park.name == "测试园区"


def test_checks_also_run_when_built_in_code():
    data = base_config()
    data["categories"][0]["department"] = "nowhere"
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    assert caught.value.errors()[0]["ctx"]["problems"] == [
        "categories[0].department: 'nowhere' is not a department key; the department keys are "
        "property, facilities, security"]


# --- secrets ---------------------------------------------------------------------------------

def test_password_from_environment(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, base_config()))
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "imap-secret")
    assert config.mailbox.password() == "imap-secret"


def test_password_from_file_relative_to_the_config(tmp_path, monkeypatch):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "smtp.txt").write_text("smtp-secret\n", encoding="utf-8")
    data = base_config()
    del data["smtp"]["password_env"]
    data["smtp"]["password_file"] = "secrets/smtp.txt"
    config = load_config(write_config(tmp_path, data))
    monkeypatch.chdir("/")

    assert config.smtp.password_file == tmp_path / "secrets" / "smtp.txt"
    assert config.smtp.password() == "smtp-secret"


def test_missing_environment_variable(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, base_config(), name="park.yaml"))
    monkeypatch.delenv("TEST_IMAP_PASSWORD", raising=False)

    with pytest.raises(ConfigError) as caught:
        config.mailbox.password()

    assert str(caught.value) == (
        "park.yaml has 1 problem:\n"
        "  mailbox.password_env: environment variable TEST_IMAP_PASSWORD is not set; set it to "
        "the mailbox (IMAP) password before starting ParkDesk")


def test_empty_environment_variable(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, base_config()))
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "")
    with pytest.raises(ConfigError) as caught:
        config.smtp.password()
    assert caught.value.problems == [
        "smtp.password_env: environment variable TEST_SMTP_PASSWORD is empty; set it to the SMTP password"]


def test_missing_and_empty_password_files(tmp_path):
    data = base_config()
    del data["mailbox"]["password_env"]
    data["mailbox"]["password_file"] = "imap-password.txt"
    config = load_config(write_config(tmp_path, data))
    secret_path = tmp_path / "imap-password.txt"

    with pytest.raises(ConfigError) as caught:
        config.mailbox.password()
    assert caught.value.problems == [
        f"mailbox.password_file: {secret_path} does not exist; create it with the mailbox (IMAP) "
        f"password as its only line"]

    secret_path.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.mailbox.password()
    assert caught.value.problems == [
        f"mailbox.password_file: {secret_path} is empty; write the mailbox (IMAP) password in it"]


def test_secrets_are_not_kept_in_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "imap-secret")
    config = load_config(write_config(tmp_path, base_config()))
    config.mailbox.password()
    assert "imap-secret" not in repr(config) + str(config.model_dump())


@pytest.mark.parametrize("section", ["mailbox", "smtp", "register"])
@pytest.mark.parametrize("backend", [["imap"], {"name": "imap"}])
def test_backend_that_is_not_a_word_gets_a_message(tmp_path, section, backend):
    data = base_config()
    data[section]["backend"] = backend
    problems = problems_of(tmp_path, data)
    assert len(problems) == 1
    assert problems[0].startswith(f"{section}.backend: ")
