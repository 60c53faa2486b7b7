"""The stage seed's lowering of the calls whose element is a fold over a window or a depth:
matrix products (mm, addmm, bmm, baddbmm, mv, dot), convolutions (1d, 2d and 3d, strided,
padded, dilated, grouped, transposed) and pooling (max and average, with their padding,
dilation, ceil_mode and count_include_pad; adaptive average and max pooling).

Each is a Reduction over the window's loop variables, in double, under the condition that the
window's position lies inside the input (padding reads nothing); a transposed convolution's
output element takes the input positions its stride maps onto it. A max keeps a NaN, as
torch's pooling does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..problem.aten_trace import Call
from ..problem.elementwise import literal
from ..problem.graph import Unsupported
from ..problem.size_expr import SizeExpr
from .stage_ir import Def, Index, Reduction, Scope, add, divided, mul
from .stage_lowering import Lowering, handles
from .stage_ops import as_float, broadcast, number


def _float_only(*tensors: Def) -> None:
    if any(t.dtype not in ("float32", "float64") for t in tensors):
        raise Unsupported("its forward multiplies integer tensors")


def product(low: Lowering, call: Call, a: Def, b: Def, a_at: Any, b_at: Any,
            depth: SizeExpr, what: str, bias: Def | None = None, beta: float = 1.0,
            alpha: float = 1.0) -> Def:
    """sum over k of a[a_at(index, k)] * b[b_at(index, k)], then beta * bias + alpha * it."""
    _float_only(a, b)
    shape = low.out_shape(call)
    a = _in_order(a)

    def term(scope: Scope, index: Index, loop: Index) -> str:
        return f"(double){scope.read(a, a_at(index, loop[0]))} * " \
               f"{scope.read(b, b_at(index, loop[0]))}"

    def finish(scope: Scope, index: Index, acc: str) -> str:
        value = acc if alpha == 1 else f"{literal(alpha)} * {acc}"
        if bias is not None and beta != 0:
            added = scope.read(bias, broadcast(index, bias.shape, shape))
            value = f"{value} + {added}" if beta == 1 else f"{value} + {literal(beta)} * {added}"
        return value

    # b read through a transpose (a Linear's weight, k^T) runs along the depth: the dot form
    form = "dot" if b.moves_only and b.alias is None else "blocked"
    operands = [a, b, *([bias] if bias is not None else [])]
    return Def(what, shape, reduction=Reduction("sum", (depth,), term, finish=finish,
                                                products=True, form=form),
               operands=operands, once=[False, False, *([False] if bias is not None else [])])


def _in_order(a: Def) -> Def:
    """``a`` copied into a buffer of its own where it is read through a transpose (A^T of a
    product): read in place, each step of the depth would fetch another cache line."""
    if not a.moves_only or a.alias is not None:
        return a

    def element(scope: Scope, index: Index) -> str:
        return scope.read(a, index)
    return Def(f"{a.what}, laid out in order", a.shape, dtype=a.dtype, element=element,
               operands=[a], once=[True])


@handles("mm", "addmm")
def _mm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    key = "mat1" if call.name == "addmm" else "self"
    a, b = low.tensor(args[key]), low.tensor(args["mat2"])
    bias = low.tensor(args["self"]) if call.name == "addmm" else None
    return [product(low, call, a, b, lambda i, k: (i[0], k), lambda i, k: (k, i[1]),
                    a.shape[1], call.name, bias, number(args.get("beta", 1)),
                    number(args.get("alpha", 1)))]


@handles("bmm", "baddbmm")
def _bmm(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    key = ("batch1", "batch2") if call.name == "baddbmm" else ("self", "mat2")
    a, b = low.tensor(args[key[0]]), low.tensor(args[key[1]])
    bias = low.tensor(args["self"]) if call.name == "baddbmm" else None
    return [product(low, call, a, b, lambda i, k: (i[0], i[1], k), lambda i, k: (i[0], k, i[2]),
                    a.shape[2], call.name, bias, number(args.get("beta", 1)),
                    number(args.get("alpha", 1)))]


@handles("mv")
def _mv(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    a, b = low.tensor(args["self"]), low.tensor(args["vec"])
    return [product(low, call, a, b, lambda i, k: (i[0], k), lambda i, k: (k,), a.shape[1],
                    "mv")]


@handles("dot")
def _dot(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    a, b = low.tensor(args["self"]), low.tensor(args["tensor"])
    return [product(low, call, a, b, lambda i, k: (k,), lambda i, k: (k,), a.shape[0], "dot")]


def _per_dim(low: Lowering, value: Any, count: int, what: str,
             default: Sequence[int] | None = None) -> list[int]:
    """An int list argument (a stride, a padding) with one value per spatial dim."""
    values = [low.constant(v, what) for v in (value if isinstance(value, list | tuple)
                                               else [value])] if value else []
    if not values and default is not None:
        values = list(default)
    if len(values) == 1:
        values *= count
    if len(values) != count:
        raise Unsupported(f"its forward gives a {what} of {len(values)} values for {count} "
                          "dims")
    return values


@handles("convolution")
def _convolution(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x, w = low.tensor(args["input"]), low.tensor(args["weight"])
    _float_only(x, w)
    bias = None if args.get("bias") is None else low.tensor(args["bias"])
    spatial = len(w.shape) - 2
    if len(x.shape) != spatial + 2:
        raise Unsupported("its forward convolves an input without a batch dimension")
    stride = _per_dim(low, args["stride"], spatial, "stride")
    padding = _per_dim(low, args["padding"], spatial, "padding")
    dilation = _per_dim(low, args["dilation"], spatial, "dilation")
    transposed = bool(args["transposed"])
    groups = args["groups"]
    kernel = w.shape[2:]
    # a group's input channels (the fold's first loop) and output channels; a depthwise
    # convolution's groups follow its channels
    single = not isinstance(groups, SizeExpr) or not groups.dims
    count = low.constant(groups, "number of groups") if single else 0
    if not transposed:
        in_group = w.shape[1]
        outputs = low.c(divided(w.shape[0], count)) if single else \
            f"({low.c(w.shape[0])} / {low.c(groups)})"
    elif single or groups == x.shape[1]:
        in_group = divided(x.shape[1], count) if single else SizeExpr.constant(1)
        outputs = low.c(w.shape[1])
    else:
        raise Unsupported("its forward's transposed convolution has groups that follow its "
                          "sizes but are not its input channels")
    inputs = low.c(in_group)

    def channel(index: Index, loop: Index) -> str:
        return loop[0] if count == 1 else add(mul(f"({index[1]} / {outputs})", inputs), loop[0])

    def positions(scope: Scope, index: Index, loop: Index) -> tuple[list[str], str]:
        where, found = [], []
        for d in range(spatial):
            o, r, size = index[2 + d], loop[1 + d], low.c(x.shape[2 + d])
            if not transposed:
                at = scope.let(add(add(mul(o, str(stride[d])), str(-padding[d])),
                                   mul(r, str(dilation[d]))), "long")
                where.append(f"{at} >= 0 && {at} < {size}")
            else:
                # output o takes input i where i * stride - padding + r * dilation == o
                t = scope.let(add(add(o, str(padding[d])), f"-{_paren(mul(r, str(dilation[d])))}"),
                              "long")
                if stride[d] == 1:
                    at = t
                    where.append(f"{t} >= 0 && {t} < {size}")
                else:
                    at = f"{t} / {stride[d]}"
                    where.append(f"{t} >= 0 && {t} % {stride[d]} == 0 && {at} < {size}")
            found.append(at)
        return found, " && ".join(where)

    def condition(scope: Scope, index: Index, loop: Index) -> str:
        return positions(scope, index, loop)[1] or "1"

    def term(scope: Scope, index: Index, loop: Index) -> str:
        found = positions(scope, index, loop)[0]  # the condition's locals, computed once
        source = scope.read(x, (index[0], channel(index, loop), *found))
        if transposed:
            co = index[1] if count == 1 else f"{index[1]} % {outputs}"
            weight = scope.read(w, (channel(index, loop), co, *loop[1:]))
        else:
            weight = scope.read(w, (index[1], loop[0], *loop[1:]))
        return f"(double){source} * {weight}"

    def finish(scope: Scope, index: Index, acc: str) -> str:
        return acc if bias is None else f"{acc} + {scope.read(bias, (index[1],))}"

    kind = "transposed convolution" if transposed else "convolution"
    return [Def(f"{spatial}d {kind}", low.out_shape(call), reduction=Reduction(
        "sum", (in_group, *kernel), term, condition, finish, products=True),
        operands=[x, w, *([bias] if bias is not None else [])],
        once=[False, False, *([False] if bias is not None else [])])]


def _paren(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


def _window(low: Lowering, x: Def, index: Index, loop: Index, scope: Scope,
            stride: list[int], padding: list[int], dilation: list[int]) -> tuple[list[str], str]:
    """The input positions of window element ``loop`` of output ``index``, and the
    condition that they lie inside the input (the last len(stride) dims are the window's)."""
    spatial = len(stride)
    lead = len(x.shape) - spatial
    found, where = [], []
    for d in range(spatial):
        at = scope.let(add(add(mul(index[lead + d], str(stride[d])), str(-padding[d])),
                           mul(loop[d], str(dilation[d]))), "long")
        found.append(at)
        where.append(f"{at} >= 0 && {at} < {low.c(x.shape[lead + d])}")
    return found, " && ".join(where)


def _pool_args(low: Lowering, call: Call, args: dict[str, Any]) -> tuple[int, list[int],
                                                                          list[int], list[int],
                                                                          list[int]]:
    spatial = 3 if "3d" in call.name else 2 if "2d" in call.name else 1
    kernel = _per_dim(low, args["kernel_size"], spatial, "kernel size")
    stride = _per_dim(low, args.get("stride"), spatial, "stride", default=kernel)
    padding = _per_dim(low, args.get("padding", 0), spatial, "padding", default=[0])
    dilation = _per_dim(low, args.get("dilation", 1), spatial, "dilation", default=[1])
    return spatial, kernel, stride, padding, dilation


def _pool(low: Lowering, x: Def, call: Call, kind: str, kernel: list[int], stride: list[int],
          padding: list[int], dilation: list[int], finish: Any = None) -> Def:
    spatial = len(kernel)
    lead = len(x.shape) - spatial
    def condition(scope: Scope, index: Index, loop: Index) -> str:
        return _window(low, x, index, loop, scope, stride, padding, dilation)[1]

    def term(scope: Scope, index: Index, loop: Index) -> str:
        found = _window(low, x, index, loop, scope, stride, padding, dilation)[0]
        return as_float(scope.read(x, (*index[:lead], *found)), x.dtype)

    reduction = Reduction(kind, tuple(SizeExpr.constant(k) for k in kernel), term, condition,
                          finish or (lambda scope, index, acc: acc))
    return Def(f"{spatial}d {'max' if kind == 'max' else 'average'} pooling",
               low.out_shape(call), reduction=reduction, operands=[x], once=[False])


@handles("max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
         "max_pool1d", "max_pool2d", "max_pool3d")
def _max_pool(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["self"])
    _, kernel, stride, padding, dilation = _pool_args(low, call, args)
    made: list[Def | None] = [_pool(low, x, call, "max", kernel, stride, padding, dilation)]
    if len(call.outs) > 1:
        made.append(None)
        low.unavailable[call.outs[1]] = "its forward reads a max pooling's indices"
    return made


@handles("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    spatial, kernel, stride, padding, _ = _pool_args(low, call, args)
    include_pad = bool(args.get("count_include_pad", True))
    override = args.get("divisor_override")
    lead = len(x.shape) - spatial

    def finish(scope: Scope, index: Index, acc: str) -> str:
        if override is not None:
            return f"{acc} / {float(low.constant(override, 'divisor'))!r}"
        # torch's divisor: the window clipped to the padded input (count_include_pad), or to
        # the input itself
        padded, inside = [], []
        for d in range(spatial):
            size = low.c(x.shape[lead + d])
            start = scope.let(add(mul(index[lead + d], str(stride[d])), str(-padding[d])),
                              "long")
            end = scope.let(f"{start} + {kernel[d]} < {size} + {padding[d]} ? {start} + "
                            f"{kernel[d]} : {size} + {padding[d]}", "long")
            padded.append(f"({end} - {start})")
            inside.append(f"(({end} < {size} ? {end} : {size}) - ({start} > 0 ? {start} : 0))")
        divisor = padded if include_pad else inside
        return f"{acc} / (double)({' * '.join(divisor)})"

    return [_pool(low, x, call, "sum", kernel, stride, padding, [1] * spatial, finish)]


@handles("_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "adaptive_max_pool2d",
         "adaptive_max_pool3d", "_adaptive_avg_pool1d", "adaptive_avg_pool1d")
def _adaptive(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def | None]:
    x = low.tensor(args["self"])
    shape = low.out_shape(call)
    spatial = len(args["output_size"])
    lead = len(x.shape) - spatial
    sizes = [(low.c(x.shape[lead + d]), low.c(shape[lead + d])) for d in range(spatial)]
    def window(scope: Scope, index: Index) -> list[tuple[str, str]]:
        """Each dim's window [start, end): torch's floor(o * in / out) and
        ceil((o + 1) * in / out)."""
        found = []
        for d, (size, out) in enumerate(sizes):
            o = index[lead + d]
            found.append((scope.let(f"{o} * {size} / {out}", "long"),
                          scope.let(f"(({o} + 1) * {size} + {out} - 1) / {out}", "long")))
        return found

    def condition(scope: Scope, index: Index, loop: Index) -> str:
        return " && ".join(f"{r} >= {s} && {r} < {e}"
                           for r, (s, e) in zip(loop, window(scope, index), strict=True))

    def term(scope: Scope, index: Index, loop: Index) -> str:
        return as_float(scope.read(x, (*index[:lead], *loop)), x.dtype)

    maximum = "max" in call.name

    def finish(scope: Scope, index: Index, acc: str) -> str:
        if maximum:
            return acc
        spans = [f"({e} - {s})" for s, e in window(scope, index)]
        return f"{acc} / (double)({' * '.join(spans)})"

    reduction = Reduction("max" if maximum else "sum", x.shape[lead:], term, condition, finish)
    made: list[Def | None] = [Def(f"adaptive {'max' if maximum else 'average'} pooling", shape,
                                  reduction=reduction, operands=[x], once=[False])]
    if len(call.outs) > 1:
        made.append(None)
        low.unavailable[call.outs[1]] = "its forward reads an adaptive max pooling's indices"
    return made
