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
        step = Statements(graph, given, "        ")
        value = step.value(node.args[0])
        step.add(UPDATE[kind].format(acc=f"r{node.id}[b]", v=value))
        lines += ["for (long j = 0; j < line_len; ++j)",
                  "    for (int b = 0; b < width; ++b) {", step.text(), "    }"]
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
