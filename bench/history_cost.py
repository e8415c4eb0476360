"""History cost benchmark: does a ParkDesk cycle cost more when the closed history is larger?

Run from the repository root (the defaults take about 4 minutes):

    python bench/history_cost.py [--sizes 0,2000,20000] [--new 5] [--latency 0.05]
                                 [--quota google|none] [--review-timeout 60] [--keep]

PRODUCT.md section 6 promises: "Cost per cycle does not grow with the size of the closed
history". Closed complaints live in yearly ``Archive YYYY`` tabs; the intake cycle should read
only the Register tab, while the review jobs read the archive by design. For each archive size,
side by side in one run, against one SheetsEmulator and one MailBench (Dovecot + SMTP receiver):

* a fresh spreadsheet, laid out and filled (not measured; no quotas, no latency) with that many
  synthetic closed complaints, 20 a day back from 35 days ago, moved to ``Archive <year
  received>`` in chunks of 2,000 rows by ParkDesk's own ``append_complaints`` and
  ``archive_rows``; the Register tab is left empty;
* the day's first ``python -m daemon run --config X --once``, inbox empty: it also runs the
  daily layout repair and the digest check, so it is shown apart;
* an ordinary cycle: ``--new`` complaint emails planted into the complaints mailbox, then
  ``run --once`` again; afterwards the Register must hold exactly ``--new`` more rows, with
  the planted Message-IDs, and the inbox must be empty;
* ``python -m daemon dashboard --config X`` (rebuilds the Dashboard and Recurring tabs);
* ``python -m daemon report --config X --period month --format text``.

The config is the repository's config.yaml pointed at the bench (intake_burst's
``write_parkdesk_config``) with one change: ``review.dashboard_enabled: false``. The daemon
rebuilds the Dashboard inside the day's first cycle, and that rebuild costs what the
``dashboard`` step costs. The ordinary cycle is the same either way (once the day's rebuild is
done the daemon's check reads only its journal). The two review steps are stopped after
``--review-timeout`` seconds (shown as ">N"): their time grows with the square of the history
(the similar-text search), so at 20,000 they would take about half an hour each.

Each step runs as a subprocess under intake_burst's launcher (wall time and peak RSS), with
``--latency`` seconds per Sheets request and quotas as ``--quota`` says; the emulator's request
counts, its quota window and the counters below are reset right before it. Measured around each
step in this process (the emulator's code is unchanged): Sheets API requests by method as the
emulator counted them, 429s it answered, and, by wrapping the emulator server's ``dispatch``,
the bytes of its response bodies (uncompressed JSON; Google would gzip them) and its own
processing time per method (latency excluded), so that a cost of the emulator is not taken for
one of ParkDesk.

The closing lines give the ratio of the largest archive to the smallest for the ordinary
cycle: requests, response bytes, wall time, and wall time less the emulator's processing.
Exit status 1 if a step fails, the new complaints are not all registered, or the ordinary
cycle's requests differ between archive sizes (each differing method is named).
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import yaml  # noqa: E402
from intake_burst import (  # noqa: E402
    CHINESE_COMPLAINTS,
    ENGLISH_COMPLAINTS,
    PARKDESK_MAILBOX,
    PROJECT_QUOTA,
    SERVICE_ACCOUNT,
    SIGNATURES,
    USER_QUOTA,
    Arena,
    build_corpus,
    child_env,
    fill,
    make_tenants,
    plant,
    run_measured,
    tail,
    write_parkdesk_config,
)

from daemon.register import open_register  # noqa: E402
from daemon.sheet_layout import REGISTER_KEYS, REGISTER_TAB, Status  # noqa: E402
from tests.mailbench import MailBench  # noqa: E402
from tests.sheets_emulator import SheetsEmulator  # noqa: E402
from tests.sheets_emulator import server as emulator_server  # noqa: E402

PARK_TZ = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M"  # as daemon.intake.rows writes times
PER_DAY = 20  # closed complaints a day in the synthetic history
NEWEST_CLOSED_DAYS_AGO = 35  # archive_after_days (30) plus a few
FILL_CHUNK = 2000
STEP_TIMEOUT = 1200.0  # the cycles; the review steps have --review-timeout
CATEGORY_DEPARTMENT = {"property": "property", "facilities": "facilities",
                       "environment": "environment", "security": "security", "other": "property"}
STAFF = ["张伟", "李娜", "王磊", "陈晨", "刘洋"]
DAILY_JOB_LOG = ("dashboard rebuilt", "register layout", "digest of")


class BenchError(Exception):
    """A step failed or its outcome is wrong; the message says which and why."""


# ---- the closed history ---------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def closed_history(count: int, seed: int, newest: datetime) -> list[dict[str, str]]:
    """``count`` closed complaints, oldest first, ``PER_DAY`` a day up to ``newest``.

    Each went the whole way (dispatched, signed for, resolved, return visit, closed); most have
    a satisfaction score, the rest were closed after the tenant did not answer the visit.
    """
    rng = random.Random(seed)
    tenants = make_tenants(200, rng)
    spacing = timedelta(days=1) / PER_DAY
    first = newest - spacing * count
    rows: list[dict[str, str]] = []
    per_day: Counter[str] = Counter()
    for i in range(count):
        tenant = tenants[rng.randrange(len(tenants))]
        received = first + spacing * i + timedelta(seconds=rng.randrange(int(spacing.total_seconds())))
        day = received.strftime("%y%m%d")
        per_day[day] += 1
        templates = CHINESE_COMPLAINTS if tenant.language == "zh" else ENGLISH_COMPLAINTS
        subject_t, body_t = rng.choice(templates)
        category = rng.choice(list(CATEGORY_DEPARTMENT))
        dispatched = received + timedelta(minutes=rng.randrange(1, 30))
        acknowledged = dispatched + timedelta(minutes=rng.randrange(2, 240))
        resolved = acknowledged + timedelta(hours=rng.uniform(1, 96))
        visit = resolved + timedelta(hours=rng.uniform(1, 24))
        answered = rng.random() < 0.85
        closed = visit + (timedelta(hours=rng.uniform(1, 48)) if answered else timedelta(days=4))
        row = dict.fromkeys(REGISTER_KEYS, "")
        row.update({
            "reference": f"C-{day}-{per_day[day]:03d}", "status": Status.CLOSED.label,
            "received_at": stamp(received), "company": tenant.company,
            "contact_name": tenant.name, "email": tenant.address,
            "phone": f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
            "location": f"{rng.randint(1, 12)}号楼 {rng.randint(1, 8)}层",
            "subject": fill(subject_t, tenant, rng),
            "content": fill(body_t, tenant, rng) + fill(SIGNATURES[tenant.language], tenant, rng),
            "category": category, "priority": rng.choice(["high", "normal", "normal", "low"]),
            "department": CATEGORY_DEPARTMENT[category], "assignee": rng.choice(STAFF),
            "dispatched_at": stamp(dispatched), "ack_due": stamp(dispatched + timedelta(minutes=5)),
            "acknowledged_at": stamp(acknowledged), "acknowledged_by": rng.choice(STAFF),
            "resolve_by": stamp(dispatched + timedelta(hours=72)), "resolved_at": stamp(resolved),
            "resolved_by": rng.choice(STAFF), "result": "已处理 Fixed on site",
            "visit_sent_at": stamp(visit),
            "satisfaction": str(rng.choice([3, 4, 4, 5, 5, 5, 2])) if answered else "",
            "feedback": rng.choice(["", "", "谢谢 Thanks", "处理及时"]) if answered else "",
            "closed_at": stamp(closed), "updated_at": stamp(closed),
            "message_id": f"<history-{seed}-{i:06d}@{tenant.address.split('@')[1]}>",
        })
        rows.append(row)
    return rows


def fill_archive(register, rows: list[dict[str, str]]) -> dict[str, int]:
    """Lay the register out, then append and archive ``rows`` chunk by chunk; rows per tab."""
    register.ensure_layout()
    for start in range(0, len(rows), FILL_CHUNK):
        chunk = rows[start:start + FILL_CHUNK]
        register.append_complaints(chunk)
        moves: dict[str, list[str]] = {}
        for row in chunk:
            moves.setdefault(f"Archive {row['received_at'][:4]}", []).append(row["reference"])
        moved = register.archive_rows(moves)
        if moved != len(chunk):
            raise BenchError(f"filling: archive_rows moved {moved} of {len(chunk)} rows")
    archived = {tab: len(found) for tab, found in register.read_archives().items()}
    left = len(register.read_register())
    if sum(archived.values()) != len(rows) or left:
        raise BenchError(f"filling: {sum(archived.values())} rows archived of {len(rows)}, "
                         f"{left} left in {REGISTER_TAB}")
    return archived


# ---- around the emulator's dispatch (in this process; the emulator's code is unchanged) -------


class EmulatorMeter:
    """Per API method: bytes of the emulator's response bodies and its own processing time.

    The processing time is the time ``dispatch`` took minus the ``--latency`` it sleeps per
    request: what the emulator itself spent (quota, handler, JSON). The daemon's requests follow
    one another, so that time is part of the daemon's wall time too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        original = emulator_server.dispatch

        def dispatch(emu, method, target, headers, body, client):
            started = time.perf_counter()
            response = original(emu, method, target, headers, body, client)
            elapsed = time.perf_counter() - started
            path = urllib.parse.urlsplit(target).path
            route, _ = emulator_server.match_route(method, path)
            if route is not None:
                self._add(route.method_id, len(response.body), max(0.0, elapsed - emu.latency))
            elif path == "/token":
                self._add("oauth2.token", len(response.body), elapsed)  # no latency there
            return response

        emulator_server.dispatch = dispatch  # _Handler looks the name up at each request

    def _add(self, method: str, size: int, seconds: float) -> None:
        with self._lock:
            self.bytes[method] += size
            self.seconds[method] += seconds

    def reset(self) -> None:
        with self._lock:
            self.bytes.clear()
            self.seconds.clear()

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.bytes), Counter(self.seconds)


