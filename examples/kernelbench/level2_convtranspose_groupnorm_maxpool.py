"""A level-2 chain in KernelBench's style, written for avo-tui: a strided transposed
convolution, GroupNorm over groups of its channels, tanh, then 2x2 max pooling. No fused
seed pattern fits it; the importer writes a seed of stages (docs/targets.md, "The stage
seed")."""

import torch
import torch.nn as nn

batch_size = 16
in_channels = 32
out_channels = 64
height = 32
width = 32
kernel_size = 4
groups = 8


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=2,
                                       padding=1)
        self.norm = nn.GroupNorm(groups, out_channels)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = torch.tanh(self.norm(x))
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, groups]
