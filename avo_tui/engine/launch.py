"""Starting a run: settings, the seed kernel, and a new session whose seed is already scored.

The seed is evaluated twice before the session exists: a seed that fails leaves nothing
behind, and the two scores give the commit gate its first noise measurement. A target with no
seed (a target file that leaves ``seed`` out) starts a session with no version: the agent's
first step writes v0 (docs/engine.md, "A run without a seed"); the tuner, which varies a
version's knobs, is refused (:func:`needs_a_seed`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._data import KERNELS, data_folder, missing
from ..evaluation import EvalResult, TargetSpec, get_target
from ..evaluation.declarations.candidate import apply_knobs, load_sources
from ..evaluation.targets.archs import UnknownArch, capability_of, family, host_arch
from ..evaluation.targets.file import sha256_of
from ..evaluation.targets.spec import Seed, TargetFileUnusable, UnsupportedGpu, is_target_file
from ..pool.protocol import EvalWorker
from ..store import Session, StoreError
from .budget import Budgets, Usage
from .evaluator import Evaluator
from .gate import DEFAULT_NOISE_FLOOR_PCT, NoiseEstimate
from .scores import score_of
from .supervisor import SupervisorLimits

KERNELS_ENV = "AVO_KERNELS_DIR"
ARCH_ENV = "AVO_GPU_ARCH"


class SeedRejected(StoreError):
    """The seed kernel does not pass its own target: there is nothing to evolve from."""


@dataclass(frozen=True)
class RunSettings:
    operator: str = "tuner"
    quick: bool = False  # score on the target's quick grid (faster steps, less faithful)
    budgets: Budgets = field(default_factory=Budgets)
    supervisor: SupervisorLimits = field(default_factory=SupervisorLimits)
    noise_floor_pct: float = DEFAULT_NOISE_FLOOR_PCT
    gate_cap_s: float | None = None  # --gate-cap; None: the target's (TargetSpec.gate_cap_s)
    timeout_s: float | None = None
    agent: dict[str, Any] | None = None  # the agent operator's settings (never the API key)
    origin: str | None = None  # "SESSION:VERSION" the seed came from (avo run --from)
    knowledge: tuple[str, ...] = ()  # folders given with --knowledge, consulted by the agent
    lanes: int = 1  # --lanes: operator instances at work on the session at once (lanes.py)
    gpus: str | None = None  # --gpus: "all" or "0,1,3"; None: one GPU (pool/)
    workers: int | None = None  # --workers: CPU worker processes, or Ray actors with --ray
    # --sustained: seconds of each back-to-back stretch read for a candidate the gate accepts
    # (evaluation/measurement/back_to_back.py); 0: none
    sustained_s: float = 0.0

    def to_doc(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "quick": self.quick,
            "budgets": self.budgets.to_doc(),
            "supervisor": self.supervisor.to_doc(),
            "noise_floor_pct": self.noise_floor_pct,
            "gate_cap_s": self.gate_cap_s,
            "timeout_s": self.timeout_s,
            "agent": self.agent,
            "origin": self.origin,
            "knowledge": list(self.knowledge),
            "lanes": self.lanes,
            "gpus": self.gpus,
            "workers": self.workers,
            "sustained_s": self.sustained_s,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RunSettings:
        fields = dict(doc)
        fields["budgets"] = Budgets.from_doc(fields.get("budgets"))
        fields["supervisor"] = SupervisorLimits.from_doc(fields.get("supervisor"))
        fields["knowledge"] = tuple(fields.get("knowledge", ()))
        return cls(**fields)


def target_file_meta(target: TargetSpec) -> dict[str, str] | None:
    """What a session keeps of a target file, to find it again unchanged (session_target): a
    user's file's path and sha256; a shipped file's name and sha256 (never its path, which is
    the install's). None for a target made in memory."""
    source = target.source
    if source is None:
        return None
    if source.shipped:
        return {"shipped": target.name, "sha256": source.sha256}
    return {"path": source.path, "sha256": source.sha256}


