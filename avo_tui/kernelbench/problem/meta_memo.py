"""The meta device's answers, remembered: an operation called again on tensors of the same
shapes, strides and dtypes (and the same other arguments) gets its outputs' shapes without
running torch's meta function again.

Many of torch's meta functions are Python (addmm, an in-place sigmoid), and a recurrent
network unrolled over its sequence calls the same few of them on the same shapes tens of
thousands of times a build: a 512-step, 6-layer LSTM took seconds a build, and the importer
builds a problem at a hundred or more sizes.

Only what a tensor's metadata decides is remembered: an operation that makes new tensors
(no output aliases an input), and an in-place pointwise one (``sigmoid_``, ``add_``), which
returns its first argument with its metadata unchanged. Views, copies, resizes and ``out=``
forms always run. The memo must sit below every other dispatch mode (entered first): a mode
above it (a FLOP counter, an operation count) sees every call, remembered or not.

A memo may also sit above a counter that adds up what the calls below it do (torch's FLOP
counter, which writes out in Python every call its registry has no formula for: a ResNet's
hundred batch norms, each a dozen calls, at every build): given the counter's running total
(``gauge``), it remembers each call's share of it, and a remembered call adds its share to
``replayed`` instead of reaching the counter again (only the empty tensors it is answered
with do).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

Key = tuple[Any, Hashable, Hashable]
_Make = Callable[[tuple[Any, ...]], Any]  # the outputs again, from the call's arguments
Gauge = Callable[[], int]  # a counter's running total, which the calls below the memo add to


class MetaMemo(TorchDispatchMode):
    """Remembers, across every forward run within it, what each call on the meta device
    returned (and, with a ``gauge``, what it added to it); one per problem, so its builds at
    other sizes share what agrees."""

    def __init__(self, gauge: Gauge | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._made: dict[Key, tuple[_Make, int]] = {}
        self.gauge = gauge
        self.hits = 0
        self.replayed = 0  # the gauge's shares of the remembered calls, added up

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        kind = _kind(func)
        if kind is None:
            return func(*args, **kwargs)
        try:
            key: Key = (func, _key(args), _key(tuple(sorted(kwargs.items()))))
            made = self._made.get(key)
        except (TypeError, _NotMeta):  # an unhashable argument, a tensor off the meta device
            return func(*args, **kwargs)
        if made is not None:
            remake, share = made
            self.hits += 1
            self.replayed += share
            return remake(args)
        before = self.gauge() if self.gauge is not None else 0
        output = func(*args, **kwargs)
        remade = _in_place if kind == "in place" else _fresh(output)
        if remade is not None:
            after = self.gauge() if self.gauge is not None else 0
            self._made[key] = (remade, after - before)
        return output


class _NotMeta(Exception):
    pass


@functools.cache
def _kind(func: Any) -> str | None:
    """"new" for an operation whose outputs alias nothing, "in place" for a pointwise one
    that writes its first argument only and returns it, None for every other."""
    schema = func._schema
    if not schema.is_mutable:
        return None if any(r.alias_info is not None for r in schema.returns) else "new"
    arguments, returns = schema.arguments, schema.returns
    written = [a for a in arguments if a.alias_info is not None and a.alias_info.is_write]
    if (torch.Tag.pointwise in func.tags and written == arguments[:1] and len(returns) == 1
            and returns[0].alias_info is not None
            and returns[0].alias_info.before_set == arguments[0].alias_info.before_set):
        return "in place"
    return None


def _in_place(args: tuple[Any, ...]) -> Any:
    return args[0]


def _fresh(output: Any) -> _Make | None:
    """New meta tensors like ``output`` (a tensor, or a tuple or list of them), None where it
    holds anything else."""
    if isinstance(output, torch.Tensor):
        like = _like(output)
        return lambda _: _empty(like)
    if isinstance(output, tuple | list) and output and all(
            isinstance(t, torch.Tensor) for t in output):
        likes = [_like(t) for t in output]
        container = type(output)
        return lambda _: container(_empty(like) for like in likes)
    return None


_Like = tuple[tuple[int, ...], tuple[int, ...], torch.dtype]


def _like(tensor: torch.Tensor) -> _Like:
    return tuple(tensor.shape), tensor.stride(), tensor.dtype


def _empty(like: _Like) -> torch.Tensor:
    shape, stride, dtype = like
    return torch.empty_strided(shape, stride, dtype=dtype, device="meta")


def _key(value: Any) -> Hashable:
    """What of an argument decides a meta function's answer: a tensor's metadata, every
    other value itself (nested sequences as tuples)."""
    if isinstance(value, torch.Tensor):
        if value.device.type != "meta":
            raise _NotMeta
        return ("tensor", tuple(value.shape), value.stride(), value.storage_offset(),
                value.dtype, value.layout, value.is_conj(), value.is_neg())
    if isinstance(value, tuple | list):
        return (type(value).__name__, *(_key(v) for v in value))
    hash(value)
    return type(value), value  # 1, 1.0 and True are equal keys, and promote differently
