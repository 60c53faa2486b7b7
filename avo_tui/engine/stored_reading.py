"""A first reading back from the store: the Trial of an attempt the gate may still be asked
about (promising or inconclusive), for a run that did not make it.

The gate is asked about a Trial, and a Trial carries the evaluation it came from. A run keeps
its own (twins.Readings), but a run that starts again after a crash or a stop has none of
them, and a step resumed from its conversation, or started from a candidate its lane's last
step left (StepResult.carry), must still take that reading to the gate. The attempt's log is
the evaluation as ``EvalResult.as_dict`` wrote it; what the gate reads of a first reading is
read back from it: the kernel's identity, the flags, and each timed configuration's
throughput and paired blocks (beside the best and the anchor). The checks' figures are not:
the gate re-evaluates, and never reads a first reading's checks.
"""

from __future__ import annotations

import json
from typing import Any

from ..evaluation import Config, ConfigResult, EvalResult, TargetSpec
from ..operators.protocol import Trial
from ..store import TO_THE_GATE, Attempt, Session, StoreError
from .evaluator import sources_key


def stored_trial(session: Session, target: TargetSpec, attempt: Attempt) -> Trial | None:
    """``attempt``'s first reading as a Trial, from its log; None where it is none the gate is
    asked about, or its log does not read as one (lost, another version's shape)."""
    if attempt.outcome not in TO_THE_GATE or not attempt.log:
        return None
    try:
        doc = json.loads(session.blobs.get_text(attempt.log))
        files = {name: session.blobs.get_text(digest) for name, digest in attempt.files.items()}
        result = _result(doc, {c.name: c for c in (*target.configs, *target.quick_configs)})
    except (StoreError, OSError, ValueError, KeyError, TypeError):
        return None
    if result is None:
        return None
    return Trial(attempt, result, files, result.kernel_id or sources_key(files))


def _result(doc: dict[str, Any], known: dict[str, Config]) -> EvalResult | None:
    """The parts of a correct evaluation's ``as_dict`` the gate reads; None where it was not
    correct or timed a configuration this target no longer has."""
    if doc.get("failure") is not None:
        return None
    timed = [c for c in doc["configs"] if not c.get("edge")]
    if not timed or any(c["name"] not in known for c in timed):
        return None
    return EvalResult(
        target=str(doc["target"]), toolchain=str(doc["toolchain"]), device=str(doc["device"]),
        unit=str(doc["unit"]), seed=int(doc["seed"]), quick=bool(doc["quick"]),
        configs=[ConfigResult(
            known[c["name"]], passed=True, throughput=float(c["throughput"]),
            block_gains=[float(g) for g in c.get("block_gains") or ()],
            anchor_blocks=[float(g) for g in c.get("anchor_blocks") or ()],
            incumbent_anchor_blocks=[float(g) for g in c.get("incumbent_anchor_blocks") or ()],
            anchor_alone_blocks=[float(g) for g in c.get("anchor_alone_blocks") or ()],
        ) for c in timed],
        flags=[str(f) for f in doc.get("flags") or ()],
        notes=[str(n) for n in doc.get("notes") or ()],
        kernel_id=doc.get("kernel_id"),
        beside=dict(doc.get("beside") or {}),
        anchor=doc.get("anchor"),
    )
