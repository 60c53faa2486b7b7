"""The figures behind the score chart: a version's per-configuration throughput and the
baselines (cuDNN, FlashAttention, or the CPU reference) measured in the same evaluation, on
the lineage's scale (engine/scores.py): for a version whose stored score is not the rate it
measured (measured against the anchor, or chained from the version timed beside it before
anchors), each configuration's figures are its stored throughput, and the baselines measured
beside it scaled by as much, so the ratios stay the ones measured."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..engine.evaluator import stored_throughputs
from ..evaluation import UnknownTarget, get_target
from ..store import Attempt, Session, StoreError, Version


@dataclass(frozen=True)
class ConfigFigures:
    name: str
    throughput: float
    baselines: dict[str, float]


@dataclass(frozen=True)
class ScoreSheet:
    version: str
    unit: str
    configs: list[ConfigFigures] = field(default_factory=list)

    @property
    def baselines(self) -> dict[str, float]:
        """Geometric mean of each baseline over the configurations that measured it."""
        names = {n for c in self.configs for n in c.baselines}
        out = {}
        for name in sorted(names):
            values = [c.baselines[name] for c in self.configs if c.baselines.get(name)]
            if values and len(values) == len(self.configs):
                out[name] = math.exp(sum(math.log(v) for v in values) / len(values))
        return out


def score_sheet(session: Session, version: Version) -> ScoreSheet | None:
    """Read from the log of the evaluation that scored ``version``; None if it has none."""
    if version.score is None:
        return None
    log = _gate_json(session, version, "log")
    if log is None:  # the seed, scored before the session had attempts: the stored baselines
        stored = _stored_baselines(session)
        configs = [ConfigFigures(n, t, stored.get(n, {}))
                   for n, t in version.score.per_config.items()]
        return ScoreSheet(version.id, version.score.unit, configs)
    configs = [
        ConfigFigures(c["name"], c.get("throughput") or 0.0, dict(c.get("baselines") or {}))
        for c in log.get("configs", []) if not c.get("edge")
    ]
    if version.score.measured is not None:
        configs = [_on_scale(c, version.score.per_config.get(c.name)) for c in configs]
    return ScoreSheet(version.id, str(log.get("unit", version.score.unit)), configs)


def _on_scale(measured: ConfigFigures, stored: float | None) -> ConfigFigures:
    """A configuration's figures as measured, moved to its stored throughput."""
    if not stored or not measured.throughput:
        return measured
    scale = stored / measured.throughput
    return ConfigFigures(measured.name, stored,
                         {name: rate * scale for name, rate in measured.baselines.items()})


def _stored_baselines(session: Session) -> dict[str, dict[str, float]]:
    """{config: {baseline: throughput}} from the baseline timings the session keeps for the
    host it was created on; empty where there are none or the target is unknown."""
    try:
        target = get_target(str(session.meta.get("target")))
    except UnknownTarget:
        return {}
    return stored_throughputs(target, session.run_state.baselines or {},
                              session.meta.get("host") or {})


def gate_attempt(session: Session, version: Version) -> Attempt | None:
    """The commit gate's re-evaluation that made ``version`` (recorded just after the commit,
    with the score and the step's transcript), else the attempt the version names."""
    if not version.attempt:
        return None
    try:
        first = session.attempt(version.attempt)
        for number in range(first.number + 1, min(session.attempt_count, first.number + 3) + 1):
            attempt = session.attempt(f"a{number}")
            if attempt.version == version.id:
                return attempt
        return first
    except StoreError:
        return None


def gate_log(session: Session, version: Version) -> dict[str, Any] | None:
    """The evaluation log (EvalResult.as_dict) of the gate attempt that made ``version``: its
    gain over the version timed beside it and that gain's standard error, among the rest."""
    return _gate_json(session, version, "log")


def transcript_of(session: Session, version: Version) -> dict[str, Any] | None:
    """The agent conversation of the step that made ``version``, if one was kept."""
    return _gate_json(session, version, "transcript")


def _gate_json(session: Session, version: Version, blob: str) -> dict[str, Any] | None:
    """The JSON blob (``log`` or ``transcript``) of the gate attempt that made ``version``."""
    attempt = gate_attempt(session, version)
    digest = getattr(attempt, blob) if attempt else None
    if digest is None:
        return None
    try:
        doc = json.loads(session.blobs.get_text(digest))
    except (StoreError, ValueError, OSError):
        return None
    return doc if isinstance(doc, dict) else None
