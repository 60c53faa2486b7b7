"""The body of a line plan's seed (plan.LinePlan), shared by C and CUDA: ``width`` lines of
``line_len`` elements, from line ``(o, i0)`` of the input seen as [lines_outer, line_len,
lines_inner] (the C seed takes BLOCK_INNER neighbouring lines at once, a CUDA thread one).

One pass over each line per reduction, in the graph's order (a softmax's max, then its sum of
exponentials), accumulating in double into ``r<id>[b]``; then, for an output shaped as the
input, one pass that computes and writes every element, running each scan (``s<id>[b]``) as it
goes; for one value per line, the values after the last pass.
"""

from __future__ import annotations

from .graph import Node
from .kernel_text import Kernel, Statements, c_name
from .plan import Layout, LinePlan

INITIAL = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "max": "-(1.0 / 0.0)",
           "min": "(1.0 / 0.0)"}
UPDATE = {"sum": "{acc} += {v};", "mean": "{acc} += {v};", "prod": "{acc} *= {v};",
          "max": "{acc} = fmax({acc}, (double){v});", "min": "{acc} = fmin({acc}, (double){v});"}
ELEMENT = "base + j * lines_inner + b"  # element j of line b


def sizes(kernel: Kernel, plan: LinePlan) -> list[str]:
    """The declarations of lines_outer, line_len and lines_inner, from the source's shape."""
    shape = kernel.shapes[kernel.leaves[("input", plan.source)]]
    parts = (shape[:plan.start], shape[plan.start:plan.stop], shape[plan.stop:])
    return [f"const long {name} = {kernel.size(part)};"
            for name, part in zip(("lines_outer", "line_len", "lines_inner"), parts,
                                  strict=True)]


def contiguous(kernel: Kernel, plan: LinePlan) -> bool:
    """Whether each line is contiguous (lines_inner is 1 on every shape): a reduction then
    runs in LANES partial results, independent chains, rather than across BLOCK_INNER
    neighbouring lines."""
    shape = kernel.shapes[kernel.leaves[("input", plan.source)]]
    return all(not size.terms and size.offset == 1 for size in shape[plan.stop:])


def _lines_pass(step: Statements, node: Node) -> list[str]:
    """One pass of a reduction over the width lines of a block, element by element."""
    value = step.value(node.args[0])
    step.add(UPDATE[str(node.attrs["kind"])].format(acc=f"r{node.id}[b]", v=value))
    return ["for (long j = 0; j < line_len; ++j)",
            "    for (int b = 0; b < width; ++b) {", step.text(), "    }"]


def _lanes_pass(step: Statements, node: Node) -> list[str]:
    """One pass of a reduction over a contiguous line, in LANES partial results combined at
    its end (element j goes to lane j % LANES)."""
    update = UPDATE[str(node.attrs["kind"])]
    step.add(update.format(acc="lane[l]", v=step.value(node.args[0])))
    return ["{",
            "    double lane[LANES];",
            f"    for (int l = 0; l < LANES; ++l) lane[l] = {INITIAL[str(node.attrs['kind'])]};",
            "    for (long j0 = 0; j0 < line_len; j0 += LANES)",
            "        for (int l = 0; l < LANES && j0 + l < line_len; ++l) {",
            "            const long j = j0 + l;",
            "            const int b = 0;",
            _indented(step.text(), "    "),
            "        }",
            "    for (int l = 0; l < LANES; ++l)",
            "        " + update.format(acc=f"r{node.id}[0]", v="lane[l]"),
            "}"]


def body(kernel: Kernel, plan: LinePlan, indent: str) -> str:
    graph = plan.graph
    reductions = [n for n in graph.nodes if n.op == "reduce"]
    scans = [n for n in graph.nodes if n.op == "scan"]
    out = c_name(kernel.output)
    lines = [f"// element j of line b: {ELEMENT}" + ("; its value: rbase + b"
                                                       if plan.reduced_output else ""),
             "const long base = o * line_len * lines_inner + i0;"]
    if plan.reduced_output:
        lines.append("const long rbase = o * lines_inner + i0;")

    def given(node: Node) -> str | None:
        if node.op in ("input", "weight"):
            index = ELEMENT if plan.layouts[node.id] == Layout.FULL else "j"
            return f"{kernel.param(node)}[{index}]"
        if node.op == "reduce":
            return f"r{node.id}[b]"
        if node.op == "scan":
            return f"(float)s{node.id}[b]"
        return None

    for node in reductions + scans:
        accumulator = "r" if node.op == "reduce" else "s"
        kind = str(node.attrs["kind"])
        lines.append(f"double {accumulator}{node.id}[BLOCK_INNER];")
        lines.append(f"for (int b = 0; b < width; ++b) {accumulator}{node.id}[b] = "
                     f"{INITIAL[kind]};")
    for node in reductions:
        kind = str(node.attrs["kind"])
        lines += (_lanes_pass if contiguous(kernel, plan) else _lines_pass)(
            Statements(graph, given, "        "), node)
        if kind == "mean":
            lines.append(f"for (int b = 0; b < width; ++b) r{node.id}[b] /= (double)line_len;")
    if plan.reduced_output:
        last = Statements(graph, given, "    ")
        result = last.value(graph.output)
        last.add(f"{out}[rbase + b] = {result};")
        lines += ["for (int b = 0; b < width; ++b) {", last.text(), "}"]
    else:
        write = Statements(graph, given, "        ")
        for scan in scans:
            value = write.value(scan.args[0])
            write.add(UPDATE[str(scan.attrs["kind"])].format(acc=f"s{scan.id}[b]", v=value))
        result = write.value(graph.output)
        write.add(f"{out}[{ELEMENT}] = {result};")
        lines += ["for (long j = 0; j < line_len; ++j)",
                  "    for (int b = 0; b < width; ++b) {", write.text(), "    }"]
    return _indented("\n".join(lines), indent)


def _indented(text: str, indent: str) -> str:
    return "\n".join(indent + line if line.strip() else line for line in text.splitlines())
