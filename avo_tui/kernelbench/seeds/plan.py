"""Which plain seed a problem's graph (problem/graph.py) can have, if any: three patterns.

- **elementwise**: every operation is elementwise on tensors of the output's shape (and
  constants): one loop over the elements, writing each output (all of that shape).
- **line**: reductions and scans over one contiguous range of dimensions of an input (a
  softmax, a norm, a sum, an argmax, a cumulative sum): the input seen as [outer, n, inner],
  each of its outer x inner lines of n elements read by passes (one per reduction, then one
  that writes), with elementwise operations before and after, and weights laid along the
  line (LayerNorm's scale). Each output is the input's shape, or one value per line (an
  argmax's index among them, written as it is: nothing computes on an index).
- **matmul**: one matrix product of two leaves, [M, K] by [K, N] (torch.matmul) or by [N, K]
  (a Linear layer's weight), then elementwise operations on its result with column vectors
  (a bias), tensors of the output's shape (a residual) and constants; one output.

Anything else gets no seed, and the reason says what was met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from ..problem.elementwise import is_elementwise
from ..problem.graph import Graph, Node, is_index

LEAVES = ("input", "weight")


class Layout(Enum):
    """How a tensor is indexed inside a seed's loops."""

    SCALAR = "a constant"
    FULL = "every element"  # the line plan's input shape; the matmul's output shape
    LINE = "along the line"  # one value per position of the line (LayerNorm's weight)
    KEPT = "one per line (reduced, dimensions kept)"
    SQUEEZED = "one per line (reduced, dimensions removed)"
    COLUMN = "one per column"  # a matmul output's column (a bias)


@dataclass(frozen=True)
class ElementwisePlan:
    graph: Graph
    kind: str = "elementwise"


@dataclass(frozen=True)
class LinePlan:
    """Lines along dims ``start`` .. ``stop`` - 1 of ``source``'s shape (an input's name)."""

    graph: Graph
    source: str
    start: int
    stop: int
    layouts: dict[int, Layout]
    kind: str = "line"

    def reduced(self, output: int) -> bool:
        """Whether the output node ``output`` is one value per line (else it is the input's
        shape)."""
        return self.layouts[output] in (Layout.KEPT, Layout.SQUEEZED)


@dataclass(frozen=True)
class MatmulPlan:
    """out = epilogue(a @ b), b [K, N] (layout "kn") or [N, K] ("nk")."""

    graph: Graph
    matmul: Node
    layouts: dict[int, Layout]
    kind: str = "matmul"

    @property
    def a(self) -> Node:
        return self.graph.nodes[self.matmul.args[0]]

    @property
    def b(self) -> Node:
        return self.graph.nodes[self.matmul.args[1]]

    @property
    def layout(self) -> str:
        return str(self.matmul.attrs["layout"])


Plan = ElementwisePlan | LinePlan | MatmulPlan
T = TypeVar("T")


def by_pattern(plan: Plan, elementwise: Callable[[ElementwisePlan], T],
               line: Callable[[LinePlan], T], matmul: Callable[[MatmulPlan], T]) -> T:
    """The one of the three functions for ``plan``'s pattern, called on it."""
    if isinstance(plan, ElementwisePlan):
        return elementwise(plan)
    return line(plan) if isinstance(plan, LinePlan) else matmul(plan)


def plan_of(graph: Graph) -> Plan | str:
    """The plan for ``graph``, or why none fits (to finish "no seed: ...")."""
    ops = {n.op for n in graph.nodes} - {"input", "weight", "const"}
    if any(is_index(n) and graph.users(n.id) for n in graph.nodes):
        return "its forward computes with the indices an argmax or argmin gives (the seed " \
               "writes them as they are)"
    if "matmul" in ops:
        return _matmul(graph)
    if ops & {"reduce", "scan"}:
        return _line(graph)
    outs = [graph.nodes[o] for o in graph.outputs]
    if any(out.op in LEAVES or not out.shape for out in outs):
        return "its forward computes nothing elementwise (it returns an input, or a scalar)"
    if all(n.shape == outs[0].shape or n.op == "const" for n in graph.nodes):
        return ElementwisePlan(graph)
    return "its elementwise operations broadcast tensors of different shapes"


def _matmul(graph: Graph) -> MatmulPlan | str:
    if len(graph.outputs) != 1:
        return "its forward returns several tensors, and the matmul seed writes one"
    products = [n for n in graph.nodes if n.op == "matmul"]
    if len(products) != 1:
        return "its forward has more than one matrix product"
    product = products[0]
    if any(graph.nodes[i].op not in LEAVES for i in product.args):
        return "its matrix product takes a computed tensor (the seed reads two inputs or weights)"
    if any(graph.nodes[i].attrs.get("integer") for i in product.args):
        return "its matrix product reads an integer tensor (the seed reads two float ones)"
    if any(len(graph.users(i)) != 1 for i in product.args):
        return "its matrix product's operands are used again"
    columns = product.shape[-1]

    def leaf(node: Node) -> Layout | None:
        if node.shape == product.shape:
            return Layout.FULL
        if node.shape and node.shape[-1] == columns and all(s == 1 for s in node.shape[:-1]):
            return Layout.COLUMN
        return None

    def combine(node: Node, layouts: list[Layout]) -> Layout | None:
        if node.op in ("reduce", "scan", "squeeze"):
            return None
        layout = Layout.FULL if Layout.FULL in layouts else (
            Layout.COLUMN if Layout.COLUMN in layouts else Layout.SCALAR)
        return layout if layout != Layout.FULL or node.shape == product.shape else None

    layouts = _layouts(graph, leaf, combine, {product.id: Layout.FULL} | {
        i: Layout.FULL for i in product.args})
    if isinstance(layouts, str):
        return layouts
    if graph.nodes[graph.outputs[0]].shape != product.shape:
        return "its output is not the matrix product's shape"
    return MatmulPlan(graph, product, layouts)


