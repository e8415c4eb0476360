"""Run the emulator standalone, or mint a key for a running one.

python -m tests.sheets_emulator --host 127.0.0.1 --port 8765 --data state.json
    prints its base URL on the first line of stdout, serves until SIGINT/SIGTERM;
    the state survives restarts in --data (JSON, written atomically).
python -m tests.sheets_emulator new-key --base-url URL --email X --out key.json
    writes a service-account key file and registers it with the emulator at URL.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .auth import write_service_account_key
from .emulator import SheetsEmulator


def _limit(value: int) -> int | None:
    return None if value <= 0 else value


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.sheets_emulator", description="Google Sheets API emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--data", help="JSON file keeping the state across restarts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument(
        "--user-quota",
        type=int,
        default=60,
        help="requests per minute per user, reads and writes apart (0: none)",
    )
    parser.add_argument(
        "--project-quota", type=int, default=300, help="requests per minute per project (0: none)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    emu = SheetsEmulator(
        host=args.host,
        port=args.port,
        data_path=args.data,
        latency=args.latency,
        user_quota_per_minute=_limit(args.user_quota),
        project_quota_per_minute=_limit(args.project_quota),
        verbose=args.verbose,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emu.start()
    print(emu.base_url, flush=True)
    print(
        f"Sheets emulator listening on {emu.base_url} (state: {args.data or 'memory only'})",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    emu.stop()
    return 0


def new_key(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sheets_emulator new-key")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--project", help="project_id (default: from the email's domain)")
    parser.add_argument("--no-register", action="store_true", help="only write the file (an unknown key)")
    args = parser.parse_args(argv)
    path = write_service_account_key(
        args.base_url, args.email, args.out, args.project, register=not args.no_register
    )
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "new-key":
        return new_key(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    raise SystemExit(main())
