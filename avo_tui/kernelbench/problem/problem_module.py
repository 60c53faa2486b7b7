"""A KernelBench problem file, loaded and instantiated at any sizes without computing anything.

A problem is a Python file with ``class Model(nn.Module)``, ``get_inputs()`` (the forward's
input tensors) and ``get_init_inputs()`` (the constructor's arguments); its sizes are
module-level globals (``batch_size = 16``, ``input_shape = (4000,)``). Setting those globals
and calling the two functions again gives the problem at other sizes, which is how the
importer learns how every tensor's shape follows them (shapes.py). Everything is built on
torch's meta device: shapes and dtypes without memory or arithmetic, so a problem written for
a GPU's sizes is read in milliseconds on a small CPU.

Every way a problem cannot become a target is an ImportRefused, in one line.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .draws import Draws
from .meta_memo import MetaMemo

Sizes = dict[str, int]  # a size global's value by dimension name (a tuple's entries: name_0 ...)
Origin = tuple[str, int | None]  # a dimension's global, and its index where that is a tuple
# The integer and bool dtypes a target file declares (an output of one is compared exactly),
# by their names there; a floating output is the target's float32.
INTEGER_DTYPES = {torch.int8: "int8", torch.int32: "int32", torch.int64: "int64",
                  torch.uint8: "uint8", torch.bool: "bool"}


class ImportRefused(ValueError):
    """A problem the importer cannot turn into a target, in one line a user can act on."""


class ProbeFailed(Exception):
    """The problem does not build or run at the sizes tried (a probe off the problem's own)."""


@dataclass(frozen=True)
class Instance:
    """The problem at one set of sizes, on the meta device: its inputs, its model's floating
    parameters and buffers (by their names in the model) and its forward's outputs (one
    tensor, or each of the tuple it returns, in order)."""

    model: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    weights: dict[str, torch.Tensor]
    outputs: tuple[torch.Tensor, ...]
    fields: tuple[str, ...] = ()  # the outputs' names where the forward returns a named tuple
    ops: int = 0  # the operations the forward dispatched, where they were counted


class KernelBenchProblem:
    """The problem file at ``path``: its sizes, and the problem built at any of them."""

    def __init__(self, path: Path, tick: Callable[[], None] = lambda: None) -> None:
        self.path = path
        # called before every build of the problem or run of its forward (each is in
        # sizes_set): the import's progress and its limit (target/progress.py)
        self.tick = tick
        self._built_on_cpu = False
        # every build's forward on the meta device (meta_memo.py), and every recording of it
        # (aten_trace.py)
        self.memo = MetaMemo()
        self.module = _load(path)
        for name, what in (("Model", "class Model (the nn.Module whose forward is computed)"),
                           ("get_inputs", "get_inputs() (the forward's input tensors)")):
            if not hasattr(self.module, name):
                raise ImportRefused(f"{path.name} defines no {what}: not a KernelBench problem")
        self.sizes, self.origins = _size_globals(self.module)
        self.base = self.instantiate(self.sizes, refuse=True, count=True)
        self.input_names = self._input_names()
        self.output_names = self._output_names()

    def instantiate(self, sizes: Mapping[str, int], refuse: bool = False,
                    count: bool = False,
                    watch: contextlib.AbstractContextManager[Any] | None = None) -> Instance:
        """The problem with its size globals set to ``sizes``. ProbeFailed where it does not
        build or run there (ImportRefused, naming why, at the problem's own sizes).
        ``count``: count the operations its forward dispatches (Instance.ops); ``watch``: a
        dispatch mode that sees every operation of the forward (a FLOP counter): entered
        above the memo, which would hide a remembered call from it."""
        counter = _Operations() if count else contextlib.nullcontext()
        try:
            with self.sizes_set(sizes), torch.device("meta"):
                model = self._model()
                inputs = self.module.get_inputs()
                with self.memo, watch or contextlib.nullcontext(), counter:
                    output = model(*inputs)
        except Exception as error:
            if refuse:
                raise ImportRefused(f"{self.path.name} does not build on torch's meta device "
                                    f"(shapes only): {type(error).__name__}: "
                                    f"{_first_line(error)}") from None
            raise ProbeFailed(str(error)) from None
        # torch.max's (values, indices), a namedtuple's fields
        fields = getattr(type(output), "__match_args__", None) or getattr(
            type(output), "_fields", None) or ()
        instance = Instance(model, tuple(inputs), _floating_weights(model, _updated(model)),
                            _outputs(output, self.path.name), tuple(fields),
                            counter.count if isinstance(counter, _Operations) else 0)
        _check(instance, self.path.name)
        return instance

    def _model(self) -> torch.nn.Module:
        """The model, built on the meta device; where its constructor reads a value (Swin's
        ``[x.item() for x in torch.linspace(...)]``, which the meta device has none of), built
        on the CPU and moved there, as every later build is then (`_built_on_cpu`)."""
        init: list[Any] = getattr(self.module, "get_init_inputs", list)()
        if not self._built_on_cpu:
            try:
                return cast(torch.nn.Module, self.module.Model(*init))
            except Exception as error:  # only a value read on the meta device is retried
                if "meta" not in str(error):
                    raise
                self._built_on_cpu = True
        with torch.device("cpu"):
            return cast(torch.nn.Module, self.module.Model(*init)).to("meta")

    @property
    def updated(self) -> tuple[str, ...]:
        """The buffers the forward updates (a BatchNorm's running statistics in training
        mode, as KernelBench builds its models): state, not inputs. The forward normalises
        with the batch's own statistics and never reads them; their update is a side effect
        outside the kernel's contract (its outputs), so they are no inputs of the kernel, and
        the target file hands each call copies of the model's own values."""
        return _updated(self.base.model)

    def check_forward(self, sizes: Mapping[str, int]) -> None:
        """Refuse a forward a target cannot hold, run twice for real on the CPU at ``sizes``
        (small ones), on the same inputs and weights, torch seeded differently each time:

        - one that writes a buffer of its model other than the running statistics
          ``updated`` names (those it is handed copies of): the buffers are the kernel's
          inputs, which are read-only, and the reference would change them under the harness;
        - one whose output changes from run to run (a Dropout in training mode, a
          torch.randn inside the forward): no kernel matches a random reference, and the
          tolerance taken from two of its draws would pass anything."""
        with self.sizes_set(sizes):
            torch.manual_seed(0)
            model = self.module.Model(*getattr(self.module, "get_init_inputs", list)())
            inputs = self.module.get_inputs()
            before = {name: buffer.clone() for name, buffer in model.named_buffers()}
            draws = Draws(self.module.__file__)

            def run(seed: int, watch: contextlib.AbstractContextManager[Any]
                    ) -> tuple[torch.Tensor, ...]:
                copies = {name: buffer.clone() for name, buffer in model.named_buffers()
                          if name in self.updated}
                torch.manual_seed(seed)
                with torch.no_grad(), watch:
                    return _outputs(torch.func.functional_call(
                        model, copies, tuple(inputs)), self.path.name)

            outputs = [run(seed, contextlib.nullcontext()) for seed in (1, 2)]
            random = not all(torch.equal(a, b) for a, b in zip(*outputs, strict=True))
            if random:
                run(3, draws)  # only a refused forward is watched: where it draws
        changed = [name for name, buffer in model.named_buffers()
                   if name in before and not torch.equal(before[name], buffer)]
        if changed:
            raise ImportRefused(f"{self.path.name}: forward changes the model's buffer "
                                f"{changed[0]}, and a target's inputs are read-only (the "
                                "importer hands a forward copies of a BatchNorm's running "
                                "statistics only): edit the target file by hand")
        if random:
            dropout = next((name for name, m in model.named_modules()
                            if isinstance(m, torch.nn.modules.dropout._DropoutNd)
                            and m.training and m.p > 0), None)
            why = (f"a Dropout ({dropout}, p = {model.get_submodule(dropout).p}) in "
                   "training mode" if dropout is not None
                   else draws.first or "it draws random values")
            left_out = self._left_out(len(inputs))
            fix = ("set its p to 0 in the problem" if dropout is not None else "make what "
                   "it draws one of get_inputs()'s tensors" + (
                       f" (the forward's {' and '.join(left_out)}, which get_inputs() leaves "
                       "out)" if left_out else ""))
            raise ImportRefused(f"{self.path.name}: forward gives another output on the same "
                                f"inputs at every call ({why}): no kernel matches a random "
                                f"reference; {fix}")

    @contextmanager
    def sizes_set(self, sizes: Mapping[str, int]) -> Iterator[None]:
        """The module's globals set to ``sizes`` (a tuple global rebuilt from its entries),
        and put back as they were afterwards."""
        self.tick()
        values = globals_of({**self.sizes, **sizes}, self.origins)
        saved = {name: getattr(self.module, name) for name in values}
        try:
            for name, value in values.items():  # a list global stays a list
                setattr(self.module, name, type(saved[name])(value) if isinstance(
                    value, tuple) else value)
            yield
        finally:
            for name, value in saved.items():
                setattr(self.module, name, value)

    def _input_names(self) -> tuple[str, ...]:
        """The forward's argument names, in order (input0, input1 ... where it takes *args)."""
        count = len(self.base.inputs)
        parameters = list(inspect.signature(self.module.Model.forward).parameters.values())[1:]
        names = [p.name for p in parameters
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
        if len(names) < count:
            return tuple(f"input{i}" for i in range(count))
        return tuple(names)

    def _left_out(self, given: int) -> list[str]:
        """The forward's arguments after the ``given`` tensors get_inputs() passes, each with
        a default (an LSTM's ``h0=None``, drawn when left out)."""
        parameters = list(inspect.signature(self.module.Model.forward).parameters.values())
        return [p.name for p in parameters[1 + given:]
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is not p.empty]

    def _output_names(self) -> tuple[str, ...]:
        """Each output's name: ``out`` for one; for several, the fields of the named tuple the
        forward returns (torch.max's values and indices), or the names its one ``return a, b``
        gives them, else out0, out1 ..."""
        count = len(self.base.outputs)
        if count == 1:
            return ("out",)
        for names in (self.base.fields, _returned_names(self.module.Model.forward)):
            if names and len(names) == count and len(set(names)) == count and all(
                    isinstance(n, str) and n.isidentifier() for n in names):
                return tuple(names)
        return tuple(f"out{i}" for i in range(count))


class _Operations(TorchDispatchMode):
    """Counts the operations dispatched within it: what a build costs, the same on every
    machine (a recurrent network's steps are each their own)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        self.count += 1
        return func(*args, **(kwargs or {}))


def _load(path: Path) -> Any:
    """The problem's module, run from its file as a module of its own (not in sys.modules
    under a name another problem could take)."""
    if not path.is_file():
        raise ImportRefused(f"{path}: no such file")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    name = f"avo_kernelbench_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportRefused(f"{path.name} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ImportRefused(f"{path.name} raised {type(error).__name__} as it was imported: "
                            f"{_first_line(error)}") from None
    return module


def _size_globals(module: Any) -> tuple[Sizes, dict[str, Origin]]:
    """The problem's module-level ints (not bools) and tuples and lists of ints, in the order
    the file defines them, and where each comes from; a tuple ``input_shape = (4000,)`` gives
    the dimension ``input_shape_0``, a list ``hidden_layer_sizes = [32768, 32768]``
    ``hidden_layer_sizes_0`` and ``hidden_layer_sizes_1``."""
    sizes: Sizes = {}
    origins: dict[str, Origin] = {}
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            sizes[name], origins[name] = value, (name, None)
        elif (isinstance(value, tuple | list) and value
              and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            for index, entry in enumerate(value):
                dim = f"{name}_{index}"
                if dim not in vars(module):  # an int global of that name keeps it
                    sizes[dim], origins[dim] = entry, (name, index)
    return sizes, origins


def globals_of(sizes: Mapping[str, int], origins: Mapping[str, Origin]) -> dict[str, object]:
    """The module globals ``sizes`` (every dimension) stand for, each tuple rebuilt from its
    entries."""
    values: dict[str, object] = {}
    for dim, value in sizes.items():
        name, index = origins[dim]
        if index is None:
            values[name] = value
        else:
            entries = values.setdefault(name, {})
            assert isinstance(entries, dict)
            entries[index] = value
    for name, entries in list(values.items()):
        if isinstance(entries, dict):
            values[name] = tuple(entries[i] for i in sorted(entries))
    return values


def _outputs(output: Any, file: str) -> tuple[torch.Tensor, ...]:
    """The forward's result as its tensors, in order (a tuple or list of them, or one)."""
    if isinstance(output, torch.Tensor):
        return (output,)
    if not isinstance(output, tuple | list):
        raise ImportRefused(f"{file}: forward returns a {type(output).__name__}, not a tensor")
    if not output:
        raise ImportRefused(f"{file}: forward returns an empty {type(output).__name__}")
    for position, value in enumerate(output):
        if not isinstance(value, torch.Tensor):
            kind = type(value).__name__
            raise ImportRefused(f"{file}: forward returns {len(output)} values, and the one at "
                                f"position {position} is {'an' if kind[0] in 'aeiou' else 'a'} "
                                f"{kind}, not a tensor: a target's outputs are tensors")
    return tuple(output)


def _returned_names(forward: Any) -> tuple[str, ...] | None:
    """The names of ``return a, b`` where it is the forward's one return statement."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(forward)))
    except (OSError, TypeError, SyntaxError):
        return None
    returns = [node for node in ast.walk(tree) if isinstance(node, ast.Return)]
    if len(returns) != 1 or not isinstance(returns[0].value, ast.Tuple):
        return None
    names = [e.id for e in returns[0].value.elts if isinstance(e, ast.Name)]
    return tuple(names) if len(names) == len(returns[0].value.elts) else None


def _floating_weights(model: torch.nn.Module, updated: tuple[str, ...]
                      ) -> dict[str, torch.Tensor]:
    """The model's floating parameters and buffers by name, but for the buffers the forward
    updates (``updated``); an integer buffer, a batch count, stays the model's own."""
    named: dict[str, torch.Tensor] = dict(model.named_parameters())
    named.update((n, b) for n, b in model.named_buffers()
                 if b.is_floating_point() and n not in updated)
    return named


def _updated(model: torch.nn.Module) -> tuple[str, ...]:
    """The buffers of every norm in training mode that tracks running statistics (BatchNorm,
    InstanceNorm with track_running_stats): its forward updates them in place. Found by the
    module's type, not by watching the forward: on the meta device the batch norm updates
    nothing, and its schema does not say it writes them."""
    names: list[str] = []
    for prefix, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._NormBase) and module.training \
                and module.track_running_stats:
            names += [f"{prefix}.{name}" if prefix else name
                      for name, _ in module.named_buffers(recurse=False)]
    return tuple(names)


