"""Nsight Compute on one candidate, one configuration: where the kernel's time goes.

``profile(...)`` runs ``ncu`` once on a child process (``launch_command``: this module's main)
that compiles the candidate as the worker does and launches it once on that configuration; ncu
watches only the kernel named by the target's entry and exports a report, which is then read
back page by page. The answer is a short text for a model's context: the groups of
PROFILE_SECTIONS that were asked for, and any extra raw metrics by name. ``sanitize.py`` runs
compute-sanitizer on the same child.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..isolation.worker import worker_environment
from .source_page import SassLine, number, parse_source_csv, stalled_lines

PROFILE_SECTIONS = ("summary", "warp_state", "pipes", "memory", "source")
DEFAULT_SECTIONS = ("summary", "warp_state")
# The ncu sections each group needs collected; summary and memory also name metrics one by one.
NCU_SECTIONS = {
    "summary": (),
    "warp_state": ("WarpStateStats",),
    "pipes": ("ComputeWorkloadAnalysis",),
    "memory": ("MemoryWorkloadAnalysis",),
    "source": ("SourceCounters",),
}

# name shown -> ncu metric; each answers a question docs in knowledge/ explain.
METRICS = {
    "duration": "gpu__time_duration.sum",
    "SM throughput (% of peak)": "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "memory throughput (% of peak)":
        "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",
    "achieved occupancy (% of peak warps)": "sm__warps_active.avg.pct_of_peak_sustained_active",
    # HMMA (mma.sync) only: wgmma shows in "pipes", whose metric exists on Hopper alone
    "tensor pipe, HMMA (% of peak)":
        "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "issue slots busy (%)": "sm__inst_issued.avg.pct_of_peak_sustained_active",
    "shared-memory bank conflicts (ld)": "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum",
    "shared-memory bank conflicts (st)": "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum",
    "DRAM bytes": "dram__bytes.sum",
    "registers per thread": "launch__registers_per_thread",
}
MEMORY_METRICS = {
    "L2 hit rate (%)": "lts__t_sector_hit_rate.pct",
    "L1/TEX hit rate (%)": "l1tex__t_sector_hit_rate.pct",
    "DRAM throughput (% of peak)": "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "L2 throughput (% of peak)": "lts__throughput.avg.pct_of_peak_sustained_elapsed",
    "L1/shared throughput (% of peak)": "l1tex__throughput.avg.pct_of_peak_sustained_active",
    "shared-memory wavefronts": "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum",
    "DRAM bytes read": "dram__bytes_read.sum",
    "DRAM bytes written": "dram__bytes_write.sum",
}
# TMA counters have no name that holds across ncu versions and chips: shown where one matches.
TMA_METRIC = re.compile(r"(^|_)tma(_|$)")
MAX_TMA_METRICS = 3
WARP_LATENCY = "smsp__average_warp_latency_per_inst_issued.ratio"
# Families of stall metrics, best first: WarpStateStats reports the first (or, in older ncu,
# the second); the third is the sampled form.
STALL_FAMILIES = (
    re.compile(r"smsp__average_warps_issue_stalled_(\w+?)_per_issue_active\.ratio"),
    re.compile(r"smsp__average_warp_latency_issue_stalled_(\w+?)\.ratio"),
    re.compile(r"smsp__pcsamp_warps_issue_stalled_(\w+)"),
)
NOT_STALLS = ("selected",)  # issuing is not a stall
STALL_MEANINGS = {
    "long_scoreboard": "waiting for global/local memory (L1TEX)",
    "short_scoreboard": "waiting for shared memory or MUFU results",
    "barrier": "waiting at a CTA barrier (__syncthreads, bar.sync)",
    "membar": "waiting at a memory fence",
    "math_pipe_throttle": "a math pipe (tensor, FMA, MUFU) is saturated",
    "mio_throttle": "shared-memory/special-math instruction queue full",
    "lg_throttle": "global/local memory instruction queue full",
    "wait": "fixed-latency dependency (e.g. wgmma.wait, dependent ALU)",
    "not_selected": "eligible, but another warp issued",
    "no_instruction": "instruction cache miss or branch target fetch",
    "dispatch_stall": "dispatcher could not issue",
    "branch_resolving": "waiting for a branch target or predicate",
    "drain": "waiting for memory stores to drain at exit",
    "sleeping": "nanosleep or all threads of the warp blocked",
    "imc_miss": "constant cache miss",
    "tex_throttle": "texture queue full",
    "misc": "other",
}
PIPE_METRIC = re.compile(
    r"sm__(inst_executed_pipe_|pipe_)(\w+?)(_cycles_active)?\.avg\.pct_of_peak_sustained_active"
)
PIPE_NOTES = {"xu": "MUFU: ex2, rcp, ...", "fma": "FP32 FFMA", "alu": "integer and logic"}
TOP_STALLS = 8
TOP_PIPES = 10
METRIC_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
MAX_METRICS = 12
MAX_METRIC_CHARS = 120
TIMEOUT_S = 300.0
IMPORT_TIMEOUT_S = 60.0
LAUNCHED = "avo-launch: done"  # the child's last line once the kernel ran and synchronized
CHILD = "from avo_tui.evaluation.diagnostics.profile import main; main()"
NCU_PLACES = ("/usr/local/cuda*/bin/ncu", "/opt/nvidia/nsight-compute/*/ncu")


class ProfileUnavailable(RuntimeError):
    """ncu is missing, cannot read the counters here, or the candidate did not launch."""


class ProfileRequestError(ValueError):
    """Sections, metrics or sanitizer tools that are not allowed; says what is."""


# -- the request ------------------------------------------------------------------------------


def check_request(
    sections: Iterable[str], metrics: Iterable[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sections in their canonical order and the metrics, or ProfileRequestError. The
    caller is a model: nothing reaches ncu's command line unless it is one of ours or a plain
    metric name."""
    asked = [sections] if isinstance(sections, str) else list(sections)
    unknown = [s for s in asked if s not in PROFILE_SECTIONS]
    if unknown:
        raise ProfileRequestError(
            f"unknown profile section(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(PROFILE_SECTIONS)}"
        )
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if len(names) > MAX_METRICS:
        raise ProfileRequestError(f"at most {MAX_METRICS} extra metrics, not {len(names)}")
    bad = [m for m in names if not _metric_name(m)]
    if bad:
        raise ProfileRequestError(
            f"bad metric name(s) {', '.join(repr(m)[:MAX_METRIC_CHARS] for m in bad)}: a metric "
            f"is ncu's raw name, lowercase letters, digits, '_' and '.', at most "
            f"{MAX_METRIC_CHARS} characters (e.g. sm__cycles_elapsed.avg)"
        )
    if not asked and not names:
        raise ProfileRequestError(
            f"ask for at least one section ({', '.join(PROFILE_SECTIONS)}) or metric"
        )
    return tuple(s for s in PROFILE_SECTIONS if s in asked), tuple(dict.fromkeys(names))


