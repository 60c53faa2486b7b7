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
    "buffer_written": (PROBLEM_HEAD + """class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("seen", torch.zeros(dim))

    def forward(self, x):
        self.seen.add_(x.mean(0))
        return x - self.seen


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
""", "forward changes the model's buffer seen"),
}

# BatchNorm in training mode, as KernelBench builds its models: the forward normalises with the
# batch's statistics and updates the running ones.
BATCHNORM_TRAINING = PROBLEM_HEAD + """class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
"""

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

# Work counted by torch's FLOP counter (issue 68, item 6): forwards whose FLOPs follow no
# "2 x the output x a tensor's trailing sizes" form, each with its settings as module
# globals, as KernelBench writes them.
CONV_TRANSPOSE = """import torch
import torch.nn as nn

batch_size = 2
in_channels = 16
out_channels = 8
kernel_size = 3
stride = 2
padding = 1
height = 24
width = 20


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                         stride=stride, padding=padding)

    def forward(self, x):
        return self.deconv(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, padding]
"""

CONV_POOL = """import torch
import torch.nn as nn

batch_size = 2
in_channels = 3
out_channels = 16
kernel_size = 3
pool_size = 2
height = 30
width = 26


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, pool_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.pool = nn.MaxPool2d(pool_size)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, pool_size]
"""

BMM = """import torch
import torch.nn as nn

batch_size = 8
m = 96
k = 80
n = 112


class Model(nn.Module):
    def forward(self, A, B):
        return torch.bmm(A, B)


def get_inputs():
    return [torch.randn(batch_size, m, k), torch.randn(batch_size, k, n)]


def get_init_inputs():
    return []
"""

# attention written out: two products around a softmax, the scores scaled
ATTENTION = """import math

import torch
import torch.nn as nn

batch_size = 2
heads = 4
seq_len = 64
head_dim = 16


class Model(nn.Module):
    def forward(self, q, k, v):
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        return torch.matmul(torch.softmax(scores, dim=-1), v)


def get_inputs():
    return [torch.randn(batch_size, heads, seq_len, head_dim) for _ in range(3)]


def get_init_inputs():
    return []
"""

MATVEC = """import torch
import torch.nn as nn

M = 256
K = 4096


class Model(nn.Module):
    def forward(self, A, B):
        return torch.matmul(A, B)


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, 1)]


def get_init_inputs():
    return []
"""

# Settings as module globals, as KernelBench writes them (issue 68, item 4): the spatial sizes
# still vary. A pooling with every setting, and a strided, dilated 1-D convolution.
POOL_SETTINGS = """import torch
import torch.nn as nn

batch_size = 4
channels = 8
height = 40
width = 36
kernel_size = 3
stride = 2
padding = 1
dilation = 2


class Model(nn.Module):
    def __init__(self, kernel_size, stride, padding, dilation):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size, stride=stride, padding=padding,
                                 dilation=dilation)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [kernel_size, stride, padding, dilation]
"""

# a pooling whose stride, its kernel's, is past what probes of one to eight show
WIDE_POOL = """import torch
import torch.nn as nn

batch_size = 2
channels = 4
height = 200
width = 120
kernel_size = 11


class Model(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size)

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [kernel_size]
"""

CONV_SETTINGS = """import torch
import torch.nn as nn

batch_size = 2
in_channels = 8
out_channels = 16
kernel_size = 3
length = 300
stride = 3
dilation = 4


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, dilation):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                              dilation=dilation)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(batch_size, in_channels, length)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, stride, dilation]
"""

# in_features equal to out_features, the bias's shape a global that follows out_features
SQUARE_GEMM_BIAS = """import torch
import torch.nn as nn

batch_size = 16
in_features = 64
out_features = 64
bias_shape = (out_features,)


class Model(nn.Module):
    def __init__(self, in_features, out_features, bias_shape):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.randn(bias_shape))

    def forward(self, x):
        return torch.relu(self.gemm(x) + self.bias)


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, bias_shape]
"""

# an image of sizes the problem writes as numbers, too large for an edge shape's time
LITERAL_IMAGE = """import torch
import torch.nn as nn

batch_size = 16


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, kernel_size=7, stride=2)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(batch_size, 3, 160, 160)]


def get_init_inputs():
    return []
"""

