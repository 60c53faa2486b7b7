"""The problem's own draw, kept as one input case of an imported target.

The importer draws an input by a rule read off the problem, widened where the problem's own
draw leaves an operation idle (exercise.py); the draw as the problem writes it stays one of
the target's input cases, so a kernel is also checked on exactly what KernelBench feeds it:
the forward's arguments as its get_inputs() draws them (torch.rand's [0, 1), a symmetric
matrix, targets of +-1, one scale shared by a whole tensor), at the configuration's sizes,
under a seed drawn from the case's generator, and the model's weights as
Model(*get_init_inputs()) initialises them: the file's own model of those sizes, built once
under its fixed seed (a large model takes seconds to build, and the case runs in every
evaluation).

A case is given the inputs alone, not the configuration: the sizes are read off them, each
dimension off an axis of an input or a weight that it sets alone (``(axis - offset) //
coefficient``; a dimension no input shows keeps the problem's value, which is then all the
inputs' shapes can hold). The case is a target_writer.Case, written into the target file
beside the hostile ones (hostile.py), where it uses the file's sized(), model(), INPUTS and
WEIGHTS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..problem.size_expr import SizeExpr
from .target_writer import Case

CASE = "problem_draw"
DOC = ("The problem's own draw, for a kernel that passes on inputs drawn by their rules only: "
       "its get_inputs() at these inputs' sizes, under a seed from the generator, and its "
       "model's weights as Model(*get_init_inputs()) initialises them.")


def own_draw_case(dims: Sequence[str], shapes: Mapping[str, Sequence[SizeExpr]]
                  ) -> Case | None:
    """The problem's own draw as an input case of a target whose configuration has ``dims``
    and whose inputs (the forward's arguments and the model's weights, by their names in the
    target) have ``shapes``; None where a dimension the inputs' shapes follow cannot be read
    off them (it is only ever multiplied with another: ``dim1 * dim2``)."""
    located = _located(dims, shapes)
    shown = {dim for shape in shapes.values() for size in shape for dim in size.dims}
    if not shown <= set(located):
        return None
    table = [f"    {dim!r}: {where!r}," for dim, where in located.items()]
    return Case(CASE, DOC, (
        "import torch",
        "",
        "# each dimension read off an input it sets alone: (input, axis, coefficient,",
        "# offset), the dimension being (size - offset) // coefficient",
        "sizes = {",
        *table,
        "}",
        "c = {dim: (inputs[name].shape[axis] - offset) // coefficient",
        "     for dim, (name, axis, coefficient, offset) in sizes.items()}",
        "seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator,",
        "                         device=generator.device))",
        "with sized(c) as module, torch.random.fork_rng(devices=[]):",
        "    torch.manual_seed(seed)",
        "    args = module.get_inputs()",
        "built = model(c, torch.float32)",
        "state = {**dict(built.named_parameters()), **dict(built.named_buffers())}",
        "drawn = {**dict(zip(INPUTS, args, strict=True)),",
        "         **{kernel_name: state[name] for kernel_name, name in WEIGHTS.items()}}",
        "for name, tensor in drawn.items():",
        "    inputs[name].copy_(tensor.detach().reshape(inputs[name].shape))",
    ))


def _located(dims: Sequence[str], shapes: Mapping[str, Sequence[SizeExpr]]
             ) -> dict[str, tuple[str, int, int, int]]:
    """Each dimension that some input's axis follows alone, affinely and undivided: the
    first such axis, a plain one (the dimension itself) before a shifted or scaled one."""
    found: dict[str, tuple[str, int, int, int]] = {}
    for plain in (True, False):
        for name, shape in shapes.items():
            for axis, size in enumerate(shape):
                if size.product or size.divisor != 1 or len(size.dims) != 1:
                    continue
                dim = size.dims[0]
                coefficient = dict(size.terms)[dim]
                if dim in dims and dim not in found and coefficient > 0 and (
                        not plain or (coefficient, size.offset) == (1, 0)):
                    found[dim] = (name, axis, coefficient, size.offset)
    return {dim: found[dim] for dim in dims if dim in found}
