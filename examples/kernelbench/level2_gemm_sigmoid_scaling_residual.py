"""KernelBench level 2, "GEMM, sigmoid, scaling, residual add": y = gemm(x);
out = sigmoid(y) * scaling_factor + y.
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn

batch_size = 128
input_size = 1024
hidden_size = 512
scaling_factor = 2.0


class Model(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, scaling_factor: float):
        super().__init__()
        self.gemm = nn.Linear(input_size, hidden_size)
        self.scaling_factor = scaling_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gemm(x)
        original = x
        x = torch.sigmoid(x)
        x = x * self.scaling_factor
        return x + original


def get_inputs():
    return [torch.randn(batch_size, input_size)]


def get_init_inputs():
    return [input_size, hidden_size, scaling_factor]
