"""NVIDIA compute-sanitizer on one candidate, one configuration: races, barriers, bad accesses.

``sanitize(...)`` runs ``compute-sanitizer --tool T`` once per tool on the child that
``profile`` uses (profile.launch_command: compile as the worker does, launch once), checking
only the target's entry kernel, and answers in a few lines per tool: clean, or how many errors
and the first distinct ones (what, where in the kernel, which thread). The tools make a launch
10 to 100 times slower: ``smallest_config`` picks a configuration for them.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..targets.file import get_target
from ..targets.spec import TargetSpec
from .profile import LAUNCHED, ProfileRequestError, find_tool, launch_command, run_bounded

SANITIZER_TOOLS = ("racecheck", "synccheck", "memcheck", "initcheck")
DEFAULT_TOOLS = ("racecheck", "synccheck", "memcheck")
TOOL_MEANINGS = {
    "racecheck": "shared-memory data races",
    "synccheck": "invalid barrier and warp-synchronization use",
    "memcheck": "out-of-bounds and misaligned accesses, device faults",
    "initcheck": "reads of device memory nothing wrote",
}
SANITIZER_PLACES = (
    "/usr/local/cuda*/bin/compute-sanitizer",
    "/usr/local/cuda*/compute-sanitizer/compute-sanitizer",
)
TOOL_TIMEOUT_S = 300.0
MAX_FINDINGS = 4  # distinct findings shown per tool
PRINT_LIMIT = 100  # errors the sanitizer prints; its summary still counts them all
WHERE_CHARS = 110
UNSUPPORTED = ("Device not supported", "not supported on this", "Unable to find injection")


class SanitizerUnavailable(RuntimeError):
    """compute-sanitizer is missing or cannot run on this GPU, or the target is not CUDA."""


# -- the request ------------------------------------------------------------------------------


def check_tools(tools: Iterable[str]) -> tuple[str, ...]:
    asked = [tools] if isinstance(tools, str) else list(tools)
    unknown = [t for t in asked if t not in SANITIZER_TOOLS]
    if unknown or not asked:
        named = ", ".join(map(repr, unknown)) or "none"
        raise ProfileRequestError(
            f"unknown sanitizer tool(s) {named}; choose one or more of "
            + ", ".join(f"{t} ({TOOL_MEANINGS[t]})" for t in SANITIZER_TOOLS)
        )
    return tuple(dict.fromkeys(asked))


def smallest_config(target: TargetSpec | str) -> str:
    """The configuration with the least work among the target's edge and quick ones that
    still cross a kernel's tiles (Problem.crosses_tiles: for attention, more than one tile of
    keys), the smallest of all where none does."""
    spec = get_target(target) if isinstance(target, str) else target
    configs = [*spec.edge_configs, *spec.quick_configs]
    long_enough = [c for c in configs if spec.problem.crosses_tiles(c)] or configs
    return min(long_enough, key=lambda c: (spec.work(c), c.name)).name


def sanitizer_command(sanitizer: str, tool: str, entry: str) -> list[str]:
    """compute-sanitizer's arguments, before the child's command line. Failed host API calls
    are not the kernel's to answer for: torch.compile's and cuBLASLt's probes of the driver
    (cuGetProcAddress, cuKernelGetParamInfo) failed by the dozen in a target's child on an
    H200, and memcheck counted them as errors of a clean kernel."""
    return [
        sanitizer, "--tool", tool, "--kernel-name", f"regex={entry}",
        "--show-backtrace", "no", "--print-limit", str(PRINT_LIMIT),
        "--report-api-errors", "no",
    ]


# -- running ----------------------------------------------------------------------------------


def sanitize(
    target_name: str,
    entry: str,
    sources: dict[str, str],
    config: str,
    *,
    tools: Sequence[str] = DEFAULT_TOOLS,
) -> str:
    chosen = check_tools(tools)
    if get_target(target_name).toolchain != "cuda":
        raise SanitizerUnavailable(
            f"compute-sanitizer checks CUDA kernels; {target_name} is not a CUDA target"
        )
    sanitizer = find_tool("compute-sanitizer", SANITIZER_PLACES)
    if sanitizer is None:
        raise SanitizerUnavailable(
            "NVIDIA compute-sanitizer is not installed on this machine (it comes with the "
            "CUDA toolkit, in its bin folder)"
        )
    reports = []
    with tempfile.TemporaryDirectory(prefix="avo-sanitize-") as name:
        child = launch_command(Path(name), target_name, sources, config)
        for tool in chosen:
            done = run_bounded(sanitizer_command(sanitizer, tool, entry) + child,
                               TOOL_TIMEOUT_S)
            if done.returncode is None:
                reports.append(ToolReport(tool, timed_out=True))
                continue
            unsupported = next((line for line in done.text.splitlines()
                                if any(u in line for u in UNSUPPORTED)), None)
            if unsupported:
                raise SanitizerUnavailable(
                    f"compute-sanitizer cannot run here: {unsupported.strip('= ')}"
                )
            reports.append(parse_report(tool, done.text, done.tail(3)))
    return format_reports(config, reports)


# -- parsing (pure) ---------------------------------------------------------------------------


@dataclass
class Finding:
    what: str  # the error or hazard kind
    where: str  # kernel+offset, with file:line where the kernel carries line info
    detail: str = ""  # the thread and block of the first report
    count: int = 1  # reports like it (same what and where), or racecheck's hazards
    unit: str = ""  # "hazards" where count is racecheck's


@dataclass
class ToolReport:
    tool: str
    errors: int | None = None  # None: no summary line (the tool did not finish)
    warnings: int = 0
    hazards: int = 0  # racecheck: individual hazards behind its reports
    findings: list[Finding] = field(default_factory=list)
    launched: bool = False
    timed_out: bool = False
    tail: str = ""

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.warnings == 0 and self.launched


PREFIX = "========="
ERROR_SUMMARY = re.compile(r"ERROR SUMMARY: (\d+) errors?")
RACE_SUMMARY = re.compile(
    r"RACECHECK SUMMARY: (\d+) hazards? displayed \((\d+) errors?, (\d+) warnings?\)"
)
RACE_FIRST = re.compile(r"(Error|Warning|Info): Race reported between (\w+) access at (.+)")
RACE_OTHER = re.compile(r"and (\w+) access at (.+?)(?: \[(\d+) hazards?\])?$")
HAZARD = re.compile(r"(ERROR|WARNING|INFO): Potential (\w+) hazard detected at (.+?)(?: :)?$")
NOT_FINDINGS = ("COMPUTE-SANITIZER", "Saved host backtrace", "Target application returned",
                "ERROR SUMMARY", "RACECHECK SUMMARY", "LEAK SUMMARY")


def _records(text: str) -> list[tuple[str, list[str]]]:
    """The sanitizer's reports: a line right after its prefix, then the indented lines under it."""
    records: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.startswith(PREFIX):
            continue
        body = line[len(PREFIX):]
        if not body.strip():
            continue
        if body.startswith("  ") and records:
            records[-1][1].append(body.strip())
        elif not body.startswith("  "):
            records.append((body.strip(), []))
    return records


