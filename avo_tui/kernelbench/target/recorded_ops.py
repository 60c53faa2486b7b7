"""The operations of a forward whose plain kernels break on inputs or shapes a friendly draw
never makes, recorded as it runs (on real tensors, or on the meta device for their shapes
alone), each with its input laid out as groups: one per row a kernel reduces.

The families, each read off the aten operation itself, so that a norm the forward writes by
hand (a square, a mean, a square root) is still a reduction:

- ``exp``: a softmax, log-softmax, log-sum-exp or attention, over its rows;
- ``ties``: an argmax, argmin, or max or min with indices;
- ``mean``: a LayerNorm, GroupNorm, BatchNorm on batch statistics, a variance or a standard
  deviation;
- ``row``: any other reduction or scan (a sum, a mean, a max, a product, a vector norm, a
  cumulative sum or product);
- ``magnitude``: an elementwise exponential or a ratio of them (exp, sigmoid, tanh,
  softplus, ELU, SiLU, Mish, GELU), as one group: a kernel written as a ratio of
  exponentials overflows on large magnitudes;
- ``pool``: a max pooling or a padding, as one group: a kernel that pads with 0 where the
  operation pads with -inf (or not at all) is wrong only where the values are negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# Whole-row families: each group is a row some kernel reduces or scans.
ROW_FAMILIES = ("exp", "ties", "mean", "row")
EXPONENTIALS = frozenset({"exp", "exp2", "expm1", "sigmoid", "tanh", "softplus",
                          "log_sigmoid_forward", "elu", "silu", "mish", "gelu", "celu", "selu"})
REDUCTIONS = frozenset({"sum", "mean", "amax", "amin", "prod", "nansum", "linalg_vector_norm",
                        "norm", "cumsum", "cumprod", "logcumsumexp", "cummax", "cummin",
                        "any", "all"})
NORMS = frozenset({"linalg_vector_norm", "norm"})
POOLS = ("max_pool", "adaptive_max_pool", "fractional_max_pool")
PADS = frozenset({"constant_pad_nd", "reflection_pad1d", "reflection_pad2d",
                  "reflection_pad3d", "replication_pad1d", "replication_pad2d",
                  "replication_pad3d"})


@dataclass(frozen=True)
class Seen:
    """One recorded operation: its family, its name, and its input laid out as groups (one per
    row a kernel reduces: [groups, elements])."""

    family: str
    op: str
    groups: torch.Tensor
    minimum: bool = False  # an argmin or a min: the extreme is the least value


class Recorder(TorchDispatchMode):
    """Records the operations of the families above, with their inputs as groups."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.seen: list[Seen] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: Mapping[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        try:
            seen = _seen(func.overloadpacket.__name__, str(func), list(args), dict(kwargs))
        except (IndexError, RuntimeError, TypeError, ValueError):
            seen = None
        if seen is not None:
            self.seen.append(seen)
        return out


def _seen(name: str, full: str, args: list[Any], kwargs: dict[str, Any]) -> Seen | None:
    x = args[0] if args else None
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.numel() == 0:
        return None
    x = x.detach()
    if name in ("_softmax", "_log_softmax", "_safe_softmax"):
        return Seen("exp", full, _along(x, [int(args[1])]))
    if name == "logsumexp":
        return Seen("exp", full, _along(x, list(args[1])))
    if name.startswith("_scaled_dot_product") and len(args) >= 2:
        q, k = x, args[1].detach()
        scale = kwargs.get("scale") or 1 / math.sqrt(q.shape[-1])
        if q.shape[-3:-2] != k.shape[-3:-2]:  # grouped heads: each query head its key head
            k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
        return Seen("exp", full, _along(q @ k.transpose(-1, -2) * scale, [-1]))
    if name in ("argmax", "argmin"):
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        groups = x.reshape(1, -1) if dim is None else _along(x, [int(dim)])
        return Seen("ties", full, groups, minimum=name == "argmin")
    if name in ("max", "min") and full.endswith(".dim"):
        return Seen("ties", full, _along(x, [int(args[1])]), minimum=name == "min")
    if name == "native_layer_norm":
        return Seen("mean", full, _along(x, list(range(x.dim() - len(args[1]), x.dim()))))
    if name == "native_group_norm":
        return Seen("mean", full, x.reshape(int(args[3]) * int(args[6]), -1))
    if name in ("native_batch_norm", "_native_batch_norm_legit", "_batch_norm_with_update"):
        training = name == "_batch_norm_with_update" or bool(args[5])
        if not training:  # running statistics: nothing is reduced
            return None
        return Seen("mean", full, _along(x, [d for d in range(x.dim()) if d != 1]))
    if name in ("var", "std", "var_mean", "std_mean"):
        return Seen("mean", full, _reduced(x, args[1:], kwargs))
    if name in REDUCTIONS:  # a vector norm names its order before its dimensions
        return Seen("row", full, _reduced(x, args[2 if name in NORMS else 1:], kwargs))
    if name in EXPONENTIALS:
        return Seen("magnitude", full, x.reshape(1, -1))
    if name.startswith(POOLS) or name in PADS:
        return Seen("pool", full, x.reshape(1, -1))
    return None


def _reduced(x: torch.Tensor, after: list[Any], kwargs: dict[str, Any]) -> torch.Tensor:
    """``x`` as groups along the dimensions a reduction or a scan names (``after`` its
    arguments from its dimensions on, else ``dim``); all of them where none is named."""
    dims = after[0] if after else kwargs.get("dim")
    if isinstance(dims, bool) or dims is None or (isinstance(dims, list | tuple) and not dims):
        return x.reshape(1, -1)
    return _along(x, [int(dims)] if isinstance(dims, int) else [int(d) for d in dims])


def _along(x: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """``x`` as [groups, elements], the elements of each group along ``dims``."""
    dims = sorted({d % x.dim() for d in dims}) if x.dim() else []
    rest = [d for d in range(x.dim()) if d not in dims]
    moved = x.permute(*rest, *dims) if x.dim() else x.reshape(1)
    size = math.prod(x.shape[d] for d in dims) if dims else 1
    return moved.reshape(-1, size)
