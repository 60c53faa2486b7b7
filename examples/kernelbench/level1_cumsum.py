"""KernelBench level 1, "Cumulative sum (prefix scan) along a dimension".
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn

batch_size = 128
input_shape = (4000,)
dim = 1


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=self.dim)


def get_inputs():
    return [torch.randn(batch_size, *input_shape)]


def get_init_inputs():
    return [dim]
