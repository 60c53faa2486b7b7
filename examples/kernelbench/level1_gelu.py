"""KernelBench level 1, "GELU activation" (the exact, erf form).
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 16
dim = 16384


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
