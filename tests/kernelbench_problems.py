"""The KernelBench-style problems of examples/kernelbench/ as the tests use them: copied into a
folder of the test's own (the importer writes beside the problem), with their module-level
sizes made small where a test needs quick evaluations, and a few problems written here that
the importer must refuse or that exercise one more shape rule."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples" / "kernelbench"

# Each example and what importing it gives: the seed's pattern (a fused one, or "stage": a
# loop nest per stage of its aten operations), or the start of its one-line refusal.
EXPECTED: dict[str, str | None] = {
    "level1_argmax": "line",
    "level1_conv2d": "stage",
    "level1_cross_entropy": "stage",
    "level1_cumsum": "line",
    "level1_embedding": "stage",
    "level1_gelu": "elementwise",
    "level1_layernorm": "line",
    "level1_mean_reduction": "line",
    "level1_relu": "elementwise",
    "level1_rmsnorm": "line",
    "level1_softmax": "line",
    "level1_softmax_logsumexp": "line",
    "level1_square_matmul": "matmul",
    "level1_sum_reduction": "line",
    "level1_tanh": "elementwise",
    "level2_conv2d_relu_biasadd": "stage",
    "level2_convtranspose_groupnorm_maxpool": "stage",
    "level2_gemm_add_relu": "matmul",
    "level2_gemm_sigmoid_scaling_residual": "matmul",
}


def copy_problem(name: str, folder: Path, **sizes: int) -> Path:
    """examples/kernelbench/NAME.py in ``folder``, each module-level size in ``sizes`` set
    to its value there (``batch_size=4``)."""
    text = (EXAMPLES / f"{name}.py").read_text()
    for size, value in sizes.items():
        text, count = re.subn(rf"^{size} = \d+$", f"{size} = {value}", text, flags=re.M)
        assert count == 1, f"{name}.py defines no size {size}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


PROBLEM_HEAD = """import torch
import torch.nn as nn

batch_size = 4
dim = 64


"""

# Problems the importer must refuse, each with the words its one line must hold.
REFUSED = {
    "int16_output": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return (x * 100).to(torch.int16)


def get_inputs():
    return [torch.randn(batch_size, dim)]
""", "forward returns int16 values, a dtype a target file has no type for"),
    "tuple_with_a_number": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return x.relu(), x.shape[1]


def get_inputs():
    return [torch.randn(batch_size, dim)]
""", "forward returns 2 values, and the one at position 1 is an int, not a tensor"),
    "no_get_inputs": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_init_inputs():
    return []
""", "defines no get_inputs()"),
    "int16_input": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x, targets):
        return x * targets


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randint(0, 10, (batch_size, dim),
                                                        dtype=torch.int16)]
""", "input 1 is int16, a dtype a target file has no type for"),
    "batchnorm_in_training": (PROBLEM_HEAD + """class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
""", "forward changes the model's buffer bn.running_mean"),
}

# An integer input in an elementwise forward (x scaled by int64 counts) and a bool one in a
# reduction (a masked sum): each gets its seed, the integer input declared with its own type.
INTEGER_SCALE = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x, counts):
        return x * counts


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randint(0, 10, (batch_size, dim))]
"""
MASKED_SUM = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x, mask):
        return torch.sum(x * mask, dim=1)


def get_inputs():
    return [torch.randn(batch_size, dim), torch.rand(batch_size, dim) > 0.5]
"""

# argmin, with no get_init_inputs (the target file builds Model() with no arguments then).
ARGMIN = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return torch.argmin(x, dim=1)


def get_inputs():
    return [torch.randn(batch_size, dim)]
"""

# A strided, padded convolution: its output height is (height + 2 - kernel_size) // 2 + 1.
STRIDED_CONV = """import torch
import torch.nn as nn

batch_size = 2
in_channels = 3
out_channels = 8
kernel_size = 3
height = 20
width = 13


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
"""

# Two outputs of a convolution (unstrided here), the second a bool mask: each output declared
# with its dtype.
CONV_AND_MASK = STRIDED_CONV.replace(", stride=2, padding=1", "").replace(
    "        return self.conv(x)\n", "        y = self.conv(x)\n        return y, y > 0\n")

# torch.rand inputs (KernelBench's uniform on [0, 1)), through a log that needs them positive.
UNIFORM_LOG = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return torch.log(x + 1.0) * 2.0


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
"""

# Forwards written as KernelBench writes them, each lowered to a seed pattern: name -> the
# forward's body (of x, [batch_size, dim]) and the pattern.
FORMS = {
    "swish": ("return x * torch.sigmoid(x)", "elementwise"),
    "clamped_leaky": ("return torch.clamp(F.leaky_relu(x, 0.2), min=-0.5, max=2.0)",
                      "elementwise"),
    "l2_normalised": ("return x / torch.norm(x, p=2, dim=1, keepdim=True)", "line"),
    "max_values": ("return torch.max(x, dim=1)[0]", "line"),
    "log_softmax_last": ("return torch.log_softmax(x, dim=-1)", "line"),
    # F.softmax passes its own _stacklevel=, which is no argument of the computation
    "functional_softmax": ("return F.softmax(x, dim=1)", "line"),
    "argmax_last": ("return torch.argmax(x, dim=-1)", "line"),
    "max_indices": ("return torch.max(x, 1).indices", "line"),
    "logsumexp_kept": ("return torch.logsumexp(x, dim=1, keepdim=True)", "line"),
    "mean_of_squares": ("return torch.mean(x * x)", "line"),  # a scalar: Output of (1,)
}


def form_problem(body: str) -> str:
    """A problem whose forward is ``body``, on x of [batch_size, dim]."""
    return PROBLEM_HEAD.replace("import torch.nn as nn\n",
                                "import torch.nn as nn\nimport torch.nn.functional as F\n") + \
        f"""class Model(nn.Module):
    def forward(self, x):
        {body}


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
"""
