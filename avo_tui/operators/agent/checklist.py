"""What the agent verifies before a commit: the first ``commit`` of a kernel returns this
checklist and submits nothing; the second submits it to the gate.

The gate measures; it cannot tell a kernel that keeps the rules from one that bends them on
the tested shapes, nor see a race the check happened to miss. Putting the change itself, its
cost per shape and the synchronisation it touches in front of the agent, once, at the moment
it is most tempted to skip the look, is the cheap part of that verification (KernelAgent and
GEAK make the same step explicit).
"""

from __future__ import annotations

from ...store import Score, diff_files
from ..protocol import StepContext, Trial
from . import report
from .audit import sync_audit

MAX_DIFF_CHARS = 8_000
REGRESSION = 0.01  # a shape slower by more than this is listed


def checklist(ctx: StepContext, trial: Trial) -> str:
    session = ctx.session
    head = ctx.head()  # the version the step built on (another lane may have moved the head)
    before = session.read_files(head) if head else {}  # none: the kernel would be v0
    diff = diff_files(before, trial.files, head.id if head else "nothing", "workspace")
    change = (f"1. The change against the head {head.id} (+{diff.added}/-{diff.removed} lines):"
              if head else f"1. The kernel, written from nothing: it would be v0 (+{diff.added} "
              "lines):")
    parts = [
        "Nothing was submitted yet. Verify this kernel, then call commit again to submit it "
        "(or fix what you find and evaluate again).",
        f"{change}\n" + (report.clip(diff.text, MAX_DIFF_CHARS) or "(no change)"),
        "2. Per shape:\n" + _per_shape(ctx, trial.score),
        "3. Synchronisation the change adds or removes (a barrier, fence or wait dropped is "
        "a race the check may miss):\n" + ("\n".join(sync_audit(before, trial.files))
                                           or "none"),
        "4. The rules in your instructions: the same math on every shape (nothing keyed to "
        "the tested sizes), every key the mask admits, within the tolerance on every input, "
        "nothing that tells checked launches from timed ones. Does the diff keep them all?",
    ]
    if ctx.target.device == "cuda":
        parts.append("5. If the change touches synchronisation, shared memory or the pipeline, "
                     "run sanitize (racecheck, synccheck) before you submit.")
    return "\n\n".join(parts)


def _per_shape(ctx: StepContext, score: Score | None) -> str:
    if score is None:
        return "no score (the kernel was not timed on the full grid)"
    lines = []
    head, best = ctx.head(), ctx.best()
    for role, other in (("the head", head), ("the best", best)):
        if other is None or other.score is None or (
                role == "the best" and head is not None and other.id == head.id):
            continue
        slower = report.regressions(score, other.score, REGRESSION)
        lines.append(f"against {other.id} ({role}): {report.shape_change(score, other.score)}")
        lines.append("  regressions over 1%: " + (", ".join(slower) if slower else "none"))
    return "\n".join(lines) or "nothing to compare with"
