"""Put the register in place for a new config: a Google Sheet or a local workbook.

``create_google_sheet`` makes a new spreadsheet with the service account (before config.yaml is
written, since the file names its id). ``set_up_register`` then formats it: for Google,
``daemon.register.google_layout.apply_google_layout`` builds or repairs the tabs, headers,
drop-downs, formatting, protection and sharing, and never touches data; for a workbook, the
register's own ``ensure_layout`` creates the file and tabs. On both, the Departments tab (which
ParkDesk owns: who gets what) is written from the config, as the daemon does at its start. Running either again on a register in place changes nothing but what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from daemon.config import Config
from daemon.register.departments import department_rows

SHEET_TITLE = "{park} 投诉登记 Complaint register"


@dataclass(frozen=True)
class RegisterOutcome:
    """What was done to the register: where it is, and the changes made (empty: all in place)."""

    location: str
    changes: list[str] = field(default_factory=list)


def sheet_title(park_name: str) -> str:
    return SHEET_TITLE.format(park=park_name)


def create_google_sheet(credentials_file: Path, api_endpoint: str, park_name: str) -> str:
    """A new spreadsheet owned by the service account; returns its id. Raises RegisterError."""
    from daemon.register.google_layout import create_register_spreadsheet

    return create_register_spreadsheet(credentials_file, api_endpoint, sheet_title(park_name))


def set_up_register(config: Config) -> RegisterOutcome:
    """Build or repair the register's layout. Raises RegisterError (or OSError for a workbook)."""
    if config.register.backend == "google":
        from daemon.register import open_register
        from daemon.register.google_layout import apply_google_layout

        report = apply_google_layout(config)
        changes = list(report.changes)
        register = open_register(config.register)
        writes = _write_count(register)
        register.write_departments(department_rows(config))
        if _write_count(register) > writes:
            changes.append(_departments_written(config.park.language))
        return RegisterOutcome(report.spreadsheet_url, changes)
    return _set_up_workbook(config)


def _write_count(register) -> int:
    return sum(count for name, count in register.request_counts.items() if "update" in name.casefold()
               or "append" in name.casefold() or "clear" in name.casefold())


def _departments_written(language: str) -> str:
    return ("Departments 工作表已按 config.yaml 写入部门和人员" if language == "zh-CN" else
            "wrote the departments and people of config.yaml into the Departments tab")


def _set_up_workbook(config: Config) -> RegisterOutcome:
    from daemon.register import open_register

    path = Path(config.register.path)
    existed = path.is_file()
    register = open_register(config.register)
    register.ensure_layout()
    register.write_departments(department_rows(config))
    created = (f"已创建 {path.name},含 Register、Activity、Departments 三个工作表"
               if config.park.language == "zh-CN" else
               f"created {path.name} with the tabs Register, Activity and Departments")
    changes = [] if existed else [created]
    return RegisterOutcome(str(path), changes)
