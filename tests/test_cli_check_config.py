"""Tests for `parkdesk check-config`: as a real subprocess and through daemon.cli.main()."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO_ROOT / "config.yaml"

BAD_CONFIG = """\
park:
  name: 东湖科技产业园
  timezone: Asia/Shanghai
mailbox:
  host: imap.park.example.com
  security: tls
  username: desk@park.example.com
  password: hunter2
"""
BAD_CONFIG_MESSAGE = "\n".join([
    "config.yaml has 10 problems:",
    "  mailbox.security: must be one of ssl, starttls, none",
    "  mailbox.password: passwords must not be written in config.yaml; put it in an environment "
    "variable and write password_env: PARKDESK_IMAP_PASSWORD, or in a file and write "
    "password_file: imap-password.txt (a path relative to config.yaml's folder)",
    "  smtp: is missing; expected the smtp section: how emails are sent",
    "  register: is missing; expected the register section: the shared sheet",
    "  service_center: is missing; expected the service center's email addresses",
    "  leadership: is missing; expected the leaders' email addresses",
    "  departments: is missing; expected a list of departments, each with key, name, head, members",
    "  categories: is missing; expected a list of categories, each with key, name, department, keywords",
    "  priorities: is missing; expected a list of priorities, each with key, name, keywords, "
    "ack_minutes, resolve_hours, serious",
    "  intake: is missing; expected the intake section: default_category and default_priority",
])


def run_parkdesk(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8"}
    env.pop("PARKDESK_IMAP_PASSWORD", None)  # check-config must not need the secrets
    env.pop("PARKDESK_SMTP_PASSWORD", None)
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


@pytest.fixture
def bad_config(tmp_path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(BAD_CONFIG, encoding="utf-8")
    return path


def test_subprocess_says_ok_for_the_shipped_config():
    result = run_parkdesk("check-config", "--config", str(SHIPPED_CONFIG))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "OK"
    assert lines[1].startswith("东湖科技产业园 (Asia/Shanghai, zh-CN, references C-...): "
                               "4 departments, 5 categories, 4 priorities;")
    assert "passwords and the service-account key are read when ParkDesk connects" in lines[2]
    assert result.stderr == ""


def test_subprocess_uses_config_yaml_in_the_current_folder_by_default():
    result = run_parkdesk("check-config", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK\n")


def test_subprocess_lists_the_problems_and_exits_1(bad_config):
    result = run_parkdesk("check-config", "--config", str(bad_config))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == BAD_CONFIG_MESSAGE + "\n"
    assert "hunter2" not in result.stderr


def test_subprocess_missing_file(tmp_path):
    result = run_parkdesk("check-config", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr == (
        f"config.yaml has 1 problem:\n  {tmp_path / 'config.yaml'}: file not found; run "
        f"'parkdesk init' to write a starter config there, or copy the example config.yaml that "
        f"comes with ParkDesk and edit it\n")


def test_main_in_process_ok(capsys):
    assert main(["check-config", "--config", str(SHIPPED_CONFIG)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("OK\n东湖科技产业园")
    assert "mail in by imap imap.donghu-park.example.com:993 (ssl)" in out
    assert "register: google sheet REPLACE-WITH-YOUR-SPREADSHEET-ID" in out
    assert err == ""


def test_main_in_process_reports_problems(bad_config, capsys):
    assert main(["check-config", "-c", str(bad_config)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", BAD_CONFIG_MESSAGE + "\n")


def test_main_summarises_local_backends(tmp_path, capsys):
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    text = text.replace("mailbox:\n  backend: imap\n", "mailbox:\n  backend: maildir\n  path: mail/in\n")
    text = text.replace("smtp:\n  backend: smtp\n", "smtp:\n  backend: outbox\n  path: mail/out\n")
    text = text.replace("register:\n  backend: google\n", "register:\n  backend: workbook\n  path: reg.xlsx\n")
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")

    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert (f"mail in by maildir {tmp_path / 'mail' / 'in'}, out by outbox {tmp_path / 'mail' / 'out'}; "
            f"register: workbook {tmp_path / 'reg.xlsx'}") in out


def test_main_usage_errors_return_2(capsys):
    assert main([]) == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
    assert main(["check-config", "--nope"]) == 2


def test_main_help_and_version_return_0(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("parkdesk ")
    assert main(["check-config", "--help"]) == 0
    assert "--config FILE" in capsys.readouterr().out
