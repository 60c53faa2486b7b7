"""KernelBench level 2, "GEMM, then a bias add, then ReLU": a Linear layer without its own
bias, a separate learnt bias vector, ReLU.
Written for avo-tui from the problem's public description (not copied)."""

import torch
import torch.nn as nn

batch_size = 128
in_features = 1024
out_features = 512
bias_shape = (out_features,)


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias_shape: tuple):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.randn(bias_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gemm(x)
        x = x + self.bias
        return torch.relu(x)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, bias_shape]
