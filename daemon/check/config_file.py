"""Check that the config file loads; the loaded config is what every other check reads."""

from __future__ import annotations

from pathlib import Path

from daemon.check.results import CheckResult, failed, passed
from daemon.config import Config, ConfigError, load_config


def check_config_file(path: str | Path) -> tuple[Config | None, CheckResult]:
    """Load the config; on failure the result lists every problem ConfigError names."""
    name = f"config {path} is valid"
    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, failed(name, str(exc), "correct the keys named above "
                                            "(`parkdesk check-config` lists them too)")
    return config, passed(name)
