"""The slowed seed: a target's seed doing its work several times over, one share of the
slowdown per knob AVO_SLOW_K, so that taking a share out is a known gain (lanes_run.py's lanes
take them out; back_to_back_aa.py times it)."""

from __future__ import annotations

import re

from engine_helpers import CALL, repeated

from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import TargetSpec
from avo_tui.evaluation.declarations import contract

SHARE = {"c": (5, 2), "cuda": (5, 4)}  # one share's work factor, num / den (see the doc)
Share = tuple[int, int]  # a share's work factor, num / den, where one is given
# Knobs fixed in a slowed CUDA seed where it declares them, as plain macros no tuner sees: a
# persistent grid's copy of a CTA redoes its first tile only (PERSISTENT 2) or adds a second
# wave of whole tile walks (PERSISTENT 1), so a share is no 1.25x. On mha the shares of +1.2%
# and +1.1% were smaller than what the tuner's other knobs gained, and than how far two records
# of one kernel, minutes apart, differed: the tuner committed versions with two shares still
# in, and the best stayed on v1 (benchmarks/RESULTS.md, the nineteenth session).
ONE_CTA_PER_TILE = {"PERSISTENT": "0", "O_BUFFER": "0", "MULTICAST": "0"}
KNOB = "AVO_SLOW_{}"
KNOB_LINE = re.compile(r"#define AVO_SLOW_(\d+) ([01])\b")


class SeedError(Exception):
    """The seed cannot be slowed; the message is the one-line reason."""


def knob_line(share: int, value: int, hidden: frozenset[int] = frozenset()) -> str:
    """A share's knob line: a declared knob, or (a share in ``hidden``) a plain macro that a
    tuner does not see, which only its agent lane edits."""
    if share in hidden:
        return f"#define {KNOB.format(share)} {value}  // an agent lane's share"
    return f"#define {KNOB.format(share)} {value}  // avo:knob 0 1"


def knob_values(source: str) -> dict[int, int]:
    """Each share's knob as ``source`` (a kernel, or a view of its first lines) sets it."""
    return {int(share): int(value) for share, value in KNOB_LINE.findall(source)}


def share_of(lane: int, shares: int) -> int:
    return (lane - 1) % shares + 1


def head_block(shares: int, toolchain: str, hidden: frozenset[int] = frozenset(),
               share: Share | None = None) -> list[str]:
    """The lines the slowed seed opens with: a knob per share, and the work factor they make
    (``share`` each, or the toolchain's SHARE)."""
    num, den = share or SHARE[toolchain]
    factors = " * ".join(f"({den} + {num - den} * {KNOB.format(k)})" for k in range(1, shares + 1))
    return [
        "// benchmarks/lanes_run.py: a slowed seed. Each AVO_SLOW_K at 1 makes the kernel do its",
        f"// work {num}/{den} times over; the scripted lanes set them to 0.",
        *(knob_line(k, 1, hidden) for k in range(1, shares + 1)),
        f"#define AVO_WORK_NUM ({factors})",
        f"#define AVO_WORK_DEN ({' * '.join([str(den)] * shares)})",
        "#define AVO_COPIES ((AVO_WORK_NUM + AVO_WORK_DEN - 1) / AVO_WORK_DEN)",
    ]


def slowed_seed(target: TargetSpec, shares: int, hidden: frozenset[int] = frozenset(),
                share: Share | None = None) -> dict[str, str]:
    """The target's seed (its Seed.knobs applied) with every share of the slowdown in (those
    in ``hidden`` not declared as knobs), each a work factor of ``share`` (default: SHARE's for
    the target's toolchain)."""
    (name, source), *others = seed_files(target).items()
    if others:
        raise SeedError(f"the seed of {target.name} has several files; this handles one")
    head = head_block(shares, target.toolchain, hidden, share)
    body = (_slow_c(name, source) if target.toolchain == "c"
            else _slow_cuda(one_cta_per_tile(source), target.entry))
    return {name: "\n".join([*head, body])}


