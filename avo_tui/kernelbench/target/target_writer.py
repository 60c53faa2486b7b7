"""The text of an imported target file: ordinary target-file code (docs/targets.md), to be read
and edited by hand like any other.

The file loads the problem by its path relative to itself, builds ``Model(*get_init_inputs())``
with the problem's size globals set to the configuration (under a fixed torch seed, once per
configuration and dtype), and computes the forward with torch.func.functional_call on the
kernel's own inputs, the model's parameters and buffers among them, so the kernel, the
reference (float64) and the honest computation (the problem's dtype, also the baseline) all
see the same weights. torch is imported inside the functions: the parent process reads a
target file without torch. Shapes and work are plain functions of the configuration.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from ..problem.size_expr import SizeExpr
from ..problem.work import Work

Origin = tuple[str, int | None]


@dataclass(frozen=True)
class Tensor:
    """A tensor parameter: its name in the target, its shape, where it comes from (the
    forward's argument, or the model's parameter or buffer), and its value rule."""

    name: str
    shape: tuple[SizeExpr, ...]
    source: str  # "input x", "weight gemm.weight", "output" (of several: "output 0" ...)
    values: str | None = None
    dtype: str | None = None  # its own (int64 labels, an argmax's indices); None: float32
    comment: str = ""  # written above its parameter (where its values come from)


@dataclass(frozen=True)
class Case:
    """A hostile input case as the file writes it (hostile.py finds them): its name, what it
    targets (the function's docstring) and its body, lines of Python on ``inputs`` (the
    drawn tensors by name, changed in place) and ``generator``."""

    name: str
    doc: str
    body: tuple[str, ...]


@dataclass(frozen=True)
class TargetFile:
    problem: str  # the problem file, relative to the target file
    name: str
    description: str
    about: list[str]  # the docstring's paragraphs after its first line
    kind: str
    dtype: str
    entry: str
    dims: tuple[str, ...]
    globals_: dict[str, tuple[Origin, ...]]  # the problem globals each dimension sets
    tensors: tuple[Tensor, ...]  # inputs, then the outputs
    inputs: tuple[str, ...]  # the forward's arguments, by their names in the target
    weights: dict[str, str]  # target name -> the model's name of a parameter or buffer
    configs: tuple[dict[str, int], ...]
    edges: tuple[dict[str, int], ...]
    draw: dict[str, tuple[int, int]]
    work: Work
    seed: str | None
    cases: tuple[Case, ...] = ()
    updated: tuple[str, ...] = ()  # buffers the forward updates: handed copies, no inputs


WIDTH = 92
# How many times the best a result of a C seed's target may be before it is held for review:
# the seed's THREADS knob (seeds/c_seed.py: 1, 2 or 4) makes first moves of up to 4x in honest work,
# and the gate's default 1.5x held them (tanh's THREADS 1->4, +91%); 1.5x beyond that still is.
CPU_SEED_JUMP = 6.0


def render(target: TargetFile) -> str:
    parts = [_imports(target), _model_part(target), _shapes(target), _work(target),
             _draw(target), _cases(target), _target(target)]
    code = "\n\n\n".join(part.strip("\n") for part in parts if part.strip())
    return f"{_docstring(target)}\n\n{code}\n"


def _docstring(target: TargetFile) -> str:
    paragraphs = "\n\n".join(textwrap.fill(p, WIDTH, break_on_hyphens=False)
                             for p in target.about)
    return f'"""{target.description}.\n\n{paragraphs}\n"""'


def _imports(target: TargetFile) -> str:
    names = ["Input", "Int", "Output", "Target"]
    rules = sorted({rule for t in target.tensors if t.values
                    for rule in re.findall(r"\b([A-Z]\w*)\(", t.values)})
    return f"""from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avo_tui.evaluation import {", ".join(sorted(names + rules))}

