"""What ``avo export --torch`` writes: a small, self-contained Python package that registers
``torch.ops.<name>.fwd`` over one kernel, exactly as it was scored.

The package holds the kernel's sources, the runtime (evaluation/torch_op, copied unchanged,
with the evaluator's expressions.py as its ``_expressions``) and ``spec.json``: the build
(the evaluator's compiler arguments and defines), the launch (for CUDA: the declared geometry,
the kernel's #defines it reads, each tensor map's box and modes), the entry point's parameters
and where each comes from, and the envelope the kernel was verified in (dtypes, devices, each
dimension's range over the target's configurations, the relations between dimensions the
configurations always had). avo-tui is not needed to build, load or call it.

The spec is read off the target's problem, not written per target: each tensor's axes are
named by evaluating its shape on a probe configuration whose dimensions all differ, and
checked on every configuration of the target.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..evaluation import torch_op
from ..evaluation.declarations import contract
from ..evaluation.declarations import expressions as evaluator_expressions
from ..evaluation.targets.problem import Config
from ..evaluation.targets.spec import TargetSpec, draw_edge_configs
from ..store import StoreError

SPEC_FORMAT = 1
MAX_ELEMENTS = 2**31 - 1  # a tensor's elements: kernels index with 32-bit ints
ELEMENT_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "int32": 4, "int64": 8,
                 "uint8": 1, "bool": 1}
CUDA_ALIGNMENT = 16  # bytes: TMA's and vector loads' need
# The fallback each problem has, and how its warning names it.
BASELINES = {"attention_fwd": ("sdpa", "torch.nn.functional.scaled_dot_product_attention"),
             "rmsnorm": ("rmsnorm_residual", "torch's RMSNorm of x + residual"),
             "rmsnorm-cpu": ("rmsnorm_residual", "torch's RMSNorm of x + residual")}
NAME = re.compile(r"[a-z_][a-z0-9_]*")


class ExportRefused(StoreError):
    """The kernel or its target cannot be exported as an operator: one line saying why."""


def default_name(target: TargetSpec) -> str:
    return "avo_" + re.sub(r"[^a-z0-9]+", "_", target.name.lower()).strip("_")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name.startswith("_"):
        raise ExportRefused(f"--name {name!r}: a package name is lowercase letters, digits and "
                            "_, starting with a letter")
    return name


DRAWS = 64  # evaluations' draws sampled for the dimensions' verified ranges


def _verified(target: TargetSpec) -> tuple[Config, ...]:
    """The configurations the kernel was checked on: the target's, and those its evaluations
    draw (sampled from DRAWS seeds: the ranges then reach the longest drawn lengths)."""
    drawn = (c for seed in range(DRAWS)
             for c, _ in draw_edge_configs(target, random.Random(seed)))
    return target.configs + target.edge_configs + target.quick_configs + tuple(drawn)


def _probe(target: TargetSpec) -> tuple[Config, dict[str, int]]:
    """A configuration whose integer dimensions all differ (descending powers of two, so that
    a dimension that must divide another still does), and those dimensions."""
    base = target.configs[0]
    ints = [name for name, value in base.dims if not isinstance(value, bool)]
    for values in ([2 ** (len(ints) - i) for i in range(len(ints))],
                   [2 ** (i + 1) for i in range(len(ints))],
                   [(2, 3, 5, 7, 11, 13, 17, 19, 23, 29)[i % 10] + i // 10 for i in
                    range(len(ints))]):
        try:
            probe = base.with_dims(**dict(zip(ints, values, strict=True)))
        except ValueError:
            continue
        return probe, dict(zip(ints, values, strict=True))
    raise ExportRefused(f"target {target.name}: no configuration with distinct dimensions "
                        "to read the tensors' shapes off")


def _params(target: TargetSpec) -> tuple[list[dict[str, Any]], dict[str, Any], list[Any],
                                         list[dict[str, Any]], dict[str, str]]:
    """(inputs, output, options, parameters, launch variables) read off the problem."""
    problem = target.problem
    probe, values = _probe(target)
    by_value = {value: name for name, value in values.items()}
    tensors: dict[str, dict[str, Any]] = {}
    for param in problem.parameters:
        if param.is_tensor:
            axes = [by_value.get(size, size) for size in param.shape_on(probe)]
            tensors[param.name] = {"name": param.name, "dtype": param.dtype_on(probe),
                                   "axes": axes}
    for config in _verified(target):
        for param in problem.parameters:
            if not param.is_tensor:
                continue
            dims = dict(config.dims)
            read = [dims[a] if isinstance(a, str) else a for a in tensors[param.name]["axes"]]
            if tuple(read) != tuple(param.shape_on(config)):
                raise ExportRefused(f"target {target.name}: {param.name}'s shape is not its "
                                    "dimensions on every configuration; it cannot be checked")
    on_axes = {a for t in tensors.values() for a in t["axes"] if isinstance(a, str)}
    switches = [name for name, value in probe.dims if isinstance(value, bool)]
    options: list[dict[str, Any]] = [{"name": s, "type": "bool", "default": False}
                                     for s in switches]
    params: list[dict[str, Any]] = []
    scalars = [problem.scalars(c) for c in _verified(target)]
    for param in problem.parameters:
        if param.is_tensor:
            params.append({"name": param.name, "kind": param.kind})
        elif param.kind == "int":
            dim = _int_source(param.name, problem.scalars(probe)[param.name], values, switches)
            if dim is None or (dim not in on_axes and dim not in switches):
                raise ExportRefused(f"target {target.name}: the kernel's int {param.name} is "
                                    "not one of the dimensions the tensors carry")
            params.append({"name": param.name, "kind": "int", "dim": dim})
        else:
            options.append(_float_option(target, param.name, scalars))
            params.append({"name": param.name, "kind": "float", "option": param.name})
    outputs = [p.name for p in problem.parameters if p.kind == "output"]
    inputs = [tensors[p.name] for p in problem.parameters if p.kind == "input"]
    variables = {variable: by_value[value] for variable, value in
                 problem.launch_variables(probe).items() if value in by_value}
    variables |= {variable: name for variable, value in problem.launch_variables(probe).items()
                  for name in switches if variable.lower() == name}
    return inputs, tensors[outputs[0]], options, params, variables


def _int_source(name: str, value: object, values: Mapping[str, int], switches: list[str]
                ) -> str | None:
    if name in values or name in switches:
        return name
    return next((dim for dim, v in values.items() if v == value), None)


def _float_option(target: TargetSpec, name: str, scalars: list[dict[str, int | float]]
                  ) -> dict[str, Any]:
    for dim in (n for n, v in target.configs[0].dims if not isinstance(v, bool)):
        if all(math.isclose(float(s[name]), 1 / math.sqrt(float(c[dim])), rel_tol=1e-9)
               for s, c in zip(scalars, _verified(target), strict=True)):
            return {"name": name, "type": "float", "default": None, "rule": f"rsqrt:{dim}"}
    seen = {float(s[name]) for s in scalars}
    if len(seen) == 1:
        value = seen.pop()
        return {"name": name, "type": "float", "default": value, "verified": [value]}
    raise ExportRefused(f"target {target.name}: the float {name} varies with the configuration "
                        "in a way the export cannot state")


def _envelope(target: TargetSpec) -> tuple[dict[str, list[int]], list[list[str]]]:
    """Each integer dimension's verified range, and the relations every configuration had:
    a dimension equal to another ([a, "==", b]), or one the problem requires to divide
    another ([a, "%", b]: b divides a)."""
    configs = _verified(target)
    probe, values = _probe(target)
    ints = list(values)
    ranges = {n: [min(int(c[n]) for c in configs), max(int(c[n]) for c in configs)]
              for n in ints}
    relations: list[list[str]] = []
    for a in ints:
        for b in ints:
            if a == b:
                continue
            if all(c[a] == c[b] for c in configs):
                if ints.index(a) < ints.index(b):
                    relations.append([a, "==", b])
            elif (all(int(c[a]) % int(c[b]) == 0 for c in configs)
                  and _required(probe, a, b)):
                relations.append([a, "%", b])
    return ranges, relations


def _required(probe: Config, a: str, b: str) -> bool:
    """Whether the problem requires ``b`` to divide ``a``: it refuses the probe with ``b`` set
    to a value that does not divide ``a``, and takes it once ``a`` is made a multiple of it
    (so the refusal was this pair's, not another relation's)."""
    multiple = int(probe[a])
    value = next(v for v in (3, 5, 7, 11) if multiple % v)
    try:
        probe.with_dims(**{b: value})
    except ValueError:
        try:
            probe.with_dims(**{b: value, a: value * multiple})
        except ValueError:
            return False
        return True
    return False


def _declarations(target: TargetSpec, sources: Mapping[str, str]) -> contract.Declarations:
    launch: dict[str, str] = {}
    defines: dict[str, str] = {}
    for name, text in sources.items():
        try:
            declared = contract.parse(text)
            declared.check_requirements(target.defines)
        except contract.ContractError as error:
            raise ExportRefused(f"{name}: {error}") from None
        launch |= declared.launch
        defines |= declared.defines
    return contract.Declarations((), (), launch, defines)


def _build(target: TargetSpec, sources: Mapping[str, str]) -> dict[str, Any]:
    """How the evaluator builds the kernel, written down."""
    options = tuple(f"-D{k}={v}" for k, v in target.defines.items())
    if target.toolchain == "c":
        from ..evaluation.toolchains.c import build_arguments

        units = [name for name in sources if name.endswith(".c")]
        return {"toolchain": "c", "command": build_arguments(options, units)}
    from ..evaluation.toolchains.cuda import STD, defines_of

    units = sorted(name for name in sources if name.endswith(".cu"))
    if len(units) != 1:
        raise ExportRefused(f"a CUDA kernel has one .cu file, not {units}")
    defines = [list(d) if isinstance(d, tuple) else [d, ""] for d in defines_of(options)]
    return {"toolchain": "cuda", "unit": units[0], "std": STD, "defines": defines}


def _launch(target: TargetSpec, declared: contract.Declarations) -> dict[str, Any]:
    from ..evaluation.build import tensormap_boxes

    if "grid" not in declared.launch or "block" not in declared.launch:
        raise ExportRefused("a CUDA kernel declares // avo:launch grid=(...) block=(...)")
    try:
        boxes = tensormap_boxes(declared, target, target.grid()[0])
        maps = [{"name": m.name, "tensor": m.tensor, "box": list(boxes[m.name]),
                 "swizzle": m.swizzle, "l2": m.l2, "oob": m.oob} for m in declared.tensormaps]
    except contract.ContractError as error:
        raise ExportRefused(str(error)) from None
    return {"launch": {k: v for k, v in declared.launch.items()
                       if not k.startswith(contract.TENSORMAP_KEY)},
            "declared_defines": declared.defines, "tensormaps": maps,
            "variables": {k: v for k, v in target.defines.items()}}


def build_spec(target: TargetSpec, sources: Mapping[str, str], name: str,
               provenance: Mapping[str, Any]) -> dict[str, Any]:
    """spec.json of the package exporting ``sources`` on ``target`` as ``name``."""
    problem = target.problem.name
    if problem not in BASELINES:
        raise ExportRefused(f"target {target.name} ({problem}): the export knows the fallback "
                            f"of attention and rmsnorm targets only")
    baseline, call = BASELINES[problem]
    inputs, output, options, params, variables = _params(target)
    ranges, relations = _envelope(target)
    declared = _declarations(target, sources)
    dtype = output["dtype"]
    spec: dict[str, Any] = {
        "format": SPEC_FORMAT, "name": name, "target": target.name, **provenance,
        "device": target.device, "entry": target.entry, "unit": target.unit,
        "baseline": baseline, "baseline_call": call,
        "inputs": inputs, "output": output, "options": options, "params": params,
        "dims": ranges, "relations": relations, "max_elements": MAX_ELEMENTS,
        "alignment": CUDA_ALIGNMENT if target.device == "cuda" else ELEMENT_BYTES[dtype],
        "sources": sorted(sources), "build": _build(target, sources),
        "launch_variables": variables,
    }
    if target.device == "cuda":
        spec |= _launch(target, declared)
    return spec


def _module(spec: Mapping[str, Any], description: str) -> str:
    """The package's __init__.py: fwd and supported with the target's own signature."""
    tensors = [entry["name"] for entry in spec["inputs"]]
    options = [f"{o['name']}: {'bool' if o['type'] == 'bool' else 'float | None'} = "
               f"{o['default']!r}" for o in spec["options"]]
    signature = ", ".join([f"{t}: torch.Tensor" for t in tensors] + options)
    keywords = ", ".join(f"{o['name']!r}: {o['name']}" for o in spec["options"])
    packed = f"({', '.join(tensors)},), {{{keywords}}}"
    name = spec["name"]
    return f'''"""torch.ops.{name}.fwd: {description}.

