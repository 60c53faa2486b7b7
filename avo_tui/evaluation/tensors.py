"""The harness's tensors for a problem (problem.py): inputs allocated from the parameters'
shapes and dtypes, and filled with fresh standard-normal values (then the problem's hostile
case, if one is asked for), and the output to poison. Problems allocate nothing themselves."""

from __future__ import annotations

import torch

from .problem import Config, InputSet, output_param

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_inputs(
    config: Config, generator: torch.Generator, device: str, case: str = "normal"
) -> InputSet:
    """Every input of ``config``'s problem, contiguous, in the entry point's order; standard
    normal unless ``case`` asks for inputs that break kernels tuned only on friendly ones
    (Problem.input_cases)."""
    inputs = InputSet({
        p.name: torch.empty(p.shape_on(config), dtype=DTYPES[p.dtype_on(config)], device=device)
        for p in config.problem.parameters if p.kind == "input"
    })
    refill(inputs, generator)
    if case != "normal":
        config.problem.numerics().shape_case(config, inputs, generator, case)
    return inputs


def refill(inputs: InputSet, generator: torch.Generator) -> None:
    """New standard-normal contents in place: same addresses, values never seen before."""
    for tensor in inputs.tensors:
        tensor.normal_(0.0, 1.0, generator=generator)


def empty_output(config: Config, device: str) -> torch.Tensor:
    shape = output_param(config.problem).shape_on(config)
    return torch.empty(shape, dtype=output_dtype(config), device=device)


def output_dtype(config: Config) -> torch.dtype:
    """The output's dtype on ``config``: the precision its checks hold it to."""
    return DTYPES[output_param(config.problem).dtype_on(config)]
