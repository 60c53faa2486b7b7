"""A forward's FLOPs stated call by call, for a count no polynomial of the dimensions fits.

torch's FLOP counter counts each call its registry names by a formula of the call's shapes
(a convolution: 2 x its output's elements x its weight's in-channels x its kernel; a
product: 2 x M x K x N). The recorded forward (forward_sizes.py) states each of those sizes as
a SizeExpr of the dimensions, floored where strides halve them (ResNet's last stage is
``(height + 31) // 32`` high), so the same formulas fed those sizes give the count at any
sizes: a sum of products of sizes, which a Polynomial states and the target file writes.
A network of halving stages counts a sum of such floored terms, one per stage, where a
single polynomial of the dimensions fits only on a grid of wide steps (flop_fit.py).

The sum is checked against the counter itself, every varied size moved at once, by small
moves and by moves across several floors (CHECKS); a miss anywhere, a counted call with a
size no form fits, or a formula that asks of a size more than sums and products (an order)
leaves none, and the caller says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.flop_counter import FlopCounterMode

from .aten_trace import Ref
from .flop_fit import Count, Fitted, Polynomial, Sizes
from .forward_sizes import SymbolicTrace, Unfit
from .size_expr import SizeExpr

# Moves of the varied sizes, every one at once (cycled over them): small ones, and ones that
# cross several floors of a network's halvings (32 rows a step after five).
CHECKS = ((1, 2, 3), (3, 1, 2), (13, 45, 7), (70, 33, 101))
MIN_CHECKED = 3  # the sizes the sum must be the count at (the problem's own among them)


def traced_flops(symbolic: SymbolicTrace, count: Count, base: Sizes,
                 variables: Sequence[str]) -> Fitted:
    """The FLOPs of ``symbolic``'s counted calls summed, where they are ``count``'s at
    ``base`` (every dimension's size) and at the CHECKS moves of ``variables``."""
    formula = _summed(symbolic)
    if isinstance(formula, str):
        return Fitted(None, formula)
    checked = 0
    for moves in ((0,), *CHECKS):
        sizes = {**base, **{v: base[v] + moves[i % len(moves)]
                            for i, v in enumerate(variables)}}
        counted = count(sizes)
        if counted is None:
            continue
        if formula.value(sizes) != counted:
            moved = ", ".join(f"{v} = {sizes[v]}" for v in variables)
            return Fitted(None, f"torch's formulas of the recorded sizes, summed over its "
                                f"calls, miss its count at {moved} ({counted:.4g} FLOPs)")
        checked += 1
    if checked < MIN_CHECKED:
        return Fitted(None, "the problem builds at too few of the sizes it is checked at")
    return Fitted(formula)


def _summed(symbolic: SymbolicTrace) -> Polynomial | str:
    """Every counted call's FLOPs by torch's formula of its sizes, summed; or why not."""
    registry = FlopCounterMode(display=False).flop_registry
    total = Polynomial(())
    for call, args in zip(symbolic.trace.calls, symbolic.args, strict=True):
        formula = registry.get(call.op.overloadpacket)
        if formula is None:
            continue
        unfit = [size.value for value in (*_refs(list(args.values())), *call.outs)
                 for size in symbolic.shapes[value] if isinstance(size, Unfit)]
        if unfit:
            return (f"a size of {unfit[0]} that {call.name} reads follows the dimensions "
                    "in no form the importer writes")
        shaped = {name: _shaped(arg, symbolic) for name, arg in args.items()}
        outs = [_shape(symbolic, out) for out in call.outs]
        arguments = call.op._schema.arguments
        try:
            total = total + formula(
                *(shaped[a.name] for a in arguments if not a.kwarg_only),
                **{a.name: shaped[a.name] for a in arguments if a.kwarg_only},
                out_val=outs[0] if len(outs) == 1 else tuple(outs))
        except (TypeError, ValueError, AssertionError, ArithmeticError) as error:
            return (f"torch's formula for {call.name} asks more of its sizes than sums and "
                    f"products ({type(error).__name__})")
    return total


def _refs(args: Sequence[Any]) -> list[int]:
    """The tensors among ``args``, lists and tuples walked."""
    found: list[int] = []
    for arg in args:
        if isinstance(arg, Ref):
            found.append(arg.id)
        elif isinstance(arg, list | tuple):
            found += _refs(arg)
    return found


def _shaped(arg: Any, symbolic: SymbolicTrace) -> Any:
    """``arg`` as torch's formula reads it: a tensor its shape, each size a Polynomial."""
    if isinstance(arg, Ref):
        return _shape(symbolic, arg.id)
    if isinstance(arg, list | tuple):
        return type(arg)(_shaped(a, symbolic) for a in arg)
    return arg


def _shape(symbolic: SymbolicTrace, value: int) -> tuple[Polynomial, ...]:
    return tuple(Polynomial.of(size) for size in symbolic.shapes[value]
                 if isinstance(size, SizeExpr))
