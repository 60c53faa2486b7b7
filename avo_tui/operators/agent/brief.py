"""What the agent is told: a system prompt that holds for the whole session (so it caches),
and a brief that opens each step with where the search stands.

The brief opens every step of a run that may last days, so it has a budget: whatever the
lineage, the attempts, the notes, the supervisor's review, the guidance and the hints hold, it
takes at most BRIEF_SHARE of the model's context window. Tokens are estimated as characters /
CHARS_PER_TOKEN. Each section has a share of the budget; what a section leaves unused is lent
to those that need more (``lend``): first to the kernel's outline, which is never cut short of
its entry point while the budget holds it, then to the others in proportion to their shares.
A cut is said in the text, and the whole is cut to the budget as the last line of defence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ...evaluation import TargetSpec
from ...evaluation.paired import GAIN_FLOOR
from ...knowledge import KnowledgeBase, applies_to
from ..protocol import Spending, StepContext
from . import bar, ledger, report, research, stronger
from .notes import NOTES_KEPT, stored_notes
from .outline import outline
from .settings import AgentSettings

RECENT_VERSIONS = 12
RECENT_ATTEMPTS = 10
NOTES_SHOWN = NOTES_KEPT  # every note kept, as many as fit (search_history reads them all)
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
# Each section's share of the budget; what is left (5%) is the opening, the separators and the
# closing line. A section that needs less lends the rest (``lend``).
SHARES = {"guidance": 0.04, "best": 0.06, "budget": 0.02, "files": 0.12, "summary": 0.11,
          "research": 0.16, "ledger": 0.10, "lanes": 0.02, "lineage": 0.07, "attempts": 0.07,
          "notes": 0.08, "review": 0.04, "hints": 0.06}
VITAL = ("files",)  # served first from what the others leave: the outline to its entry point
REVIEW_SHARES = {"guidance": 0.05, "summary": 0.12, "research": 0.15, "ledger": 0.1,
                 "lineage": 0.12, "attempts": 0.12, "notes": 0.08, "code": 0.13, "profile": 0.08}
MIN_ITEM_CHARS = 80  # a note or hint is left out rather than cut shorter than this
LEFT_OUT_CHARS = 40  # "(N older left out for space)"

# The rules, in the system prompt and in the commit reviewer's: a reviewer told to check "the
# rules in your instructions" must be given them.
RULES = """\
Rules. They are not negotiable: a kernel that breaks one is worthless however fast it \
measures, the operator will reject it, and the evaluator is built to catch it.
- Compute what the target defines, at its precision: {precision}. {exact} Approximate \
instructions ({approximations}) and another order of summation are fine: the tolerance the \
evaluator judges by (below) is the rule, on every shape and input. Why: a faster wrong answer \
is not a result.
- The same math on every shape. No branch, table or constant keyed to the tested sizes, batch \
or head counts. Choosing tiles by a dimension (the head dimension, say), or handling a \
remainder, is fine when every shape stays exact. Why: the evaluator draws new shapes \
every time, and users run others.
- Never touch the harness. The kernel is source only: no memory outside its tensors, no \
timing, no state kept between launches, nothing that tells a checked launch from a timed one. \
Why: the score must measure the kernel, not the measurement.
- One gate decision per kernel. The same kernel (or one that compiles to the same code) is \
not judged twice against the same best: change what it computes or how. Why: asking again \
until noise says yes is how a search fools itself.
- A result far beyond the best, or beyond the measured peak of the hardware, is a bug until \
shown otherwise: look for work skipped before you celebrate it.
"""

SYSTEM = """\
You are the variation operator of an evolutionary search over {kind} kernels (AVO: agentic \
variation operators). Each step you receive the state of the search, improve the kernel in \
your workspace, and commit a new version only when it is correct and faster than the best. \
The search runs for days; each step starts without the last one's conversation, so what you \
learn must reach the research log (you are asked for it when the step ends) or a note. The \
harness keeps a ledger of every direction tried; search_history finds any of them.

