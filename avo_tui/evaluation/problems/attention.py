"""The attention forward problem, as the parent sees it: its configurations (Shape), their
names and FLOPs, the entry point's parameters, and the shapes and input cases correctness
draws. The torch side (inputs, references, baselines) is attention_torch.py, loaded in the
worker alone.

A problem built into the evaluator, which target files name: the five attention targets are
shipped files (targets/cpu_attention.py, mha.py, gqa.py, gqa_4.py, mha_d64.py), each a
TargetSpec whose problem is ATTENTION and whose configurations are made here (config,
grid)."""

from __future__ import annotations

import importlib
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..targets.problem import Config, Contract, Param, Work

if TYPE_CHECKING:
    from ..targets.problem import Numerics, Problem

DIMENSIONS = ("batch", "heads_q", "heads_kv", "seq_len", "head_dim", "causal")
# Inputs of the correctness pass besides standard normal ones (attention_torch.shape_case):
# logits far past N(0, 1), one dominant key per row, and rows whose logits are all equal.
INPUT_CASES = ("normal", "large", "dominant", "flat")
# Cases in which every row's weights reach the keys a wrong kernel drops or misplaces. Under
# "large" a softmax is nearly one-hot, so a kernel that loses a few keys is still right on
# almost every row: that case goes to the lengths beside the strata, never in place of them.
SPREAD_CASES = ("normal", "dominant", "flat")
RESIDUE_MODULUS = 128  # lengths cover every stratum of residues modulo this (and so modulo 64)
RESIDUE_STRATA = 8
SHORT_LENGTHS = ((1, 16), (17, 63))
# A tile of keys: a configuration longer than this runs a kernel's main loop more than once
# and masks a partial tile, so a race between iterations or on the tail can show.
MIN_SEQ_LEN = 129

# The GPUs (major compute capability) each FlashAttention build runs on: FlashAttention-4's
# kernels on Hopper and data-centre Blackwell, the fa3-fwd wheel on sm_90a alone.
FA4_MAJORS = (9, 10)
FA3_MAJORS = (9,)
FA_MAJORS = {"fa4": FA4_MAJORS, "fa3": FA3_MAJORS}


@dataclass(frozen=True)
class Shape:
    """One attention configuration, typed. Query and key/value lengths are equal
    (self-attention forward)."""

    batch: int
    heads_q: int
    heads_kv: int
    seq_len: int
    head_dim: int
    causal: bool
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if min(self.batch, self.heads_q, self.heads_kv, self.seq_len, self.head_dim) < 1:
            raise ValueError(f"every dimension must be positive: {self}")
        if self.heads_q % self.heads_kv:
            raise ValueError(
                f"heads_q {self.heads_q} is not a multiple of heads_kv {self.heads_kv}"
            )

    @classmethod
    def of(cls, config: Config) -> Shape:
        d = dict(config.dims)
        return cls(int(d["batch"]), int(d["heads_q"]), int(d["heads_kv"]), int(d["seq_len"]),
                   int(d["head_dim"]), bool(d["causal"]), config.dtype)

    def config(self, problem: Problem | None = None) -> Config:
        """This shape as a configuration of ``problem`` (None: attention's forward)."""
        dims = (self.batch, self.heads_q, self.heads_kv, self.seq_len, self.head_dim, self.causal)
        return Config(problem or ATTENTION, tuple(zip(DIMENSIONS, dims, strict=True)), self.dtype)

    @property
    def name(self) -> str:
        heads = (
            f"h{self.heads_q}"
            if self.heads_q == self.heads_kv
            else (f"h{self.heads_q}kv{self.heads_kv}")
        )
        mask = "causal" if self.causal else "full"
        return f"b{self.batch}-{heads}-s{self.seq_len}-d{self.head_dim}-{mask}"

    @property
    def flops(self) -> float:
        """4·B·Hq·S²·D (two GEMMs), halved for causal, as FlashAttention counts it."""
        full = 4.0 * self.batch * self.heads_q * self.seq_len**2 * self.head_dim
        return full / 2 if self.causal else full

    @property
    def softmax_scale(self) -> float:
        return 1.0 / math.sqrt(self.head_dim)


def config(batch: int, heads_q: int, heads_kv: int, seq_len: int, head_dim: int, causal: bool,
           dtype: str = "float32", problem: Problem | None = None) -> Config:
    """An attention configuration of ``problem`` (None: the forward; the backward is
    attention_backward.py's)."""
    return Shape(batch, heads_q, heads_kv, seq_len, head_dim, causal, dtype).config(problem)


def grid(shapes: list[tuple[int, int, int, int]], head_dim: int, dtype: str,
         problem: Problem | None = None) -> tuple[Config, ...]:
    """Each (batch, heads_q, heads_kv, seq_len) shape, non-causal then causal."""
    return tuple(config(b, hq, hkv, s, head_dim, causal, dtype, problem)
                 for b, hq, hkv, s in shapes for causal in (False, True))


def _queries(c: Config) -> tuple[int, ...]:
    s = Shape.of(c)
    return (s.batch, s.heads_q, s.seq_len, s.head_dim)


def _keys(c: Config) -> tuple[int, ...]:
    s = Shape.of(c)
    return (s.batch, s.heads_kv, s.seq_len, s.head_dim)


