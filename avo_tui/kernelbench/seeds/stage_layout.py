"""The stage seed's lowering of the calls that move, select or make elements: views and
reshapes (the same elements in another shape: every buffer of the seed is contiguous),
permutations, expansions, slices, concatenations, padding, gathers, and tensors the forward
makes (zeros, a range). Each is a map that reads its operand at another index, so it costs
an index computation where it is read, never a buffer of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..problem.aten_trace import Call
from ..problem.elementwise import literal
from ..problem.graph import Unsupported
from ..problem.size_expr import SizeExpr
from .stage_ir import Def, Index, Scope, add, is_one, linear, mul
from .stage_lowering import Lowering, fitted, handles
from .stage_ops import as_float, broadcast, number

Remap = Callable[[Index], Index]


def moved(low: Lowering, call: Call, x: Def, remap: Remap, what: str, once: bool = True,
          position: int = 0) -> Def:
    """The call's output ``position``: element ``index`` is x's at ``remap(index)``."""
    def element(scope: Scope, index: Index) -> str:
        return scope.read(x, remap(index))
    return Def(what, low.out_shape(call, position), dtype=x.dtype, element=element,
               operands=[x], once=[once], moves_only=True)


@handles("view", "_unsafe_view", "view_copy", "reshape", "_reshape_alias", "alias",
         "alias_copy", "unsqueeze", "unsqueeze_copy", "squeeze", "squeeze_copy", "clone",
         "detach", "detach_copy", "lift_fresh_copy", "contiguous", "_reshape_copy",
         "flatten", "unflatten")
def _view(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    return [reshaped(low, x, low.out_shape(call), call.name.removesuffix("_copy"))]


def reshaped(low: Lowering, x: Def, shape: tuple[SizeExpr, ...], what: str) -> Def:
    """x's elements, in order, laid out as ``shape``: x itself where the shape is the same;
    else read where x is: each run of dims of ``shape`` that holds as many elements as a run
    of x's (a flatten, a split, a squeeze) mapped through its own offset."""
    if shape == x.shape:
        return x
    runs = _runs(shape, x.shape)

    def remap(index: Index) -> Index:
        source = ["0"] * len(x.shape)
        for ours, theirs in runs:
            offset = linear(tuple(index[a] for a in ours), [low.c(shape[a]) for a in ours],
                            tuple(shape[a] for a in ours))
            stride = "1"
            for axis in reversed(theirs):
                quotient = offset if stride == "1" else f"{_paren(offset)} / {_paren(stride)}"
                last = axis == theirs[0]
                source[axis] = quotient if last else f"{_paren(quotient)} % " \
                                                     f"{low.c(x.shape[axis])}"
                stride = mul(stride, low.c(x.shape[axis]))
        return tuple(source)

    def element(scope: Scope, index: Index) -> str:
        return scope.read(x, remap(index))
    return Def(what, shape, dtype=x.dtype, element=element, operands=[x], once=[True],
               moves_only=True, alias=x)


def _runs(ours: tuple[SizeExpr, ...], theirs: tuple[SizeExpr, ...]
          ) -> list[tuple[list[int], list[int]]]:
    """The dims of two shapes of as many elements, in runs of equal products (their dims of
    size 1 left out), as sizes are equal at every size the dims take (tried at three)."""
    names = sorted({d for s in (*ours, *theirs) for d in s.dims})
    points = [{d: 101 + 17 * k + j for k, d in enumerate(names)} for j in range(3)]

    def product(sizes: list[SizeExpr]) -> tuple[int, ...]:
        return tuple(math.prod(s.value(p) for s in sizes) for p in points)

    a = [i for i, s in enumerate(ours) if not is_one(s)]
    b = [i for i, s in enumerate(theirs) if not is_one(s)]
    runs: list[tuple[list[int], list[int]]] = []
    while a or b:
        left, right = [a.pop(0)] if a else [], [b.pop(0)] if b else []
        while product([ours[i] for i in left]) != product([theirs[i] for i in right]):
            smaller = product([ours[i] for i in left]) < product([theirs[i] for i in right])
            if smaller and a:
                left.append(a.pop(0))
            elif not smaller and b:
                right.append(b.pop(0))
            else:
                raise Unsupported("its forward reshapes a tensor in a way the stage seed does "
                                  "not follow")
        runs.append((left, right))
    return runs


