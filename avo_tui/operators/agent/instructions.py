"""What the agent is told once: the system prompt that holds for a whole session (so it
caches), with the rules of the search, the target, how it is judged, the hardware and the
knowledge base; and the instructions of the two reviewers, the supervisor of a stalled search
and the commit reviewer (given the same rules). The brief that opens each step is brief.py.
"""

from __future__ import annotations

from ...evaluation import TargetSpec
from ...evaluation.paired import GAIN_FLOOR
from ...knowledge import KnowledgeBase, applies_to
from ..protocol import StepContext
from . import report

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
