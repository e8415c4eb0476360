"""`parkdesk service install`: the systemd unit, the 0600 secrets file, no overwriting without
--force, and (when systemd-analyze is on the machine) a unit systemd itself accepts."""

from __future__ import annotations

import argparse
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from daemon.service import (
    ServiceInstallError,
    add_service_command,
    install_service,
    plan_service,
    render_unit,
)

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLE = ["/usr/local/bin/parkdesk"]


def write_config(folder: Path, **sections) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def service(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="parkdesk")
    add_service_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["service", *argv])
    return args.handler(args)


@pytest.fixture
def site(tmp_path):
    """A park folder, and a unit folder and secrets file path inside the test's own folder."""
    config = write_config(tmp_path / "park")
    units = tmp_path / "units"
    units.mkdir()
    return config, units, tmp_path / "etc" / "parkdesk.env"


def install(site, *extra: str) -> int:
    config, units, env = site
    return service(["install", "--config", str(config), "--unit-dir", str(units),
                    "--env-file", str(env), *extra])


def unit_settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines()
                if "=" in line and not line.startswith("#"))


def test_unit_runs_parkdesk_as_its_user_and_restarts_on_failure(site, capsys):
    config, units, env = site
    assert install(site) == 0
    text = (units / "parkdesk.service").read_text(encoding="utf-8")
    settings = unit_settings(text)
    assert settings["User"] == "parkdesk"
    assert settings["WorkingDirectory"] == str(config.parent)
    assert settings["EnvironmentFile"] == str(env)
    executable, *arguments = settings["ExecStart"].split(" ")
    assert Path(executable).is_absolute()
    assert arguments[-3:] == ["run", "--config", str(config)]
    assert settings["Restart"] == "on-failure" and int(settings["RestartSec"]) > 0
    assert settings["NoNewPrivileges"] == "yes" and settings["ProtectSystem"] == "full"
    assert settings["ReadWritePaths"] == f"-{config.parent / 'state'}"
    assert settings["WantedBy"] == "multi-user.target"
    assert "PrivateTmp" not in settings  # the test's folders are under /tmp: it would hide them
    out = capsys.readouterr().out
    assert out.startswith(f"Wrote {units / 'parkdesk.service'}\n")
    for step in ("useradd --system --no-create-home --shell /usr/sbin/nologin parkdesk",
                 f"chown -R parkdesk: {config.parent / 'state'}",
                 f"nano {env}",
                 "systemctl daemon-reload && systemctl enable --now parkdesk",
                 "journalctl -u parkdesk -f",
                 f"cp {units / 'parkdesk.service'} /etc/systemd/system/parkdesk.service"):
        assert step in out, step


def test_env_file_is_0600_lists_the_variables_and_no_value_is_ever_written(site, monkeypatch, capsys):
    config, units, env = site
    monkeypatch.setenv("PARKDESK_IMAP_PASSWORD", "imap-secret-value")
    monkeypatch.setenv("PARKDESK_SMTP_PASSWORD", "smtp-secret-value")
    assert install(site) == 0
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    lines = [line for line in env.read_text(encoding="utf-8").splitlines()
             if not line.startswith("#")]
    assert lines == ["PARKDESK_IMAP_PASSWORD=", "PARKDESK_SMTP_PASSWORD="]
    out = capsys.readouterr().out
    written = out + env.read_text() + (units / "parkdesk.service").read_text()
    assert "secret-value" not in written
    assert "listing PARKDESK_IMAP_PASSWORD, PARKDESK_SMTP_PASSWORD" in out


def test_existing_unit_is_kept_without_force_and_replaced_with_it(site, capsys):
    config, units, env = site
    unit = units / "parkdesk.service"
    unit.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    assert install(site) == 1
    assert capsys.readouterr().err == f"{unit} already exists: add --force to replace it.\n"
    assert unit.read_text() == "[Service]\nExecStart=/bin/true\n"
    assert not env.exists()
    assert install(site, "--force") == 0
    assert f" run --config {config}\n" in unit.read_text()


def test_existing_env_file_keeps_its_values_gains_missing_names_and_becomes_0600(site, capsys):
    config, units, env = site
    env.parent.mkdir(parents=True)
    env.write_text("PARKDESK_IMAP_PASSWORD=already-filled\n", encoding="utf-8")
    env.chmod(0o644)
    assert install(site) == 0
    assert env.read_text() == "PARKDESK_IMAP_PASSWORD=already-filled\nPARKDESK_SMTP_PASSWORD=\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert f"Added PARKDESK_SMTP_PASSWORD to {env}" in capsys.readouterr().out
    assert install(site, "--force") == 0
    assert env.read_text() == "PARKDESK_IMAP_PASSWORD=already-filled\nPARKDESK_SMTP_PASSWORD=\n"
    assert f"Kept {env} as it was" in capsys.readouterr().out


