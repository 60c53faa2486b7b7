"""What the agent is told: a system prompt that holds for the whole session (so it caches),
and a brief that opens each step with where the search stands.

The brief opens every step of a run that may last days, so it has a budget: whatever the
lineage, the attempts, the notes, the supervisor's review, the guidance and the hints hold, it
takes at most BRIEF_SHARE of the model's context window. Tokens are estimated as characters /
CHARS_PER_TOKEN; each section is cut to its share of the budget (the cut is said in the text),
and the whole is cut to the budget as the last line of defence.
"""

from __future__ import annotations

import math

from ...knowledge import KnowledgeBase
from ..protocol import StepContext
from . import report
from .settings import AgentSettings
from .tools import stored_notes

RECENT_VERSIONS = 12
RECENT_ATTEMPTS = 10
NOTES_SHOWN = 15
REVIEW_VERSIONS = 30
REVIEW_ATTEMPTS = 30
REVIEW_NOTES = 20

# The brief's budget, a share of the context window (AgentSettings.context_window), so that a
# step starts with nearly all of the window for its work. 5% of a 200k window is 10k tokens.
BRIEF_SHARE = 0.05
# Claude's tokenizer averages about 3.5 to 4 characters a token on English prose and code, and
# nearer 3 on tables of numbers and ids such as the lineage; counting 3 overestimates the
# tokens of what the brief holds, so the budget is kept with a margin. (Text mostly in a
# non-Latin script can take more tokens a character; the 5% share leaves room for that.)
CHARS_PER_TOKEN = 3.0
# Each section's share of the budget; what is left (5%) is the headings and the closing line.
SHARES = {"best": 0.10, "lineage": 0.15, "attempts": 0.15, "notes": 0.25, "review": 0.12,
          "guidance": 0.08, "hints": 0.10}
REVIEW_SHARES = {"lineage": 0.3, "attempts": 0.3, "notes": 0.25, "guidance": 0.08}
MIN_ITEM_CHARS = 80  # a note or hint is left out rather than cut shorter than this
LEFT_OUT_CHARS = 40  # "(N older left out for space)"

SYSTEM = """\
You are the variation operator of an evolutionary search over GPU kernels (AVO: agentic \
variation operators). Each step you receive the state of the search, improve the kernel in \
your workspace, and commit a new version only when it is correct and faster than the best.

How to work:
- Start from the lineage and your notes: do not repeat a direction that already failed \
unless you know why it failed and how this time differs.
- Consult the knowledge base (search_knowledge, read_knowledge) before an unfamiliar technique.
- Keep the plan current with update_plan; the person supervising the run watches it.
- Edit the workspace kernel with str_replace_based_edit_tool; make focused changes.
- evaluate it (quick for a fast correctness check, full before committing). Read compile \
errors and failing configurations, repair, and evaluate again.
- Criticize your own result: a speedup on one configuration that slows others is not a gain.
- commit when the full evaluation says promising. The commit gate re-measures independently; \
if it refuses, decide whether to refine or to stop.
- Before you finish, note what you learned (note): later steps start without this conversation.
- When there is nothing more worth trying in this step, stop with a short summary.

The harness owns allocation, launch, timing and checking: the kernel is source only, and its \
launch geometry, shared memory, tensor maps and knobs are declared in `avo:` comments (see the \
kernel contract in the knowledge base and the seed's own comments). Messages from the \
operator (hints, guidance) come from the person supervising the run: follow them unless they \
are impossible, and say so when they are.

Target {target}: {description}
Toolchain {toolchain} on {device}; throughput in {unit}, compared with {baseline}.
Timed grid: {grid}.
Edge shapes checked for correctness only: {edges}.

The knowledge base (search_knowledge ranks its sections; read_knowledge takes FILE#Heading):
{knowledge}
"""


def system_prompt(ctx: StepContext, knowledge: KnowledgeBase) -> str:
    target = ctx.target
    files = [f"- {o.file}: {o.title}" if o.title else f"- {o.file}" for o in knowledge.outline()]
    return SYSTEM.format(
        target=target.name,
        description=target.description,
        toolchain=target.toolchain,
        device=target.device,
        unit=target.unit,
        baseline=target.baselines[0] if target.baselines else "no baseline",
        grid=", ".join(c.name for c in target.configs),
        edges=", ".join(c.name for c in target.edge_configs) or "none",
        knowledge="\n".join(files) or "(empty)",
    )


def budget_chars(context_window: int) -> int:
    """The most characters the step brief (or the review prompt) may hold."""
    return int(context_window * BRIEF_SHARE * CHARS_PER_TOKEN)


