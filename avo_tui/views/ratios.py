"""The ratio shown beside each score, to the strongest baseline measured in the run, as the
session stores it: the column of operators/agent/bar.py (``x fa4``, ``x best``, or the one
baseline measured) over the baseline timings the run state keeps for the session's host.
A version's stored ``ratio`` is to the target's first baseline (cuDNN on the GPU targets), the
weakest serious one on Hopper (the seed's standing against the others, measured and dated, is
operators/agent/standing.toml's). The app's lineage and status bar, its attempts,
``avo sessions show`` and ``attempts`` and the headless run's summary all show this column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..engine.evaluator import stored_throughputs
from ..evaluation import UnknownTarget, get_target
from ..operators.agent.bar import RatioColumn, primary, ratio_column
from ..store import RunState, Version

__all__ = ["RatioColumn", "RatioSource", "primary", "session_column", "session_ratio_column"]


def session_ratio_column(target: str, host: Mapping[str, Any], stored: Mapping[str, Any],
                         primary: str | None) -> RatioColumn:
    """The column for a session on ``target`` created on ``host``, whose run state keeps the
    baseline timings ``stored`` ({host key: {configuration: {baseline: timing}}})."""
    try:
        spec = get_target(target)
    except UnknownTarget:
        return RatioColumn(primary or "")
    return ratio_column(stored_throughputs(spec, stored, host), primary)


class RatioSource(Protocol):
    """A session, read or written (store.Session, or the app's reading of it)."""

    @property
    def meta(self) -> dict[str, Any]: ...

    @property
    def run_state(self) -> RunState: ...

    def best(self) -> Version | None: ...


def session_column(session: RatioSource) -> RatioColumn:
    """The column for ``session`` as it stands."""
    meta = session.meta
    return session_ratio_column(str(meta.get("target")), meta.get("host") or {},
                                session.run_state.baselines or {}, primary(session.best()))