class Attention:
    """Attention forward: o = softmax(q kᵀ · scale [+ causal mask]) v, per head, query head h
    reading key/value head h / (heads_q / heads_kv)."""

    name = "attention_fwd"
    parameters = (
        Param("q", "input", _queries),
        Param("k", "input", _keys),
        Param("v", "input", _keys),
        Param("out", "output", _queries),
        *(Param(name, "int") for name in DIMENSIONS),
        Param("scale", "float"),
    )
    input_cases: tuple[str, ...] = INPUT_CASES

    def __reduce__(self) -> str:
        return "ATTENTION"  # pickled by reference: a configuration's problem is this one

    def __repr__(self) -> str:
        return self.name

    def check(self, config: Config) -> None:
        if tuple(name for name, _ in config.dims) != DIMENSIONS:
            raise ValueError(f"an attention configuration has {', '.join(DIMENSIONS)}")
        Shape.of(config)

    def config_name(self, config: Config) -> str:
        return Shape.of(config).name

    def work(self, config: Config) -> Work:
        return Work(flops=Shape.of(config).flops)

    def scalars(self, config: Config) -> dict[str, int | float]:
        s = Shape.of(config)
        return {"batch": s.batch, "heads_q": s.heads_q, "heads_kv": s.heads_kv,
                "seq_len": s.seq_len, "head_dim": s.head_dim, "causal": int(s.causal),
                "scale": s.softmax_scale}

    def launch_variables(self, config: Config) -> dict[str, object]:
        s = Shape.of(config)
        return {"B": s.batch, "HQ": s.heads_q, "HKV": s.heads_kv, "S": s.seq_len,
                "D": s.head_dim, "CAUSAL": int(s.causal)}

    def draw_configs(self, edges: tuple[Config, ...], size: int, rng: random.Random
                     ) -> list[tuple[Config, str]]:
        """A length in each of RESIDUE_STRATA strata of residues modulo 128, at a random
        number of whole tiles (up to ``size``), once causal and once not, each with a spread
        input case (SPREAD_CASES): a kernel wrong on some remainders under one mask fails
        every evaluation, not by the luck of the draw. Then two short lengths and one more
        stratum length with any case, "large" among them. Heads, head dim and dtype are the
        first edge configuration's."""
        template = Shape.of(edges[0])
        width = RESIDUE_MODULUS // RESIDUE_STRATA

        def stratum_length(stratum: int) -> int:
            tiles = rng.randrange(size + 1)
            return max(1, tiles * RESIDUE_MODULUS + stratum * width + rng.randrange(width))

        strata = [(stratum_length(s), causal) for s in range(RESIDUE_STRATA) for causal in (0, 1)]
        spread = list(SPREAD_CASES) * -(-len(strata) // len(SPREAD_CASES))
        rng.shuffle(spread)
        drawn = [
            (length, bool(causal), case)
            for (length, causal), case in zip(strata, spread, strict=False)
        ]
        extra = [rng.randint(low, high) for low, high in SHORT_LENGTHS]
        extra.append(stratum_length(rng.randrange(RESIDUE_STRATA)))
        cases = ["large", *rng.sample(self.input_cases, len(extra) - 1)]
        rng.shuffle(cases)
        drawn += [(length, rng.random() < 0.5, case)
                  for length, case in zip(extra, cases, strict=True)]
        return [
            (
                config(
                    rng.choice((1, 2)),
                    template.heads_q,
                    template.heads_kv,
                    length,
                    template.head_dim,
                    causal,
                    template.dtype,
                    edges[0].problem,
                ),
                case,
            )
            for length, causal, case in drawn
        ]

    def crosses_tiles(self, config: Config) -> bool:
        return Shape.of(config).seq_len >= MIN_SEQ_LEN

    def row_label(self, position: tuple[int, ...], output: str | None = None) -> str:
        batch, head, row = position
        if output in (None, "out", "dq"):
            return f"query row {row} of head {head}, batch {batch}"
        return f"key row {row} of key/value head {head}, batch {batch}"

    def contract(self) -> Contract:
        return CONTRACT

    def numerics(self) -> Numerics:
        # By name: this module stays free of torch, and the torch side imports this one.
        module = importlib.import_module(f"{__package__}.attention_torch")
        numerics: Numerics = module.NUMERICS
        return numerics


ATTENTION = Attention()

CONTRACT = Contract(
    entry=("avo_attention_fwd(q, k, v, out, batch, heads_q, heads_kv, seq_len, head_dim, "
           "causal, scale): q and out [batch, heads_q, seq_len, head_dim], k and v [batch, "
           "heads_kv, seq_len, head_dim], contiguous; query head h reads key/value head "
           "h / (heads_q / heads_kv); causal 0 or 1; scale 1/sqrt(head_dim)."),
    exact=("The softmax covers every key the mask admits, maximum-subtracted: no key, tile or "
           "row skipped."),
    rows="Each query row",
    drawn=("every remainder of the tile sizes, causal and not, inputs normal, large, dominant "
           "or flat"),
    work="attention counts 4*B*Hq*S*S*D, halved for causal",
    precision={
        "bfloat16": "bf16 inputs and output, fp32 accumulation of both matrix products and of "
                    "the softmax's running maximum and sum",
        "float16": "fp16 inputs and output, fp32 accumulation of both matrix products and of "
                   "the softmax's running maximum and sum",
        "float32": "float32 inputs, output and accumulation",
    },
)
