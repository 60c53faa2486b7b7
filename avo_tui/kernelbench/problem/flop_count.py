"""torch's FLOP count of a problem's builds, each call's count remembered.

torch's FLOP counter writes out in Python every call its registry has no formula for, down to
calls it has one for or that cannot be written out further: a batch norm becomes a dozen
elementwise calls, each through torch's Python meta functions. A ResNet-101 runs a batch norm
after every convolution, and the work is counted at many sizes (flop_fit.py, flop_trace.py):
that writing-out, done again at every build, took much of an import's time, though the batch
norms count no FLOPs.

So a MetaMemo sits above the counter (meta_memo.py): a call made again on tensors of the same
shapes, strides and dtypes (the same other arguments) adds the FLOPs it counted the first
time, at this build or an earlier one, and is answered without reaching the counter. The
count is torch's: every call's FLOPs follow from what the memo's key holds. (A forward with a
higher-order operator, torch.cond, which torch counts by the state its counter is in, is
refused before it is counted: the memo has no rule for one.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from torch.utils.flop_counter import FlopCounterMode

from .meta_memo import MetaMemo

Build = Callable[[AbstractContextManager[Any]], object]  # a build watched by a dispatch mode


class FlopCount:
    """torch's FLOP counter over builds of one problem on the meta device, one at a time;
    its memory is shared by every build."""

    def __init__(self) -> None:
        self._counter = FlopCounterMode(display=False)  # cleared at each build's start
        self._memo = MetaMemo(gauge=self._counter.get_total_flops)

    def count(self, build: Build) -> int:
        """The FLOPs of ``build`` (a build of the problem, its forward watched by the
        dispatch mode it is given: KernelBenchProblem.instantiate's ``watch``, above the
        problem's own memo); what the build raises, raised."""
        self._memo.replayed = 0
        build(self._watching())
        return int(self._counter.get_total_flops()) + self._memo.replayed

    @contextmanager
    def _watching(self) -> Iterator[None]:
        with self._counter, self._memo:
            yield
