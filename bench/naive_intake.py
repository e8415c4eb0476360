"""The naive baseline of the intake benchmark: one complaint at a time, the way a quick script does it.

What a peer writes in an afternoon with the same libraries ParkDesk uses, and no batching:

    for each message in the inbox (listed once, fetched one by one with imapclient):
        parse it with the standard library's ``email``
        worksheet.append_row([...])            one Sheets API write per complaint (gspread)
        acknowledge it on a NEW SMTP connection (connect, STARTTLS, login, send, quit)
        move it to Processed                   one IMAP MOVE per message

gspread's default HTTP client raises ``APIError`` at the first 429, which would end the run after
about 60 complaints. The baseline therefore uses gspread's own remedy for quotas,
``gspread.BackOffHTTPClient`` (sleep 2, 4, 8 ... 128 s and try again), which is what its
documentation offers a user who meets "429 Quota exceeded". Against the emulator the only change is
that Google's host names are rewritten to ``--api-endpoint`` (``tests/sheets_emulator/client.py``).

``--deadline SECONDS`` stops the run after the message in hand once that much time has passed, so a
benchmark can cap it; the last line on stdout is a JSON summary of what was done.

    NAIVE_PASSWORD=... python bench/naive_intake.py --imap-host 127.0.0.1 --imap-port 143 \\
        --user complaints@park.test --smtp-host 127.0.0.1 --smtp-port 25 --ca-file ca.pem \\
        --key service-account.json --spreadsheet-id ID [--api-endpoint http://127.0.0.1:8089]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import ssl
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import gspread
from gspread.http_client import BackOffHTTPClient
from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROCESSED = "Processed"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Naive one-at-a-time complaint intake (benchmark baseline).")
    parser.add_argument("--imap-host", required=True)
    parser.add_argument("--imap-port", type=int, required=True)
    parser.add_argument("--smtp-host", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--user", required=True, help="the complaints mailbox (IMAP and SMTP login)")
    parser.add_argument("--ca-file", help="CA to trust for STARTTLS (a test server's own CA)")
    parser.add_argument("--key", required=True, help="service-account JSON key")
    parser.add_argument("--spreadsheet-id", required=True)
    parser.add_argument("--api-endpoint", default="", help="Sheets API base URL (an emulator)")
    parser.add_argument("--deadline", type=float, default=0.0,
                        help="stop after the message in hand once this many seconds passed (0: never)")
    parser.add_argument("--password-env", default="NAIVE_PASSWORD",
                        help="environment variable holding the mailbox password")
    return parser.parse_args(argv)


def http_client_class(api_endpoint: str) -> type:
    """gspread's BackOffHTTPClient, pointed at ``api_endpoint`` when that is not Google's."""
    if not api_endpoint:
        return BackOffHTTPClient
    from tests.sheets_emulator.client import EmulatorHTTPClient

    bound = EmulatorHTTPClient.for_base_url(api_endpoint)
    return type("EmulatorBackOffHTTPClient", (bound, BackOffHTTPClient), {})


def open_worksheet(args: argparse.Namespace) -> gspread.Worksheet:
    client = gspread.service_account(filename=args.key, http_client=http_client_class(args.api_endpoint))
    return client.open_by_key(args.spreadsheet_id).sheet1


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def connect_imap(args: argparse.Namespace, password: str) -> IMAPClient:
    client = IMAPClient(args.imap_host, port=args.imap_port, ssl=False, timeout=30)
    client.starttls(tls_context(args.ca_file))
    client.login(args.user, password)
    if not client.folder_exists(PROCESSED):
        client.create_folder(PROCESSED)
    client.select_folder("INBOX")
    return client


def body_text(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def complaint_row(message, received_at: str) -> list[str]:
    name, address = parseaddr(str(message.get("From", "")))
    return [received_at, name, address, str(message.get("Subject", "")), body_text(message),
            str(message.get("Message-ID", ""))]


def acknowledgement(message, sender: str, reference: str) -> EmailMessage:
    ack = EmailMessage()
    ack["From"] = sender
    ack["To"] = parseaddr(str(message.get("From", "")))[1]
    ack["Subject"] = f"[{reference}] 已收到您的投诉 We received your complaint"
    ack["Date"] = formatdate(localtime=True)
    ack["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    if message.get("Message-ID"):
        ack["In-Reply-To"] = str(message["Message-ID"])
    ack.set_content(f"您好，我们已收到您的投诉，编号 {reference}。\n"
                    f"Hello, we received your complaint; its reference is {reference}.\n")
    return ack


def send_on_new_connection(args: argparse.Namespace, password: str, ack: EmailMessage) -> None:
    with smtplib.SMTP(args.smtp_host, args.smtp_port, timeout=30) as smtp:
        smtp.starttls(context=tls_context(args.ca_file))
        smtp.login(args.user, password)
        smtp.send_message(ack)


def run(args: argparse.Namespace) -> dict[str, object]:
    password = os.environ[args.password_env]
    began = time.monotonic()
    summary: dict[str, object] = {"listed": 0, "registered": 0, "acknowledged": 0, "moved": 0,
                                  "smtp_connections": 0, "stopped_at_deadline": False}
    worksheet = open_worksheet(args)
    imap = connect_imap(args, password)
    try:
        uids = imap.search("ALL")
        summary["listed"] = len(uids)
        for number, uid in enumerate(uids, start=1):
            if args.deadline and time.monotonic() - began > args.deadline:
                summary["stopped_at_deadline"] = True
                break
            raw = imap.fetch([uid], ["RFC822"])[uid][b"RFC822"]
            message = message_from_bytes(raw, policy=policy.default)
            worksheet.append_row(complaint_row(message, formatdate(localtime=True)))
            summary["registered"] = number
            summary["smtp_connections"] = int(summary["smtp_connections"]) + 1
            send_on_new_connection(args, password, acknowledgement(message, args.user, f"N-{number:05d}"))
            summary["acknowledged"] = number
            imap.move([uid], PROCESSED)
            summary["moved"] = number
    except Exception as error:  # noqa: BLE001 - report how far it got, as the crash would leave it
        summary["error"] = f"{type(error).__name__}: {error}"[:500]
    finally:
        summary["seconds"] = round(time.monotonic() - began, 3)
        imap.logout()
    return summary


def main(argv: list[str] | None = None) -> int:
    summary = run(parse_args(argv))
    print(json.dumps(summary))
    return 1 if "error" in summary else 0


if __name__ == "__main__":
    sys.exit(main())