def test_oauth2_secrets_and_local_folders_are_named(tmp_path):
    config = write_config(
        tmp_path / "park",
        mailbox={"auth": "oauth2", "password_env": None, "oauth2": {
            "provider": "microsoft_refresh_token", "tenant": "park.onmicrosoft.com",
            "client_id": "abc", "refresh_token_env": "PARKDESK_MS_REFRESH_TOKEN"}},
        smtp={"backend": "outbox", "path": "./mail/outbox"},
        register={"backend": "workbook", "path": "./books/register.xlsx"})
    plan = plan_service(config, unit_dir=tmp_path, env_file=tmp_path / "x.env",
                        executable=EXECUTABLE)
    assert plan.secret_variables == ["PARKDESK_MS_REFRESH_TOKEN"]
    folder = config.parent
    assert plan.writable_paths == [folder / "state", folder / "mail" / "outbox", folder / "books"]
    assert plan.readable_files == []


def test_config_in_a_folder_with_spaces_and_percent_signs_is_quoted(tmp_path):
    config = write_config(tmp_path / "东湖 park 100%")
    plan = plan_service(config, unit_dir=tmp_path, env_file=tmp_path / "x.env",
                        executable=EXECUTABLE)
    settings = unit_settings(render_unit(plan))
    escaped = str(config).replace("%", "%%")
    assert settings["ExecStart"] == f'/usr/local/bin/parkdesk run --config "{escaped}"'
    assert settings["WorkingDirectory"] == str(config.parent).replace("%", "%%")
    assert settings["ReadWritePaths"] == f'"-{escaped[:-len("config.yaml")]}state"'


def test_private_tmp_is_on_when_nothing_lives_in_tmp(tmp_path):
    config = write_config(tmp_path / "park", state_dir="/var/lib/parkdesk")
    plan = plan_service(config, unit_dir=tmp_path, env_file=tmp_path / "x.env",
                        executable=EXECUTABLE)
    plan = plan.__class__(**{**plan.__dict__, "working_dir": Path("/srv/parkdesk")})
    assert "PrivateTmp=yes" in render_unit(plan).splitlines()
    assert "ReadWritePaths=-/var/lib/parkdesk" in render_unit(plan).splitlines()


def test_refusals_say_what_to_do(tmp_path, capsys):
    config = write_config(tmp_path / "park")
    with pytest.raises(ServiceInstallError, match="not a usable user name"):
        plan_service(config, user="Park Desk")
    plan = plan_service(config, unit_dir=tmp_path / "missing", env_file=tmp_path / "x.env",
                        executable=EXECUTABLE)
    with pytest.raises(ServiceInstallError, match="does not exist: is systemd installed"):
        install_service(plan)
    assert not (tmp_path / "x.env").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text("park:\n  name: x\n", encoding="utf-8")
    assert service(["install", "--config", str(broken), "--unit-dir", str(tmp_path),
                    "--env-file", str(tmp_path / "y.env")]) == 1
    assert "smtp: is missing" in capsys.readouterr().err
    assert not (tmp_path / "parkdesk.service").exists() and not (tmp_path / "y.env").exists()


def test_unwritable_unit_folder_says_run_as_root_or_choose_another(tmp_path):
    config = write_config(tmp_path / "park")
    units = tmp_path / "units"
    units.mkdir()
    plan = plan_service(config, unit_dir=units, env_file=tmp_path / "x.env",
                        executable=EXECUTABLE)
    (units / "parkdesk.service.new").mkdir()  # cannot be written as a file, even by root
    with pytest.raises(ServiceInstallError, match="Cannot write"):
        install_service(plan)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("folder", ["park", "东湖 park 100%"])
def test_systemd_accepts_the_unit(tmp_path, folder):
    config = write_config(tmp_path / folder)
    units = tmp_path / "units"
    units.mkdir()
    plan = plan_service(config, unit_dir=units, env_file=tmp_path / "parkdesk.env")
    install_service(plan)
    result = subprocess.run(["systemd-analyze", "verify", str(units / "parkdesk.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # And it does reject a broken one: the check is not blind.
    (units / "broken.service").write_text("[Service]\nExecStart=relative/parkdesk\n")
    broken = subprocess.run(["systemd-analyze", "verify", str(units / "broken.service")],
                            capture_output=True, text=True, timeout=60)
    assert broken.returncode != 0