def _metric_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and len(name) <= MAX_METRIC_CHARS
        and METRIC_NAME.fullmatch(name) is not None
    )


def ncu_metrics(sections: Sequence[str], metrics: Sequence[str]) -> list[str]:
    wanted = list(metrics)
    if "summary" in sections:
        wanted += METRICS.values()
    if "memory" in sections:
        wanted += MEMORY_METRICS.values()
    return list(dict.fromkeys(wanted))


def collect_command(
    ncu: str, entry: str, sections: Sequence[str], metrics: Sequence[str], report: Path
) -> list[str]:
    """ncu's arguments, before the child's command line."""
    command = [
        ncu, "--clock-control", "none", "--kernel-name", f"regex:{entry}",
        "--launch-count", "1", "--export", str(report), "--force-overwrite",
    ]
    for section in sections:
        for name in NCU_SECTIONS[section]:
            command += ["--section", name]
    wanted = ncu_metrics(sections, metrics)
    if wanted:
        command += ["--metrics", ",".join(wanted)]
    return command


# -- running the child ------------------------------------------------------------------------


def find_tool(name: str, places: Sequence[str] = ()) -> str | None:
    """A CUDA tool on the PATH, else the newest in the usual install folders."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in places:
        matches = sorted(glob.glob(pattern), reverse=True)
        if matches:
            return matches[0]
    return None


def launch_command(folder: Path, target_name: str, sources: dict[str, str],
                   config: str) -> list[str]:
    """The child that launches the candidate once on ``config`` (launch_once, below)."""
    request = folder / "request.json"
    request.write_text(json.dumps({"target": target_name, "sources": sources, "config": config}))
    # Not "-m avo_tui.evaluation.diagnostics.profile": the package imports this module
    # first, and runpy would run a second copy of it (and warn so on stderr).
    return [sys.executable, "-c", CHILD, str(request)]


def child_environment() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return worker_environment() | {"PYTHONPATH": path}


@dataclass
class Finished:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def tail(self, lines: int = 6) -> str:
        kept = [line for line in self.text.strip().splitlines() if line.strip()]
        return " | ".join(kept[-lines:])


def run_bounded(command: list[str], timeout_s: float) -> Finished:
    """Run a tool and the child it starts in a session of their own, so that a time limit
    ends both (killing only the tool would leave the child on the GPU). So does anything that
    stops the caller while it waits (Ctrl-C, or SIGTERM where the caller turns it into
    SystemExit): an ncu left behind keeps the GPU, and the next evaluation stalls on it."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True, errors="replace", env=child_environment(), start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_session(proc.pid)
            out, err = proc.communicate()
            return Finished(None, out, err)
        except BaseException:
            _kill_session(proc.pid)
            raise
        return Finished(proc.returncode, out, err)


