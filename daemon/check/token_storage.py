"""Warn when a Microsoft refresh token is read from an environment variable ParkDesk cannot
rewrite."""

from __future__ import annotations

from daemon.check.results import CheckResult, warned
from daemon.config import Config


def check_token_storage(config: Config) -> list[CheckResult]:
    """A Microsoft refresh token read from an environment variable: Microsoft renews it at each
    use, but a variable cannot be rewritten, so after a restart ParkDesk starts again from the
    first one, which stops working 90 days after it was issued. A file is rewritten."""
    results = []
    for section in ("mailbox", "smtp"):
        cfg = getattr(config, section)
        oauth2 = getattr(cfg, "oauth2", None)
        if (getattr(cfg, "auth", "password") != "oauth2" or oauth2 is None
                or oauth2.provider != "microsoft_refresh_token" or not oauth2.refresh_token_env):
            continue
        results.append(warned(
            f"{section}.oauth2 keeps Microsoft's renewed refresh token",
            f"it is read from the environment variable {oauth2.refresh_token_env}, which "
            f"ParkDesk cannot rewrite: the renewed token lasts only until the next restart, and "
            f"the one in the variable stops working 90 days after it was issued",
            f"put the token in a file and set {section}.oauth2.refresh_token_file instead of "
            f"refresh_token_env: ParkDesk rewrites the file with each token Microsoft sends"))
    return results