def parse_report(tool: str, text: str, tail: str = "") -> ToolReport:
    report = ToolReport(tool, launched=LAUNCHED in text, tail=tail)
    races = RACE_SUMMARY.search(text)
    errors = ERROR_SUMMARY.search(text)
    if races:
        report.errors, report.warnings = int(races.group(2)), int(races.group(3))
    elif errors:
        report.errors = int(errors.group(1))
    for header, details in _records(text):
        if header.startswith(NOT_FINDINGS):
            continue
        for finding in _findings(header, details):
            report.hazards += finding.count if tool == "racecheck" else 0
            _add(report.findings, finding)
    return report


def _findings(header: str, details: list[str]) -> list[Finding]:
    race = RACE_FIRST.match(header)
    if race:
        severity, first, where = race.groups()
        found = []
        for detail in details:
            other = RACE_OTHER.match(detail)
            if other:
                what = f"{severity.lower()}: {first.lower()}-{other.group(1).lower()} race"
                found.append(Finding(what, f"{where} and {other.group(2)}",
                                     count=int(other.group(3) or 1), unit="hazards"))
        return found or [Finding(f"{severity.lower()}: race", where, unit="hazards")]
    hazard = HAZARD.match(header)
    if hazard:
        severity, kind, place = hazard.groups()
        accesses = [d for d in details if " at " in d][:2]
        return [Finding(f"{severity.lower()}: {kind} hazard", " / ".join(accesses) or place,
                        unit="hazards")]
    where = next((d[3:] for d in details if d.startswith("at ")), "")
    thread = next((d[3:] for d in details if d.startswith("by thread")), "")
    return [Finding(header, where, thread)]


def _add(findings: list[Finding], finding: Finding) -> None:
    for seen in findings:
        if (seen.what, seen.where) == (finding.what, finding.where):
            seen.count += finding.count
            return
    findings.append(finding)


# -- the answer (pure) ------------------------------------------------------------------------


def format_reports(config: str, reports: Sequence[ToolReport]) -> str:
    lines = [f"compute-sanitizer on {config} (one launch):"]
    for report in reports:
        lines += _report_lines(report)
    return "\n".join(lines)


def _report_lines(report: ToolReport) -> list[str]:
    tool = report.tool
    if report.timed_out:
        return [f"{tool}: did not finish within {TOOL_TIMEOUT_S:.0f} s (try a smaller "
                "configuration)"]
    if report.clean:
        return [f"{tool}: clean (no {TOOL_MEANINGS[tool]})"]
    if not report.findings and not report.errors and not report.warnings:
        return [f"{tool}: the candidate did not run to completion: {report.tail}"]
    errors = report.errors if report.errors is not None else len(report.findings)
    head = f"{tool}: {errors} errors"
    if tool == "racecheck":
        head += f" and {report.warnings} warnings over {report.hazards} hazards"
    shown = report.findings[:MAX_FINDINGS]
    lines = [head + (f"; the first {len(shown)} distinct:" if shown else "")]
    lines += ["  " + _finding_line(finding) for finding in shown]
    if not shown:
        lines.append(f"  (unrecognised output: {report.tail})")
    if not report.launched:
        lines.append("  (the launch did not complete: a fault ended it)")
    return lines


def _finding_line(finding: Finding) -> str:
    where = finding.where if len(finding.where) <= WHERE_CHARS else (
        finding.where[:WHERE_CHARS - 3] + "...")
    text = f"{finding.what} at {where}" if where else finding.what
    if finding.detail:
        text += f" ({finding.detail})"
    if finding.unit:
        text += f" ({finding.count} {finding.unit})"
    elif finding.count > 1:
        text += f", {finding.count} like it"
    return text
