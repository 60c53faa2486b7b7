"""The agent's ``disassemble`` tool: the main loop's instruction mix of the workspace kernel
beside the best version's (evaluation/diagnostics/sass.py), and the latest score as a percent of the
measured peak. Apart from tools.py so that it runs where the API's client is not installed
(the GPU machine's tests)."""

from __future__ import annotations

from ...evaluation.diagnostics import sass
from ...evaluation.toolchains.cuda import DEFAULT_ARCH
from ...store import Score
from ..protocol import LineageContext
from .workspace import ToolError


def report(ctx: LineageContext, files: dict[str, str], against: str | None,
           score: Score | None) -> str:
    """The mix of ``files``' main loop beside ``against``'s (default: the best, else the
    head), and ``score`` (default: the head's) as a percent of the measured bf16 peak. With no
    version yet (the step writes v0), the kernel's own mix alone."""
    head = ctx.head()
    other = ctx.session.version(against) if against else (ctx.best() or head)
    mine = loop_mix(ctx, files)
    if mine is None:
        raise ToolError("the kernel's SASS has no loop to count")
    try:
        theirs = loop_mix(ctx, ctx.session.read_files(other)) if other else None
    except ToolError:
        theirs = None  # the comparison is worth less than the kernel's own mix
    text = sass.describe(mine, theirs, other.id if other else "")
    return "\n".join(p for p in (text, of_peak(ctx, score or (head.score if head else None)))
                     if p)


def loop_mix(ctx: LineageContext, files: dict[str, str]) -> sass.Mix | None:
    target = ctx.target
    arch = str(ctx.hardware().get("arch") or DEFAULT_ARCH)
    try:
        text = sass.disassemble(target.toolchain, files, target.defines, arch)
    except sass.SassUnavailable as error:
        raise ToolError(f"disassemble is unavailable: {error}") from None
    return sass.loop_mix(text, target.entry)


# The measured peak a score in each GPU unit is a share of: (fact, what it is)
PEAKS = {"TFLOP/s": ("peak_bf16_tflops", "the measured bf16 matrix peak"),
         "GB/s": ("bandwidth_gbs", "the measured copy bandwidth")}


def of_peak(ctx: LineageContext, score: Score | None) -> str:
    """``score`` per configuration as a percent of the measured peak it is bounded by: the
    bf16 matrix peak for TFLOP/s, the copy bandwidth for GB/s."""
    if score is None or score.unit not in PEAKS:
        return ""
    fact, words = PEAKS[score.unit]
    peak = ctx.hardware().get(fact)
    if not isinstance(peak, int | float) or peak <= 0:
        return ""
    return (f"of {words} ({peak:.4g} {score.unit}), by the latest full "
            "score: " + ", ".join(f"{name} {100 * value / peak:.1f}%"
                                  for name, value in score.per_config.items()))