PROBLEM = Path(__file__).parent / {target.problem!r}
# Each dimension of a configuration, and the problem's globals it sets (an entry of a tuple
# global by its index): the model is rebuilt at every configuration's sizes.
GLOBALS: dict[str, tuple[tuple[str, int | None], ...]] = {_dict_text(target.globals_)}
DIMS = {tuple(target.dims)!r}
INPUTS = {tuple(target.inputs)!r}  # the forward's arguments, in order
# The kernel's inputs that are the model's parameters and buffers: their names in the model.
WEIGHTS = {target.weights!r}
{_updated(target)}MODELS_KEPT = 8  # models kept per process: one per configuration and dtype
_cache: dict[Any, Any] = {{}}
"""


def _updated(target: TargetFile) -> str:
    if not target.updated:
        return ""
    return f"""# The buffers the forward updates (a BatchNorm's running statistics in training
# mode): the update is a side effect outside the kernel's contract, its outputs, and the
# forward never reads them (it normalises with the batch's statistics). No inputs: each call
# is handed copies of the model's own, so every call computes from the same state.
UPDATED = {target.updated!r}
"""


def _copies(target: TargetFile) -> str:
    if not target.updated:
        return ""
    return """    weights.update((name, buffer.clone()) for name, buffer in
                   model(c, dtype).named_buffers() if name in UPDATED)
"""


def _dict_text(mapping: dict[str, tuple[Origin, ...]]) -> str:
    if not mapping:
        return "{}"
    lines = ",\n".join(f"    {k!r}: {v!r}" for k, v in mapping.items())
    return "{\n" + lines + ",\n}"


def _model_part(target: TargetFile) -> str:
    dtype = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}[target.dtype]
    what = "output." if len(_outputs(target)) == 1 else "outputs."
    return f'''

def problem() -> Any:
    """The KernelBench problem's module, loaded once per process (it imports torch)."""
    if "module" not in _cache:
        spec = importlib.util.spec_from_file_location("kernelbench_problem", PROBLEM)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _cache["module"] = module
    return _cache["module"]


@contextlib.contextmanager
def sized(c: dict[str, Any]) -> Iterator[Any]:
    """The problem's module with its size globals set to configuration c (each dimension
    that c names), put back afterwards."""
    module = problem()
    values: dict[str, Any] = {{}}
    for dim, names in GLOBALS.items():
        for name, index in names:
            if dim not in c:
                continue
            if index is None:
                values[name] = c[dim]
            else:
                values.setdefault(name, list(getattr(module, name)))[index] = c[dim]
    saved = {{name: getattr(module, name) for name in values}}
    try:
        for name, value in values.items():
            setattr(module, name, type(saved[name])(value) if isinstance(value, list)
                    else value)
        yield module
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def model(c: dict[str, Any], dtype: Any) -> Any:
    """Model(*get_init_inputs()) with the problem's size globals set to configuration c, built
    under a fixed torch seed (its weights are then replaced by the kernel's inputs)."""
    import torch

    key = (tuple(sorted(c.items())), dtype)
    if key not in _cache:
        with sized(c) as module:
            torch.manual_seed(0)
            built = module.Model(*getattr(module, "get_init_inputs", list)()).to(dtype)
        if len(_cache) > MODELS_KEPT:
            _cache.pop(next(k for k in _cache if k != "module"))
        _cache[key] = built
    return _cache[key]


def forward(dtype: Any, tensors: dict[str, Any]) -> Any:
    """Model.forward on the kernel's inputs, its weights among them, shaped as the {what}"""
    import torch

    c = {{dim: tensors[dim] for dim in DIMS}}
    weights = {{name: tensors[kernel_name] for kernel_name, name in WEIGHTS.items()}}
    args = tuple(tensors[name] for name in INPUTS)
{_copies(target)}    out = torch.func.functional_call(model(c, dtype), weights, args)
{_reshaped(target)}


def reference(**tensors: Any) -> Any:
    """The forward in float64 (the harness hands every input over in float64)."""
    import torch

    return forward(torch.float64, tensors)


def honest(**tensors: Any) -> Any:
    """The forward in {target.dtype}, as eager torch computes it: the honest computation the
    tolerance is derived from, and the baseline."""
    import torch

    return forward(torch.{dtype}, tensors)
