"""KernelBench-style problems written for the stage seed's tests (tests/unit/test_stage_seed.py):
each a forward no fused seed pattern fits (a convolution, pooling, a norm, a chain of them),
at sizes small enough for the float64 reference and a quick evaluation on one loaded core.
"""

from __future__ import annotations

HEAD = """import math

import torch
import torch.nn as nn
import torch.nn.functional as F

"""


def problem(sizes: str, init: str, forward: str, inputs: str, init_inputs: str = "[]") -> str:
    """A problem's text: its size globals, the Model's __init__ body and forward body (of
    ``x`` and any other argument ``inputs`` names), and get_inputs()'s list."""
    arguments = ", ".join(part.split("=")[0].strip() for part in inputs.split(";"))
    tensors = ", ".join(part.split("=", 1)[1].strip() for part in inputs.split(";"))
    return HEAD + sizes.strip() + f"""


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        {init}

    def forward(self, {arguments}):
        {forward}


def get_inputs():
    return [{tensors}]


def get_init_inputs():
    return {init_inputs}
"""


CONV_SIZES = """batch_size = 2
in_channels = 4
out_channels = 8
height = 12
width = 10
"""
IMAGE = "x = torch.randn(batch_size, in_channels, height, width)"

# name -> the problem's text; each gets a stage seed that passes the real evaluator
PROBLEMS: dict[str, str] = {
    "conv2d_strided": problem(
        CONV_SIZES, "self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)",
        "return self.conv(x)", IMAGE),
    "conv_transpose2d_grouped": problem(
        CONV_SIZES, "self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, "
        "padding=1, output_padding=1, groups=2)", "return self.conv(x)", IMAGE),
    "conv1d_dilated_depthwise": problem(
        "batch_size = 2\nchannels = 8\nlength = 40\n",
        "self.conv = nn.Conv1d(channels, channels, 5, padding=4, dilation=2, groups=channels)",
        "return self.conv(x)", "x = torch.randn(batch_size, channels, length)"),
    "conv3d_maxpool": problem(
        "batch_size = 2\nchannels = 3\ndepth = 8\nheight = 9\nwidth = 10\n",
        "self.conv = nn.Conv3d(channels, 4, 3)\n        self.pool = nn.MaxPool3d(2)",
        "return self.pool(torch.relu(self.conv(x)))",
        "x = torch.randn(batch_size, channels, depth, height, width)"),
    "maxpool2d_ceil": problem(
        CONV_SIZES, "self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)",
        "return self.pool(x)", IMAGE),
    "avgpool2d_excluding_padding": problem(
        CONV_SIZES, "self.pool = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, "
        "count_include_pad=False)", "return self.pool(x)", IMAGE),
    # its output's height is 18 for every height from 198 to 208: fitted from moves of
    # 16 and 37 too, or the seed wrote 18 rows of output at every height
    "avgpool2d_wide": problem(
        "batch_size = 2\nchannels = 4\nheight = 200\nwidth = 120\n",
        "self.pool = nn.AvgPool2d(11)", "return self.pool(x)",
        "x = torch.randn(batch_size, channels, height, width)"),
    "bmm": problem(
        "batch_size = 3\nm = 12\nk = 20\nn = 9\n", "pass", "return torch.bmm(a, b)",
        "a = torch.randn(batch_size, m, k); b = torch.randn(batch_size, k, n)"),
    # b read transposed (attention's q k^T): a dot product along the depth
    "bmm_transposed_b": problem(
        "batch_size = 3\nm = 12\nk = 20\nn = 9\n", "pass",
        "return torch.bmm(a, b.transpose(1, 2))",
        "a = torch.randn(batch_size, m, k); b = torch.randn(batch_size, n, k)"),
    # A and B both read transposed: A^T is copied in order, B^T read along the depth
    "matmul_transposed_both": problem(
        "m = 12\nk = 20\nn = 9\n", "pass", "return torch.matmul(a.T, b.T)",
        "a = torch.randn(k, m); b = torch.randn(n, k)"),
    # a scale that follows a size: 1 / sqrt(head_dim), head_dim varied
    "attention_scaled": problem(
        "batch_size = 2\nseq_len = 10\nhead_dim = 16\n", "pass",
        "att = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(k.size(-1)))\n        "
        "return torch.softmax(att, dim=-1) @ v",
        "q = torch.randn(batch_size, seq_len, head_dim); "
        "k = torch.randn(batch_size, seq_len, head_dim); "
        "v = torch.randn(batch_size, seq_len, head_dim)"),
    "conv_batchnorm_relu": problem(
        CONV_SIZES, "self.conv = nn.Conv2d(in_channels, out_channels, 3)\n        "
        "self.bn = nn.BatchNorm2d(out_channels)\n        self.bn.eval()",
        "return torch.relu(self.bn(self.conv(x)))", IMAGE),
    # a batch norm in training mode without running statistics: the batch's own statistics
    "conv_batch_statistics": problem(
        CONV_SIZES, "self.conv = nn.Conv2d(in_channels, out_channels, 3)\n        "
        "self.scale = nn.Parameter(torch.ones(out_channels))",
        "y = self.conv(x)\n        return F.batch_norm(y, None, None, self.scale, None, "
        "training=True)", IMAGE),
    "matmul_scale_residual_layernorm": problem(
        "batch_size = 6\nfeatures = 24\n",
        "self.linear = nn.Linear(features, features)\n        "
        "self.norm = nn.LayerNorm(features)",
        "return self.norm(self.linear(x) * 0.5 + x)",
        "x = torch.randn(batch_size, features)"),
    "mlp": problem(
        "batch_size = 4\nin_features = 20\nhidden = 32\nout_features = 10\n",
        "self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), "
        "nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out_features))",
        "return self.net(x)", "x = torch.randn(batch_size, in_features)"),
    "conv_groupnorm": problem(
        CONV_SIZES, "self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)\n        "
        "self.norm = nn.GroupNorm(4, out_channels)",
        "return self.norm(self.conv(x))", IMAGE),
    # batch and channels both varied: the norm's view [1, batch * channels, h, w] and back,
    # computed where the output reads it
    "instancenorm_divide": problem(
        "batch_size = 8\nchannels = 8\nheight = 6\nwidth = 5\n",
        "self.norm = nn.InstanceNorm2d(channels)", "return self.norm(x) / 2.0",
        "x = torch.randn(batch_size, channels, height, width)"),
    "conv_softmax_channels": problem(
        CONV_SIZES, "self.conv = nn.Conv2d(in_channels, out_channels, 3)",
        "return torch.softmax(self.conv(x), dim=1)", IMAGE),
    # a CNN's head: adaptive average pooling to an uneven grid, flattened into a Linear
    "adaptive_pool_head": problem(
        CONV_SIZES, "self.pool = nn.AdaptiveAvgPool2d((3, 4))\n        "
        "self.fc = nn.Linear(in_channels * 12, 10)",
        "return self.fc(torch.flatten(self.pool(x), 1))", IMAGE),
    # biased along the varied features (one feature is a variance of 0), unbiased along the
    # batch of 6
    "variance_and_std": problem(
        "batch_size = 6\nfeatures = 40\n", "pass",
        "return x.var(dim=1, keepdim=True, correction=0) + x.std(dim=0).sum()",
        "x = torch.randn(batch_size, features)"),
    # a padding, a flip and a where: reads outside the input give the padding's value
    "pad_flip_where": problem(
        "batch_size = 4\nlength = 30\n", "pass",
        "y = torch.flip(F.pad(x, (2, 3), value=0.5), dims=[1])\n        "
        "return torch.where(y > 0, y, y * 0.1)", "x = torch.randn(batch_size, length)"),
    # an int64 sum of values past float32's 24 bits, compared exactly
    "wide_integer_sum": problem(
        "batch_size = 4\nlength = 30\n", "pass", "return torch.sum(x, dim=1)",
        "x = torch.randint(0, 1 << 30, (batch_size, length))"),
    "cumsum_exclusive": problem(
        "batch_size = 4\nlength = 30\n", "pass",
        "shifted = torch.cat((torch.zeros_like(x[:, :1]), x), dim=1)[:, :-1]\n        "
        "return torch.cumsum(shifted, dim=1)", "x = torch.randn(batch_size, length)"),
}

# A forward that draws random numbers: no seed can reproduce it.
# A dropout in training mode whose mask is the same at every call: the importer, which refuses
# a forward that answers differently each time, lets it through; the stage seed cannot draw it.
RESEEDED_DROPOUT = problem(
    "batch_size = 4\nfeatures = 16\n", "self.drop = nn.Dropout(0.5)",
    "torch.manual_seed(0); return self.drop(x) * 2.0", "x = torch.randn(batch_size, features)")