def one_cta_per_tile(source: str) -> str:
    """``source`` with each knob of ONE_CTA_PER_TILE it declares set, and no longer a knob."""
    def fixed(knob: re.Match[str]) -> str:
        value = ONE_CTA_PER_TILE.get(knob["name"])
        if value is None:
            return knob[0]
        return f"{knob['head']}{value}  // fixed by benchmarks/lanes_run.py: a CTA per tile"
    return contract.KNOB.sub(fixed, source)


def _slow_c(name: str, source: str) -> str:
    """Task ``t`` of the C seed's loop is computed AVO_COPIES_OF(t) times: AVO_WORK_NUM /
    AVO_WORK_DEN times over, spread evenly over the tasks, each at least once."""
    if CALL not in source:
        raise SeedError(f"the CPU seed no longer calls `{CALL.strip()}` per task; "
                     "benchmarks/lanes_run.py slows that call down")
    copies = ("#define AVO_COPIES_OF(t) ((int)(((t) + 1) * AVO_WORK_NUM / AVO_WORK_DEN"
              " - (t) * AVO_WORK_NUM / AVO_WORK_DEN))")
    return copies + "\n" + repeated({name: source}, "AVO_COPIES_OF(t)")[name]


# Every CTA of the kernel's own grid (its tile) is computed AVO_WORK_NUM / AVO_WORK_DEN times
# over: the grid holds AVO_COPIES copies of it, a copy beyond its tile's share returns at once,
# and the kernel reads its tile through blockIdx and gridDim as if its grid were its own.
CUDA_PROLOGUE = """\
// benchmarks/lanes_run.py: the grid holds AVO_COPIES copies of the kernel's own grid.
static __device__ __forceinline__ unsigned avo_tiles() { return gridDim.x / AVO_COPIES; }
static __device__ __forceinline__ bool avo_spare_copy() {
    const unsigned long long tile = blockIdx.x % avo_tiles(), copy = blockIdx.x / avo_tiles();
    return copy >= (tile + 1) * AVO_WORK_NUM / AVO_WORK_DEN - tile * AVO_WORK_NUM / AVO_WORK_DEN;
}
static __device__ __forceinline__ uint3 avo_block_idx() {
    uint3 b = blockIdx;
    b.x %= avo_tiles();
    return b;
}
static __device__ __forceinline__ dim3 avo_grid_dim() {
    dim3 g = gridDim;
    g.x = avo_tiles();
    return g;
}
#undef blockIdx
#undef gridDim
#define blockIdx avo_block_idx()
#define gridDim avo_grid_dim()
"""
GRID = re.compile(r"(//[ \t]*avo:launch\b[^\n]*?\bgrid=\()")


def _slow_cuda(source: str, entry: str) -> str:
    if re.search(r"%n?ctaid", source):
        raise SeedError("the CUDA seed reads %ctaid in PTX; the slowed seed remaps blockIdx only")
    includes = list(re.finditer(r"^[ \t]*#[ \t]*include\b[^\n]*\n", source, re.MULTILINE))
    at = includes[-1].end() if includes else 0
    source = source[:at] + CUDA_PROLOGUE + source[at:]
    kernel = re.search(rf"__global__\b[^;{{]*?\b{re.escape(entry)}\s*\(", source)
    grid = GRID.search(source)
    if kernel is None or grid is None:
        raise SeedError(f"the CUDA seed has no `__global__ ... {entry}(` or no avo:launch grid=")
    body = source.index("{", _closing(source, kernel.end() - 1)) + 1
    source = source[:body] + "\n    if (avo_spare_copy()) return;" + source[body:]
    start = grid.end()
    end = _closing(source, start - 1, stop_at_comma=True)
    return f"{source[:start]}AVO_COPIES * ({source[start:end].strip()}){source[end:]}"


def _closing(text: str, opening: int, *, stop_at_comma: bool = False) -> int:
    """The index of the parenthesis closing the one at ``opening`` (or of the first comma at
    its level, with ``stop_at_comma``)."""
    depth = 0
    for i in range(opening, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        elif text[i] == "," and depth == 1 and stop_at_comma:
            return i
    raise SeedError("unbalanced parentheses in the seed kernel")


def work_factor(shares: int, toolchain: str, share: Share | None = None) -> float:
    num, den = share or SHARE[toolchain]
    return (num / den) ** shares
