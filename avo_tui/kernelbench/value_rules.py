"""How the harness should draw each input of an imported target, read off the problem's own
tensors (built for real, on the CPU, under a fixed seed): KernelBench draws its inputs with
torch.randn (standard normal, the harness's default) or torch.rand (uniform on [0, 1)), and a
model initialises a Linear or convolution weight uniform on [-b, b], b = 1/sqrt(fan_in).

A rule is written as the value-rule call the target file makes (``Uniform(0.0, 1.0)``), or
None for standard normal. A weight initialised to a constant is drawn around it, never
constant (a kernel that ignored a weight of ones would pass its checks): a positive one
(LayerNorm's scale, BatchNorm's running variance, which a square root takes) positive, of
that scale; zero or a negative one (a bias of zeros) standard normal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from .problem_module import KernelBenchProblem

UNIFORM_STD = 1 / math.sqrt(3)  # a uniform on [-1, 1]'s standard deviation
STD_SLACK = 0.2  # how far from it a sample's may be and still read as uniform
LEAST_VALUES = 64  # fewer values say too little of their distribution


def value_rules(problem: KernelBenchProblem, small: Mapping[str, int],
                timed: Mapping[str, int], ranges: Mapping[int, tuple[int, int]]
                ) -> tuple[tuple[str | None, ...], dict[str, str | None]]:
    """The rule of each input (in order), read off the problem's inputs at the ``small``
    sizes (a GPU problem's own could fill a CPU's memory), an integer input's its range in
    ``ranges`` (integer_inputs.py, by its position); and of each weight (by its name in the
    model), read off the model at the ``timed`` ones (its bound follows the fan-in)."""
    module = problem.module
    with problem.sizes_set(small):
        torch.manual_seed(0)
        inputs = module.get_inputs()
    with problem.sizes_set(timed):
        torch.manual_seed(0)
        model = module.Model(*getattr(module, "get_init_inputs", list)())
    weights = dict(model.named_parameters())
    weights.update((n, b) for n, b in model.named_buffers() if b.is_floating_point())
    return (tuple(f"Integers{ranges[i]!r}" if i in ranges else _input_rule(t)
                  for i, t in enumerate(inputs)),
            {name: _weight_rule(t.detach()) for name, t in weights.items()})


def _input_rule(tensor: torch.Tensor) -> str | None:
    if tensor.numel() >= LEAST_VALUES and tensor.min() >= 0 and tensor.max() < 1:
        return "Uniform(0.0, 1.0)"
    return None


def _weight_rule(tensor: torch.Tensor) -> str | None:
    if tensor.numel() < LEAST_VALUES:
        return None
    bound = float(tensor.abs().max())
    if float(tensor.min()) == float(tensor.max()):
        value = float(tensor.flatten()[0])
        return f"Positive({value!r})" if value > 0 else None
    std = float(tensor.double().std())
    if abs(std / bound - UNIFORM_STD) > STD_SLACK * UNIFORM_STD or \
            abs(float(tensor.double().mean())) > 0.1 * bound:
        return None
    rounded = float(f"{bound:.3g}")
    return f"Uniform({-rounded!r}, {rounded!r})"
