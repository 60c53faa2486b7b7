"""Whether a call is one the kernel was verified on: devices, dtypes, shapes, strides,
contiguity, alignment and options, read off the tensors alone (nothing runs). A call that is
not gets a reason, said once, and goes to the baseline (_op)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
          "int8": torch.int8, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
          "bool": torch.bool}
RELATIVE_SLACK = 1e-6  # a float option equals a verified value within this


@dataclass(frozen=True)
class Verdict:
    """``supported(...)``'s answer: truthy when the kernel runs, else the reason it would not."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return "Verdict(ok)" if self.ok else f"Verdict(fallback: {self.reason})"


SUPPORTED = Verdict(True)


def bind_dims(spec: Mapping[str, Any], tensors: Sequence[torch.Tensor]) -> dict[str, int]:
    """Each dimension named on an input's axes, from the first input that has it."""
    dims: dict[str, int] = {}
    for tensor, entry in zip(tensors, spec["inputs"], strict=True):
        for size, axis in zip(tensor.shape, entry["axes"], strict=False):
            if isinstance(axis, str):
                dims.setdefault(axis, size)
    return dims


def option_value(option: Mapping[str, Any], value: object, dims: Mapping[str, int]) -> object:
    """An option as the kernel takes it: a bool as given, a float's default by its rule."""
    if value is None and option.get("rule", "").startswith("rsqrt:"):
        return 1.0 / math.sqrt(dims[option["rule"].removeprefix("rsqrt:")])
    return value if value is not None else option["default"]


def check(spec: Mapping[str, Any], tensors: Sequence[torch.Tensor],
          options: Mapping[str, object]) -> Verdict:
    """Whether the kernel runs on this call, or why not."""
    inputs = spec["inputs"]
    if len(tensors) != len(inputs):
        return Verdict(False, f"it takes {len(inputs)} tensors, not {len(tensors)}")
    device = spec["device"]
    for tensor, entry in zip(tensors, inputs, strict=True):
        name = entry["name"]
        if not isinstance(tensor, torch.Tensor):
            return Verdict(False, f"{name} is not a tensor")
        if tensor.device.type != device:
            return Verdict(False, f"{name} is on {tensor.device}; the kernel runs on {device}")
        if tensor.dtype != DTYPES[entry["dtype"]]:
            return Verdict(False, f"{name} is {str(tensor.dtype).removeprefix('torch.')}; the "
                                  f"kernel was verified on {entry['dtype']}")
        if tensor.dim() != len(entry["axes"]):
            return Verdict(False, f"{name} has {tensor.dim()} dimensions; the kernel takes "
                                  f"{len(entry['axes'])} ({', '.join(map(str, entry['axes']))})")
        if not tensor.is_contiguous():
            return Verdict(False, f"{name} is not contiguous (strides {tensor.stride()}); the "
                                  "kernel reads contiguous memory: pass .contiguous()")
        if tensor.data_ptr() % spec["alignment"]:
            return Verdict(False, f"{name}'s memory is not {spec['alignment']}-byte aligned")
        if tensor.numel() > spec["max_elements"]:
            return Verdict(False, f"{name} has {tensor.numel()} elements, past the "
                                  f"{spec['max_elements']} the kernel indexes")
    if tensors[0].device.type == "cuda":
        if any(t.device != tensors[0].device for t in tensors):
            return Verdict(False, "the tensors are on different GPUs")
        index, current = tensors[0].device.index, torch.cuda.current_device()
        if index != current:  # the launch goes on the current device's stream and context
            return Verdict(False, f"the tensors are on cuda:{index}, torch's current device is "
                                  f"cuda:{current}: call it under torch.cuda.device({index})")
    dims = bind_dims(spec, tensors)
    for tensor, entry in zip(tensors, inputs, strict=True):
        for index, (size, axis) in enumerate(zip(tensor.shape, entry["axes"], strict=True)):
            want = dims[axis] if isinstance(axis, str) else axis
            if size != want:
                return Verdict(False, f"{entry['name']}'s dimension {index} is {size}, not "
                                      f"{want} ({axis}, as the other tensors have it)")
    for option in spec["options"]:
        verdict = _check_option(option, options.get(option["name"]), dims)
        if not verdict:
            return verdict
        if option["type"] == "bool":
            dims[option["name"]] = int(bool(options.get(option["name"], option["default"])))
    for name, (low, high) in spec["dims"].items():
        if name in dims and not low <= dims[name] <= high:
            verified = f"{name} {low} only" if low == high else f"{name} {low} to {high}"
            return Verdict(False, f"{name} is {dims[name]}; the kernel was verified on "
                                  f"{verified}")
    for a, relation, b in spec["relations"]:
        if not (dims[a] == dims[b] if relation == "==" else dims[a] % dims[b] == 0):
            said = f"{a} == {b}" if relation == "==" else f"{b} divides {a}"
            return Verdict(False, f"the kernel was verified only where {said} ({_shown(dims)})")
    return SUPPORTED


def _check_option(option: Mapping[str, Any], value: object, dims: Mapping[str, int]) -> Verdict:
    name = option["name"]
    if option["type"] == "bool":
        if value is not None and not isinstance(value, bool):
            return Verdict(False, f"{name} must be True or False")
        return SUPPORTED
    given = option_value(option, value, dims)
    verified = option_value(option, None, dims) if "rule" in option else None
    allowed = [float(str(verified))] if verified is not None else [
        float(a) for a in option.get("verified", [])]
    if not isinstance(given, (int, float)) or not any(
            abs(float(given) - a) <= RELATIVE_SLACK * abs(a) for a in allowed):
        shown = ", ".join(f"{a:.6g}" for a in allowed)
        return Verdict(False, f"{name}={given!r}; the kernel was verified with {name} {shown} "
                              "only")
    return SUPPORTED


def _shown(dims: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {value}" for name, value in dims.items())
