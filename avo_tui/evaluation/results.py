"""What an evaluation returns. Plain dataclasses: they cross the worker pipe and become JSON."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .paired import GatePlan, PairedGain, jitter_se
from .targets.api import TargetFileError
from .targets.problem import Config
from .toolchains.base import CompileResult

# Why a candidate failed; each kind has one meaning everywhere (CLI, engine, agent tools).
FAILURE_KINDS = {
    "toolchain": "the toolchain is not available on this machine",
    "contract": "the kernel's declarations are malformed or violated",
    "compile": "the kernel did not compile",
    "entry": "the kernel does not export the entry point the target needs",
    "crash": "the kernel's process died (a fault, a signal, an abort, an exit), in a launch or "
    "while it was frozen between launches",
    "hang": "a launch of the kernel ran past its limit; the kernel's process was killed",
    "timeout": "the evaluation went silent past the time limit; the worker was killed",
    "cuda_error": "the kernel caused a CUDA error (illegal address, ...); the worker was replaced",
    "nonfinite": "the output holds NaN or Inf",
    "incorrect": "the output differs from the reference beyond the tolerance",
    "inputs_modified": "the kernel wrote to its inputs",
    "stale_output": "a timed launch checked at random gave a wrong output (cached, skipped or "
    "deferred work)",
    "unstable_timing": "later launches are far slower than the first (and, where a first launch "
    "can be measured again, it is still fast): the kernel does less work on its first launch",
    "inconsistent_timing": "the timed launches that were checked took far longer than the rest",
    "background_work": "the kernel's process kept working after the launch returned",
    "interference": "a kernel's process was changed from outside while the harness held it "
    "(its CPU affinity, priority or scheduling, or it ran while stopped): the candidate reached "
    "into the best version's process",
    "incumbent_failed": "the best version, timed beside the candidate for the commit gate, "
    "failed (a check, a crash, a hang, or interference from outside): the decision is not "
    "the candidate's to lose",
    "internal": "the harness itself failed; this is a bug in avo-tui, not in the kernel",
    "target": "the target file failed (its reference, its inputs, a function it declares): it "
    "is unusable as it stands, and this says nothing about the kernel",
    "interrupted": "the evaluation was cut short on request; it says nothing about the kernel",
}


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str
    config: str | None = None
    # Where in the evaluation it happened: "load", "check", "time" (beside the baselines),
    # "beside the best" (the gate's or a first reading's paired timing), "idle check".
    phase: str | None = None

    def __str__(self) -> str:
        where = f" [{self.config}]" if self.config else ""
        return f"{self.kind}{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {"kind": self.kind, "message": self.message,
                                  "config": self.config}
        if self.phase:
            doc["phase"] = self.phase
        return doc


@dataclass
class Timing:
    median_s: float
    spread_pct: float  # interquartile range over the median
    reps: int
    min_s: float

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> Timing:
        return cls(
            float(doc["median_s"]),  # type: ignore[arg-type]
            float(doc["spread_pct"]),  # type: ignore[arg-type]
            int(doc["reps"]),  # type: ignore[call-overload]
            float(doc["min_s"]),  # type: ignore[arg-type]
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "median_s": self.median_s,
            "spread_pct": round(self.spread_pct, 3),
            "reps": self.reps,
            "min_s": self.min_s,
        }


@dataclass
class OutputErrors:
    """One output's distance to the reference and the bounds it was judged by, where an
    entry point writes several (ConfigResult.outputs)."""

    max_abs_err: float | None
    rel_l2_err: float | None
    tolerance: tuple[float, float] | None
    row_error_ratio: float | None


def config_label(name: str, edge: bool, case: str = "normal") -> str:
    """A configuration as a result's tables name it: a timed one by its name; one checked
    only, with the hostile input case it was checked under ("(edge)" where it is none)."""
    if not edge:
        return name
    return f"{name} ({case})" if case != "normal" else f"{name} (edge)"


@dataclass
class ConfigResult:
    config: Config
    edge: bool = False
    passed: bool | None = None  # None: not checked (an earlier failure stopped the evaluation)
    max_abs_err: float | None = None
    rel_l2_err: float | None = None
    timing: Timing | None = None
    throughput: float = 0.0  # in the target's unit; 0 when the candidate failed anywhere
    baselines: dict[str, float] = field(default_factory=dict)  # baseline name -> throughput
    baseline_timings: dict[str, Timing] = field(default_factory=dict)
    primary_baseline: str | None = None
    case: str = "normal"  # the input case of a correctness configuration (Problem.input_cases)
    tolerance: tuple[float, float] | None = None  # (relative L2, max abs) it was judged by
    honest_rel_l2: float | None = None  # the honest computation's error the tolerance came from
    row_error_ratio: float | None = None  # the worst row's error over its own tolerance
    verified: int = 0  # timed launches checked against the reference
    incumbent_timing: Timing | None = None  # the best version, timed beside the candidate
    # Beside the best: each block's log-gain (paired.block_value), in the order measured
    block_gains: list[float] = field(default_factory=list)
    # Beside the anchor (EvalResult.anchor): each block's log of the candidate's rate over
    # the anchor's (each round's, where no best was timed beside it), and the same of the
    # best's, in the blocks beside the best: measure.anchor_block
    anchor_blocks: list[float] = field(default_factory=list)
    incumbent_anchor_blocks: list[float] = field(default_factory=list)
    # In the blocks beside the best: each block's log of the anchor's own time (the median
    # over its launches), how steadily the machine runs a kernel no agent wrote
    anchor_alone_blocks: list[float] = field(default_factory=list)
    checked_s: list[float] = field(default_factory=list)  # the checked launches' own times
    # each checked launch over the median of the candidate's launches next to it
    checked_ratios: list[float] = field(default_factory=list)
    # Where the entry point writes several outputs: each one's errors and bounds by name
    # (max_abs_err, rel_l2_err, tolerance, row_error_ratio), judged on its own; the fields
    # above then hold the first output's.
    outputs: dict[str, OutputErrors] = field(default_factory=dict)
    # Back to back at the power limit (measurement/back_to_back.py), where it was asked for:
    # per subject ("candidate" and each baseline), its rate, SM clock (MHz), power (W) and work
    # per energy (per kJ), medians over the rounds; clock and power 0 where nothing reports them
    sustained: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def label(self) -> str:
        return config_label(self.name, self.edge, self.case)

    def add_baseline(self, name: str, timing: Timing, throughput: float) -> None:
        """Baseline ``name``'s timing, and its throughput from it (TargetSpec.throughput)."""
        self.baseline_timings[name] = timing
        self.baselines[name] = throughput

    @property
    def baseline(self) -> float | None:
        return self.baselines.get(self.primary_baseline) if self.primary_baseline else None

    @property
    def ratio(self) -> float | None:
        baseline = self.baseline
        return self.throughput / baseline if baseline and self.timing else None

    @property
    def ratios(self) -> dict[str, float]:
        """The throughput over each baseline's (x_cudnn, x_fa4...), where both were timed."""
        if not self.timing:
            return {}
        return {name: self.throughput / base for name, base in self.baselines.items() if base}

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "config": self.config.as_dict(),
            "edge": self.edge,
            "case": self.case,
            "passed": self.passed,
            "max_abs_err": self.max_abs_err,
            "rel_l2_err": self.rel_l2_err,
            "tolerance": list(self.tolerance) if self.tolerance else None,
            "honest_rel_l2": self.honest_rel_l2,
            "row_error_ratio": self.row_error_ratio,
            "verified": self.verified,
            "throughput": self.throughput,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "baselines": dict(self.baselines),
            "ratios": self.ratios,
            "timing": self.timing.as_dict() if self.timing else None,
            "baseline_timings": {k: t.as_dict() for k, t in self.baseline_timings.items()},
            "incumbent_timing": self.incumbent_timing.as_dict() if self.incumbent_timing else None,
            "block_gains": [round(g, 6) for g in self.block_gains],
            "anchor_blocks": [round(g, 6) for g in self.anchor_blocks],
            "incumbent_anchor_blocks": [round(g, 6) for g in self.incumbent_anchor_blocks],
            "anchor_alone_blocks": [round(g, 6) for g in self.anchor_alone_blocks],
            **({"sustained": {name: dict(figures) for name, figures in self.sustained.items()}}
               if self.sustained else {}),
            **({"outputs": {name: vars(errors) | {"tolerance": list(errors.tolerance)
                                                  if errors.tolerance else None}
                            for name, errors in self.outputs.items()}}
               if self.outputs else {}),
        }