# A GRU as KernelBench writes one: its forward dispatches every step's operations one by one,
# thousands for a build on the meta device.
GRU = """import torch
import torch.nn as nn

batch_size = 2
seq_len = 64
input_size = 64
hidden_size = 128
num_layers = 1


class Model(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers)

    def forward(self, x, h0):
        output, h_n = self.gru(x, h0)
        return output


def get_inputs():
    return [torch.rand(seq_len, batch_size, input_size),
            torch.rand((num_layers, batch_size, hidden_size))]


def get_init_inputs():
    return [input_size, hidden_size, num_layers]
"""

# Values as the problem makes them (issue 68, item 4): a running variance of 32 values the
# problem sets positive (eval mode), and a small input it draws positive for a log.
CONV_BN_RELU = """import torch
import torch.nn as nn

batch_size = 2
in_channels = 3
out_channels = 32
height = 12
width = 10


class Model(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3)
        self.bn = nn.BatchNorm2d(out_channels)
        self.bn.running_mean = torch.randn(out_channels) * 0.1
        self.bn.running_var = 0.5 + torch.rand(out_channels)
        self.eval()

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


def get_inputs():
    return [torch.randn(batch_size, in_channels, height, width)]


def get_init_inputs():
    return [in_channels, out_channels]
"""

SMALL_LOG = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x, weights):
        return x * torch.log(weights).unsqueeze(1)


def get_inputs():
    return [torch.randn(batch_size, dim), torch.rand(batch_size) + 0.1]


def get_init_inputs():
    return []
"""

# the problem's own scale and mean
SCALED = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return torch.tanh(x) * 2.0


def get_inputs():
    return [4.0 * torch.randn(batch_size, dim) + 2.0]


def get_init_inputs():
    return []
"""

# a product of two matrices the problem builds with a structure: name -> how A is made
STRUCTURED = {
    "symmetric": "A = torch.rand(N, N)\n    A = (A + A.T) / 2",
    "upper": "A = torch.triu(torch.rand(N, N))",
    "lower": "A = torch.tril(torch.rand(N, N))",
    "diagonal": "A = torch.diag(torch.rand(N))",
}


def structured_problem(structure: str) -> str:
    return f"""import torch
import torch.nn as nn

N = 64


class Model(nn.Module):
    def forward(self, A, B):
        return torch.matmul(A, B)


def get_inputs():
    {STRUCTURED[structure]}
    B = torch.rand(N, N)
    return [A, B]


def get_init_inputs():
    return []
"""


# Operations KernelBench's torch.rand inputs leave idle (issue 68, item 7): a ReLU, an L1
# norm's abs, a cumulative product of long rows.
RAND_RELU = PROBLEM_HEAD.replace("dim = 64", "dim = 4096") + """class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
"""

RAND_L1 = PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        return x / torch.sum(torch.abs(x), dim=1, keepdim=True)


def get_inputs():
    return [torch.rand(batch_size, dim)]


def get_init_inputs():
    return []
"""

RAND_CUMPROD = """import torch
import torch.nn as nn

batch_size = 16
length = 8192


class Model(nn.Module):
    def forward(self, x):
        return torch.cumprod(x, dim=1)


def get_inputs():
    return [torch.rand(batch_size, length)]


def get_init_inputs():
    return []
"""

# stages of a network: a convolution, a pooling, another convolution, its FLOPs floored by
# the pooling between them, which no tensor of the problem shows
STAGES = """import torch
import torch.nn as nn

batch_size = 2
height = 64
width = 48


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.second = nn.Conv2d(16, 32, 3, padding=1)

    def forward(self, x):
        return self.second(self.pool(torch.relu(self.first(x)))).mean(dim=(2, 3))


def get_inputs():
    return [torch.randn(batch_size, 3, height, width)]


def get_init_inputs():
    return []
"""

# a ReLU of linear(x) - 2, as KernelBench writes it: on its own [0, 1) draw never positive,
# and a draw barely wide enough leaves a thin band above zero
SHIFTED_RELU = """import torch
import torch.nn as nn

batch_size = 32
in_features = 64
out_features = 64
subtract_value = 2.0


class Model(nn.Module):
    def __init__(self, in_features, out_features, subtract_value):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.subtract_value = subtract_value

    def forward(self, x):
        return torch.relu((self.linear(x) - self.subtract_value) * 1.5)


