"""The stage seed's lowering of a recorded forward (problem/forward_sizes.py) to definitions
(stage_ir.py), call by call: each aten call's lowering registers itself here by the call's
name (stage_ops.py, stage_reduce.py, stage_norms.py, stage_window.py, stage_layout.py), and
reads its arguments through a Lowering: the definitions of its tensors, its output's shape,
its int arguments as C sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..problem.aten_trace import Call, Ref, Trace
from ..problem.elementwise import literal
from ..problem.forward_sizes import UNFIT, SymbolicTrace, Unfit
from ..problem.graph import Unsupported
from ..problem.size_expr import SizeExpr
from .kernel_text import Kernel, c_name
from .stage_ir import Def, Sizes

Handler = Callable[["Lowering", Call, dict[str, Any]], Sequence["Def | None"]]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    """Register a lowering for the aten calls ``names`` (packet names: ``add``, ``mm``)."""
    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = handler
        return handler
    return register


def lowered(op: torch._ops.OpOverload) -> bool:
    """Whether the stage seed lowers ``op`` itself (else torch's decomposition of it is
    recorded, where it has one)."""
    return str(op._schema.name).split("::")[-1] in HANDLERS


class Lowering:
    """The definitions of a recorded forward, call by call; what each call's lowering uses."""

    def __init__(self, symbolic: SymbolicTrace, kernel: Kernel,
                 input_names: Sequence[str]) -> None:
        self.symbolic = symbolic
        self.trace: Trace = symbolic.trace
        self.sizes = Sizes()
        self.kernel = kernel
        self.defs: dict[int, Def | None] = {}
        self.unavailable: dict[int, str] = {}
        for value in self.trace.values:
            kind, name = value.source
            if kind in ("weight", "input"):
                key = name if kind == "weight" else input_names[name]
                if (kind, key) not in kernel.leaves:  # state kept outside the kernel
                    self.unavailable[value.id] = f"its forward reads {key}, which is not " \
                                                 "one of the kernel's inputs"
                    continue
                param = c_name(kernel.leaves[(kind, key)])
                self.defs[value.id] = Def(f"{kind} {param}", self.shape(value.id),
                                          dtype=value.dtype, leaf=param)
            elif kind == "constant":
                self.defs[value.id] = _number(float(name), self.shape(value.id), value.dtype)

    def lower(self) -> list[Def]:
        """The definition of each output, lowering the calls that compute them."""
        for call in self.trace.calls:
            if not self._live(call):
                continue
            handler = HANDLERS.get(call.name)
            if handler is None:
                raise Unsupported(f"its forward calls aten.{call.name}, which the stage seed "
                                  "does not write")
            made = handler(self, call, self.symbolic.args[call.index])
            for out, definition in zip(call.outs, made, strict=False):
                self.defs[out] = definition
        return [self.tensor(Ref(out)) for out in self.trace.outputs]

    def _live(self, call: Call) -> bool:
        if not hasattr(self, "_needed"):
            self._needed = _needed(self.trace)
        return any(out in self._needed for out in call.outs)

    def tensor(self, arg: Any) -> Def:
        """The definition of a tensor argument."""
        if not isinstance(arg, Ref):
            raise Unsupported("its forward passes a non-tensor where a tensor is expected")
        definition = self.defs.get(arg.id)
        if definition is None:
            value = self.trace.values[arg.id]
            if value.source[0] == "foreign":
                raise Unsupported("its forward computes with a tensor it makes from Python "
                                  "data (torch.tensor(...)), whose values the importer does "
                                  "not read")
            raise Unsupported(self.unavailable.get(arg.id, "its forward uses a value the "
                                                   "stage seed does not compute"))
        return definition

    def out_shape(self, call: Call, position: int = 0) -> tuple[SizeExpr, ...]:
        return self.shape(call.outs[position])

    def shape(self, value: int) -> tuple[SizeExpr, ...]:
        return tuple(fitted(size) for size in self.symbolic.shapes[value])

    def dtype(self, call: Call, position: int = 0) -> str:
        return self.trace.values[call.outs[position]].dtype

    def c(self, size: SizeExpr) -> str:
        return self.sizes(fitted(size))

    def constant(self, arg: Any, what: str) -> int:
        """An int argument that must be the same at every size (a stride, a dim)."""
        if isinstance(arg, int) and not isinstance(arg, bool):
            return arg
        arg = fitted(arg)
        if isinstance(arg, SizeExpr) and not arg.dims:
            return arg.offset // arg.divisor if not arg.product else arg.offset
        raise Unsupported(f"its forward's {what} follows the problem's sizes")


def _number(value: float, shape: tuple[SizeExpr, ...], dtype: str) -> Def:
    """``torch.tensor(value)``: the same number at every element."""
    text = literal(value)
    return Def(f"the number {value!r}", shape, dtype=dtype,
               element=lambda scope, index: text, moves_only=True)


def fitted(size: Any) -> Any:
    """``size`` where it is not an Unfit int, which no stage can be written with."""
    if isinstance(size, Unfit):
        raise Unsupported(UNFIT)
    return size


def _needed(trace: Trace) -> set[int]:
    """The values the outputs are computed from."""
    producer = {out: call for call in trace.calls for out in call.outs}
    needed: set[int] = set()
    todo = list(trace.outputs)
    while todo:
        value = todo.pop()
        if value in needed:
            continue
        needed.add(value)
        call = producer.get(value)
        if call is not None:
            todo += [ref.id for ref in _refs(list(call.args.values()))]
    return needed


def _refs(args: Sequence[Any]) -> list[Ref]:
    found: list[Ref] = []
    for arg in args:
        if isinstance(arg, Ref):
            found.append(arg)
        elif isinstance(arg, list | tuple):
            found += _refs(arg)
    return found