{rules}
How to work, each step:
1. Read the brief: the research log and the running summary say what was tried and why it \
worked or failed. Do not repeat a direction unless you know why it failed and how this time \
differs.
2. Measure before you choose: {measure}
3. update_plan: the idea, the gain you expect and how you will know. The person supervising \
the run watches it.
4. Edit with focused changes (str_replace_based_edit_tool). The brief outlines the kernel's \
files: view line ranges, not whole files.
5. evaluate with an idea in a few words (quick for a fast correctness check; full before a \
commit). Read compile errors and failing configurations, repair, evaluate again.
6. Criticise the result per shape: a gain on one configuration that slows others is not a gain.
7. commit. The first call returns a checklist (the diff, regressions per shape, the \
synchronisation it touches): verify the change against the rules{sanitize}, then call commit \
again to submit it.
8. When nothing more is worth trying in this step, stop with a short summary. Use note for \
facts later steps must keep that the research log would not hold.

Messages from the operator (hints, guidance) come from the person supervising the run: follow \
them unless they are impossible, and say so when they are.

The target, {target}: {description}
Toolchain {toolchain}. The harness owns allocation, launch, timing and checking; the kernel \
declares {declares} in `avo:` comments (the kernel contract in the knowledge base, and the \
seed's own comments). The entry point: {entry}
{layouts}
Timed grid: {grid}.
Edge shapes checked for correctness only: {edges}.

How you are judged:
- Correctness, on every evaluation: each configuration of the grid, the edge shapes, and \
shapes drawn at random ({drawn}), with fresh inputs and a poisoned output before every launch, and \
timed launches checked at random. {rows}, and the whole output, must lie within \
{margin:g}x the error an honest computation at the target's precision makes on the same \
inputs, and never needs to be closer than {row_floor:g} of the row's norm. One failure scores \
the whole kernel zero.
- Speed: the median of many launches, inputs rotated, caches flushed; throughput in {unit} \
({work}); the geometric mean over the grid, and its \
ratio to each baseline timed in the same run. {bar}
- Commit: every evaluation times your kernel beside the best, launch by launch, and reads \
its gain with a standard error (e.g. +0.42% ± 0.09%). The gate then measures again until a \
one-sided 99% test decides (clear cases in seconds, close ones up to a minute) and commits \
only a gain whose lower bound clears {gain_floor:.2%}; gains of a few tenths of a percent \
count.

The hardware, measured by the evaluator:
{hardware}

Baselines per configuration on this machine ({unit}):
{baselines}

The knowledge base (search_knowledge ranks its sections; read_knowledge takes FILE#Heading). \
{knowledge_note}
{knowledge}
"""

# What differs between a GPU target and a CPU one: the tools a CPU has not (profile,
# sanitize), what a kernel declares, the approximate instructions at hand.
DEVICE_WORDS = {
    "cuda": {
        "kind": "GPU",
        "approximations": "ex2.approx, a polynomial exp2 on the FMA pipe, rcp.approx",
        "measure": "profile the configuration with the worst ratio to its strongest baseline "
                   "(profile's default; warp_state names the stalls, source the hottest SASS "
                   "lines, pipes the tensor and MUFU load) and read the knowledge that applies "
                   "to this GPU.",
        "sanitize": ", run sanitize when it touches synchronisation or shared memory",
        "declares": "its launch geometry, shared memory, tensor maps and knobs",
    },
    "cpu": {
        "kind": "CPU",
        "approximations": "a polynomial exp, fused multiply-adds",
        "measure": "read evaluate's throughput per configuration and its ratio to the "
                   "strongest baseline, find the configuration furthest behind, and read the "
                   "knowledge that applies to this CPU.",
        "sanitize": "",
        "declares": "its knobs",
    },
}

# What a target file says of itself, at most this long in the instructions.
ABOUT_CHARS = 4000


def system_prompt(ctx: StepContext, knowledge: KnowledgeBase) -> str:
    target = ctx.target
    hardware = ctx.hardware()
    arch = str(hardware.get("arch") or ("cpu" if target.device == "cpu" else ""))
    words = DEVICE_WORDS["cuda" if target.device == "cuda" else "cpu"]
    contract = target.problem.contract()
    return SYSTEM.format(
        **words,
        rules=rules(target),
        target=target.name,
        description=target.description,
        toolchain=target.toolchain,
        entry=contract.entry,
        layouts=report.clip(" ".join(target.notes), ABOUT_CHARS),
        drawn=contract.drawn,
        rows=contract.rows,
        work=contract.work,
        unit=target.unit,
        bar=bar_rule(target.baselines),
        grid=", ".join(c.name for c in target.grid(ctx.quick))
        + (" (the quick grid: this run is --quick)" if ctx.quick else ""),
        edges=", ".join(c.name for c in target.edge_configs) or "none",
        margin=target.tolerance.margin,
        row_floor=target.tolerance.row_rel_floor,
        gain_floor=GAIN_FLOOR,
        hardware=hardware_summary(hardware),
        baselines=baseline_table(ctx.baselines(), target.baselines),
        knowledge_note=("" if target.device != "cuda" else
                        f"Files marked [not for {arch}] are about another architecture."
                        if arch else ""),
        knowledge=knowledge_list(knowledge, arch, only_applying=target.device != "cuda"),
    )


def bar_rule(baselines: tuple[str, ...]) -> str:
    """The bar in the system prompt: the same words whichever baselines a run measures (the
    brief and evaluate name the one that is strongest, bar.py)."""
    if not baselines:
        return "This target times no baseline: your bar is the best version."
    if len(baselines) == 1:
        return (f"Your bar is its one baseline, {baselines[0]}, as measured in this run "
                "(the brief and evaluate name it).")
    return ("Your bar is the strongest baseline measured in this run, per configuration, of "
            f"{', '.join(baselines)} (each where installed; the brief and evaluate name it, "
            "and the brief names a stronger one known but not installed).")


def rules(target: TargetSpec) -> str:
    """The rules of the search, for ``target``'s precision and device."""
    dtype = target.configs[0].dtype if target.configs else "float32"
    words = DEVICE_WORDS["cuda" if target.device == "cuda" else "cpu"]
    contract = target.problem.contract()
    return RULES.format(precision=contract.precision.get(dtype, dtype), exact=contract.exact,
                        approximations=words["approximations"])


# The device facts the summary names first, in this order, with their labels; any other fact
# the evaluator reports follows as it is named.
HARDWARE_LABELS = {
    "gpu": "GPU", "cpu": "CPU", "compute_capability": "compute capability",
    "arch": "compiled for", "sms": "SMs", "cores": "cores",
    "max_smem_per_block_optin_bytes": "shared memory per block, opt-in (bytes)",
    "max_smem_per_sm_bytes": "shared memory per SM (bytes)",
    "registers_per_sm": "32-bit registers per SM", "registers_per_block": "registers per block",
    "max_threads_per_sm": "threads per SM", "l2_bytes": "L2 (bytes)",
    "memory_gib": "memory (GiB)",
    "peak_bf16_tflops": "measured bf16 matmul peak (TFLOP/s)",
    "peak_fp32_gflops": "measured fp32 matmul peak (GFLOP/s)",
    "bandwidth_gbs": "measured device-to-device copy bandwidth (GB/s, read plus written)",
}


def hardware_summary(facts: dict[str, object]) -> str:
    if not facts:
        return "(not known yet: no evaluation has reported it)"
    named = [k for k in HARDWARE_LABELS if k in facts]
    rest = [k for k in facts if k not in HARDWARE_LABELS]
    return "\n".join(f"- {HARDWARE_LABELS.get(k, k.replace('_', ' '))}: {_fact(facts[k])}"
                     for k in [*named, *rest])


def _fact(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def baseline_table(baselines: dict[str, dict[str, float]], names: tuple[str, ...]) -> str:
    if not baselines:
        return "(not measured yet)"
    return "\n".join(
        f"- {config}: " + ", ".join(f"{name} {timings[name]:.4g}" for name in names
                                    if name in timings)
        for config, timings in baselines.items()
    )


def knowledge_list(knowledge: KnowledgeBase, arch: str, *, only_applying: bool = False) -> str:
    """One line per knowledge file; one that is not for ``arch`` is marked, or, with
    ``only_applying`` (a CPU target: GPU notes are noise there), left out and counted."""
    lines, other = [], 0
    for entry in knowledge.outline():
        title = f"{entry.file}: {entry.title}" if entry.title else entry.file
        applies = not arch or applies_to(entry, arch)
        if only_applying and not applies:
            other += 1
            continue
        lines.append(f"- {title}{'' if applies else f' [not for {arch}]'}")
    if other:
        lines.append(f"({other} files about other hardware left out)")
    return "\n".join(lines) or "(empty)"


def budget_chars(context_window: int) -> int:
    """The most characters the step brief (or the review prompt) may hold."""
    return int(context_window * BRIEF_SHARE * CHARS_PER_TOKEN)


def estimated_tokens(text: str) -> int:
    """A conservative estimate of the tokens ``text`` takes (see CHARS_PER_TOKEN)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


HINTS_HEADING = "## Hints from the operator for this step\n"
Section = Callable[[int], str]  # a section's text within a limit of characters ('' if none)


def lend(wants: dict[str, int], shares: dict[str, int]) -> dict[str, int]:
    """Each section's allowance of characters: what it wants up to its share; then what the
    others left unused goes to the VITAL sections first, then to the rest in proportion to
    their shares. The allowances never add up to more than the shares do."""
    given = {name: min(want, shares[name]) for name, want in wants.items()}
    pool = sum(shares[name] for name in wants) - sum(given.values())
    for name in (n for n in VITAL if n in wants):
        extra = min(wants[name] - given[name], pool)
        given[name] += extra
        pool -= extra
    while pool > 0:
        hungry = [name for name, want in wants.items() if want > given[name]]
        weight = sum(shares[name] for name in hungry)
        if not hungry or weight <= 0:
            break
        spent = 0
        for name in hungry:
            extra = min(wants[name] - given[name], max(1, pool * shares[name] // weight),
                        pool - spent)
            given[name] += extra
            spent += extra
        pool -= spent
        if spent == 0:
            break
    return given


def lay_out(sections: dict[str, Section], shares: dict[str, float], budget: int) -> list[str]:
    """The sections' texts, in order, each within the allowance ``lend`` gives it. A section
    given all it wants is its text at the whole budget (a section cut to a limit keeps room
    to say what it left out, so its whole text rendered at its exact length would be cut)."""
    texts = {name: render(budget) for name, render in sections.items()}
    given = lend({name: len(text) for name, text in texts.items()},
                 {name: int(shares[name] * budget) for name in sections})
    return [texts[name] if given[name] >= len(texts[name]) else sections[name](given[name])
            if given[name] else "" for name in sections]


def step_brief(
    ctx: StepContext,
    *,
    hints: list[str],
    directions: str | None,
    context_window: int = AgentSettings.context_window,
    lane: tuple[int, int] | None = None,
    max_turns: int = AgentSettings.max_turns,
    max_step_cost: float | None = None,
) -> str:
    """Where the search stands, for the first message of a step, within the budget of
    ``context_window`` whatever the session holds. ``lane``: (this lane, how many) in a run
    of several lanes; ``max_step_cost``: --max-step-cost, where set."""
    budget = budget_chars(context_window)
    session = ctx.session
    head, unit = ctx.head(), ctx.target.unit
    memory = ctx.memory()
    files = session.read_files(head)
    sections: dict[str, Section] = {
        # The guidance comes first: it holds for every step.
        "guidance": lambda n: report.clip(
            "## Standing guidance from the operator (holds until cleared)\n"
            f"{ctx.guidance}", n) if ctx.guidance else "",
        "best": lambda n: report.clip(_best(ctx), n),
        "budget": lambda n: report.clip(
            "## Budget\n" + budget_line(ctx.spending(), turn=None, max_turns=max_turns,
                                        max_step_cost=max_step_cost), n),
        "files": lambda n: report.clip(_files(files), n),
        "summary": lambda n: _summary(memory, n, "## Running summary of the search"),
        "research": lambda n: _research(memory, n, "## Research log (newest last)"),
        "ledger": lambda n: _ledger(memory, n),
        "lanes": lambda n: report.clip(_other_lanes(memory, lane[0]), n) if lane else "",
        "lineage": lambda n: report.clip(
            f"## Lineage ({len(session.lineage)} versions, latest "
            f"{min(RECENT_VERSIONS, len(session.lineage))})\n"
            + report.versions_table(session, unit, RECENT_VERSIONS, ctx.baselines()), n),
        "attempts": lambda n: report.clip(
            "## Recent attempts\n" + report.attempts_table(
                session.recent_attempts(RECENT_ATTEMPTS), report.pending(session)), n),
        "notes": lambda n: _notes(ctx, NOTES_SHOWN, n, "## Your notes from earlier steps"),
        "review": lambda n: report.clip(
            "## The supervisor's directions (they stand until you say they are done or a new "
            "review replaces them; the operator's guidance takes precedence)\n"
            + directions, n) if directions else "",
        "hints": lambda n: report.clip(HINTS_HEADING + _bullets(hints, n - len(HINTS_HEADING)),
                                       n) if hints else "",
    }
    parts = [f"# Step brief (step {ctx.step_number})\nThe workspace holds {head.id} (the "
             "head), your starting point." if lane is None else _lane_opening(ctx, head.id, lane),
             *lay_out(sections, SHARES, budget),
             "Plan (update_plan), then work. Stop when you have committed or when nothing "
             "more is worth trying in this step."]
    return report.clip("\n\n".join(p for p in parts if p), budget)


def budget_line(spent: Spending, *, turn: int | None, max_turns: int,
                step_cost: float = 0.0, max_step_cost: float | None = None) -> str:
    """The agent's spending in view: turn k of N, this step's cost (against --max-step-cost),
    the session's against its budget."""
    cap = f"${max_step_cost:,.2f}" if max_step_cost else ""
    turns = (f"turn {turn} of {max_turns} in this step" if turn is not None
             else f"a step may take {max_turns} turns" + (f" and {cap}" if cap else ""))
    step = (f"; this step so far ${step_cost:.2f}" + (f" of its {cap} limit" if cap else "")
            if turn is not None else "")
    of = f" of its ${spent.max_cost_usd:,.2f} budget" if spent.max_cost_usd else " (no budget)"
    left = ""
    if spent.max_cost_usd:
        left = f", {max(0.0, spent.max_cost_usd - spent.cost_usd):,.2f} left"
    steps = (f"; step {spent.steps + 1} of {spent.max_steps}" if spent.max_steps
             else "")
    tokens = (f"; {spent.tokens:,} of {spent.max_tokens:,} tokens" if spent.max_tokens
              else "")
    return f"{turns}{step}; the session has spent ${spent.cost_usd:,.2f}{of}{left}" \
           f"{tokens}{steps}.{step_rate(spent)}"


def step_rate(spent: Spending) -> str:
    """What a step costs: the last one, the average, and how many more the cost budget holds
    at that average ('' before a step has ended)."""
    if not spent.steps or spent.cost_usd <= 0:
        return ""
    average = spent.cost_usd / spent.steps
    text = (f" The last step cost ${spent.last_step_cost_usd:,.2f}; a step costs "
            f"${average:,.2f} on average over {spent.steps}")
    if spent.max_cost_usd:
        more = int(max(0.0, spent.max_cost_usd - spent.cost_usd) // average)
        text += f"; at that rate the budget holds {more} more step{'s' * (more != 1)}"
    return text + "."


def _lane_opening(ctx: StepContext, start: str, lane: tuple[int, int]) -> str:
    number, count = lane
    where = "the head" if number == 1 else "one of the best versions"
    return (f"# Step brief (step {ctx.step_number}, lane {number} of {count})\n"
            f"You are lane {number} of {count}: {count} operators work on this lineage at the "
            "same time, each from its own starting version. The workspace holds "
            f"{start} ({where}), your starting point. Another lane may commit while you work: "
            "the gate always judges your kernel against the best at that moment, and tells you "
            "when the best moved.")


def _files(files: dict[str, str]) -> str:
    """The head's files, outlined with line ranges, so the agent views the part it needs."""
    return "## The kernel's files\n" + "\n".join(outline(name, text)
                                                   for name, text in files.items())


def _summary(memory: dict[str, Any], limit: int, heading: str) -> str:
    summary = research.stored_summary(memory)
    return report.clip(f"{heading}\n{summary}", limit) if summary else ""


def _research(memory: dict[str, Any], limit: int, heading: str) -> str:
    """The research records that fit in ``limit``, newest last: the newest whole, lesson
    first, older ones in a line each (research.records_shown)."""
    records = research.stored_records(memory)
    if not records:
        return ""
    return f"{heading}\n" + research.records_shown(records, limit - len(heading) - 1)


def _other_lanes(memory: dict[str, Any], own: int) -> str:
    """What the other lanes evaluated last (ledger.current), so two lanes do not chase one
    idea unawares."""
    others = {lane: idea for lane, idea in ledger.current(memory).items() if lane != own}
    if not others:
        return ""
    return ("## What the other lanes are trying now (their latest evaluate)\n"
            + "\n".join(f"- lane {lane}: {idea}" for lane, idea in sorted(others.items())))


def _ledger(memory: dict[str, Any], limit: int) -> str:
    directions = ledger.stored(memory)
    if not directions:
        return ""
    heading = (f"## Ledger of directions ({ledger.counts(directions)}; kept by the harness: "
               "do not repeat a failed one unless you know why it failed and how this differs)")
    return report.clip(f"{heading}\n" + ledger.lines(directions, limit - len(heading) - 1),
                       limit)


def _best(ctx: StepContext) -> str:
    """The best version and what it is measured against, then what the project measured of
    a stronger baseline this run has not installed (stronger.py)."""
    return "\n".join(p for p in (_best_score(ctx), _not_installed(ctx)) if p)


def _not_installed(ctx: StepContext) -> str:
    measured = {name for timings in ctx.baselines().values() for name, value in timings.items()
                if value > 0}
    known = stronger.missing(ctx.target.name, ctx.target.baselines, measured, ctx.hardware())
    if not known:
        return ""
    return ("Not installed here, though this GPU runs them, so the bar above is not the "
            "strongest known: " + "; ".join(k.sentence() for k in known) + ".")


def _best_score(ctx: StepContext) -> str:
    """The best version, its ratio to the strongest baseline of each configuration (the bar,
    bar.py) and to the target's first baseline, and what a commit needs."""
    best, unit = ctx.best(), ctx.target.unit
    if not best or not best.score:
        return ""
    score = best.score
    bars = bar.strongest(ctx.baselines())
    strongest = bar.describe(score, bars)
    ratios = bar.ratios(score, bars)
    first = f"{score.ratio:.3f}x {score.baseline}" if score.ratio else ""
    said = ", ".join(p for p in (strongest, first) if p)
    needs = ctx.commit_bar()
    return (f"## Best so far: {best.id}, {score.gmean:.4g} {unit} geomean"
            + (f", {said}" if said else "") + "\n"
            + "\n".join(f"- {name}: {value:.4g} {unit}"
                        + (f", {ratios[name][0]:.3f}x {ratios[name][1]}" if name in ratios
                           else "")
                        for name, value in score.per_config.items())
            + f"\n{needs[:1].upper()}{needs[1:]}.")


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
You review a stalled evolutionary search over {kind} kernels. Read the running summary, the \
research log, the lineage, the failed attempts, the best kernel's code{profile}; name \
the directions that are exhausted and why, and propose two to four new, concrete \
directions, most promising first, each in one or two sentences with the reason and the \
measurement that would confirm it. Every direction must keep the kernel exact on every shape \
(no special cases for the tested sizes) and respect the operator's guidance. Be brief, and \
answer in this form (the harness reads it; each tag's lines are one item each):

<exhausted>
A direction tried enough: why it does not pay (one line each)
</exhausted>
<try>
A new direction, the reason, the measurement that would confirm it (one line each, most \
promising first)
</try>
<back_off>A version to continue from instead of the best (e.g. v7), and why; or none</back_off>"""


def review_system(target: TargetSpec) -> str:
    """The supervisor's instructions, in the words of ``target``'s device (a CPU target has
    no profile tool)."""
    gpu = target.device == "cuda"
    return REVIEW_SYSTEM.format(kind=DEVICE_WORDS["cuda" if gpu else "cpu"]["kind"],
                                profile=" and its latest profile" if gpu else "")


def commit_review_system(target: TargetSpec) -> str:
    """The commit reviewer's instructions: the adversary's brief, the rules the kernel must
    keep and the target's precision."""
    return (COMMIT_REVIEW_SYSTEM + f"\n\nThe target, {target.name}: {target.description}\n"
            + rules(target))


COMMIT_REVIEW_SYSTEM = """\
You review a kernel change before it is committed to an evolutionary search, as an \
adversary would: you are paid for every real flaw you find. Below are the change, its \
measured effect per shape and the synchronisation it touches. Look for: races and missing \
barriers or fences (the correctness check may miss them), work skipped or special-cased on the \
tested shapes, errors that could pass the tolerance on the tested inputs and not on others \
(approximate instructions are fine within it), anything that tells a checked launch from \
a timed one, and regressions the geometric mean hides. Answer with a first line of exactly \
APPROVE or REJECT, then the reasons in a few lines, each naming the line of the diff."""


def review_prompt(
    ctx: StepContext, reason: str, *, context_window: int = AgentSettings.context_window
) -> str:
    """The supervisor's review request, within the same budget as a step brief."""
    budget = budget_chars(context_window)
    session = ctx.session
    memory = ctx.memory()
    profile = memory.get("profile")
    sections: dict[str, Section] = {
        # Directions that ignore the guidance would lead the next steps away from it.
        "guidance": lambda n: report.clip(
            "The operator's standing guidance, which every direction must respect: "
            + ctx.guidance, n) if ctx.guidance else "",
        "summary": lambda n: _summary(memory, n, "Running summary:"),
        "research": lambda n: _research(memory, n, "Research log (newest last):"),
        "ledger": lambda n: _ledger(memory, n),
        "lineage": lambda n: report.clip("Lineage:\n" + report.versions_table(
            session, ctx.target.unit, REVIEW_VERSIONS, ctx.baselines()), n),
        "attempts": lambda n: report.clip("Recent attempts:\n" + report.attempts_table(
            session.recent_attempts(REVIEW_ATTEMPTS), report.pending(session)), n),
        "notes": lambda n: _notes(ctx, REVIEW_NOTES, n, "Agent notes:"),
        "code": lambda n: report.clip(_best_code(ctx), n),
        "profile": lambda n: report.clip(f"The latest profile:\n{profile}", n)
        if isinstance(profile, str) and profile else "",
    }
    return report.clip("\n\n".join(p for p in [
        f"The stall detector fired: {reason}.",
        f"Target {ctx.target.name}: {ctx.target.description}",
        *lay_out(sections, REVIEW_SHARES, budget),
    ] if p), budget)


def _best_code(ctx: StepContext) -> str:
    """The best kernel's outline and the change that made it the best."""
    session = ctx.session
    best = ctx.best() or ctx.head()
    text = "The best kernel, " + best.id + ":\n" + "\n".join(
        outline(name, source) for name, source in session.read_files(best).items())
    if best.parent:
        diff = session.diff(best.parent, best.id).text
        text += f"\nIts change against {best.parent}:\n{diff}"
    return text