# ---- the measured steps -----------------------------------------------------------------------


@dataclass
class Step:
    """One measured subprocess: what the emulator saw while it ran."""

    wall: float = 0.0
    maxrss_kb: int = 0
    requests: Counter = field(default_factory=Counter)
    response_bytes: Counter = field(default_factory=Counter)
    emulator_seconds: Counter = field(default_factory=Counter)
    rejected: int = 0
    stopped: float = 0.0  # the time limit it was stopped at (0: it finished)
    daily_jobs: list[str] = field(default_factory=list)  # daily-job log lines seen

    @property
    def sheets(self) -> int:
        return self.requests["reads"] + self.requests["writes"]

    @property
    def kilobytes(self) -> float:
        return sum(self.response_bytes.values()) / 1024

    @property
    def emulator(self) -> float:
        return sum(self.emulator_seconds.values())

    @property
    def own(self) -> float:
        """Wall time less the emulator's processing: the daemon, its start-up, the latency."""
        return self.wall - self.emulator


@dataclass
class SizeResult:
    size: int
    tabs: dict[str, int]
    first: Step
    cycle: Step
    dashboard: Step
    report: Step
    registered: int


class Runner:
    """Runs the daemon's commands against one spreadsheet and measures each."""

    def __init__(self, arena: Arena, counter: EmulatorMeter, args: argparse.Namespace) -> None:
        self.arena, self.counter, self.args = arena, counter, args

    def quotas_for_measuring(self) -> None:
        emulator = self.arena.emulator
        if self.args.quota == "google":
            emulator.set_quota(USER_QUOTA, PROJECT_QUOTA)
        else:
            emulator.set_quota(None, None)
        emulator.set_latency(self.args.latency)

    def quotas_for_setup(self) -> None:
        self.arena.emulator.set_quota(None, None)
        self.arena.emulator.set_latency(0.0)

    def measure(self, name: str, command: list[str], env: dict[str, str],
                limit: float | None = None) -> Step:
        """Run ``command`` with fresh counters; with a ``limit``, stopping it there is no failure."""
        emulator = self.arena.emulator
        self.quotas_for_measuring()
        emulator.reset_quota()
        rejected_before = sum(self.arena.rejections.snapshot().values())
        self.counter.reset()
        emulator.reset_counts()
        done = run_measured(command, env, self.arena.workdir, limit or STEP_TIMEOUT, name)
        step = Step(wall=done.wall, maxrss_kb=done.maxrss_kb,
                    requests=Counter(emulator.request_counts()))
        step.response_bytes, step.emulator_seconds = self.counter.snapshot()
        step.rejected = sum(self.arena.rejections.snapshot().values()) - rejected_before
        step.daily_jobs = [line.strip() for line in done.stderr.splitlines()
                           if any(mark in line for mark in DAILY_JOB_LOG)]
        self.quotas_for_setup()
        if done.killed and limit:
            step.stopped, step.wall, step.maxrss_kb = limit, limit, 0
            return step
        if done.killed or done.returncode != 0:
            reason = f"killed after {STEP_TIMEOUT:g} s" if done.killed else f"exit status {done.returncode}"
            raise BenchError(f"{name}: {' '.join(command[1:])} failed ({reason}); stderr tail:\n"
                             f"{tail(done.stderr)}\nstdout tail:\n{tail(done.stdout)}")
        return step

    def run_size(self, size: int, workdir: Path, newest: datetime) -> SizeResult:
        arena, args = self.arena, self.args
        workdir.mkdir(parents=True)
        arena.workdir = workdir  # write_parkdesk_config puts the config and state_dir here
        self.quotas_for_setup()
        sheet = arena.emulator.create_spreadsheet(SERVICE_ACCOUNT, title=f"ParkDesk history {size}")
        register = open_register(SimpleNamespace(
            backend="google", spreadsheet_id=sheet, credentials_file=str(arena.key_path),
            api_endpoint=arena.emulator.base_url, path=None))
        started = time.monotonic()
        tabs = fill_archive(register, closed_history(size, args.seed, newest))
        print(f"  archive {size:,}: filled in {time.monotonic() - started:.1f} s "
              f"({', '.join(f'{tab} {n:,}' for tab, n in sorted(tabs.items())) or 'no archive tab'})",
              flush=True)

        config = write_bench_config(arena, sheet)
        password = arena.bench.password_of(PARKDESK_MAILBOX)
        env = child_env(ROOT, PARKDESK_IMAP_PASSWORD=password, PARKDESK_SMTP_PASSWORD=password)
        daemon = [sys.executable, "-m", "daemon"]
        run_once = [*daemon, "run", "--config", str(config), "--once"]
        if arena.bench.count(PARKDESK_MAILBOX):
            raise BenchError(f"the inbox of {PARKDESK_MAILBOX} is not empty before the first cycle")

        first = self.measure(f"first-cycle-{size}", run_once, env)
        corpus = build_corpus(args.new, args.new, args.seed + size + 1, PARKDESK_MAILBOX)
        for tenant in corpus.tenants:
            arena.bench.add_user(tenant.address)
        plant(arena.bench, PARKDESK_MAILBOX, corpus.raws)
        before = len(register.read_register())
        cycle = self.measure(f"cycle-{size}", run_once, env)
        after = register.read_register()
        ids = {row.values.get("message_id", "") for row in after}
        registered = len(after) - before
        if registered != args.new or not set(corpus.message_ids) <= ids:
            raise BenchError(f"archive {size}: the ordinary cycle registered {registered} rows of "
                             f"{args.new} planted ({len(set(corpus.message_ids) & ids)} planted "
                             f"Message-IDs found in {REGISTER_TAB})")
        left = arena.bench.count(PARKDESK_MAILBOX)
        if left:
            raise BenchError(f"archive {size}: {left} message(s) left in the inbox after the cycle")
        if cycle.daily_jobs:
            raise BenchError(f"archive {size}: the ordinary cycle ran a daily job (did the park's "
                             f"day change between the cycles?): {cycle.daily_jobs}")

        limit = args.review_timeout or None
        dashboard = self.measure(f"dashboard-{size}", [*daemon, "dashboard", "--config", str(config)],
                                 env, limit)
        report = self.measure(f"report-{size}", [*daemon, "report", "--config", str(config),
                                                 "--period", "month", "--format", "text"], env, limit)
        print(f"  archive {size:,}: measured (cycle {cycle.wall:.1f} s, dashboard "
              f"{seconds(dashboard)} s, report {seconds(report)} s)", flush=True)
        return SizeResult(size, tabs, first, cycle, dashboard, report, registered)


