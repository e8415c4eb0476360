"""Logging set-up: one line per event, with time and the concern (``parkdesk.intake`` ...).

Secrets never reach the logs: adapters never log passwords or tokens, and imapclient's own
logger (which redacts LOGIN) is kept at WARNING.
"""

from __future__ import annotations

import logging
import sys


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("imapclient", "urllib3", "google", "gspread", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
