"""Where a problem's forward draws random numbers: the line of its file that does, so a
refusal can name it (``h0 = torch.randn(...)`` where the forward's state is left out of
get_inputs())."""

from __future__ import annotations

import linecache
import sys
from types import FrameType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

SHOWN = 80  # characters of the line that draws


class Draws(TorchDispatchMode):
    """Watches a forward run within it for its first operation that draws from torch's
    generator (a randn, a dropout's bernoulli), and the innermost line of ``file`` on the
    stack as it does."""

    def __init__(self, file: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.file = file  # as the problem's code names it (its module's __file__)
        self.first: str | None = None  # "line 34 draws random values (randn): h0 = ..."

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if self.first is None and torch.Tag.nondeterministic_seeded in func.tags:
            self.first = self._where(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))

    def _where(self, op: str) -> str:
        frame: FrameType | None = sys._getframe()
        while frame is not None and frame.f_code.co_filename != self.file:
            frame = frame.f_back
        if frame is None:
            return f"it draws random values ({op})"
        line = linecache.getline(self.file, frame.f_lineno).strip()
        shown = line if len(line) <= SHOWN else line[:SHOWN - 3] + "..."
        return f"line {frame.f_lineno} draws random values ({op}): {shown}"
