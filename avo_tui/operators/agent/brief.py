"""What the agent is told each step: a brief that opens it with where the search stands, and
the supervisor's review request (the system prompt and the reviewers' instructions, which hold
for the whole session, are instructions.py).

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

from ...store import NO_VERSION_YET, Score
from ..hints import declared_knobs, read_knob_request, reading
from ..protocol import Spending, StepContext
from . import bar, first_version, ledger, regions, report, research, stronger
from .carry import Carried, opening
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
    carried: Carried | None = None,
) -> str:
    """Where the search stands, for the first message of a step, within the budget of
    ``context_window`` whatever the session holds. ``lane``: (this lane, how many) in a run
    of several lanes; ``max_step_cost``: --max-step-cost, where set; ``carried``: the
    candidate the lane's last step left, which the workspace holds (carry.py)."""
    budget = budget_chars(context_window)
    session = ctx.session
    head, unit = ctx.head(), ctx.target.unit
    memory = ctx.memory()
    files = session.read_files(head) if head else {}
    sections: dict[str, Section] = {
        # The guidance comes first: it holds for every step.
        "guidance": lambda n: report.clip(_guidance(ctx.guidance, files), n)
        if ctx.guidance else "",
        "best": lambda n: report.clip(_best(ctx), n) if head else first_version.section(
            ctx.target, ctx.commit_bar(), n),
        "budget": lambda n: report.clip(
            "## Budget\n" + budget_line(ctx.spending(), turn=None, max_turns=max_turns,
                                        max_step_cost=max_step_cost), n),
        "files": lambda n: report.clip(_files(files), n) if head else first_version.reference(
            ctx.target, n),
        "summary": lambda n: _summary(memory, n, "## Running summary of the search"),
        "research": lambda n: _research(memory, n, "## Research log (newest last)"),
        "ledger": lambda n: _ledger(memory, n),
        "lanes": lambda n: report.clip(_other_lanes(memory, lane[0]), n) if lane else "",
        "lineage": lambda n: report.clip(
            f"## Lineage ({len(session.lineage)} versions, latest "
            f"{min(RECENT_VERSIONS, len(session.lineage))})\n"
            + report.versions_table(session, unit, RECENT_VERSIONS, ctx.baselines()), n)
        if len(session.lineage) else "",
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
    start = first_version.opening(ctx.target) if head is None else (
        opening(carried, head) if carried else
        f"The workspace holds {head.id} (the head), your starting point.")
    parts = [f"# Step brief (step {ctx.step_number})\n{start}" if lane is None
             else _lane_opening(ctx, start, lane),
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
    """``start``: where this lane starts, said as a lane of one would say it."""
    number, count = lane
    if number > 1 and ctx.head() is not None:
        start = start.replace("(the head)", "(one of the best versions)")
    return (f"# Step brief (step {ctx.step_number}, lane {number} of {count})\n"
            f"You are lane {number} of {count}: {count} operators work on this lineage at the "
            f"same time, each from its own starting version. {start} Another lane may commit "
            "while you work: the gate always judges your kernel against the best at that "
            "moment, and tells you when the best moved.")


def _files(files: dict[str, str]) -> str:
    """The head's files, outlined with line ranges, so the agent views the part it needs;
    then the regions the kernel names, the places evaluate's `place` is matched to."""
    text = "## The kernel's files\n" + "\n".join(outline(name, text)
                                                   for name, text in files.items())
    found = regions.regions(files)
    if found:
        text += ("\nIts regions (`// avo:region`), the places of evaluate's `place`:\n"
                 + regions.listing(found))
    return text


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
    tags = ledger.stated_tags(directions)
    said = ("\nThe changes stated so far, as the ledger keeps them (reuse these words in "
            "evaluate's technique, place, direction and value):\n" + "\n".join(tags)
            if tags else "")
    shown = ledger.lines(directions, limit - len(heading) - len(said) - 1)
    return report.clip(f"{heading}\n{shown}{said}", limit)


def _best(ctx: StepContext) -> str:
    """The best version and what it is measured against, then what the project measured of
    the baselines back to back and of a stronger one this run has not installed
    (stronger.py)."""
    return "\n".join(p for p in (_best_score(ctx), _stronger(ctx)) if p)


def _stronger(ctx: StepContext) -> str:
    measured = {name for timings in ctx.baselines().values() for name, value in timings.items()
                if value > 0}
    hardware = ctx.hardware()
    known = stronger.missing(ctx.target.name, ctx.target.baselines, measured, hardware)
    said = stronger.back_to_back(ctx.target.name, ctx.target.baselines, measured, hardware)
    if known:
        said += ("\n" if said else "") + (
            "Not installed here, though this GPU runs them, so the bar above is not the "
            "strongest known: " + "; ".join(k.sentence() for k in known) + ".")
    return said


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
            + _back_to_back(score)
            + f"\n{needs[:1].upper()}{needs[1:]}.")


def _back_to_back(score: Score) -> str:
    """Where the run reads commits back to back (avo run --sustained), the best's ratios
    there: what users see at the power limit, which the interleaved score does not show."""
    if not score.sustained:
        return ""
    return ("\nBack to back at the power limit (each kernel alone, as users run it): "
            + ", ".join(f"{ratio:.3f}x {name}" for name, ratio in score.sustained.items())
            + ". A change that wins interleaved but loses here spends energy per FLOP.")


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
    if best is None:
        return f"No kernel yet ({NO_VERSION_YET}): every candidate so far is in the attempts."
    text = "The best kernel, " + best.id + ":\n" + "\n".join(
        outline(name, source) for name, source in session.read_files(best).items())
    if best.parent:
        diff = session.diff(best.parent, best.id).text
        text += f"\nIts change against {best.parent}:\n{diff}"
    return text


def _guidance(text: str | None, files: dict[str, str]) -> str:
    """The standing guidance, and the knob values it allows where it reads for sure as knob
    requests (hints.py), so that a comparison is followed as the set it means (issue 87)."""
    knobs = {name: knob.choices for name, knob in declared_knobs(files).items()}
    request = read_knob_request(text or "", knobs) if knobs else None
    read = (f"\nOf this kernel's knobs it asks: {reading(request)}. A candidate outside this "
            "is against the operator's guidance." if request and request.usable else "")
    return f"## Standing guidance from the operator (holds until cleared)\n{text}{read}"