'''


def _outputs(target: TargetFile) -> list[Tensor]:
    return [t for t in target.tensors if t.source.startswith("output")]


def _reshaped(target: TargetFile) -> str:
    outputs = _outputs(target)
    if len(outputs) == 1:
        return f"    return out.reshape({outputs[0].name}_shape(c))"
    shapes = ", ".join(f"{t.name}_shape" for t in outputs)
    return (f"    return tuple(value.reshape(shape(c)) for value, shape in zip(\n"
            f"        out, ({shapes}), strict=True))")


def _python(size: SizeExpr) -> str:
    return size.render(lambda dim: f'c["{dim}"]')


def _shapes(target: TargetFile) -> str:
    functions = []
    for tensor in target.tensors:
        sizes = ", ".join(_python(s) for s in tensor.shape) or "1"  # a scalar: one value
        comma = "," if len(tensor.shape) <= 1 else ""
        functions.append(f'''
def {tensor.name}_shape(c: dict[str, Any]) -> tuple[int, ...]:
    """{_role(tensor)}"""
    return ({sizes}{comma})
''')
    return "\n\n\n".join(f.strip("\n") for f in functions)


def _role(tensor: Tensor) -> str:
    kind, _, name = tensor.source.partition(" ")
    scalar = " (a scalar, written as one value)" if not tensor.shape else ""
    return {"input": f"The forward's argument {name}.",
            "weight": f"The model's {name}.",
            "output": f"What the forward returns (its value {name}){scalar}." if name else
                      f"What the forward returns{scalar}."}[kind]


def _work(target: TargetFile) -> str:
    return "\n\n\n".join(part.strip("\n") for part in (_flops(target), _moved(target))
                         if part)


def _flops(target: TargetFile) -> str:
    flops = target.work.flops
    if flops is None:
        return ""
    error = target.work.flops_error
    fitted = "exactly" if not error else (
        f"(exact on a grid of sizes, within {error:.1%} of it elsewhere: strides inside the "
        "forward floor its sizes)")
    formula = ("torch's formula for each call it counts, of that call's sizes (floored where "
               "strides inside the forward halve them), summed, and checked against its "
               "counts" if target.work.by_call else
               "a polynomial of the sizes fitted to its counts " + fitted)
    return f'''

def flops(c: dict[str, Any]) -> float:
    """{_doc("FLOPs: the matrix work of the forward as torch's FLOP counter counts it "
             "(products, convolutions, attention; an epilogue, a pooling or a norm not "
             "counted), " + formula + "; the sizes under 8 at the problem's values.")}"""
    return float({flops.render(lambda dim: f'c["{dim}"]')})
'''


def _moved(target: TargetFile) -> str:
    work = target.work
    outputs = _outputs(target)
    inputs = [t.name for t in target.tensors if t not in outputs]
    read = [t for t in target.tensors if t not in outputs]
    if any(size != work.element_bytes for size in work.read_bytes(len(read))):
        return _moved_by_width(work, read, outputs)
    every = "\n        + ".join(f"math.prod({name}_shape(c))" for name in inputs)
    if all(size == work.element_bytes for size in work.output_bytes):
        every += "".join(f"\n        + math.prod({t.name}_shape(c))" for t in outputs)
        return f'''

def moved(c: dict[str, Any]) -> float:
    """{_doc(f"Bytes: every input read once and {_each(outputs)} written once, "
             f"{work.element_bytes} bytes each.")}"""
    return {work.element_bytes}.0 * (
        {every}
    )
'''
    written = "".join(f"\n        {'+ ' if i else ''}{size}.0 * math.prod({t.name}_shape(c))"
                      f"  # {t.dtype or 'float32'}"
                      for i, (size, t) in enumerate(zip(work.output_bytes, outputs,
                                                        strict=True)))
    return f'''

def moved(c: dict[str, Any]) -> float:
    """{_doc(f"Bytes: every input read once, {work.element_bytes} bytes each, and "
             f"{_each(outputs)} written once, at its dtype's width (8 bytes an int64).")}"""
    read = {work.element_bytes}.0 * (
        {every}
    )
    written = ({written}
    )
    return read + written
'''


def _moved_by_width(work: Work, read: list[Tensor], outputs: list[Tensor]) -> str:
    """The bytes of a problem whose inputs are not all of one width (int64 labels beside
    float32 logits): each tensor at its own."""
    widths = [*work.read_bytes(len(read)), *work.output_bytes]
    terms = "".join(f"\n        {'+ ' if i else ''}{size}.0 * math.prod({t.name}_shape(c))"
                    f"  # {t.dtype or 'float32'}"
                    for i, (size, t) in enumerate(zip(widths, [*read, *outputs], strict=True)))
    return f'''