def session_target(name: str, meta: Mapping[str, Any]) -> TargetSpec:
    """The target session ``name`` evolves (its ``meta``). A user's target file must be where
    it was, with the bytes it had when the session began: scores measured against another
    reference or other configurations would be compared as if they were the same. A shipped
    target is found by its name, whatever its bytes (shipped_target_changed)."""
    kept = meta.get("target_file")
    if not kept or "path" not in kept:
        return get_target(str(meta["target"]))
    path, then = str(kept["path"]), str(kept["sha256"])
    try:
        now = sha256_of(path)
    except TargetFileUnusable as error:
        raise StoreError(f"session '{name}' evolves the target file {path}, which cannot be "
                         f"read ({error.reason}); put it back to resume") from None
    if now != then:
        raise StoreError(
            f"the target file {path} changed since session '{name}' began (sha256 "
            f"{then[:12]} then, {now[:12]} now); restore it to resume, or start a new session "
            f"from this one's best: avo run --target {path} --session NEW --from {name}")
    return get_target(path)


def shipped_target_changed(name: str, meta: Mapping[str, Any], target: TargetSpec
                           ) -> str | None:
    """What to tell the operator when session ``name`` resumes on a shipped target whose
    file changed since the session began (an upgrade of avo-tui): a note, not a refusal. The
    shipped file is part of avo-tui, and an upgrade that changes it must not strand the
    sessions made before it; its scores may not compare. A session that kept no sha256 (one
    made before its target was a file: the attention targets until issue 41) gets no note."""
    kept = meta.get("target_file") or {}
    then = kept.get("sha256") if "shipped" in kept else None
    now = target.source.sha256 if target.source else None
    if then is None or now is None or then == now:
        return None
    return (f"the shipped target {target.name} changed since session '{name}' began (sha256 "
            f"{str(then)[:12]} then, {now[:12]} now: avo-tui was upgraded); scores from before "
            "may not compare with new ones")


def kernels_dir() -> Path:
    """The seed kernels: $AVO_KERNELS_DIR, else those installed with avo-tui (kernels/ of the
    checkout when run from one)."""
    if os.environ.get(KERNELS_ENV):
        return Path(os.environ[KERNELS_ENV])
    folder = data_folder(KERNELS)
    if folder is None:
        raise SeedRejected(f"{missing(KERNELS)}; pass --seed PATH, or set {KERNELS_ENV} to a "
                           "folder of seed kernels")
    return folder


def gpu_arch(target: TargetSpec, host: Callable[[], Mapping[str, object]]) -> str | None:
    """The architecture the seed is chosen for: $AVO_GPU_ARCH where set (it stands in for the
    GPU: in tests, or to take the portable seed's path on a Hopper), else that of the GPU the
    evaluation worker runs on (``host``: its host facts, waited for). None for a CPU target."""
    if target.device != "cuda":
        return None
    forced = os.environ.get(ARCH_ENV, "").strip()
    if forced:
        try:
            capability_of(forced)
        except UnknownArch as error:
            raise SeedRejected(f"{ARCH_ENV}: {error}") from None
        return forced
    return host_arch(host())


@dataclass(frozen=True)
class SeedChoice:
    """The target's seed for one GPU, and the line that tells the operator which and why."""

    seed: Seed
    path: Path
    files: dict[str, str]
    note: str


def in_kernels_dir(seed: Seed) -> bool:
    """Whether ``seed`` is named in the shipped kernels folder (the attention targets'), not
    by the absolute path of a file beside its target file (a Target's seed)."""
    return not Path(seed.kernel).is_absolute()


def choose_seed(target: TargetSpec, arch: str | None) -> SeedChoice:
    """The target's shipped seed for ``arch`` (seed_for), with its knob values on it."""
    try:
        seed = target.seed_for(arch)
    except (UnsupportedGpu, UnknownArch) as error:
        raise SeedRejected(str(error)) from None
    if seed is None:
        where = f" for {arch}" if arch else ""
        raise SeedRejected(f"target {target.name} has no seed kernel{where}; pass --seed PATH")
    path = kernels_dir() / seed.kernel if in_kernels_dir(seed) else Path(seed.kernel)
    if not path.exists():
        raise SeedRejected(
            f"the seed kernel of {target.name} is not at {path}; pass --seed PATH or set "
            f"{KERNELS_ENV} to a folder holding {seed.kernel}"
        )
    sources = load_sources(path, target.toolchain)
    files = apply_knobs(sources, seed.knobs) if seed.knobs else sources
    where = f" for {arch}, {family(arch)}" if arch else ""
    return SeedChoice(seed, path, files, f"seed {seed.kernel}{where}: {seed.why}")


