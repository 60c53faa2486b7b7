"""Nsight Compute metrics for one candidate on one configuration.

``profile(...)`` runs ``ncu`` on a child process (``python -m avo_tui.evaluation.profile``)
that compiles the candidate as the worker does and launches it once on that configuration;
ncu watches only the kernel named by the target's entry. The answer is a short table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# name shown -> ncu metric; each answers a question docs in knowledge/ explain.
METRICS = {
    "duration": "gpu__time_duration.sum",
    "SM throughput (% of peak)": "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "memory throughput (% of peak)":
        "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",
    "achieved occupancy (% of peak warps)": "sm__warps_active.avg.pct_of_peak_sustained_active",
    "tensor pipe active (% of peak)":
        "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active",
    "issue slots busy (%)": "sm__inst_issued.avg.pct_of_peak_sustained_active",
    "shared-memory bank conflicts (ld)": "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum",
    "shared-memory bank conflicts (st)": "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum",
    "DRAM bytes": "dram__bytes.sum",
    "registers per thread": "launch__registers_per_thread",
}
TIMEOUT_S = 300.0


class ProfileUnavailable(RuntimeError):
    """ncu is missing, cannot read the counters here, or the candidate did not launch."""


def profile(target: str, entry: str, sources: dict[str, str], config: str) -> str:
    ncu = shutil.which("ncu")
    if ncu is None:
        raise ProfileUnavailable("Nsight Compute (ncu) is not installed on this machine")
    with tempfile.TemporaryDirectory(prefix="avo-profile-") as folder:
        request = Path(folder) / "request.json"
        request.write_text(json.dumps({"target": target, "sources": sources, "config": config}))
        command = [
            ncu, "--clock-control", "none", "--csv", "--page", "raw",
            "--kernel-name", f"regex:{entry}", "--launch-count", "1",
            "--metrics", ",".join(METRICS.values()),
            sys.executable, "-m", "avo_tui.evaluation.profile", str(request),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  env=os.environ | {"PYTHONPATH": _package_root()})
        except subprocess.TimeoutExpired:
            raise ProfileUnavailable(f"ncu ran longer than {TIMEOUT_S:.0f} s") from None
    rows = _csv_rows(done.stdout)
    if done.returncode != 0 or not rows:
        tail = (done.stderr + done.stdout).strip().splitlines()[-6:]
        raise ProfileUnavailable("ncu could not profile the kernel: " + " | ".join(tail))
    return _table(rows, config)


def _package_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


def _csv_rows(output: str) -> list[dict[str, str]]:
    """ncu's raw page: a header row, a units row, then one row per profiled kernel."""
    lines = [line for line in output.splitlines() if line.startswith('"')]
    if len(lines) < 3:
        return []
    reader = list(csv.reader(io.StringIO("\n".join(lines))))
    header, units = reader[0], reader[1]
    return [
        {f"{name} [{unit}]" if unit else name: value
         for name, unit, value in zip(header, units, row, strict=False)}
        for row in reader[2:]
    ]


def _table(rows: list[dict[str, str]], config: str) -> str:
    row = rows[0]
    lines = [f"Nsight Compute, {row.get('Kernel Name', 'kernel')} on {config}:"]
    for label, metric in METRICS.items():
        found = [(k, v) for k, v in row.items() if k.split(" [")[0] == metric]
        if found:
            key, value = found[0]
            unit = key.partition(" [")[2].rstrip("]")
            lines.append(f"  {label:<38} {value} {unit}".rstrip())
        else:
            lines.append(f"  {label:<38} n/a on this GPU")
    return "\n".join(lines)


def launch_once(target_name: str, sources: dict[str, str], config_name: str) -> None:
    """Compile as the worker does and launch once on one configuration (ncu's subject)."""
    from . import attention
    from .judge import Rejected
    from .pipeline import Evaluation, Pipeline
    from .results import EvalRequest
    from .targets import get_target

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
    inputs = attention.make_inputs(config, evaluation.generator(0), pipeline.device.name)
    out = attention.empty_output(config, pipeline.device.name)
    kernel.launch(config, inputs, out)
    pipeline.device.synchronize()
    kernel.close()


if __name__ == "__main__":
    doc = json.loads(Path(sys.argv[1]).read_text())
    launch_once(doc["target"], doc["sources"], doc["config"])