def _check(instance: Instance, file: str) -> None:
    """Refuse what a target cannot say yet, each in one line."""
    for position, output in enumerate(instance.outputs):
        if not output.is_floating_point() and output.dtype not in INTEGER_DTYPES:
            which = "" if len(instance.outputs) == 1 else f" (output {position})"
            raise ImportRefused(f"{file}: forward returns {_dtype(output)} values{which}, a "
                                "dtype a target file has no type for: its outputs are float32, "
                                f"or {', '.join(INTEGER_DTYPES.values())} (docs/targets.md, "
                                "integer and bool tensors)")
    if not instance.inputs:
        raise ImportRefused(f"{file}: get_inputs() returns no tensor")
    for position, value in enumerate(instance.inputs):
        if not isinstance(value, torch.Tensor):
            raise ImportRefused(f"{file}: get_inputs() returns a {type(value).__name__} at "
                                f"position {position}; the importer takes tensors only")
        if not value.is_floating_point() and value.dtype not in INTEGER_DTYPES:
            raise ImportRefused(f"{file}: input {position} is {_dtype(value)}, a dtype a "
                                "target file has no type for: its inputs are float32, or "
                                f"{', '.join(INTEGER_DTYPES.values())} (docs/targets.md, "
                                "integer and bool tensors)")


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else "(no message)"