def seed_files(target: TargetSpec, path: Path | None = None) -> dict[str, str]:
    """The kernel at ``path``, else the target's default seed (TargetSpec.seed) with its knob
    values on it."""
    if path is not None:
        return load_sources(path, target.toolchain)
    return choose_seed(target, None).files


def seed_path(target: TargetSpec) -> Path:
    """Where the target's default seed kernel is (the shipped one, or under $AVO_KERNELS_DIR)."""
    return choose_seed(target, None).path


def check_target_file(target: TargetSpec, worker: EvalWorker) -> None:
    """A user's target file checked in ``worker`` as ``avo targets check`` checks it, its seed
    aside, before anything is scored on it: TargetFileError, in check's one line, where it is
    unusable. A shipped target is not: it is part of avo-tui, checked by its tests, and its
    check takes seconds (attention's float64 reference on a CPU)."""
    if is_target_file(target.ref):
        worker.check_target(target.ref)


def create_session(
    directory: Path,
    target: TargetSpec,
    settings: RunSettings,
    files: dict[str, str] | None,
    evaluator: Evaluator,
    on_seed_result: Callable[[EvalResult], None] | None = None,
    seed_note: str | None = None,
) -> Session:
    """Score the seed twice, then create the session with the faster reading as v0's score
    (anchor_reading) and the noise seen; ``seed_note`` (which seed and why) goes into its
    first event. ``files`` None: a target with no seed, whose session starts with no version
    and nothing scored (the agent's first step writes v0; its evaluations measure the hardware
    and the baselines)."""
    if directory.exists():
        raise StoreError(f"session '{directory.name}' already exists in {directory.parent}")
    results = []
    for _ in range(2 if files is not None else 0):
        assert files is not None
        # the seed as supplied: its own anchor
        result = evaluator.evaluate(files, anchor=files, sustained=True)
        result.refuse_unusable_target()
        if on_seed_result:
            on_seed_result(result)
        if not result.correct:
            raise SeedRejected(f"the seed kernel fails on {target.name}: {result.failure}")
        results.append(result)
    noise = NoiseEstimate(settings.noise_floor_pct)
    if results:
        noise.add(results[0].geomean, results[1].geomean)
    session = Session.create(
        directory,
        target=target.ref,
        operator=settings.operator,
        seed_files=files,
        message=f"seed kernel ({', '.join(sorted(files or ()))})",
        score=score_of(anchor_reading(results)) if results else None,
        host=evaluator.host(),
        settings=settings.to_doc(),
        seed_note=seed_note if files is not None else NO_SEED_NOTE,
        target_file=target_file_meta(target),
    )
    session.set_state(announce=False, usage=Usage().to_doc(), noise=noise.to_doc(),
                      baselines=evaluator.baselines)
    if results:  # with no seed, the first evaluation measures the hardware
        session.set_state(announce=False, hardware=dict(results[1].hardware))
    evaluator.baselines_changed = False
    return session


def anchor_reading(results: list[EvalResult]) -> EvalResult:
    """The reading of the seed v0 is scored by: the faster. Every later score is its ratio to the
    anchor times the anchor's rate in v0's (engine/scores.py), so v0's sets the lineage's scale, and
    a load that comes and goes only ever slows a reading: on a busy two-core machine one slow first
    reading of a LayerNorm seed halved every score of its lineage (issue 56: the stored rate about
    half of what `avo eval` read; benchmarks/RESULTS.md). On a GPU the second reading is usually the
    faster, the first warming up."""
    return max(results, key=lambda result: result.geomean)


# What `avo targets check`, a new session's first event and its first screen say of a target
# with no seed.
NO_SEED_NOTE = ("no seed: a run with the agent (--operator agent) writes version 0 at its "
                "first step; the tuner needs a seed (the target file's seed=)")


def needs_a_seed(target: TargetSpec, operators: Sequence[str]) -> str | None:
    """Why a run of ``operators`` cannot start a session of ``target`` that has no version (a
    target with no seed, or a session of one before the agent's first commit), in one line;
    None where it can: the tuner varies the knobs of a version, and only the agent writes v0."""
    if "tuner" not in operators:
        return None
    return (f"target {target.name} has no seed, and the tuner varies the knobs of a version: "
            "write a seed kernel (the target file's seed=) or run the agent (--operator "
            "agent), which writes version 0 at its first step")
