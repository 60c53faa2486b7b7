"""The body of a line plan's seed (plan.LinePlan), shared by C and CUDA: ``width`` lines of
``line_len`` elements, from line ``(o, i0)`` of the input seen as [lines_outer, line_len,
lines_inner] (the C seed takes BLOCK_INNER neighbouring lines at once, a CUDA thread one).

One pass over each line per reduction, in the graph's order (a softmax's max, then its sum of
exponentials), accumulating in double into ``r<id>[b]``; an argmax or argmin keeps the best
value in ``v<id>[b]`` and its index in ``r<id>[b]`` (a long: the first of equal ones, a NaN
before any number, as torch gives). Then each output of one value per line is written after
the last pass, and those shaped as the input in one more pass that computes and writes every
element, running each scan (``s<id>[b]``) as it goes.
"""

from __future__ import annotations

from ..problem.graph import Node, is_index
from .kernel_text import Kernel, Statements, c_name
from .plan import Layout, LinePlan

INITIAL = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "max": "-(1.0 / 0.0)",
           "min": "(1.0 / 0.0)", "argmax": "0", "argmin": "0"}
UPDATE = {"sum": "{acc} += {v};", "mean": "{acc} += {v};", "prod": "{acc} *= {v};",
          "max": "{acc} = fmax({acc}, (double){v});", "min": "{acc} = fmin({acc}, (double){v});"}
# An index reduction: element j beats the best so far (v<id>[b]) where it is further in its
# direction, or a NaN where the best is none (torch's argmax and argmin take the first NaN);
# ties keep the first index.
BETTER = {"argmax": ">", "argmin": "<"}
BEST = {"argmax": "max", "argmin": "min"}
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
    kind = str(node.attrs["kind"])
    if kind in BETTER:
        best = f"v{node.id}[b]"
        step.add(f"const float val = {value};")
        step.add(f"if (val {BETTER[kind]} {best} || (val != val && {best} == {best})) {{")
        step.add(f"    {best} = val;")
        step.add(f"    r{node.id}[b] = j;")
        step.add("}")
    else:
        step.add(UPDATE[kind].format(acc=f"r{node.id}[b]", v=value))
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


def lanes(kernel: Kernel, plan: LinePlan) -> bool:
    """Whether a reduction's pass keeps LANES partial results: each line contiguous, and some
    reduction of values (an index reduction walks its line in order, for the first of equal
    values)."""
    return contiguous(kernel, plan) and any(
        n.op == "reduce" and not is_index(n) for n in plan.graph.nodes)


def body(kernel: Kernel, plan: LinePlan, indent: str) -> str:
    graph = plan.graph
    reductions = [n for n in graph.nodes if n.op == "reduce"]
    scans = [n for n in graph.nodes if n.op == "scan"]
    outputs = list(zip(kernel.outputs, graph.outputs, strict=True))
    reduced = [(c_name(name), node) for name, node in outputs if plan.reduced(node)]
    full = [(c_name(name), node) for name, node in outputs if not plan.reduced(node)]
    lines = [f"// element j of line b: {ELEMENT}" + ("; its value: rbase + b"
                                                       if reduced else ""),
             "const long base = o * line_len * lines_inner + i0;"]
    if reduced:
        lines.append("const long rbase = o * lines_inner + i0;")

    def given(node: Node) -> str | None:
        if node.op in ("input", "weight"):
            index = ELEMENT if plan.layouts[node.id] == Layout.FULL else "j"
            return kernel.read(node, index)
        if node.op == "reduce":
            return f"r{node.id}[b]"
        if node.op == "scan":
            return f"(float)s{node.id}[b]"
        return None

    for node in reductions + scans:
        accumulator = "r" if node.op == "reduce" else "s"
        kind = str(node.attrs["kind"])
        if is_index(node):
            lines.append(f"double v{node.id}[BLOCK_INNER];")
            lines.append(f"long r{node.id}[BLOCK_INNER];")
            lines.append(f"for (int b = 0; b < width; ++b) {{ v{node.id}[b] = "
                         f"{INITIAL[BEST[kind]]}; r{node.id}[b] = 0; }}")
            continue
        lines.append(f"double {accumulator}{node.id}[BLOCK_INNER];")
        lines.append(f"for (int b = 0; b < width; ++b) {accumulator}{node.id}[b] = "
                     f"{INITIAL[kind]};")
    for node in reductions:
        kind = str(node.attrs["kind"])
        in_lanes = lanes(kernel, plan) and not is_index(node)
        lines += (_lanes_pass if in_lanes else _lines_pass)(
            Statements(graph, given, "        "), node)
        if kind == "mean":
            lines.append(f"for (int b = 0; b < width; ++b) r{node.id}[b] /= (double)line_len;")
    if reduced:
        last = Statements(graph, given, "    ")
        for out, node_id in reduced:
            result = last.value(node_id)
            last.add(f"{out}[rbase + b] = {result};")
        lines += ["for (int b = 0; b < width; ++b) {", last.text(), "}"]
    if full:
        write = Statements(graph, given, "        ")
        for scan in scans:
            value = write.value(scan.args[0])
            write.add(UPDATE[str(scan.attrs["kind"])].format(acc=f"s{scan.id}[b]", v=value))
        for out, node_id in full:
            result = write.value(node_id)
            write.add(f"{out}[{ELEMENT}] = {result};")
        lines += ["for (long j = 0; j < line_len; ++j)",
                  "    for (int b = 0; b < width; ++b) {", write.text(), "    }"]
    return _indented("\n".join(lines), indent)


def _indented(text: str, indent: str) -> str:
    return "\n".join(indent + line if line.strip() else line for line in text.splitlines())