def moved(c: dict[str, Any]) -> float:
    """{_doc(f"Bytes: every input read once and {_each(outputs)} written once, each at its "
             "dtype's width (8 bytes an int64).")}"""
    return ({terms}
    )
'''


def _doc(text: str) -> str:
    """``text`` wrapped as a function's docstring (its first line after the quotes)."""
    return textwrap.fill(text, WIDTH - 4, initial_indent="   ", subsequent_indent="    ",
                         break_on_hyphens=False).removeprefix("   ")


def _each(outputs: list[Tensor]) -> str:
    return "the output" if len(outputs) == 1 else "every output"


def _draw(target: TargetFile) -> str:
    if not target.draw:
        return ""
    entries = [f'"{dim}": rng.randint({low}, {high})' if dim in target.draw
               else f'"{dim}": {target.configs[0][dim]}'
               for dim, (low, high) in ((d, target.draw.get(d, (0, 0))) for d in target.dims)]
    every = "".join(f"\n        {entry}," for entry in entries)
    return f'''
def draw(rng: Any) -> list[dict[str, int]]:
    """Two more shapes for each evaluation's checks, each varied size drawn up to one past a
    tile."""
    return [{{{every}
    }} for _ in range(2)]
'''


def _cases(target: TargetFile) -> str:
    functions = []
    for case in target.cases:
        doc = textwrap.fill(case.doc, WIDTH - 4, initial_indent="    \"\"\"",
                            subsequent_indent="    ", break_on_hyphens=False)
        body = "\n".join(f"    {line}" if line else "" for line in case.body)
        functions.append(f"def {case.name}(inputs: dict[str, Any], generator: Any) -> None:\n"
                         f"{doc}\"\"\"\n{body}\n")
    return "\n\n".join(functions)


def _configs(configs: tuple[dict[str, int], ...], dims: tuple[str, ...]) -> str:
    if not configs:
        return "()"
    return "(\n" + "".join(f"        {{{_config(c, dims)}}},\n" for c in configs) + "    )"


def _config(config: dict[str, int], dims: tuple[str, ...]) -> str:
    return ", ".join(f'"{d}": {config[d]}' for d in dims)


def _target(target: TargetFile) -> str:
    parameters = []
    for tensor in target.tensors:
        kind = "Output" if tensor.source.startswith("output") else "Input"
        values = f", values={tensor.values}" if tensor.values else ""
        dtype = f", dtype={tensor.dtype!r}" if tensor.dtype else ""
        exact = "  # compared exactly" if tensor.dtype and kind == "Output" else ""
        parameters += textwrap.wrap(tensor.comment, WIDTH, initial_indent="        # ",
                                    subsequent_indent="        # ", break_on_hyphens=False)
        parameters.append(f'        {kind}("{tensor.name}", {tensor.name}_shape{dtype}'
                          f'{values}),{exact}')
    parameters += [f'        Int("{dim}"),' for dim in target.dims]
    work = ("    flops=flops,\n    bytes=moved,\n    score_by=" + repr(target.work.kind)
            if target.work.flops is not None else "    bytes=moved")
    seed = "None" if target.seed is None else repr(target.seed)
    draw = "    draw=draw,\n" if target.draw else ""
    if target.cases:
        names = "".join(f"        {c.name!r}: {c.name},\n" for c in target.cases)
        draw += f"    cases={{\n{names}    }},\n"
    jump = (f"    max_plausible_jump={CPU_SEED_JUMP},  # its THREADS knob: up to 4x of honest "
            "work\n" if target.kind == "cpu" and target.seed is not None else "")
    return f'''

target = Target(
    name={target.name!r},
    description={target.description!r},
    kind={target.kind!r},
    dtype={target.dtype!r},
    entry={target.entry!r},
    dims={tuple(target.dims)!r},
    parameters=(
{chr(10).join(parameters)}
    ),
    configs={_configs(target.configs, target.dims)},
    edge_configs={_configs(target.edges, target.dims)},
{draw}    reference=reference,
    honest=honest,
{work},
    baselines={{"torch-eager": honest}},
    seed={seed},
{jump})
'''

