"""A problem's forward as a small graph of the operations a seed can be written for.

torch.fx traces the model (built on the meta device); each call is lowered to one of a few
node kinds: a leaf (an input, a weight, a constant), an elementwise operation (elementwise.py),
a reduction (argmax and argmin among them: an index per line) or a scan over some dimensions,
or a matrix product. Composite calls are written out in those terms, as a kernel computes
them: softmax is a max, an exp, a sum and a division; log-sum-exp a max, a sum of exponentials,
a log and an add; LayerNorm a mean, a variance and a scale. A node computed twice (the max of
a softmax and of its log-sum-exp) is one node. Every node knows its shape at the problem's
sizes. The graph's outputs are the forward's, in order (torch.max over a dim: its values, then
its indices).

A call outside that set (a convolution, a view, a gather) raises Unsupported, naming it: the
importer then writes no seed, and the first agent step writes one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch import nn

from .elementwise import BINARY, UNARY
from .problem_module import Instance

Shape = tuple[int, ...]
REDUCTIONS = ("sum", "mean", "max", "min", "prod")
ARG_REDUCTIONS = ("argmax", "argmin")  # an index per line (int64), not a value


class Unsupported(Exception):
    """A call of the forward no seed pattern covers; its message names the call."""


@dataclass
class Node:
    """One operation: ``op`` is input, weight, const, an elementwise name, reduce, scan,
    squeeze (one value per line, its reduced dimensions dropped) or matmul; ``args`` the ids
    of its operands; ``attrs`` what else it needs (a leaf's name or value, ``integer`` on an
    integer or bool input, a reduction's kind and dims, a product's layout)."""

    id: int
    op: str
    args: tuple[int, ...]
    shape: Shape
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    nodes: list[Node]
    outputs: tuple[int, ...]  # the node of each tensor the forward returns, in order

    def users(self, node: int) -> list[Node]:
        return [n for n in self.nodes if node in n.args]


def is_index(node: Node) -> bool:
    """An argmax's or argmin's node: its value is an index (int64), not a float."""
    return node.op == "reduce" and node.attrs["kind"] in ARG_REDUCTIONS


@dataclass(frozen=True)
class _Ref:
    """A traced value: the id of the node that computes it."""

    id: int


@dataclass(frozen=True)
class _Pair:
    """torch.max / torch.min over a dimension: (values, indices), until one is taken."""

    kind: str
    operand: _Ref
    dims: tuple[int, ...]
    keepdim: bool


# What each call's positional arguments are, by its normalized name (call_method's self is
# the first: the input).
SIGNATURES: dict[str, tuple[str, ...]] = {
    **{name: ("input", "dim", "keepdim") for name in ("sum", "mean", "amax", "amin", "prod",
                                                      "max", "min", "argmax", "argmin",
                                                      "logsumexp")},
    **{name: ("input", "other") for name in BINARY},
    "softmax": ("input", "dim"), "log_softmax": ("input", "dim"),
    "cumsum": ("input", "dim"), "cumprod": ("input", "dim"),
    "matmul": ("input", "other"), "mm": ("input", "other"),
    "linear": ("input", "weight", "bias"),
    "layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
    "gelu": ("input", "approximate"), "leaky_relu": ("input", "negative_slope"),
    "elu": ("input", "alpha"), "hardtanh": ("input", "min_val", "max_val"),
    "softplus": ("input", "beta", "threshold"), "clamp": ("input", "min", "max"),
    "getitem": ("input", "index"), "getattr": ("input", "name"),
    "norm": ("input", "p", "dim", "keepdim"),
}
ALIASES = {"truediv": "div", "true_divide": "div", "multiply": "mul", "subtract": "sub",
           "clip": "clamp"}
IDENTITIES = ("contiguous", "clone", "float", "identity")
IGNORED_KWARGS = ("inplace", "_stacklevel")  # F.softmax passes its own _stacklevel

# nn modules and the call each one is
MODULE_CALLS: dict[type[nn.Module], Callable[[Any], tuple[str, dict[str, Any]]]] = {
    nn.ReLU: lambda m: ("relu", {}),
    nn.GELU: lambda m: ("gelu", {"approximate": m.approximate}),
    nn.Tanh: lambda m: ("tanh", {}),
    nn.Sigmoid: lambda m: ("sigmoid", {}),
    nn.SiLU: lambda m: ("silu", {}),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": m.negative_slope}),
    nn.ELU: lambda m: ("elu", {"alpha": m.alpha}),
    nn.SELU: lambda m: ("selu", {}),
    nn.Hardtanh: lambda m: ("hardtanh", {"min_val": m.min_val, "max_val": m.max_val}),
    nn.Softplus: lambda m: ("softplus", {"beta": m.beta, "threshold": m.threshold}),
    nn.Softsign: lambda m: ("softsign", {}),
    nn.Hardsigmoid: lambda m: ("hardsigmoid", {}),
    nn.Hardswish: lambda m: ("hardswish", {}),
    nn.Identity: lambda m: ("identity", {}),
    nn.Softmax: lambda m: ("softmax", {"dim": m.dim}),
    nn.LogSoftmax: lambda m: ("log_softmax", {"dim": m.dim}),
}


def trace(instance: Instance, input_names: Sequence[str]) -> Graph:
    """The forward of ``instance``'s model as a Graph; Unsupported where a call is outside
    what a seed is written for, or the forward cannot be traced."""
    try:
        with _attributes_kept(instance.model):
            module = torch.fx.symbolic_trace(instance.model)
    except Exception as error:
        raise Unsupported(f"its forward cannot be traced by torch.fx "
                          f"({type(error).__name__})") from None
    return _Lowering(instance, input_names).lower(module)


@contextmanager
def _attributes_kept(model: nn.Module) -> Iterator[None]:
    """Every module's plain attributes as they were before, once the block ends: tracing runs
    the forward with proxies, and a forward that keeps state on its module (KernelBench's
    VanillaRNN sets ``self.hidden``) left a proxy there, on which every later run of the
    model failed (the stage seed's recording, as a TraceError). Its output, not a copy of the
    model: a tensor the forward computed with autograd cannot be deep-copied."""
    kept = [(module, dict(vars(module))) for module in model.modules()]
    try:
        yield
    finally:
        for module, attributes in kept:
            vars(module).clear()
            vars(module).update(attributes)


class _Lowering:
    def __init__(self, instance: Instance, input_names: Sequence[str]) -> None:
        self.instance = instance
        self.input_names = tuple(input_names)
        self.nodes: list[Node] = []
        self.placeholders = 0

    def add(self, op: str, args: Sequence[_Ref], shape: Shape, **attrs: Any) -> _Ref:
        """The node of ``op`` on ``args``: the one already there where it is computed already
        (nodes are pure), else a new one."""
        ids = tuple(a.id for a in args)
        for node in self.nodes:
            if (node.op, node.args, node.shape, node.attrs) == (op, ids, shape, attrs):
                return _Ref(node.id)
        self.nodes.append(Node(len(self.nodes), op, ids, shape, attrs))
        return _Ref(len(self.nodes) - 1)

    def shape(self, ref: _Ref) -> Shape:
        return self.nodes[ref.id].shape

    def lower(self, module: torch.fx.GraphModule) -> Graph:
        env: dict[torch.fx.Node, Any] = {}
        for fx_node in module.graph.nodes:
            def value(arg: Any) -> Any:
                return torch.fx.node.map_arg(arg, lambda n: env[n])
            if fx_node.op == "output":
                return Graph(self.nodes, self.outputs(value(fx_node.args[0])))
            env[fx_node] = self._lower_node(fx_node, value)
        raise Unsupported("its forward has no output")

    def _lower_node(self, fx_node: torch.fx.Node, value: Callable[[Any], Any]) -> Any:
        if fx_node.op == "placeholder":
            index = self.placeholders
            self.placeholders += 1
            if index >= len(self.input_names):
                raise Unsupported("its forward takes more arguments than get_inputs() gives")
            tensor = self.instance.inputs[index]
            integer = {} if tensor.is_floating_point() else {"integer": True}
            return self.add("input", (), tuple(tensor.shape), name=self.input_names[index],
                            **integer)
        if fx_node.op == "get_attr":
            return self.weight(str(fx_node.target))
        args, kwargs = value(fx_node.args), value(fx_node.kwargs)
        if fx_node.op == "call_module":
            submodule = self.instance.model.get_submodule(str(fx_node.target))
            return self.module_call(str(fx_node.target), submodule, args)
        target = fx_node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        if name.endswith("_") and not name.startswith("_"):  # in place (x.relu_()): the same
            name = name[:-1]
        return self.call(name, args, kwargs)

    def outputs(self, result: Any) -> tuple[int, ...]:
        """The node of each tensor the forward returns (torch.max's pair: its values and its
        indices), each an index exactly where the problem's output is an integer tensor."""
        items = result if isinstance(result, tuple | list) else (result,)
        refs: list[_Ref] = []
        for item in items:
            if isinstance(item, _Pair):
                refs += [self.getitem(item, 0), self.getitem(item, 1)]
            elif isinstance(item, _Ref):
                refs.append(item)
            else:
                raise Unsupported("its forward returns something other than tensors")
        outputs = self.instance.outputs
        if len(refs) != len(outputs):
            raise Unsupported(f"its forward returns {len(outputs)} tensors, and its trace "
                              f"{len(refs)}")
        for position, (ref, tensor) in enumerate(zip(refs, outputs, strict=True)):
            node = self.nodes[ref.id]
            if is_index(node) != (not tensor.is_floating_point()):
                which = "its output" if len(refs) == 1 else f"its output {position}"
                raise Unsupported(f"{which} is {str(tensor.dtype).removeprefix('torch.')}, "
                                  f"computed by {node.op} in a way the seed patterns do not "
                                  "write (they write an argmax's or argmin's indices as int64)")
        return tuple(ref.id for ref in refs)

    def weight(self, name: str) -> _Ref:
        tensor = self.instance.weights.get(name)
        if tensor is None:
            raise Unsupported(f"it reads {name}, which is not a floating parameter or buffer")
        return self.add("weight", (), tuple(tensor.shape), name=name)

    def module_call(self, path: str, submodule: nn.Module, args: Sequence[Any]) -> Any:
        if isinstance(submodule, nn.Linear):
            bias = self.weight(f"{path}.bias") if submodule.bias is not None else None
            return self.linear(args[0], self.weight(f"{path}.weight"), bias)
        if isinstance(submodule, nn.LayerNorm):
            weight = self.weight(f"{path}.weight") if submodule.weight is not None else None
            bias = self.weight(f"{path}.bias") if submodule.bias is not None else None
            return self.layer_norm(args[0], tuple(submodule.normalized_shape), weight, bias,
                                   submodule.eps)
        if isinstance(submodule, nn.Dropout) and (submodule.p == 0 or not submodule.training):
            return args[0]
        for kind, describe in MODULE_CALLS.items():
            if type(submodule) is kind or (kind is nn.Hardtanh and isinstance(submodule, kind)):
                name, attrs = describe(submodule)
                return self.call(name, (args[0],), attrs)
        raise Unsupported(f"its forward uses {type(submodule).__name__}")

    def call(self, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        name = ALIASES.get(name, name)
        if name in IDENTITIES:
            return args[0]
        bound = _bind(name, args, kwargs)
        if name == "getitem":
            return self.getitem(bound["input"], bound["index"])
        if name == "getattr":  # torch.max(x, dim).values, .indices
            field = {"values": 0, "indices": 1}.get(bound["name"])
            if not isinstance(bound["input"], _Pair) or field is None:
                raise Unsupported(f"its forward reads .{bound['name']} of a value")
            return self.getitem(bound["input"], field)
        x = bound.get("input")
        if not isinstance(x, _Ref):
            raise Unsupported(f"its forward calls {name} on a non-tensor")
        if name in BINARY or (name in ("max", "min") and isinstance(bound.get("dim"), _Ref)):
            return self.binary({"max": "maximum", "min": "minimum"}.get(name, name), x,
                               bound.get("other", bound.get("dim")))
        if name in REDUCTIONS or name in ("amax", "amin"):
            return self.reduce(name, x, bound.get("dim"), bool(bound.get("keepdim", False)))
        if name in ARG_REDUCTIONS:
            rank = len(self.shape(x))
            dim = bound.get("dim")
            return self._reduction(name, x, tuple(range(rank)) if dim is None else
                                   _dims(dim, rank), bool(bound.get("keepdim", False)))
        if name == "logsumexp":
            return self.logsumexp(x, bound.get("dim"), bool(bound.get("keepdim", False)))
        if name == "norm":
            return self.norm(x, bound.get("p", "fro"), bound.get("dim"),
                             bool(bound.get("keepdim", False)))
        if name in ("softmax", "log_softmax"):
            return self.softmax(x, bound.get("dim"), log=name == "log_softmax")
        if name in ("cumsum", "cumprod"):
            dim = _dims(bound.get("dim"), len(self.shape(x)))
            return self.add("scan", (x,), self.shape(x), kind=name[3:], dims=dim)
        if name in ("matmul", "mm"):
            return self.matmul(x, bound.get("other"), "kn")
        if name == "linear":
            return self.linear(x, bound["weight"], bound.get("bias"))
        if name == "layer_norm":
            return self.layer_norm(x, tuple(bound["normalized_shape"]), bound.get("weight"),
                                   bound.get("bias"), float(bound.get("eps", 1e-5)))
        return self.unary(name, x, bound)

    def unary(self, name: str, x: _Ref, bound: Mapping[str, Any]) -> _Ref:
        attrs = {k: v for k, v in bound.items() if k != "input" and v is not None}
        if name == "gelu":
            name = "gelu_tanh" if attrs.pop("approximate", "none") == "tanh" else "gelu"
        if name == "relu6":
            name, attrs = "hardtanh", {"min_val": 0.0, "max_val": 6.0}
        if name == "clamp":
            for bound_name in ("min", "max"):
                if bound_name in attrs:
                    x = self.add(f"clamp_{bound_name}", (x,), self.shape(x),
                                 **{bound_name: float(attrs[bound_name])})
            return x
        if name not in UNARY and name != "identity":
            raise Unsupported(f"its forward calls {name}")
        if any(not isinstance(v, int | float) for v in attrs.values()):
            raise Unsupported(f"its forward calls {name} with a tensor argument")
        return x if name == "identity" else self.add(name, (x,), self.shape(x), **attrs)

    def binary(self, name: str, a: Any, b: Any) -> _Ref:
        if name == "pow" and isinstance(a, _Ref) and b in (2, 2.0, 0.5):
            return self.add("square" if b != 0.5 else "sqrt", (a,), self.shape(a))
        refs = tuple(self.const(v) if isinstance(v, int | float) else v for v in (a, b))
        if not all(isinstance(r, _Ref) for r in refs):
            raise Unsupported(f"its forward calls {name} on a non-tensor")
        shape = tuple(torch.broadcast_shapes(*(self.shape(r) for r in refs)))
        return self.add(name, refs, shape)

    def const(self, value: float) -> _Ref:
        return self.add("const", (), (), value=float(value))

    def reduce(self, name: str, x: _Ref, dim: Any, keepdim: bool) -> Any:
        """The reduction ``name`` (amax is max's values alone; max over one dim gives the
        values and the indices, until getitem takes one)."""
        rank = len(self.shape(x))
        dims = tuple(range(rank)) if dim is None else _dims(dim, rank)
        kind = name.removeprefix("a") if name in ("amax", "amin") else name
        if name in ("max", "min") and dim is not None and not isinstance(dim, tuple | list):
            return _Pair(kind, x, dims, keepdim)
        return self._reduction(kind, x, dims, keepdim)

    def _reduction(self, kind: str, x: _Ref, dims: tuple[int, ...], keepdim: bool) -> _Ref:
        shape = self.shape(x)
        kept = tuple(1 if i in dims else s for i, s in enumerate(shape))
        out = kept if keepdim else tuple(s for i, s in enumerate(shape) if i not in dims)
        return self.add("reduce", (x,), out, kind=kind, dims=dims, keepdim=keepdim)

    def getitem(self, pair: Any, index: Any) -> _Ref:
        """torch.max's or torch.min's values (item 0) or indices (item 1)."""
        if isinstance(pair, _Pair) and index in (0, 1):
            kind = pair.kind if index == 0 else f"arg{pair.kind}"
            return self._reduction(kind, pair.operand, pair.dims, pair.keepdim)
        raise Unsupported("its forward takes an item of a result (a slice, an element)")

    def norm(self, x: _Ref, p: Any, dim: Any, keepdim: bool) -> _Ref:
        """The 2-norm (or Frobenius) as a kernel computes it: the square root of a sum of
        squares."""
        if p not in (2, 2.0, "fro"):
            raise Unsupported(f"its forward takes a {p}-norm")
        squares = self.add("square", (x,), self.shape(x))
        total = self.reduce("sum", squares, dim, keepdim)
        return self.add("sqrt", (total,), self.shape(total))

    def softmax(self, x: _Ref, dim: Any, log: bool) -> _Ref:
        if dim is None:
            raise Unsupported("its forward calls softmax without a dim")
        dims = _dims(dim, len(self.shape(x)))
        shifted = self.binary("sub", x, self._reduction("max", x, dims, True))
        exps = self.add("exp", (shifted,), self.shape(x))
        total = self._reduction("sum", exps, dims, True)
        if log:
            return self.binary("sub", shifted, self.add("log", (total,), self.shape(total)))
        return self.binary("div", exps, total)

    def logsumexp(self, x: _Ref, dim: Any, keepdim: bool) -> _Ref:
        """log(sum(exp(x - max))) + max, as torch computes it (the max and the sum of
        exponentials a softmax beside it computes too)."""
        if dim is None:
            raise Unsupported("its forward calls logsumexp without a dim")
        dims = _dims(dim, len(self.shape(x)))
        peak = self._reduction("max", x, dims, True)
        exps = self.add("exp", (self.binary("sub", x, peak),), self.shape(x))
        total = self._reduction("sum", exps, dims, True)
        kept = self.binary("add", self.add("log", (total,), self.shape(total)), peak)
        if keepdim:
            return kept
        shape = tuple(s for i, s in enumerate(self.shape(x)) if i not in dims)
        return self.add("squeeze", (kept,), shape, dims=dims)

    def layer_norm(self, x: _Ref, normalized: Shape, weight: Any, bias: Any,
                   eps: float) -> _Ref:
        rank = len(self.shape(x))
        dims = tuple(range(rank - len(normalized), rank))
        centred = self.binary("sub", x, self._reduction("mean", x, dims, True))
        variance = self._reduction("mean", self.binary("mul", centred, centred), dims, True)
        scale = self.add("rsqrt", (self.binary("add", variance, eps),), self.shape(variance))
        out = self.binary("mul", centred, scale)
        if isinstance(weight, _Ref):
            out = self.binary("mul", out, weight)
        if isinstance(bias, _Ref):
            out = self.binary("add", out, bias)
        return out

    def matmul(self, a: _Ref, b: Any, layout: str) -> _Ref:
        if not isinstance(b, _Ref) or len(self.shape(b)) != 2 or len(self.shape(a)) < 2:
            raise Unsupported("its forward multiplies tensors other than a matrix by a matrix")
        if layout == "kn" and len(self.shape(a)) != 2:
            raise Unsupported("its forward multiplies batches of matrices")
        columns = self.shape(b)[1] if layout == "kn" else self.shape(b)[0]
        return self.add("matmul", (a, b), (*self.shape(a)[:-1], columns), layout=layout)

    def linear(self, x: Any, weight: Any, bias: Any) -> _Ref:
        if not isinstance(x, _Ref):
            raise Unsupported("its forward calls linear on a non-tensor")
        product = self.matmul(x, weight, "nk")
        return self.binary("add", product, bias) if isinstance(bias, _Ref) else product


def _bind(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, as SIGNATURES (or a unary call's one input) names them."""
    names = SIGNATURES.get(name, ("input",))
    if len(args) > len(names):
        known = name in SIGNATURES or name in UNARY
        raise Unsupported(f"its forward calls {name}" + (" with more arguments than expected"
                                                          if known else ""))
    bound = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key in IGNORED_KWARGS or (value is None and key not in names):
            continue  # a keyword left at its default (dtype=None, out=None)
        if key not in names and not (name == "gelu" and key == "approximate"):
            raise Unsupported(f"its forward calls {name} with {key}=")
        bound[key] = value
    return bound


def _dims(dim: Any, rank: int) -> tuple[int, ...]:
    """``dim`` (an int or a sequence of them, negative from the end) as sorted dims."""
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not all(isinstance(d, int) for d in dims):
        raise Unsupported("its forward reduces over a dimension given by a tensor")
    return tuple(sorted(d % rank for d in dims))