def kernel_identity(artifact_sha256: str | None, launches: list[object]) -> str:
    """One hash for a kernel: its compiled code and how it is launched (pipeline.identify)."""
    text = json.dumps([artifact_sha256, launches], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def geometric_mean(values: list[float]) -> float:
    if not values or any(v <= 0 for v in values):
        return 0.0
    return math.exp(sum(math.log(v) for v in values) / len(values))


@dataclass
class EvalResult:
    target: str
    toolchain: str
    device: str
    unit: str
    seed: int
    quick: bool
    configs: list[ConfigResult] = field(default_factory=list)
    compile: CompileResult | None = None
    failure: Failure | None = None
    flags: list[str] = field(default_factory=list)
    knobs: dict[str, str] = field(default_factory=dict)
    host: dict[str, object] = field(default_factory=dict)
    # The device as the agent is told it: limits read off it and its measured peak (Device.facts)
    hardware: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0
    worker_restarted: bool = False
    kernel_id: str | None = None  # kernel_identity of the candidate, once it was built
    incumbent_kernel_id: str | None = None  # the same for the incumbent, when one was built
    # The candidate is the incumbent's very kernel: nothing was timed, nothing is new.
    same_as_incumbent: bool = False
    # The candidate is a kernel the session has already judged (EvalRequest.known_kernels):
    # nothing was checked or timed, its earlier record stands.
    known_kernel: bool = False
    # What the operator should know about how it was measured (machine load suspected ...).
    notes: list[str] = field(default_factory=list)
    # Beside the best (pipeline.time_beside): sweeps, seconds, the sequential rule's decision
    beside: dict[str, object] = field(default_factory=dict)
    # The kernel no agent wrote that was timed beside the candidate in the same sweeps (the
    # target's primary baseline, else "seed": the seed as the user supplied it); None: none
    anchor: str | None = None

    @property
    def correct(self) -> bool:
        return self.failure is None

    def refuse_unusable_target(self) -> None:
        """Raise TargetFileError, in its one line, where this evaluation failed on the target,
        not the kernel (failure ``target``): ``avo eval`` and a new session's seed then say so
        as ``avo targets check`` does."""
        if self.failure is not None and self.failure.kind == "target":
            raise TargetFileError(self.failure.message)

    @property
    def artifact_sha256(self) -> str | None:
        """What the candidate compiled to: two sources that differ only in comments or layout
        are the same kernel."""
        return self.compile.artifact_sha256 if self.compile else None

    @property
    def paired(self) -> PairedGain | None:
        """The candidate against the best, block by block, where it was timed beside it on
        every configuration."""
        timed = self.timed
        if not self.correct or not timed or not all(c.block_gains for c in timed):
            return None
        return PairedGain({c.name: list(c.block_gains) for c in timed})

    @property
    def versus_anchor(self) -> PairedGain | None:
        """The candidate's rate over the anchor's, block by block (log), where the anchor was
        timed beside it on every configuration."""
        return self._blocks(lambda c: c.anchor_blocks)

    @property
    def incumbent_versus_anchor(self) -> PairedGain | None:
        """The best's rate over the anchor's, block by block (log), where both were timed
        beside the candidate on every configuration."""
        return self._blocks(lambda c: c.incumbent_anchor_blocks)

    @property
    def anchor_jitter_se(self) -> float | None:
        """The standard error a rate over the anchor would have if only the anchor's own time
        jittered as it did beside the best (paired.jitter_se): the machine's part of any such
        rate's error, as no agent's kernel runs while the anchor does. None where not timed."""
        timed = self.timed
        if self.anchor is None or not timed or not all(c.anchor_alone_blocks for c in timed):
            return None
        return jitter_se({c.name: list(c.anchor_alone_blocks) for c in timed})

    def _blocks(self, of: Callable[[ConfigResult], list[float]]) -> PairedGain | None:
        timed = self.timed
        if self.anchor is None or not self.correct or not timed or not all(of(c) for c in timed):
            return None
        return PairedGain({c.name: list(of(c)) for c in timed})

    @property
    def incumbent_gain(self) -> float | None:
        """How many times faster the candidate ran than the best version timed beside it: the
        geometric mean over configurations of the mean paired log-gain (paired.py)."""
        paired = self.paired
        return math.exp(paired.log_gain) if paired is not None else None

    @property
    def incumbent_gain_se(self) -> float | None:
        """The standard error of log(incumbent_gain), from the blocks' spread."""
        paired = self.paired
        return paired.se if paired is not None else None

    @property
    def incumbent_gain_dof(self) -> int | None:
        """The degrees of freedom of incumbent_gain_se."""
        paired = self.paired
        return paired.dof if paired is not None else None

    @property
    def timed(self) -> list[ConfigResult]:
        return [c for c in self.configs if not c.edge]

    @property
    def failed_config(self) -> ConfigResult | None:
        """The entry the failure names: the one whose check failed, else (a failure of its
        timing) the timed one. Not by name alone: a drawn configuration may have the shape,
        and so the name, of a fixed edge one checked earlier on other inputs."""
        if self.failure is None or not self.failure.config:
            return None
        named = [c for c in self.configs if c.name == self.failure.config]
        return next((c for c in named if c.passed is False), None) or next(
            (c for c in named if not c.edge), None)

    @property
    def untimed(self) -> bool:
        """Built and recognised (the best's kernel or one judged already), so neither checked
        nor timed: it has no score of its own."""
        return self.same_as_incumbent or self.known_kernel

    @property
    def geomean(self) -> float:
        return geometric_mean([c.throughput for c in self.timed]) if self.correct else 0.0

    @property
    def baseline_geomean(self) -> float | None:
        values = [c.baseline for c in self.timed]
        if not values or any(v is None for v in values):
            return None
        return geometric_mean([v for v in values if v is not None])

    @property
    def ratio(self) -> float | None:
        baseline = self.baseline_geomean
        return self.geomean / baseline if baseline and self.correct else None

    def ratio_words(self) -> str:
        """', 1.104x cudnn': the ratio to the first baseline, named; '' without one."""
        if self.ratio is None:
            return ""
        return f", {self.ratio:.3f}x {self.timed[0].primary_baseline or 'baseline'}"

    @property
    def ratios(self) -> dict[str, float]:
        """The geometric mean over each baseline's geometric mean, for every baseline timed on
        every configuration of the grid."""
        if not self.correct or not self.timed:
            return {}
        names = set.intersection(*(set(c.baselines) for c in self.timed))
        return {
            name: self.geomean / geometric_mean([c.baselines[name] for c in self.timed])
            for name in sorted(names)
            if all(c.baselines[name] for c in self.timed)
        }

    @property
    def sustained_ratios(self) -> dict[str, float]:
        """Back to back at the power limit, as ``ratios`` interleaved: the candidate's rate
        over each baseline's, as geometric means over the timed configurations, for every
        baseline read back to back on all of them."""
        read = [c.sustained for c in self.timed]
        if not self.correct or not read or not all(read):
            return {}
        names = set.intersection(*(set(r) for r in read)) - {"candidate"}
        return {
            name: geometric_mean([r["candidate"]["rate"] / r[name]["rate"] for r in read])
            for name in sorted(names) if all(r[name]["rate"] for r in read)
        }

    def _resource_summary(self) -> dict[str, int]:
        """regs and spills at the top level, where an operator looks first (CUDA only)."""
        resources = self.compile.resources if self.compile else {}
        if "registers" not in resources:
            return {}
        if "spill_stores" in resources:
            spills = resources["spill_stores"] + resources.get("spill_loads", 0)
        else:  # only the loaded function's local memory is known: spills are at most that
            spills = resources.get("local_bytes", 0)
        return {"regs": resources["registers"], "spills": spills}

    def summary(self) -> str:
        if self.failure:
            return f"FAIL {self.failure}"
        return f"PASS {self.geomean:.4g} {self.unit} geomean{self.ratio_words()}"

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "toolchain": self.toolchain,
            "device": self.device,
            "unit": self.unit,
            "seed": self.seed,
            "quick": self.quick,
            "correct": self.correct,
            "geomean": self.geomean,
            "baseline_geomean": self.baseline_geomean,
            "ratio": self.ratio,
            "ratios": self.ratios,
            **({"sustained_ratios": self.sustained_ratios} if self.sustained_ratios else {}),
            "failure": self.failure.as_dict() if self.failure else None,
            "flags": list(self.flags),
            "notes": list(self.notes),
            "knobs": dict(self.knobs),
            "configs": [c.as_dict() for c in self.configs],
            "compile": self.compile.as_dict() if self.compile else None,
            **self._resource_summary(),
            "host": dict(self.host),
            "hardware": dict(self.hardware),
            "seconds": round(self.seconds, 3),
            "worker_restarted": self.worker_restarted,
            "artifact_sha256": self.artifact_sha256,
            "kernel_id": self.kernel_id,
            "incumbent_kernel_id": self.incumbent_kernel_id,
            "same_as_incumbent": self.same_as_incumbent,
            "known_kernel": self.known_kernel,
            "incumbent_gain": self.incumbent_gain,
            "incumbent_gain_se": self.incumbent_gain_se,
            "incumbent_gain_dof": self.incumbent_gain_dof,
            "beside": dict(self.beside),
            "anchor": self.anchor,
            **_anchor_figures("anchor", self.versus_anchor),
            **_anchor_figures("incumbent_anchor", self.incumbent_versus_anchor),
        }