def _kill_session(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)


# -- profile ----------------------------------------------------------------------------------


def profile(
    target_name: str,
    entry: str,
    sources: dict[str, str],
    config: str,
    *,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    metrics: Sequence[str] = (),
) -> str:
    with tempfile.TemporaryDirectory(prefix="avo-profile-") as name:
        child = launch_command(Path(name), target_name, sources, config)
        return profile_child(child, entry, config, sections=sections, metrics=metrics)


def profile_child(
    child: list[str],
    kernel: str,
    label: str,
    *,
    sections: Sequence[str] = DEFAULT_SECTIONS,
    metrics: Sequence[str] = (),
) -> str:
    """The same report for the first kernel matching the regular expression ``kernel`` that
    the command ``child`` launches: a candidate (above), or a baseline for comparison."""
    chosen, extra = check_request(sections, metrics)
    raw, source = ncu_pages(child, kernel, chosen, extra)
    rows = parse_raw_csv(raw)
    if not rows:
        raise ProfileUnavailable("ncu's report holds no profiled kernel")
    return format_profile(rows[0], label, chosen, extra, parse_source_csv(source))


def ncu_pages(
    child: list[str], kernel: str, sections: Sequence[str], metrics: Sequence[str]
) -> tuple[str, str]:
    """ncu's raw page and (with "source") its SASS source page, as CSV text."""
    ncu = find_tool("ncu", NCU_PLACES)
    if ncu is None:
        raise ProfileUnavailable("Nsight Compute (ncu) is not installed on this machine")
    with tempfile.TemporaryDirectory(prefix="avo-profile-") as name:
        report = Path(name) / "report.ncu-rep"
        command = collect_command(ncu, kernel, sections, metrics, report)
        done = run_bounded(command + child, TIMEOUT_S)
        if done.returncode is None:
            raise ProfileUnavailable(f"ncu ran longer than {TIMEOUT_S:.0f} s")
        if done.returncode != 0 or not report.exists():
            raise ProfileUnavailable("ncu could not profile the kernel: " + done.tail())
        raw = _import_page(ncu, report, ["--page", "raw"])
        source = ""
        if "source" in sections:
            source = _import_page(ncu, report, ["--page", "source", "--print-source", "sass"])
    return raw, source


def _import_page(ncu: str, report: Path, page: list[str]) -> str:
    done = run_bounded([ncu, "--import", str(report), "--csv", *page], IMPORT_TIMEOUT_S)
    if done.returncode != 0:
        raise ProfileUnavailable(f"ncu could not read its report ({' '.join(page)}): "
                                 + done.tail())
    return done.stdout


# -- parsing (pure) ---------------------------------------------------------------------------

Row = dict[str, tuple[str, str]]  # metric -> (value, unit)


def parse_raw_csv(output: str) -> list[Row]:
    """ncu's raw page: a header row, a units row, then one row per profiled kernel."""
    lines = [line for line in output.splitlines() if line.startswith('"')]
    if len(lines) < 3:
        return []
    table = list(csv.reader(io.StringIO("\n".join(lines))))
    header, units = table[0], table[1]
    return [
        {name: (value, unit) for name, unit, value in zip(header, units, row, strict=False)}
        for row in table[2:]
    ]


def stall_reasons(row: Row) -> list[tuple[str, float]]:
    """The stall reasons of the first family of stall metrics the row holds, largest first."""
    for family in STALL_FAMILIES:
        found: dict[str, float] = {}
        for name, (value, _) in row.items():
            match = family.fullmatch(name)
            amount = number(value) if match else None
            if match is None or amount is None:
                continue
            reason = match.group(1)
            if reason.endswith("_not_issued") or reason in NOT_STALLS:
                continue
            found[reason] = amount
        if any(found.values()):
            return sorted(found.items(), key=lambda item: -item[1])
    return []