Exported by avo-tui (avo export --torch) from {spec.get("session") or "the target's seed"}
({spec.get("version") or "seed"}) of target {spec["target"]}. import {name} registers the
operator; {name}.fwd calls it, {name}.supported says whether the kernel runs on a call or why
it falls back to {spec["baseline_call"]}. spec.json says how it is built and launched.
"""

from __future__ import annotations

import torch

from ._checks import Verdict
from ._op import SPEC, call
from ._op import supported as _supported

__all__ = ["SPEC", "Verdict", "fwd", "supported"]


def fwd({signature}) -> torch.Tensor:
    """The exported kernel where it was verified, else {spec["baseline_call"]} (a warning
    says why, once per reason)."""
    return call({packed})


def supported({signature}) -> Verdict:
    """Whether fwd runs the exported kernel on these arguments (truthy), or why not
    (.reason); nothing runs."""
    return _supported({packed})
'''


PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
description = "{description}"
requires-python = ">=3.10"
dependencies = [{dependencies}]

[tool.setuptools]
packages = ["{name}"]

[tool.setuptools.package-data]
{name} = ["spec.json", "kernel/*"]
"""


def write_package(out: Path, spec: Mapping[str, Any], sources: Mapping[str, str],
                  description: str, force: bool) -> list[Path]:
    """The package, written under ``out``; the files written."""
    name = spec["name"]
    package = out / name
    if out.exists() and not out.is_dir():
        raise ExportRefused(f"--torch {out} is a file; the export writes a folder: name one")
    if (package.exists() or (out / "pyproject.toml").exists()) and not force:
        raise ExportRefused(f"{out} already holds an export; use --force or another folder")
    if package.exists():
        shutil.rmtree(package)
    (package / "kernel").mkdir(parents=True)
    runtime = Path(torch_op.__file__).parent
    for module in torch_op.RUNTIME_MODULES:
        shutil.copyfile(runtime / f"{module}.py", package / f"{module}.py")
    shutil.copyfile(evaluator_expressions.__file__, package / "_expressions.py")
    for file, text in sources.items():
        (package / "kernel" / file).write_text(text)
    (package / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    (package / "__init__.py").write_text(_module(spec, description))
    dependencies = ['"torch>=2.4"'] + (['"cuda-core>=1.0"'] if spec["device"] == "cuda" else [])
    version = re.sub(r"[^0-9]", "", str(spec.get("version") or "0")) or "0"
    (out / "pyproject.toml").write_text(PYPROJECT.format(
        dist=name.replace("_", "-"), name=name, version=f"0.{version}",
        description=description.replace('"', "'"), dependencies=", ".join(dependencies)))
    (out / "README.md").write_text(
        f"# {name}\n\n{description}.\n\n    pip install .\n\n    import {name}\n"
        f"    out = {name}.fwd({', '.join(e['name'] for e in spec['inputs'])})"
        f"   # or torch.ops.{name}.fwd\n\nCheck it where it runs: `avo export --check .`\n")
    return sorted(p for p in out.rglob("*") if p.is_file())
