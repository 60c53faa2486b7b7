"""A problem's forward recorded at torch's aten level: every operation it runs, in order, with
its arguments and the shape and dtype of every tensor it makes.

The forward runs on the meta device (shapes and dtypes, no memory, no arithmetic) under
torch.func.functionalize, so an in-place operation is recorded as the operation that makes a
new tensor and a view as a copy: each recorded tensor is computed once, by one call, and
never changes. A TorchDispatchMode sees each call below autograd, after torch has written
out its composite functions (linear is addmm and t, instance norm a batch norm); a call the
caller cannot lower (``keep`` says no) is written out further by torch's own decomposition
table where it has one (mish is a softplus, a tanh and a product).

Tensors are numbered in the order they appear: the model's floating parameters and buffers,
then the forward's arguments, then each call's outputs. The same forward at other sizes is
recorded in the same order, which is how forward_sizes.py learns how every size follows the
problem's dimensions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.func import functional_call, functionalize
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from .graph import Unsupported
from .meta_memo import MetaMemo
from .problem_module import Instance

MAX_CALLS = 1500  # past this (an RNN unrolled over its sequence) no stage seed is written
RANDOM = frozenset({"bernoulli", "rand", "randn", "rand_like", "randn_like", "randint",
                    "normal", "uniform", "native_dropout", "randperm", "multinomial",
                    "exponential", "geometric", "cauchy", "log_normal", "random"})
Arg = Any  # a Ref, a Python value, or a list or tuple of them


@dataclass(frozen=True)
class Ref:
    """A recorded tensor, by its number."""

    id: int


@dataclass(frozen=True)
class Value:
    """A recorded tensor: its shape at the recorded sizes, its dtype (``float32``,
    ``int64``, ``bool`` ...), and where it comes from: ``("weight", name)``,
    ``("input", position)``, ``("call", index)`` (an output of that call),
    ``("constant", number)`` (``torch.tensor(0.5)`` in the forward), or ``("foreign", "")``
    (any other tensor the forward made from Python data, whose values the meta device does
    not keep)."""

    id: int
    shape: tuple[int, ...]
    dtype: str
    source: tuple[str, Any]


@dataclass(frozen=True)
class Call:
    """One aten call: its overload (``aten.convolution.default``), its arguments by name
    (the schema's, defaults filled in; tensors as Refs), and the tensors it made."""

    index: int
    op: torch._ops.OpOverload
    args: dict[str, Arg]
    outs: tuple[int, ...]

    @property
    def name(self) -> str:
        """The overload packet's name: ``convolution``, ``add`` ..."""
        return str(self.op._schema.name).split("::")[-1]

    @property
    def overload(self) -> str:
        return str(self.op._overloadname)


@dataclass(frozen=True)
class Trace:
    values: tuple[Value, ...]
    calls: tuple[Call, ...]
    outputs: tuple[int, ...]  # the value each of the forward's outputs is, in order

    def ints(self) -> list[int]:
        """Every int of the trace in a fixed order: each value's sizes, then each call's int
        arguments (a view's sizes, a slice's bounds). The same forward at other sizes gives
        the same list's length where it runs the same calls."""
        found = [size for value in self.values for size in value.shape]
        for call in self.calls:
            found += _numbers(list(call.args.values()), int)
        return found

    def floats(self) -> list[float]:
        """Every float argument of the calls in a fixed order (a scale 1 / sqrt(d) follows a
        size)."""
        return [x for call in self.calls for x in _numbers(list(call.args.values()), float)]

    def signature(self) -> list[Any]:
        """What must not change between sizes: each call's op and every argument that is not
        a number, and the kind of each value."""
        return [(str(c.op), [_skeleton(a) for a in c.args.values()], c.outs)
                for c in self.calls] + [(v.dtype, len(v.shape), v.source)
                                        for v in self.values]


def record(instance: Instance, keep: Callable[[torch._ops.OpOverload], bool],
           memo: MetaMemo | None = None) -> Trace:
    """The forward of ``instance`` (built on the meta device) as a Trace; Unsupported where
    it draws random numbers or runs more than MAX_CALLS calls. ``memo``: the problem's
    (KernelBenchProblem.memo), below the recorder, which then sees every call: the calls a
    batch norm is written out into reach torch's Python meta functions once per shape."""
    names = list(instance.weights)
    weights = [instance.weights[n] for n in names]

    def forward(*tensors: torch.Tensor) -> Any:
        params = dict(zip(names, tensors[:len(names)], strict=True))
        return functional_call(instance.model, params, tuple(tensors[len(names):]))

    recorder = _Recorder(keep)
    for name, tensor in zip(names, weights, strict=True):
        recorder.leaf(tensor, ("weight", name))
    for position, tensor in enumerate(instance.inputs):
        recorder.leaf(tensor, ("input", position))
    below = memo if memo is not None else contextlib.nullcontext()
    try:
        with below, _Numbers(recorder), torch.device("meta"), torch.no_grad(), recorder:
            result = functionalize(forward, remove="mutations_and_views")(*weights,
                                                                          *instance.inputs)
    except Unsupported:
        raise
    except Exception as error:
        raise Unsupported(f"its forward does not run under torch.func.functionalize "
                          f"({type(error).__name__})") from None
    items = result if isinstance(result, tuple | list) else (result,)
    outputs = tuple(recorder.ref(t).id for t in items)
    return Trace(tuple(recorder.values), tuple(recorder.calls), outputs)


class _Recorder(TorchDispatchMode):
    def __init__(self, keep: Callable[[torch._ops.OpOverload], bool]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.keep = keep
        self.values: list[Value] = []
        self.calls: list[Call] = []
        self._ids: dict[int, int] = {}
        self._alive: list[torch.Tensor] = []  # so that no id() is reused while recording
        self.numbers: dict[int, float] = {}  # torch.tensor(number)'s tensors, by id()

    def leaf(self, tensor: torch.Tensor, source: tuple[str, Any]) -> Ref:
        self._alive.append(tensor)
        number = len(self.values)
        self.values.append(Value(number, tuple(tensor.shape), _dtype(tensor), source))
        self._ids[id(tensor)] = number
        return Ref(number)

    def ref(self, tensor: torch.Tensor) -> Ref:
        number = self._ids.get(id(tensor))
        if number is not None:
            return Ref(number)
        value = self.numbers.get(id(tensor))
        return self.leaf(tensor, ("foreign", "") if value is None else ("constant", value))

    def __torch_dispatch__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        name = str(func._schema.name).split("::")[-1]
        if name.rstrip("_") in RANDOM:
            raise Unsupported(f"its forward draws random numbers ({name}: a dropout in "
                              "training mode?), which no seed can reproduce")
        decomposition = torch._decomp.decomposition_table.get(func)
        if not self.keep(func) and decomposition is not None:
            with self:
                return decomposition(*args, **kwargs)
        if len(self.calls) >= MAX_CALLS:
            raise Unsupported(f"its forward runs more than {MAX_CALLS} operations (a loop "
                              "unrolled over a sequence?), too many for a seed of stages")
        bound = _bind(func, args, kwargs, self._arg)
        out = func(*args, **kwargs)
        produced = [t for t in (out if isinstance(out, tuple | list) else (out,))
                    if isinstance(t, torch.Tensor)]
        index = len(self.calls)
        outs = []
        for tensor in produced:
            if id(tensor) in self._ids and func._schema.is_mutable:
                # an in-place call on a tensor functionalize does not see (a module's own
                # integer buffer): a new value, so the old one keeps what it was
                del self._ids[id(tensor)]
            outs.append(self.leaf(tensor, ("call", index)).id)
        self.calls.append(Call(index, func, bound, tuple(outs)))
        return out

    def _arg(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.ref(value)
        if isinstance(value, list | tuple):
            return type(value)(self._arg(v) for v in value)
        return value


class _Numbers(TorchFunctionMode):
    """Notes the number of each ``torch.tensor(number)`` the forward makes (on the meta
    device its value would be lost)."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func is torch.tensor and args and isinstance(args[0], int | float | bool):
            self.recorder.numbers[id(out)] = float(args[0])
            self.recorder._alive.append(out)
        return out


def _bind(func: Any, args: Sequence[Any], kwargs: dict[str, Any],
          convert: Callable[[Any], Any]) -> dict[str, Arg]:
    """The call's arguments by the schema's names, defaults filled in."""
    bound: dict[str, Arg] = {}
    for position, argument in enumerate(func._schema.arguments):
        if position < len(args):
            value = args[position]
        elif argument.name in kwargs:
            value = kwargs[argument.name]
        elif argument.has_default_value():
            value = argument.default_value
        else:
            value = None
        bound[argument.name] = convert(value)
    return bound


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _numbers(args: Sequence[Any], kind: type) -> list[Any]:
    """The ints (or the floats) among ``args``, lists and tuples walked, in order."""
    found: list[Any] = []
    for arg in args:
        if isinstance(arg, bool):
            continue
        if type(arg) is kind:
            found.append(arg)
        elif isinstance(arg, list | tuple):
            found += _numbers(arg, kind)
    return found


def _skeleton(arg: Any) -> Any:
    if isinstance(arg, bool) or not isinstance(arg, int | float | list | tuple):
        return arg
    if isinstance(arg, int | float):
        return type(arg).__name__
    return [_skeleton(a) for a in arg]