def estimated_tokens(text: str) -> int:
    """A conservative estimate of the tokens ``text`` takes (see CHARS_PER_TOKEN)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def step_brief(
    ctx: StepContext,
    *,
    hints: list[str],
    directions: str | None,
    context_window: int = AgentSettings.context_window,
) -> str:
    """Where the search stands, for the first message of a step, within the budget of
    ``context_window`` whatever the session holds."""
    budget = budget_chars(context_window)
    share = {name: int(part * budget) for name, part in SHARES.items()}
    session = ctx.session
    head, unit = ctx.head(), ctx.target.unit
    # The guidance comes first: it holds for every step, and no cut below can reach it.
    guidance = (report.clip(f"## Standing guidance from the operator (holds until cleared)\n"
                            f"{ctx.guidance}", share["guidance"]) if ctx.guidance else "")
    parts = [f"# Step brief\nThe workspace holds {head.id} (the head), your starting point.",
             guidance,
             report.clip(_best(ctx), share["best"]),
             report.clip(f"## Lineage ({len(session.lineage)} versions, latest "
                         f"{min(RECENT_VERSIONS, len(session.lineage))})\n"
                         + report.versions_table(session, unit, RECENT_VERSIONS),
                         share["lineage"]),
             report.clip("## Recent attempts\n"
                         + report.attempts_table(session.recent_attempts(RECENT_ATTEMPTS),
                                                 report.pending(session)), share["attempts"]),
             _notes(ctx, NOTES_SHOWN, share["notes"], "## Your notes from earlier steps")]
    if directions:
        parts.append(report.clip("## The supervisor's review (the search stalled)\n"
                                 "(The operator's guidance, if any, takes precedence.)\n"
                                 + directions, share["review"]))
    if hints:
        parts.append("## Hints from the operator for this step\n"
                     + _bullets(hints, share["hints"]))
    parts.append("Plan (update_plan), then work. Stop when you have committed or when nothing "
                 "more is worth trying in this step.")
    return report.clip("\n\n".join(p for p in parts if p), budget)


def _best(ctx: StepContext) -> str:
    best, unit = ctx.best(), ctx.target.unit
    if not best or not best.score:
        return ""
    score = best.score
    ratio = f", {score.ratio:.3f}x {score.baseline}" if score.ratio else ""
    return (f"## Best so far: {best.id}, {score.gmean:.4g} {unit} geomean{ratio}\n"
            + "\n".join(f"- {name}: {value:.4g} {unit}"
                        for name, value in score.per_config.items())
            + f"\nA commit needs more than {ctx.commit_threshold():.4g} {unit} (best plus noise).")


def _notes(ctx: StepContext, count: int, limit: int, heading: str) -> str:
    """The agent's newest ``count`` notes that fit in ``limit`` characters, under ``heading``
    (counted in the limit)."""
    notes = stored_notes(ctx.memory())[-count:]
    if not notes:
        return ""
    return f"{heading}\n" + _bullets(notes, limit - len(heading) - 1)


def _bullets(items: list[str], limit: int) -> str:
    """'- item' lines, oldest first, for the newest items that fit in ``limit`` characters.
    Each item gets a fair share of what the newer ones left (at least MIN_ITEM_CHARS, so too
    many items leave the oldest out, said in a first line, rather than cut all to nothing):
    short items leave room for long ones, and one huge item never crowds out the rest (it is
    cut, and says so)."""
    lines: list[str] = []
    left = limit - LEFT_OUT_CHARS  # room for the line that says how many were left out
    for done, item in enumerate(reversed(items)):
        share = max(MIN_ITEM_CHARS, left // (len(items) - done))
        if share > left:
            break
        line = "- " + report.clip(item, share - 3)  # "- " and the newline
        lines.append(line)
        left -= len(line) + 1
    if len(lines) < len(items):
        lines.append(f"({len(items) - len(lines)} older left out for space)")
    return "\n".join(reversed(lines))


def hint_message(hints: list[str], *, context_window: int = AgentSettings.context_window) -> str:
    """The operator's hints that arrived mid-step, for the next user message, within the
    brief's share for hints."""
    limit = int(SHARES["hints"] * budget_chars(context_window))
    return report.clip("Operator hint (from the person supervising the run): "
                       + " | ".join(hints), limit)


REVIEW_SYSTEM = """\
You review a stalled evolutionary search over GPU kernels. Read the lineage and the failed \
attempts, name the directions that are exhausted, and propose two to four new, concrete \
directions, most promising first, each in one or two sentences with the reason. Be brief."""


def review_prompt(
    ctx: StepContext, reason: str, *, context_window: int = AgentSettings.context_window
) -> str:
    """The supervisor's review request, within the same budget as a step brief."""
    budget = budget_chars(context_window)
    share = {name: int(part * budget) for name, part in REVIEW_SHARES.items()}
    session = ctx.session
    return report.clip("\n\n".join(p for p in [
        f"The stall detector fired: {reason}.",
        f"Target {ctx.target.name}: {ctx.target.description}",
        # Directions that ignore the guidance would lead the next steps away from it.
        report.clip("The operator's standing guidance, which every direction must respect: "
                    + ctx.guidance, share["guidance"]) if ctx.guidance else "",
        report.clip("Lineage:\n" + report.versions_table(session, ctx.target.unit,
                                                         REVIEW_VERSIONS), share["lineage"]),
        report.clip("Recent attempts:\n"
                    + report.attempts_table(session.recent_attempts(REVIEW_ATTEMPTS),
                                            report.pending(session)), share["attempts"]),
        _notes(ctx, REVIEW_NOTES, share["notes"], "Agent notes:"),
    ] if p), budget)
