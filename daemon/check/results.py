"""The checklist's lines: ``CheckResult``, its three constructors, and the printed checklist."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist: ``ok`` False is a failure; ``warn`` marks an OK with a doubt."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    warn: bool = False


def passed(name: str, detail: str = "") -> CheckResult:
    return CheckResult(name, True, detail)


def failed(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, False, detail, fix)


def warned(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, True, detail, fix, warn=True)


def format_result(result: CheckResult) -> str:
    mark = "[FAIL]" if not result.ok else "[WARN]" if result.warn else "[ OK ]"
    line = f"{mark} {result.name}" + (f": {result.detail}" if result.detail else "")
    if result.fix:
        line += f"\n       → fix: {result.fix}"
    return line


def format_checklist(results: list[CheckResult]) -> str:
    failures = sum(not r.ok for r in results)
    lines = [format_result(r) for r in results]
    lines.append("All checks passed." if not failures else
                 f"{failures} of {len(results)} checks failed.")
    return "\n".join(lines) + "\n"