def write_bench_config(arena: Arena, spreadsheet_id: str) -> Path:
    """intake_burst's config for ParkDesk, with the daemon's daily Dashboard rebuild turned off."""
    path = write_parkdesk_config(arena, ROOT, spreadsheet_id)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault("review", {})["dashboard_enabled"] = False
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- the report ------------------------------------------------------------------------------


def seconds(step: Step) -> str:
    return f">{step.stopped:g}" if step.stopped else f"{step.wall:.2f}"


def megabytes(step: Step) -> str:
    return "-" if step.stopped else f"{step.maxrss_kb / 1024:.1f}"


def short(method: str) -> str:
    return method.removeprefix("sheets.spreadsheets.")


def ratio(big: float, small: float) -> str:
    return f"{big / small:.2f}x" if small else "-"


def cycle_table(results: list[SizeResult]) -> list[str]:
    """The promise: the ordinary cycle (and the day's first) per archive size."""
    head = (f"{'archive':>8} {'tabs':>4} | {'cycle: req':>10} {'resp KB':>8} {'wall s':>7} "
            f"{'emu s':>6} {'wall-emu':>8} {'RSS MB':>6} | {'1st of day: req':>15} {'wall s':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        c, f = r.cycle, r.first
        lines.append(f"{r.size:>8,} {len(r.tabs):>4} | {c.sheets:>10} {c.kilobytes:>8.1f} "
                     f"{c.wall:>7.2f} {c.emulator:>6.2f} {c.own:>8.2f} {c.maxrss_kb / 1024:>6.1f} | "
                     f"{f.sheets:>15} {f.wall:>7.2f}")
    return lines


def review_table(results: list[SizeResult]) -> list[str]:
    """The review jobs, which read the archive by design."""
    head = (f"{'archive':>8} | {'dashboard: req':>14} {'resp KB':>8} {'wall s':>7} {'emu s':>6} "
            f"{'RSS MB':>6} | {'report: req':>11} {'resp KB':>8} {'wall s':>7} {'RSS MB':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        d, p = r.dashboard, r.report
        lines.append(f"{r.size:>8,} | {d.sheets:>14} {d.kilobytes:>8.1f} {seconds(d):>7} "
                     f"{d.emulator:>6.2f} {megabytes(d):>6} | {p.sheets:>11} {p.kilobytes:>8.1f} "
                     f"{seconds(p):>7} {megabytes(p):>6}")
    return lines


def method_cell(step: Step, method: str) -> str:
    return (f"{step.requests[method]} / {step.response_bytes[method] / 1024:.1f} / "
            f"{step.emulator_seconds[method]:.2f}")


def method_table(results: list[SizeResult]) -> list[str]:
    """Per step and method: requests / response KB / emulator seconds, one column per size."""
    steps = (("ordinary cycle", "cycle"), ("day's first cycle", "first"),
             ("dashboard", "dashboard"), ("report", "report"))
    width, column = 30, 22
    head = f"{'requests / resp KB / emu s':{width}}" + "".join(
        f"{f'archive {r.size:,}':>{column}}" for r in results)
    lines = [head, "-" * len(head)]
    for label, attribute in steps:
        chosen = [getattr(r, attribute) for r in results]
        methods = sorted({m for s in chosen for m in s.requests if m not in ("reads", "writes")})
        lines.append(label)
        for method in methods:
            cells = "".join(f"{method_cell(s, method):>{column}}" for s in chosen)
            lines.append(f"{'  ' + short(method):{width}}{cells}")
        if any(s.rejected for s in chosen):
            lines.append(f"{'  429s answered':{width}}" + "".join(f"{s.rejected:>{column}}"
                                                                    for s in chosen))
    return lines


def growth_lines(results: list[SizeResult]) -> tuple[list[str], bool]:
    """The closing lines: largest against smallest archive; whether the cycle's requests held."""
    small, big = min(results, key=lambda r: r.size), max(results, key=lambda r: r.size)
    same = all(r.cycle.requests == small.cycle.requests for r in results)
    lines = [
        f"Ordinary cycle, archive {big.size:,} against {small.size:,}: requests "
        f"{ratio(big.cycle.sheets, small.cycle.sheets)} ({big.cycle.sheets} vs {small.cycle.sheets}"
        f"{', the same methods and counts' if same else ', NOT the same by method'}), response bytes "
        f"{ratio(big.cycle.kilobytes, small.cycle.kilobytes)}, wall time "
        f"{ratio(big.cycle.wall, small.cycle.wall)} ({big.cycle.wall:.2f} vs {small.cycle.wall:.2f} s), "
        f"wall time less the emulator's processing {ratio(big.cycle.own, small.cycle.own)} "
        f"({big.cycle.own:.2f} vs {small.cycle.own:.2f} s).",
    ]
    if not same:
        for method in sorted(set(big.cycle.requests) | set(small.cycle.requests)):
            if big.cycle.requests[method] != small.cycle.requests[method]:
                lines.append(f"  FINDING: {method}: {small.cycle.requests[method]} requests with "
                             f"archive {small.size:,}, {big.cycle.requests[method]} with {big.size:,}")
    slower = [(big.cycle.emulator_seconds[m] - small.cycle.emulator_seconds[m], m)
              for m in big.cycle.emulator_seconds]
    grown, method = max(slower, default=(0.0, ""))
    if grown > 0.1:
        lines.append(f"  The emulator's processing of the cycle's requests grew by {grown:.2f} s "
                     f"in {short(method)} ({small.cycle.emulator_seconds[method]:.2f} -> "
                     f"{big.cycle.emulator_seconds[method]:.2f} s for "
                     f"{big.cycle.requests[method]} requests): the emulator's cost, not ParkDesk's.")
    lines.append(
        f"For comparison (they read the archive by design): dashboard wall time "
        f"{review_ratio(big.dashboard, small.dashboard)}, response bytes "
        f"{ratio(big.dashboard.kilobytes, small.dashboard.kilobytes)}; report wall time "
        f"{review_ratio(big.report, small.report)}; the day's first cycle (dashboard off) "
        f"wall time {ratio(big.first.wall, small.first.wall)}.")
    stopped = [f"{name} at archive {r.size:,}" for r in results
               for name, step in (("dashboard", r.dashboard), ("report", r.report)) if step.stopped]
    if stopped:
        limit = max(step.stopped for r in results for step in (r.dashboard, r.report))
        lines.append(f"Stopped at --review-timeout {limit:g} s (requests: those made before): "
                     f"{', '.join(stopped)}.")
    return lines, same


def review_ratio(big: Step, small: Step) -> str:
    if big.stopped:
        return f"more than {ratio(big.stopped, small.wall)} (stopped)"
    return ratio(big.wall, small.wall)


def report_text(args: argparse.Namespace, results: list[SizeResult]) -> tuple[str, bool]:
    quota = (f"Google's defaults ({USER_QUOTA} read and {USER_QUOTA} write requests per minute per "
             f"user, {PROJECT_QUOTA} per project)" if args.quota == "google" else "none")
    lines = [
        f"History cost: archive sizes {', '.join(f'{r.size:,}' for r in results)} closed complaints "
        f"({PER_DAY} a day, newest closed {NEWEST_CLOSED_DAYS_AGO} days ago)",
        f"Sheets emulator: {args.latency * 1000:g} ms per request while measuring; quotas while "
        f"measuring: {quota}; filling: no quotas, no latency",
        f"Ordinary cycle: {args.new} new complaint emails planted, then `run --once`; registered: "
        + ", ".join(f"{r.registered} of {args.new} (archive {r.size:,})" for r in results),
        "Config: config.yaml pointed at the bench, the daemon's daily Dashboard rebuild off "
        "(review.dashboard_enabled: false); its cost is the dashboard step's.",
        "",
        *cycle_table(results),
        "",
        *review_table(results),
        "",
        "req: Sheets API requests (reads + writes, 429s included); resp KB: response bodies "
        "(uncompressed JSON);",
        "wall s, RSS MB: the subprocess's wall time and peak RSS; emu s: the emulator's own "
        "processing (its latency excluded);",
        "wall-emu: wall time less that; 1st of day: `run --once` with an empty inbox after "
        "filling (also the daily layout repair).",
        "",
        *method_table(results),
        "",
    ]
    growth, same = growth_lines(results)
    lines += growth
    return "\n".join(lines), same


# ---- main ------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes wants numbers separated by commas, not {text!r}")
    if not sizes or any(size < 0 for size in sizes) or len(set(sizes)) != len(sizes):
        raise argparse.ArgumentTypeError("--sizes wants distinct numbers, 0 or more")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[0, 2000, 20000],
                        help="closed complaints in the archive, one spreadsheet each "
                             "(default 0,2000,20000)")
    parser.add_argument("--new", type=int, default=5,
                        help="complaint emails the ordinary cycle registers (default 5)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the emulator takes per API request while measuring (default 0.05)")
    parser.add_argument("--quota", choices=("google", "none"), default="google",
                        help=f"quotas while measuring: Google's defaults ({USER_QUOTA}/{PROJECT_QUOTA} "
                             "per minute) or none (default google)")
    parser.add_argument("--review-timeout", type=float, default=60.0,
                        help="stop the dashboard and report steps after this many seconds, shown "
                             f"as >N (default 60; 0: {STEP_TIMEOUT:g} s, then a failure)")
    parser.add_argument("--seed", type=int, default=20261201, help="seed of the generated complaints")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs)")
    args = parser.parse_args(argv)
    if args.new < 1:
        parser.error("--new must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's AUTH deprecation warnings
    workdir = Path(tempfile.mkdtemp(prefix="history-cost-"))
    newest = datetime.now(PARK_TZ).replace(tzinfo=None) - timedelta(days=NEWEST_CLOSED_DAYS_AGO)
    code = 1
    try:
        with MailBench() as bench, SheetsEmulator(latency=0.0, user_quota_per_minute=None,
                                                  project_quota_per_minute=None) as emulator:
            counter = EmulatorMeter()
            arena = Arena(bench, emulator, workdir)
            bench.add_user(PARKDESK_MAILBOX)
            runner = Runner(arena, counter, args)
            results = []
            for size in sorted(args.sizes):
                print(f"archive {size:,} closed complaints ...", flush=True)
                results.append(runner.run_size(size, workdir / f"archive-{size}", newest))
            text, same = report_text(args, results)
            print()
            print(text)
            code = 0 if same else 1
    except BenchError as error:
        print(f"\nhistory_cost: {error}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
