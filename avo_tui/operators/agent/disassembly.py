"""The agent's ``disassemble`` tool: the main loop's instruction mix of the workspace kernel
beside the best version's (evaluation/sass.py), and the latest score as a percent of the
measured peak. Apart from tools.py so that it runs where the API's client is not installed
(the GPU machine's tests)."""

from __future__ import annotations

from ...evaluation import sass
from ...evaluation.toolchains.cuda import DEFAULT_ARCH
from ...store import Score
from ..protocol import LineageContext
from .workspace import ToolError


def report(ctx: LineageContext, files: dict[str, str], against: str | None,
           score: Score | None) -> str:
    """The mix of ``files``' main loop beside ``against``'s (default: the best, else the
    head), and ``score`` (default: the head's) as a percent of the measured bf16 peak."""
    other = ctx.session.version(against) if against else (ctx.best() or ctx.head())
    mine = loop_mix(ctx, files)
    if mine is None:
        raise ToolError("the kernel's SASS has no loop to count")
    try:
        theirs = loop_mix(ctx, ctx.session.read_files(other))
    except ToolError:
        theirs = None  # the comparison is worth less than the kernel's own mix
    text = sass.describe(mine, theirs, other.id)
    return "\n".join(p for p in (text, of_peak(ctx, score or ctx.head().score)) if p)


def loop_mix(ctx: LineageContext, files: dict[str, str]) -> sass.Mix | None:
    target = ctx.target
    arch = str(ctx.hardware().get("arch") or DEFAULT_ARCH)
    try:
        text = sass.disassemble(target.toolchain, files, target.defines, arch)
    except sass.SassUnavailable as error:
        raise ToolError(f"disassemble is unavailable: {error}") from None
    return sass.loop_mix(text, target.entry)


def of_peak(ctx: LineageContext, score: Score | None) -> str:
    """``score`` per configuration as a percent of the measured bf16 matrix peak."""
    peak = ctx.hardware().get("peak_bf16_tflops")
    if not isinstance(peak, int | float) or peak <= 0 or score is None \
            or score.unit != "TFLOP/s":
        return ""
    return (f"of the measured bf16 matrix peak ({peak:.4g} TFLOP/s), by the latest full "
            "score: " + ", ".join(f"{name} {100 * value / peak:.1f}%"
                                  for name, value in score.per_config.items()))