def _line(graph: Graph) -> LinePlan | str:
    axis_nodes = [n for n in graph.nodes if n.op in ("reduce", "scan")]
    dims = axis_nodes[0].attrs["dims"]
    if any(n.attrs["dims"] != dims for n in axis_nodes):
        return "its reductions run over different dimensions"
    if dims != tuple(range(dims[0], dims[-1] + 1)):
        return "it reduces over dimensions that are not next to each other"
    full = graph.nodes[axis_nodes[0].args[0]].shape
    start, stop = dims[0], dims[-1] + 1
    kept = tuple(1 if i in dims else s for i, s in enumerate(full))
    squeezed = tuple(s for i, s in enumerate(full) if i not in dims)
    along = tuple(s if i in dims else 1 for i, s in enumerate(full))

    def leaf(node: Node) -> Layout | None:
        if node.shape == full:
            return Layout.FULL
        padded = (1,) * (len(full) - len(node.shape)) + node.shape
        return Layout.LINE if padded == along and len(node.shape) <= len(full) else None

    def combine(node: Node, layouts: list[Layout]) -> Layout | None:
        if node.op == "reduce":
            if layouts != [Layout.FULL]:
                return None
            return Layout.KEPT if node.attrs["keepdim"] else Layout.SQUEEZED
        if node.op == "scan":
            return Layout.FULL if layouts == [Layout.FULL] else None
        if node.op == "squeeze":
            return Layout.SQUEEZED if layouts == [Layout.KEPT] and node.shape == squeezed \
                else None
        kinds = set(layouts) - {Layout.SCALAR}
        if Layout.SQUEEZED in kinds:
            layout = Layout.SQUEEZED if kinds == {Layout.SQUEEZED} else None
        elif Layout.FULL in kinds or kinds == {Layout.LINE, Layout.KEPT}:
            layout = Layout.FULL
        else:
            layout = kinds.pop() if len(kinds) == 1 else Layout.SCALAR
        expected = {Layout.FULL: full, Layout.KEPT: kept, Layout.SQUEEZED: squeezed}
        if layout is None or node.shape != expected.get(layout, node.shape):
            return None
        return layout

    layouts = _layouts(graph, leaf, combine, {})
    if isinstance(layouts, str):
        return layouts
    if any(layouts[o] not in (Layout.FULL, Layout.KEPT, Layout.SQUEEZED)
           for o in graph.outputs):
        return "its output is not laid out as its input or one value per line"
    sources = [n for n in graph.nodes if n.op == "input" and layouts[n.id] == Layout.FULL]
    if not sources:
        return "no input has the shape its reductions run over"
    scans = {n.id for n in axis_nodes if n.op == "scan"}
    if scans and (any(layouts[o] != Layout.FULL for o in graph.outputs) or any(
            _depends(graph, n.args[0], scans) for n in axis_nodes if n.op == "reduce")):
        return "a reduction depends on a scan (the seed's scan runs in its last pass)"
    return LinePlan(graph, str(sources[0].attrs["name"]), start, stop, layouts)


def _layouts(graph: Graph, leaf: Callable[[Node], Layout | None],
             combine: Callable[[Node, list[Layout]], Layout | None],
             given: dict[int, Layout]) -> dict[int, Layout] | str:
    """Every node's layout: a leaf's by ``leaf``, a computed node's from its operands'."""
    layouts = dict(given)
    for node in graph.nodes:
        if node.id in layouts:
            continue
        if node.op == "const":
            layout: Layout | None = Layout.SCALAR
        elif node.op in LEAVES:
            layout = leaf(node)
            if layout is None:
                return f"its {node.attrs['name']} {list(node.shape)} is laid out in a way the " \
                       "seed patterns do not index"
        elif is_elementwise(node.op) or node.op in ("reduce", "scan", "squeeze"):
            layout = combine(node, [layouts[i] for i in node.args])
        else:
            return f"its forward computes {node.op}, which the seed patterns do not"
        if layout is None:
            return f"its {node.op} combines tensors of shapes the seed patterns do not index"
        layouts[node.id] = layout
    return layouts


def _depends(graph: Graph, node: int, on: set[int]) -> bool:
    if node in on:
        return True
    return any(_depends(graph, arg, on) for arg in graph.nodes[node].args)