def pipe_utilization(row: Row) -> list[tuple[str, float]]:
    """(pipe, % of peak while active), largest first. ncu reports some pipes by instructions
    issued and some by cycles active; the label says which."""
    found = []
    for name, (value, _) in row.items():
        match = PIPE_METRIC.fullmatch(name)
        amount = number(value) if match else None
        if match is None or amount is None:
            continue
        kind = "cycles" if match.group(3) or match.group(1) == "pipe_" else "issue"
        found.append((f"{match.group(2)} ({kind})", amount))
    return sorted(found, key=lambda item: -item[1])


# -- the answer (pure) ------------------------------------------------------------------------


def format_profile(
    row: Row,
    config: str,
    sections: Sequence[str],
    metrics: Sequence[str],
    sass: Sequence[SassLine] = (),
) -> str:
    kernel = row.get("Kernel Name", ("kernel", ""))[0]
    lines = [f"Nsight Compute, {kernel} on {config}:"]
    if "summary" in sections:
        lines += _labelled(row, METRICS)
    if "warp_state" in sections:
        lines += _warp_state(row)
    if "pipes" in sections:
        lines += _pipes(row)
    if "memory" in sections:
        lines += _memory(row)
    if "source" in sections:
        lines += stalled_lines(sass)
    if metrics:
        lines.append("metrics asked for:")
        lines += [_value_line(row, name, name) for name in metrics]
    return "\n".join(lines)


def _value_line(row: Row, label: str, metric: str) -> str:
    if metric not in row:
        return f"  {label:<38} n/a on this GPU or ncu"
    value, unit = row[metric]
    return f"  {label:<38} {value} {unit}".rstrip()


def _labelled(row: Row, metrics: dict[str, str]) -> list[str]:
    return [_value_line(row, label, metric) for label, metric in metrics.items()]


def _warp_state(row: Row) -> list[str]:
    reasons = stall_reasons(row)
    if not reasons:
        return ["warp stalls: n/a (ncu reported no stall reasons)"]
    total = sum(value for _, value in reasons) or 1.0
    latency = number(row.get(WARP_LATENCY, ("", ""))[0])
    every = f"; a warp issues every {latency:.1f} cycles" if latency is not None else ""
    lines = [f"warp stalls, largest first (share of stall cycles{every}):"]
    for reason, value in reasons[:TOP_STALLS]:
        meaning = STALL_MEANINGS.get(reason, "")
        lines.append(f"  {reason:<20} {100 * value / total:5.1f}%  {meaning}".rstrip())
    return lines


def _pipes(row: Row) -> list[str]:
    pipes = pipe_utilization(row)
    if not pipes:
        return ["pipe utilization: n/a (ncu reported no pipe metrics)"]
    lines = ["pipe utilization (% of peak while the SM is active), busiest first:"]
    for label, value in pipes[:TOP_PIPES]:
        note = PIPE_NOTES.get(label.split(" ")[0], "")
        lines.append(f"  {label:<28} {value:6.1f}%  {note}".rstrip())
    return lines


def _memory(row: Row) -> list[str]:
    lines = ["memory:", *_labelled(row, MEMORY_METRICS)]
    tma = sorted(name for name in row if TMA_METRIC.search(name.split(".")[0]))
    return lines + [_value_line(row, name, name) for name in tma[:MAX_TMA_METRICS]]


# -- the child --------------------------------------------------------------------------------


def launch_once(target_name: str, sources: dict[str, str], config_name: str) -> None:
    """Compile as the worker does and launch once on one configuration (the tools' subject)."""
    from ..measurement.judge import Rejected
    from ..measurement.tensors import empty_outputs, make_inputs
    from ..pipeline import Evaluation, Pipeline
    from ..results import EvalRequest
    from ..targets.file import get_target

    target = get_target(target_name)
    configs = {c.name: c for c in (*target.configs, *target.quick_configs, *target.edge_configs)}
    if config_name not in configs:
        raise SystemExit(f"no configuration {config_name!r} in {target_name}")
    config = configs[config_name]
    pipeline = Pipeline(target.device)
    evaluation = Evaluation(pipeline, EvalRequest(target_name, sources, seed=0),
                            lambda phase, detail: None)
    try:
        declared = evaluation.declarations(sources)
        kernel = evaluation.load(evaluation.compile(sources), declared, [])
    except Rejected as rejected:
        raise SystemExit(f"the candidate does not build: {rejected.failure}") from None
    inputs = make_inputs(config, evaluation.generator(0), pipeline.device.name)
    kernel.launch(config, inputs, empty_outputs(config, pipeline.device.name))
    pipeline.device.synchronize()
    kernel.close()
    print(LAUNCHED, flush=True)


def main() -> None:
    doc = json.loads(Path(sys.argv[1]).read_text())
    launch_once(doc["target"], doc["sources"], doc["config"])


if __name__ == "__main__":
    main()