def _anchor_figures(name: str, blocks: PairedGain | None) -> dict[str, object]:
    """'anchor_ratio' (a rate over the anchor's, the geometric mean over configurations) and
    its standard error (of the log), where measured."""
    if blocks is None:
        return {}
    return {f"{name}_ratio": math.exp(blocks.log_gain), f"{name}_ratio_se": blocks.se}


@dataclass
class EvalRequest:
    target: str
    sources: dict[str, str]
    quick: bool = False
    seed: int | None = None
    measure_baselines: bool = True
    # Reuse baseline timings this worker measured earlier (same host, same shapes), so a run's
    # later evaluations time only the candidate. False re-measures them beside it.
    reuse_baselines: bool = True
    # Baseline timings measured earlier on this host ({config name: {baseline: Timing}}), e.g.
    # kept by a session across worker restarts; used like the worker's own when reusing.
    known_baselines: dict[str, dict[str, Timing]] = field(default_factory=dict)
    previous_best: float | None = None  # the lineage's best geomean, to flag implausible jumps
    options: tuple[str, ...] = field(default_factory=tuple)
    # The best version's sources: timed beside the candidate, interleaved, on the same inputs
    # (the commit gate), so the decision never rests on a score measured at another time.
    incumbent: dict[str, str] | None = None
    # The commit gate's plan (paired.GatePlan): measure beside the incumbent until the
    # sequential rule decides or the cap; with no incumbent, beside the anchor until the
    # kernel's rate over it is known to the plan's record_se or the cap (a record). None: a
    # first reading's fixed short measurement.
    gate: GatePlan | None = None
    # How long the worker's parent waits on a silent worker (Worker.evaluate sets it): a C
    # kernel's launch is ended as a hang well before, so the hang is pinned on its kernel.
    silence_s: float | None = None
    # The seed as the user supplied it: the anchor, timed beside every candidate, where the
    # target has no baseline this worker can time (measure.Measure.anchor_subject)
    anchor: dict[str, str] | None = None
    # Kernel identities the session has judged already (engine/twins.py): a candidate that
    # builds to one of them is neither checked nor timed (EvalResult.known_kernel).
    known_kernels: frozenset[str] = frozenset()
    # Seconds each subject runs back to back per round, after a warm-up as long, for the
    # reading at the power limit (measurement/back_to_back.py); 0: none.
    sustained_s: float = 0.0
    # False: the candidate is checked (every configuration, edge shape and input case) and
    # nothing is timed: `avo targets check`'s further draws of a seed, which look for how
    # close it comes to the tolerance, not for its speed. Its result has no score.
    timed: bool = True
