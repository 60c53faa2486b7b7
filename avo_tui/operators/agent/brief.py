"""What the agent is told: a system prompt that holds for the whole session (so it caches),
and a brief that opens each step with where the search stands."""

from __future__ import annotations

from ...knowledge import KnowledgeBase
from ...store import Session
from ..protocol import StepContext
from . import report

RECENT_VERSIONS = 12
RECENT_ATTEMPTS = 10
NOTES_SHOWN = 15

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


def step_brief(ctx: StepContext, *, hints: list[str], directions: str | None) -> str:
    session: Session = ctx.session
    head, best = ctx.head(), ctx.best()
    unit = ctx.target.unit
    parts = [f"# Step brief\nThe workspace holds {head.id} (the head), your starting point."]
    if best and best.score:
        score = best.score
        ratio = f", {score.ratio:.3f}x {score.baseline}" if score.ratio else ""
        parts.append(
            f"## Best so far: {best.id}, {score.gmean:.4g} {unit} geomean{ratio}\n"
            + "\n".join(f"- {name}: {value:.4g} {unit}" for name, value in score.per_config.items())
            + f"\nA commit needs more than {ctx.commit_threshold():.4g} {unit} (best plus noise)."
        )
    parts.append(f"## Lineage ({len(session.lineage)} versions, latest "
                 f"{min(RECENT_VERSIONS, len(session.lineage))})\n"
                 + report.versions_table(session, unit, RECENT_VERSIONS))
    parts.append("## Recent attempts\n"
                 + report.attempts_table(session.recent_attempts(RECENT_ATTEMPTS),
                                        report.pending(session)))
    notes = ctx.memory().get("notes", [])[-NOTES_SHOWN:]
    if notes:
        parts.append("## Your notes from earlier steps\n" + "\n".join(f"- {n}" for n in notes))
    if directions:
        parts.append("## The supervisor's review (the search stalled)\n" + directions
                     + "\n(The operator's guidance, if any, takes precedence.)")
    if ctx.guidance:
        parts.append(f"## Standing guidance from the operator\n{ctx.guidance}")
    if hints:
        parts.append("## Hints from the operator for this step\n"
                     + "\n".join(f"- {h}" for h in hints))
    parts.append("Plan (update_plan), then work. Stop when you have committed or when nothing "
                 "more is worth trying in this step.")
    return "\n\n".join(parts)


def hint_message(hints: list[str]) -> str:
    return "Operator hint (from the person supervising the run): " + " | ".join(hints)


REVIEW_SYSTEM = """\
You review a stalled evolutionary search over GPU kernels. Read the lineage and the failed \
attempts, name the directions that are exhausted, and propose two to four new, concrete \
directions, most promising first, each in one or two sentences with the reason. Be brief."""


def review_prompt(ctx: StepContext, reason: str) -> str:
    session = ctx.session
    return "\n\n".join([
        f"The stall detector fired: {reason}.",
        f"Target {ctx.target.name}: {ctx.target.description}",
        "Lineage:\n" + report.versions_table(session, ctx.target.unit, 30),
        "Recent attempts:\n" + report.attempts_table(session.recent_attempts(30),
                                                      report.pending(session)),
        "Agent notes:\n" + "\n".join(f"- {n}" for n in ctx.memory().get("notes", [])[-20:]),
    ])
