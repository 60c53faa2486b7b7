"""Why a correct attention backward can disagree with mha-bwd's reference on a short causal
row: the reference's D is rowsum(dO * o) over the given bf16 o, and where dS = P (dP - D)
cancels, o's rounding moves dq. Prints, for one row of b2-h16-s37 causal on drawn inputs,
D from the given o and from the exact O, and dq's relative error against the reference for
the exact-O gradient and for the honest float32 computation.

    python3 benchmarks/backward_cancellation.py [--seed 0] [--batch 1 --head 10 --row 1]
"""

from __future__ import annotations

import argparse

import torch

from avo_tui.evaluation import get_target
from avo_tui.evaluation.measurement.tensors import make_inputs
from avo_tui.evaluation.problems.attention import Shape
from avo_tui.evaluation.problems.attention_backward_torch import backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the draw (avo targets check's)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--head", type=int, default=10)
    parser.add_argument("--row", type=int, default=1, help="the query row (row + 1 keys)")
    args = parser.parse_args()
    config = next(c for c in get_target("mha-bwd").edge_configs
                  if c.name.startswith("b2-h16-s37"))
    inputs = make_inputs(config, torch.Generator().manual_seed(args.seed), "cpu", "normal")
    b, h, r = args.batch, args.head, args.row
    reference = backward(config, inputs)["dq"][b, h, r]
    honest = backward(config, inputs, emulate=torch.bfloat16)["dq"][b, h, r]
    q, k, v, o, dout = (inputs[n].double()[b, h] for n in ("q", "k", "v", "o", "dout"))
    keys = slice(0, r + 1)
    weights = torch.softmax(q[r] @ k[keys].T * Shape.of(config).softmax_scale, -1)
    grad_weights = dout[r] @ v[keys].T
    exact_d = float((weights * grad_weights).sum())
    exact = (weights * (grad_weights - exact_d)) @ k[keys] * Shape.of(config).softmax_scale

    def error(dq: torch.Tensor) -> float:
        return float((dq - reference).norm() / reference.norm())

    print(f"{config.name}, batch {b}, head {h}, query row {r}: P {weights.tolist()}, "
          f"dP {grad_weights.tolist()}")
    print(f"D from the given o {float((dout[r] * o[r]).sum()):.4f}, from the exact O "
          f"{exact_d:.4f}")
    print(f"dq's relative error: exact O {error(exact):.3f}, honest float32 {error(honest):.4f}")


if __name__ == "__main__":
    main()
