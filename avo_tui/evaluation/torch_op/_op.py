"""The operator: ``torch.ops.<name>.fwd``, made with torch.library.custom_op and a fake
implementation (register_fake), so that torch.compile(fullgraph=True) traces through it and a
CUDA graph captures it. Every call is checked (_checks) inside the operator, where tracing
never looks: a call the kernel was not verified on runs the baseline instead, with a warning,
once per reason, that says why. The output is allocated by the operator."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ._baselines import BASELINES
from ._checks import DTYPES, Verdict, bind_dims, check, option_value

HERE = Path(__file__).resolve().parent
SPEC: dict[str, Any] = json.loads((HERE / "spec.json").read_text())
KERNEL_DIR = HERE / "kernel"
MAX_REASONS = 64  # reasons remembered as said; past it a new one is said again


class Kernel(Protocol):
    def launch(self, named: Mapping[str, torch.Tensor], dims: Mapping[str, int],
               values: Sequence[tuple[str, Any]]) -> None: ...


_kernels: dict[object, Kernel] = {}
_lock = threading.Lock()
_said: set[str] = set()


def kernel_for(device: torch.device) -> Kernel:
    """The kernel, built and loaded at its first use on ``device``."""
    key = (device.type, device.index)
    found = _kernels.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _kernels:
            if SPEC["device"] == "cuda":
                from ._device import DeviceKernel

                _kernels[key] = DeviceKernel(SPEC, KERNEL_DIR, device)
            else:
                from ._host import HostKernel

                _kernels[key] = HostKernel(SPEC, KERNEL_DIR)
        return _kernels[key]


def fallback(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object], reason: str
             ) -> torch.Tensor:
    """The baseline's answer, and the reason said once."""
    if reason not in _said:
        if len(_said) >= MAX_REASONS:
            _said.clear()
        _said.add(reason)
        warnings.warn(f"{SPEC['name']}.fwd runs {SPEC['baseline_call']} instead of the "
                      f"exported kernel: {reason}", RuntimeWarning, stacklevel=3)
    return BASELINES[SPEC["baseline"]](tensors, options)


def _split(args: Sequence[Any]) -> tuple[tuple[torch.Tensor, ...], dict[str, object]]:
    count = len(SPEC["inputs"])
    return tuple(args[:count]), {o["name"]: v for o, v in zip(SPEC["options"], args[count:],
                                                                strict=True)}


class Plan:
    """What a call's checks and its scalars come to, the same for every call whose tensors
    have the same shapes, strides, dtypes, devices and alignment and whose options are the
    same: worked out once (a GPU waits while the host checks)."""

    def __init__(self, tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]) -> None:
        self.verdict = check(SPEC, tensors, options)
        if not self.verdict:
            return
        dims = bind_dims(SPEC, tensors)
        resolved = {o["name"]: option_value(o, options[o["name"]], dims) for o in SPEC["options"]}
        dims |= {name: int(bool(value)) for name, value in resolved.items()
                 if isinstance(value, bool)}
        self.dims = dims
        output = SPEC["output"]
        self.out_shape = [dims[a] if isinstance(a, str) else a for a in output["axes"]]
        self.out_dtype = DTYPES[output["dtype"]]
        self.scalars = {p["name"]: dims[p["dim"]] if p["kind"] == "int" else resolved[p["option"]]
                        for p in SPEC["params"] if p["kind"] in ("int", "float")}


_plans: dict[tuple[object, ...], Plan] = {}


def plan_for(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]) -> Plan:
    alignment = SPEC["alignment"]
    try:
        key = (*((t.shape, t.stride(), t.dtype, t.device, t.data_ptr() % alignment)
                 for t in tensors), *options.items(),
               torch.cuda.current_device() if SPEC["device"] == "cuda" else None)
        found = _plans.get(key)
    except (AttributeError, TypeError):  # not tensors, or an option that is not hashable
        return Plan(tensors, options)
    if found is None:
        if len(_plans) >= MAX_REASONS:
            _plans.clear()
        found = _plans[key] = Plan(tensors, options)
    return found


def _run(*args: Any) -> torch.Tensor:
    tensors, options = _split(args)
    plan = plan_for(tensors, options)
    if not plan.verdict:
        return fallback(tensors, options, plan.verdict.reason)
    out = torch.empty(plan.out_shape, dtype=plan.out_dtype, device=tensors[0].device)
    named = {entry["name"]: t for entry, t in zip(SPEC["inputs"], tensors, strict=True)}
    named[SPEC["output"]["name"]] = out
    values: list[tuple[str, Any]] = [
        (p["kind"], named[p["name"]].data_ptr() if p["kind"] in ("input", "output")
         else plan.scalars[p["name"]]) for p in SPEC["params"]]
    kernel_for(tensors[0].device).launch(named, plan.dims, values)
    return out


def _fake(*args: Any) -> torch.Tensor:
    tensors, _ = _split(args)
    dims = bind_dims(SPEC, tensors)
    axes = SPEC["output"]["axes"]
    return tensors[0].new_empty([dims.get(a, 1) if isinstance(a, str) else a for a in axes])


def _schema() -> str:
    tensors = [f"Tensor {entry['name']}" for entry in SPEC["inputs"]]
    options = [f"{'bool' if o['type'] == 'bool' else 'float?'} {o['name']}"
               for o in SPEC["options"]]
    return f"({', '.join(tensors + options)}) -> Tensor"


OP = torch.library.custom_op(f"{SPEC['name']}::fwd", _run, mutates_args=(), schema=_schema())
OP.register_fake(_fake)


def call(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]) -> torch.Tensor:
    """The operator on ``tensors`` with ``options``; where autograd would need a backward
    pass (none is exported yet), the baseline, said once. Called eagerly on plain tensors it
    runs the operator's implementation without the dispatcher's round trip (the autograd
    layer and the compiler's guard around a custom op's kernel cost tens of microseconds a
    call, during which a GPU waits); traced, or on tensor subclasses (fake, functional ...),
    it goes through torch.ops."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return fallback(tensors, options, "an input requires grad, and the exported kernel "
                                          "has no backward pass")
    args = (*tensors, *(options[o["name"]] for o in SPEC["options"]))
    if not torch.compiler.is_compiling() and all(type(t) is torch.Tensor for t in tensors):
        return _run(*args)
    out: torch.Tensor = OP(*args)
    return out


def supported(tensors: tuple[torch.Tensor, ...], options: Mapping[str, object]) -> Verdict:
    """Whether the exported kernel runs on this call, and if not why: nothing runs."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return Verdict(False, "an input requires grad, and the exported kernel has no backward "
                              "pass")
    return check(SPEC, tensors, options)
