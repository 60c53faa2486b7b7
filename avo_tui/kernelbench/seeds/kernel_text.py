"""What the C and the CUDA seeds of an imported problem write alike: the entry point's
signature, the sizes of its loops, and the statements of a graph's elementwise operations.

A statement computes one node, ``const float t7 = <expression>;``, from names the pattern
gives (an element of an input, an accumulator) and the statements before it; a node used
twice is computed once. Its expressions are problem/elementwise.py's, which C and CUDA spell alike.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..problem.elementwise import expression, literal
from ..problem.graph import Graph, Node
from ..problem.size_expr import SizeExpr, product_of

WIDTH = 92  # of a line of a seed
# The names the seeds' own loops use (and C's keywords): a parameter of the same name is
# written with a trailing underscore in the kernel (the harness passes arguments in order).
C_KEYWORDS = frozenset({
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool",
    "true", "false", "half",
})
SEED_LOCALS = frozenset({
    "lines_outer", "line_len", "lines_inner", "blocks", "task", "o", "i0", "width",
    "base", "rbase", "j", "b", "idx", "numel", "rows", "cols", "depth", "m", "nn", "k",
    "n0", "c", "acc", "part", "l", "a_row", "w_row", "b_row", "row", "col", "tile_a",
    "tile_b", "k0", "kk", "line", "panel", "p0", "p1", "threads", "a", "n1", "tx", "ty",
    "val", "best", "size_t", "malloc", "free", "abort",
})
TAKEN = C_KEYWORDS | SEED_LOCALS
# An output's element type in a C kernel and a CUDA one, by its dtype (docs/targets.md,
# integer and bool tensors: NVRTC may have no <stdint.h>).
C_TYPES = {"float32": "float", "int64": "int64_t", "int32": "int32_t", "int8": "int8_t",
           "uint8": "uint8_t", "bool": "bool"}
CUDA_TYPES = {"float32": "float", "int64": "long long", "int32": "int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


@dataclass(frozen=True)
class Kernel:
    """The entry point a seed defines: its name, its tensor parameters in order (the inputs,
    then the outputs, each with its dtype), its int parameters (the dimensions), every
    tensor's shape, and which parameter each leaf of the graph is (``("input", "x")`` or
    ``("weight", "gemm.weight")`` to the target's name for it). An integer or bool input
    (labels, a mask) is declared with its own element type and read as a float, as torch
    promotes it where it meets a float tensor."""

    entry: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_dtypes: tuple[str, ...]  # float32, int64 ...
    dims: tuple[str, ...]
    shapes: dict[str, tuple[SizeExpr, ...]]
    leaves: dict[tuple[str, str], str]
    input_dtypes: tuple[str, ...] = ()  # each input's (float32, int64 ...); (): all float32
    const: str = "const {} *"  # an input's type, before its name, {} its element type
    pointer: str = "{} *"  # an output's
    types: dict[str, str] = field(default_factory=lambda: dict(C_TYPES))

    def with_pointers(self, const: str, pointer: str, types: dict[str, str]) -> Kernel:
        return replace(self, const=const, pointer=pointer, types=types)

    def input_dtype(self, name: str) -> str:
        """The dtype of the input ``name`` (the target's name; a weight is float32)."""
        dtypes = dict(zip(self.inputs, self.input_dtypes, strict=False))
        return dtypes.get(name, "float32")

    @property
    def dtypes(self) -> tuple[str, ...]:
        """Every tensor parameter's dtype, inputs then outputs (the headers they need)."""
        return (*(self.input_dtype(name) for name in self.inputs), *self.output_dtypes)

    @property
    def output(self) -> str:
        """The first output (the one of a single-output kernel)."""
        return self.outputs[0]

    def param(self, node: Node) -> str:
        """The kernel's name for the tensor a leaf node reads."""
        return c_name(self.leaves[(node.op, str(node.attrs["name"]))])

    def read(self, node: Node, index: str) -> str:
        """Element ``index`` of the tensor a leaf node reads, as a float: an integer input's
        converted (``(float)labels[i]``), so no operation on it is C's integer arithmetic
        (torch's ``/`` of two integer tensors divides exactly)."""
        name = self.leaves[(node.op, str(node.attrs["name"]))]
        element = f"{c_name(name)}[{index}]"
        return element if self.input_dtype(name) == "float32" else f"((float){element})"

    def shape(self, node: Node) -> tuple[SizeExpr, ...]:
        return self.shapes[self.leaves[(node.op, str(node.attrs["name"]))]]

    def size(self, sizes: tuple[SizeExpr, ...]) -> str:
        """The product of ``sizes`` in C, in 64-bit arithmetic."""
        return product_of(sizes, lambda dim: f"(long){c_name(dim)}")

    def launch_size(self, sizes: tuple[SizeExpr, ...]) -> str:
        """The product of ``sizes`` in an avo:launch expression (dimensions in capitals)."""
        return product_of(sizes, str.upper)

    def signature(self, prefix: str) -> str:
        """``prefix`` (the return type and qualifiers), the entry point and its parameters,
        wrapped to WIDTH."""
        tensors = [f"{self.const.format(self.types[self.input_dtype(name)])}{c_name(name)}"
                   for name in self.inputs]
        tensors += [f"{self.pointer.format(self.types[dtype])}{c_name(name)}"
                    for name, dtype in zip(self.outputs, self.output_dtypes, strict=True)]
        parameters = ", ".join(tensors + [f"int {c_name(dim)}" for dim in self.dims])
        opening = f"{prefix} {self.entry}("
        lines = textwrap.wrap(parameters + ")", WIDTH - 4, break_on_hyphens=False)
        if len(opening) + len(lines[0]) <= WIDTH and len(lines) == 1:
            return opening + lines[0]
        return opening + "\n" + "\n".join(f"    {line}" for line in lines)


def c_name(name: str) -> str:
    # a statement's, an accumulator's, a size's, a coordinate's, a value's
    numbered = name[:1] in "trsvi" and name[1:].isdigit()
    return f"{name}_" if name in TAKEN or numbered else name


class Statements:
    """The statements of one scope (a loop body): each node computed once, in order."""

    def __init__(self, graph: Graph, given: Callable[[Node], str | None], indent: str) -> None:
        self.graph = graph
        self.given = given
        self.indent = indent
        self.lines: list[str] = []
        self._values: dict[int, str] = {}

    def value(self, node_id: int) -> str:
        """The name (or literal) holding node ``node_id``'s value, its statements added."""
        if node_id in self._values:
            return self._values[node_id]
        node = self.graph.nodes[node_id]
        given = self.given(node)
        if given is not None:
            text = given
        elif node.op == "const":
            text = literal(float(node.attrs["value"]))
        elif node.op == "squeeze":  # one value per line, its dimensions dropped: the same
            text = self.value(node.args[0])
        else:
            operands = tuple(self.value(arg) for arg in node.args)
            attrs = {k: float(v) for k, v in node.attrs.items()
                     if isinstance(v, int | float) and not isinstance(v, bool)}
            self.add(f"const float t{node_id} = {expression(node.op, operands, attrs)};")
            text = f"t{node_id}"
        self._values[node_id] = text
        return text

    def add(self, line: str) -> None:
        self.lines.append(self.indent + line)

    def text(self) -> str:
        return "\n".join(self.lines)


def seed_file(kernel: Kernel, title: str, paragraphs: list[str], preamble: str,
              prefix: str, body: str) -> str:
    """A seed's whole text: a comment (the entry point and ``title``, then ``paragraphs``,
    each wrapped), the ``preamble`` (includes, knobs, a launch declaration), and the entry
    point (``prefix`` its return type and qualifiers) around ``body``."""
    wrapped = [part for line in [f"{kernel.entry}: {title}", *paragraphs]
               for part in [*textwrap.wrap(line, WIDTH - 3, break_on_hyphens=False), ""]]
    comment = "\n".join(f" * {line}".rstrip() for line in wrapped[:-1])
    return (f"/*\n{comment}\n */\n{preamble.strip()}\n\n"
            f"{kernel.signature(prefix)} {{\n{body.rstrip()}\n}}\n")


def elementwise_loop_body(kernel: Kernel, graph: Graph, indent: str) -> str:
    """The statements for element ``idx`` of every tensor, and each output's store."""
    def given(node: Node) -> str | None:
        return kernel.read(node, "idx") if node.op in ("input", "weight") else None

    step = Statements(graph, given, indent)
    for name, node in zip(kernel.outputs, graph.outputs, strict=True):
        result = step.value(node)
        step.add(f"{c_name(name)}[idx] = {result};")
    return step.text()