@handles("_to_copy", "to")
def _convert(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x, dtype = low.tensor(args["self"]), low.dtype(call)
    if dtype == x.dtype or (dtype in ("float32", "float64") and x.dtype in ("float32",
                                                                            "float64")):
        return [reshaped(low, x, low.out_shape(call), "a copy")]
    if dtype == "bool":
        formula = "(float)({} != 0.0f)"
    elif x.dtype in ("float32", "float64"):
        formula = "truncf({})"  # a float to an integer type rounds toward zero
    else:
        formula = "{}"

    def element(scope: Scope, index: Index) -> str:
        return scope.let(formula.format(as_float(scope.read(x, index), x.dtype)))
    return [Def(f"conversion to {dtype}", low.out_shape(call), dtype=dtype, element=element,
                operands=[x], once=[True])]


@handles("permute", "permute_copy")
def _permute(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    rank = len(x.shape)
    order = [low.constant(d, "permutation") % rank for d in args["dims"]]

    def remap(index: Index) -> Index:
        source = ["0"] * rank
        for position, axis in enumerate(order):
            source[axis] = index[position]
        return tuple(source)
    return [moved(low, call, x, remap, "permute")]


@handles("t", "t_copy", "transpose", "transpose_copy")
def _transpose(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    rank = len(x.shape)
    if rank < 2:
        return [reshaped(low, x, low.out_shape(call), "transpose")]
    first, second = ((0, 1) if call.name.startswith("t_") or call.name == "t" else
                     (low.constant(args["dim0"], "dim") % rank,
                      low.constant(args["dim1"], "dim") % rank))

    def remap(index: Index) -> Index:
        source = list(index)
        source[first], source[second] = index[second], index[first]
        return tuple(source)
    return [moved(low, call, x, remap, "transpose")]


@handles("expand", "expand_copy", "broadcast_to")
def _expand(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    shape = low.out_shape(call)
    return [moved(low, call, x, lambda index: broadcast(index, x.shape, shape), "expand",
                  once=len(x.shape) == len(shape) and all(
                      is_one(a) == is_one(b) for a, b in zip(x.shape, shape, strict=True)))]


def _at(low: Lowering, value: Any, size: SizeExpr, default: str = "0") -> str:
    """A start or an index as a C expression, a negative one counted from ``size``."""
    if value is None:
        return default
    value = fitted(value)
    if isinstance(value, SizeExpr) and not value.dims:
        number = value.offset // value.divisor
        return str(number) if number >= 0 else add(low.c(size), str(number))
    if isinstance(value, SizeExpr):
        return low.c(value)
    raise Unsupported("its forward slices at a position given by a tensor")


@handles("slice", "slice_copy")
def _slice(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args["dim"], "slice dim") % len(x.shape)
    start = _at(low, args.get("start"), x.shape[dim])
    step = low.constant(args.get("step") or SizeExpr.constant(1), "slice step")

    def remap(index: Index) -> Index:
        return (*index[:dim], add(start, mul(index[dim], str(step))), *index[dim + 1:])
    return [moved(low, call, x, remap, "slice")]


@handles("select", "select_copy")
def _select(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args["dim"], "select dim") % len(x.shape)
    at = _at(low, args["index"], x.shape[dim])
    return [moved(low, call, x, lambda index: (*index[:dim], at, *index[dim:]), "select")]


@handles("split_with_sizes_copy", "split_copy", "split_with_sizes", "split",
         "unbind_copy", "unbind", "unsafe_split", "unsafe_split_with_sizes")
def _split(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args.get("dim", SizeExpr.constant(0)), "split dim") % len(x.shape)
    unbind = call.name.startswith("unbind")

    def piece(start: str) -> Remap:
        """Element ``index`` of the piece that starts at ``start`` along the dim."""
        if unbind:
            return lambda index: (*index[:dim], start, *index[dim:])
        return lambda index: (*index[:dim], add(start, index[dim]), *index[dim + 1:])

    made, offset = [], "0"
    for position in range(len(call.outs)):
        made.append(moved(low, call, x, piece(offset), "unbind" if unbind else "split",
                          position=position))
        offset = add(offset, "1" if unbind else low.c(low.out_shape(call, position)[dim]))
    return made


@handles("cat", "stack")
def _cat(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    shape = low.out_shape(call)
    dim = low.constant(args.get("dim", SizeExpr.constant(0)), "cat dim") % len(shape)
    stacked = call.name == "stack"
    pieces = [low.tensor(t) for t in args["tensors"]]
    pieces = [p for p in pieces if stacked or not (len(p.shape) == 1 and p.shape[0] ==
                                                   SizeExpr.constant(0))]
    starts, offset = [], "0"
    for piece in pieces:
        starts.append(offset)
        offset = add(offset, "1" if stacked else low.c(piece.shape[dim]))
    ends = [*starts[1:], offset]

    def element(scope: Scope, index: Index) -> str:
        def read(k: int) -> Callable[[Scope], str]:
            def make(inner: Scope) -> str:
                if stacked:
                    at = (*index[:dim], *index[dim + 1:])
                else:
                    at = (*index[:dim], add(index[dim], f"-{_paren(starts[k])}")
                          if starts[k] != "0" else index[dim], *index[dim + 1:])
                return as_float(inner.read(pieces[k], at), pieces[k].dtype)
            return make

        def chain(k: int) -> Callable[[Scope], str]:
            if k == len(pieces) - 1:
                return read(k)
            return lambda inner: inner.branch(f"{index[dim]} < {ends[k]}", read(k), chain(k + 1))
        return chain(0)(scope)

    return [Def(call.name, shape, dtype=low.dtype(call), element=element, operands=pieces,
                once=[True for _ in pieces], moves_only=True)]


def _paren(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


@handles("constant_pad_nd")
def _pad(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    pads = [low.constant(p, "padding") for p in args["pad"]]
    value = literal(number(args.get("value", 0) or 0))
    rank = len(x.shape)
    before = {rank - 1 - k // 2: pads[k] for k in range(0, len(pads), 2)}

    def element(scope: Scope, index: Index) -> str:
        source = tuple(add(c, str(-before[a])) if before.get(a) else c
                       for a, c in enumerate(index))
        inside = " && ".join(f"{source[a]} >= 0 && {source[a]} < {low.c(x.shape[a])}"
                             for a in before) or "1"
        return scope.branch(inside, lambda inner: as_float(inner.read(x, source), x.dtype),
                            lambda inner: value)
    return [Def("pad", low.out_shape(call), element=element, operands=[x], once=[True],
                moves_only=True)]


@handles("flip")
def _flip(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dims = {low.constant(d, "flip dim") % len(x.shape) for d in args["dims"]}
    return [moved(low, call, x, lambda index: tuple(
        f"{low.c(x.shape[a])} - 1 - {c}" if a in dims else c for a, c in enumerate(index)),
        "flip")]


@handles("repeat")
def _repeat(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    shape = low.out_shape(call)
    skip = len(shape) - len(x.shape)
    return [moved(low, call, x, lambda index: tuple(
        "0" if is_one(size) else f"{index[skip + a]} % {low.c(size)}"
        for a, size in enumerate(x.shape)), "repeat", once=False)]


@handles("unfold", "unfold_copy")
def _unfold(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    dim = low.constant(args["dimension"], "unfold dim") % max(len(x.shape), 1)
    step = low.constant(args["step"], "unfold step")
    return [moved(low, call, x, lambda index: (
        *index[:dim], add(mul(index[dim], str(step)), index[-1]), *index[dim + 1:-1]),
        "unfold", once=False)]


def _long(value: str) -> str:
    return f"(long){value}"


@handles("index_select")
def _index_select(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x, indices = low.tensor(args["self"]), low.tensor(args["index"])
    dim = low.constant(args["dim"], "index dim") % len(x.shape)

    def element(scope: Scope, index: Index) -> str:
        at = _long(scope.read(indices, (index[dim],)))
        return scope.read(x, (*index[:dim], at, *index[dim + 1:]))
    return [Def("index_select", low.out_shape(call), dtype=x.dtype, element=element,
                operands=[x, indices], once=[False, True], moves_only=True)]


@handles("gather")
def _gather(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x, indices = low.tensor(args["self"]), low.tensor(args["index"])
    dim = low.constant(args["dim"], "gather dim") % len(x.shape)

    def element(scope: Scope, index: Index) -> str:
        at = _long(scope.read(indices, index))
        return scope.read(x, (*index[:dim], at, *index[dim + 1:]))
    return [Def("gather", low.out_shape(call), dtype=x.dtype, element=element,
                operands=[x, indices], once=[False, True], moves_only=True)]


@handles("embedding")
def _embedding(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    table, indices = low.tensor(args["weight"]), low.tensor(args["indices"])

    def element(scope: Scope, index: Index) -> str:
        row = _long(scope.read(indices, index[:-1]))
        return scope.read(table, (row, index[-1]))
    return [Def("embedding", low.out_shape(call), dtype=table.dtype, element=element,
                operands=[table, indices], once=[False, True], moves_only=True)]


@handles("triu", "tril")
def _triangle(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    x = low.tensor(args["self"])
    diagonal = low.constant(args.get("diagonal", SizeExpr.constant(0)), "diagonal")
    sign = ">=" if call.name == "triu" else "<="

    def element(scope: Scope, index: Index) -> str:
        keep = f"{index[-1]} - {index[-2]} {sign} {diagonal}"
        return scope.let(f"({keep} ? {scope.read(x, index)} : 0.0f)")
    return [Def(call.name, low.out_shape(call), dtype=x.dtype, element=element,
                operands=[x], once=[True])]


FILLS = {**{name: 0.0 for name in ("zeros", "zeros_like", "new_zeros", "empty", "empty_like",
                                     "new_empty", "empty_strided")},
         **{name: 1.0 for name in ("ones", "ones_like", "new_ones")}}


@handles("full", "full_like", "new_full", "scalar_tensor", "fill", *FILLS)
def _constant(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    value = FILLS.get(call.name)
    if value is None:
        given = next(args[k] for k in ("fill_value", "value", "s") if k in args)
        value = number(given)
    text = literal(value)
    return [Def(f"the constant {value}", low.out_shape(call), dtype=low.dtype(call),
                element=lambda scope, index: text, moves_only=True)]


@handles("arange")
def _arange(low: Lowering, call: Call, args: dict[str, Any]) -> list[Def]:
    start = number(args.get("start") or 0)
    step = number(args.get("step") or 1)
    return [Def("arange", low.out_shape(call), dtype=low.dtype(call), element=lambda scope,
                index: f"({literal(start)} + {literal(step)} * (float){index[0]})",
                moves_only=True)]
