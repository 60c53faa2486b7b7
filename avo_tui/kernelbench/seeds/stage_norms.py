"""The stage seed's lowering of LayerNorm, GroupNorm and BatchNorm (InstanceNorm is a
BatchNorm of the batch's statistics over a view): a mean, a variance about it (two passes,
biased, in double) and a map that normalises, scales and shifts. A BatchNorm in training mode
(or with no running statistics) takes the batch's own statistics, as torch does; one in eval
mode its running ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..problem.aten_trace import Call
from ..problem.graph import Unsupported
from .stage_ir import FLOAT64, Def, Index, Reduction, Scope, divided
from .stage_lowering import Lowering, handles
from .stage_ops import as_float, number
from .stage_reduce import ONE, double_product, kept_shape, mean_and_variance, zeroed


def _normalized(low: Lowering, call: Call, x: Def, mean: Def, variance: Def, eps: float,
                at: Callable[[Index], Index], weight: Def | None, bias: Def | None,
                along: Callable[[Index], Index], what: str) -> Def:
    """(x - mean) / sqrt(variance + eps) * weight + bias, the statistics read at ``at`` of
    x's index and the weight and bias at ``along`` of it."""
    epsilon = repr(float(eps))

    def element(scope: Scope, index: Index) -> str:
        stat = at(index)
        value = as_float(scope.read(x, index), x.dtype)
        scale = scope.let(f"1.0 / sqrt({scope.read(variance, stat)} + {epsilon})", "double")
        out = f"({value} - {scope.read(mean, stat)}) * {scale}"
        if weight is not None:
            out = f"{out} * {scope.read(weight, along(index))}"
        if bias is not None:
            out = f"{out} + {scope.read(bias, along(index))}"
        return scope.let(f"(float)({out})")

    affine = [d for d in (weight, bias) if d is not None]
    return Def(what, low.out_shape(call), element=element,
               operands=[x, mean, variance, *affine],
               once=[True, False, False, *(False for _ in affine)])


def _inverse_std(low: Lowering, call: Call, position: int, variance: Def, eps: float,
                 at: Callable[[Index], Index]) -> Def:
    """A norm's saved 1 / sqrt(variance + eps), an output of its call."""
    epsilon = repr(float(eps))

    def element(scope: Scope, index: Index) -> str:
        return scope.let(f"(float)(1.0 / sqrt({scope.read(variance, at(index))} + {epsilon}))")
    return Def("1 / std", low.out_shape(call, position), element=element,
               operands=[variance], once=[True])


def _cast(low: Lowering, call: Call, position: int, source: Def,
          at: Callable[[Index], Index]) -> Def:
    """A statistic, an output of its call, as float32."""
    def element(scope: Scope, index: Index) -> str:
        return scope.let(f"(float){scope.read(source, at(index))}")
    return Def(source.what, low.out_shape(call, position), element=element,
               operands=[source], once=[True])


def unchanged(index: Index) -> Index:
    return index


def _optional(low: Lowering, value: Any) -> Def | None:
    return None if value is None else low.tensor(value)


@handles("native_layer_norm")
def _layer_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["input"])
    rank, width = len(x.shape), len(args["normalized_shape"])
    dims = tuple(range(rank - width, rank))
    mean, variance = mean_and_variance(low, x, dims, kept_shape(x.shape, dims), "layer norm")
    out = _normalized(low, call, x, mean, variance, number(args["eps"]),
                      lambda index: zeroed(index, dims), _optional(low, args["weight"]),
                      _optional(low, args["bias"]), lambda index: index[rank - width:],
                      "layer norm")
    return [out, _cast(low, call, 1, mean, unchanged),
            _inverse_std(low, call, 2, variance, number(args["eps"]), unchanged)]


@handles("native_group_norm")
def _group_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["input"])
    groups = low.constant(args["group"], "number of groups")
    if len(x.shape) < 2:
        raise Unsupported("its forward group-normalises a tensor of fewer than 2 dims")
    per_group = divided(x.shape[1], groups)
    size = low.c(per_group)
    shape = low.out_shape(call, 1)  # [N, groups]
    # the statistics' domain: a group's channels, then every spatial position
    domain = (per_group, *x.shape[2:])
    lines = double_product([low.c(s) for s in domain])

    def coordinates(index: Index, loop: Index) -> Index:
        return (index[0], f"{index[1]} * {size} + {loop[0]}", *loop[1:])

    def group_of(index: Index) -> Index:
        return (index[0], f"{index[1]} / {size}")

    def fold(term: Callable[[Scope, Index, Index], str], what: str, reads: list[Def]) -> Def:
        return Def(what, shape, dtype=FLOAT64, operands=[x, *reads],
                   once=[True, *(False for _ in reads)], reduction=Reduction(
                       "sum", domain, term, finish=lambda scope, index, acc: f"{acc} / {lines}"))

    mean = fold(lambda scope, index, loop: as_float(scope.read(x, coordinates(index, loop)),
                                                     x.dtype), "group norm: the mean", [])

    def square(scope: Scope, index: Index, loop: Index) -> str:
        value = as_float(scope.read(x, coordinates(index, loop)), x.dtype)
        centred = scope.let(f"{value} - {scope.read(mean, index)}", "double")
        return f"{centred} * {centred}"

    variance = fold(square, "group norm: the variance", [mean])
    eps = number(args["eps"])
    out = _normalized(low, call, x, mean, variance, eps, group_of,
                      _optional(low, args["weight"]), _optional(low, args["bias"]),
                      lambda index: (index[1],), "group norm")
    return [out, _cast(low, call, 1, mean, unchanged),
            _inverse_std(low, call, 2, variance, eps, unchanged)]


@handles("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
         "_native_batch_norm_legit_no_training")
def _batch_norm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["input"])
    if len(x.shape) < 2:
        raise Unsupported("its forward batch-normalises a tensor of fewer than 2 dims")
    training = bool(args.get("training", False)) or args.get("running_mean") is None
    eps = number(args["eps"])
    dims = tuple(d for d in range(len(x.shape)) if d != 1)
    rest = tuple("0" for _ in x.shape[2:])

    def channel(index: Index) -> Index:
        return (index[1],)

    def stat(index: Index) -> Index:  # a batch statistic's, kept with its dims
        return zeroed(index, dims) if training else channel(index)

    def saved(index: Index) -> Index:  # a saved statistic [C]'s in the kept one
        return ("0", index[0], *rest)

    if training:
        stats = (ONE, x.shape[1], *(ONE for _ in x.shape[2:]))
        mean, variance = mean_and_variance(low, x, dims, stats, "batch norm (batch statistics)")
    else:
        mean, variance = low.tensor(args["running_mean"]), low.tensor(args["running_var"])
    out = _normalized(low, call, x, mean, variance, eps, stat, _optional(low, args["weight"]),
                      _optional(low, args["bias"]), channel, "batch norm")
    made: list[Def | None] = [out]
    if training:
        made += [_cast(low, call, 1, mean, saved), _inverse_std(low, call, 2, variance, eps,
                                                                saved)]
    for out_id in call.outs[len(made):]:  # the running statistics' update; eval's saved ones
        low.unavailable[out_id] = "its forward reads a BatchNorm's saved or updated statistics"
    return made