def get_inputs():
    return [torch.rand(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features, subtract_value]
"""

# forwards whose output is random: a dropout in training mode, a state drawn inside
RANDOM_FORWARDS = {
    "dropout": (PROBLEM_HEAD + """class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.2)

    def forward(self, x):
        return torch.softmax(self.dropout(x), dim=1)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
""", "forward gives another output on the same inputs at every call (a Dropout (dropout, "
     "p = 0.2) in training mode): no kernel matches a random reference; set its p to 0 in "
     "the problem"),
    "drawn_state": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x):
        h0 = torch.randn(x.shape[0], dim)
        return x + h0


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
""", "forward gives another output on the same inputs at every call (line 10 draws random "
     "values (randn): h0 = torch.randn(x.shape[0], dim)): no kernel matches a random "
     "reference; make what it draws one of get_inputs()'s tensors"),
    # KernelBench's LSTM (level3/35): its state drawn where get_inputs() leaves it out
    "optional_state": (PROBLEM_HEAD + """class Model(nn.Module):
    def forward(self, x, h0=None, c0=None):
        if h0 is None:
            h0 = torch.randn(x.shape[0], dim)
        return x + h0


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
""", "forward gives another output on the same inputs at every call (line 11 draws random "
     "values (randn): h0 = torch.randn(x.shape[0], dim)): no kernel matches a random "
     "reference; make what it draws one of get_inputs()'s tensors (the forward's h0 and c0, "
     "which get_inputs() leaves out)"),
}

# sizes in a list global, as KernelBench's MLPs write their hidden layers, and used as a list
LIST_MLP = """import torch
import torch.nn as nn

batch_size = 8
input_size = 64
hidden_layer_sizes = [128, 96]
output_size = 32


class Model(nn.Module):
    def __init__(self, input_size, hidden_layer_sizes, output_size):
        super().__init__()
        sizes = [input_size] + hidden_layer_sizes + [output_size]
        layers = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(size_in, size_out), nn.ReLU()]
        self.network = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.network(x)


def get_inputs():
    return [torch.randn(batch_size, input_size)]


def get_init_inputs():
    return [input_size, hidden_layer_sizes, output_size]
"""

# A model whose constructor reads a value, as Swin's does (`[x.item() for x in
# torch.linspace(...)]`, its stochastic depth), which the meta device has none of; and whose
# first plain kernel takes longer than a timed launch's time even at a batch of 8.
READS_AT_BUILD = """import torch
import torch.nn as nn

batch_size = 10


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        rates = [x.item() for x in torch.linspace(0, 0.5, 3)]
        self.scale = 1.0 + rates[-1]
        self.fc = nn.Linear(4096, 2048)

    def forward(self, x):
        return self.fc(x) * self.scale


def get_inputs():
    return [torch.randn(batch_size, 4096)]


def get_init_inputs():
    return []
"""

# A ResNet in little: a strided stem, a pooling, three halving convolutions whose channels
# grow as the image shrinks (so the last stages weigh as much as the first), and a linear
# head; its FLOPs are a sum of terms floored by 2, 8, 16 and 32, which no one polynomial of
# height and width fits within a tenth. Its sizes are large enough for the FLOPs to bound it,
# not its weights' bytes.
HALVING_STAGES = """import torch
import torch.nn as nn

batch_size = 2
height = 128
width = 96
num_classes = 10


class Model(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.stages = nn.Sequential(nn.Conv2d(4, 16, 3, 2, 1), nn.ReLU(),
                                    nn.Conv2d(16, 64, 3, 2, 1), nn.ReLU(),
                                    nn.Conv2d(64, 256, 3, 2, 1))
        self.head = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.stages(self.pool(torch.relu(self.stem(x))))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def get_inputs():
    return [torch.randn(batch_size, 3, height, width)]


def get_init_inputs():
    return [num_classes]
"""

# Five stride-2 convolutions, as ResNet's and MobileNet's stems and stages: the output's
# height is ceil(height / 32), a stride past any move of up to 37 (shapes.WIDE_STRIDE)
FIVE_STRIDES = """import torch
import torch.nn as nn

batch_size = 2
height = 64
width = 40


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 4, 4, 3, 2, 1)
                                      for i in range(5)])

    def forward(self, x):
        return torch.relu(self.layers(x))


def get_inputs():
    return [torch.randn(batch_size, 3, height, width)]


def get_init_inputs():
    return []
"""
