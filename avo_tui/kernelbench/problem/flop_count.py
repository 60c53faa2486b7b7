"""torch's FLOP count of a problem's builds, each call's count remembered.

torch's FLOP counter writes out in Python every call its registry has no formula for, down to
calls it has one for or that cannot be written out further: a batch norm becomes a dozen
elementwise calls, each through torch's Python meta functions. A ResNet-101 runs a batch norm
after every convolution, and the work is counted at a hundred sizes or more (flop_fit.py):
that writing-out, done again at every build, took much of an import's time, though the batch
norms count no FLOPs.

So a MetaMemo sits above the counter (meta_memo.py): a call made again on tensors of the same
shapes, strides and dtypes (the same other arguments) adds the FLOPs it counted the first
time, at this build or an earlier one, and is answered without reaching the counter. The
count is torch's: every call's FLOPs follow from what the memo's key holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch.utils.flop_counter import FlopCounterMode

from .meta_memo import MetaMemo


class FlopCount:
    """torch's FLOP counter over builds of one problem on the meta device (``watching``,
    then ``total``); its memory is shared by every build, one build counted at a time."""

    def __init__(self) -> None:
        self._counter = FlopCounterMode(display=False)  # cleared at each build's start
        self._memo = MetaMemo(gauge=self._counter.get_total_flops)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """A build's forward counted: the dispatch mode a build is watched by
        (KernelBenchProblem.instantiate's ``watch``), above the problem's own memo."""
        self._memo.replayed = 0
        with self._counter, self._memo:
            yield

    @property
    def total(self) -> int:
        """The FLOPs of the build last watched: those torch counted, and those remembered."""
        return int(self._counter.get_total_flops()) + self._memo.replayed
