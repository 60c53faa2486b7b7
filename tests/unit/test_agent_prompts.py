"""What the agent is told, rendered as the model receives it: the strongest baseline as its bar,
and each prompt defect issue 39 found (each of these failed before its fix)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
from agent_context import StandIn

from avo_tui.engine.launch import seed_files
from avo_tui.evaluation import EvalResult, get_target
from avo_tui.evaluation.problems.attention import config as attention_config
from avo_tui.evaluation.results import ConfigResult
from avo_tui.evaluation.targets.problem import Config
from avo_tui.knowledge import KnowledgeBase, default_folders
from avo_tui.operators.agent import brief, changes, instructions, report, tool_schemas
from avo_tui.operators.agent.conversation_wire import cached_tools
from avo_tui.operators.agent.notes import NOTES_KEPT
from avo_tui.operators.agent.tools import Toolbox
from avo_tui.operators.agent.workspace import Workspace
from avo_tui.operators.protocol import StepContext, Trial
from avo_tui.store import Attempt, Score, Session
from avo_tui.store.view import SessionView

MHA = get_target("mha")
CPU = get_target("cpu-attention")
FULL, CAUSAL = (c.name for c in MHA.configs[:2])
# Measured in the run: cuDNN is the weakest serious baseline; FA4 leads on one shape, FA3 on
# the other.
BASELINES = {FULL: {"cudnn": 500.0, "flash": 420.0, "fa4": 560.0, "fa3": 550.0},
             CAUSAL: {"cudnn": 400.0, "flash": 300.0, "fa4": 430.0, "fa3": 440.0}}
SCORE = Score(560.0, {FULL: 588.0, CAUSAL: 396.0}, ratio=1.13, baseline="cudnn")


@pytest.fixture
def mha(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "mha", target="mha", operator="agent",
                        seed_files=seed_files(MHA), sync=False) as session:
        session.commit(session.read_files("v0"), author="agent", message="faster",
                       score=SCORE)
        yield session


def context(session: Session) -> StandIn:
    return StandIn(SessionView(session), target=MHA, bars=BASELINES)


def test_the_brief_names_the_strongest_baseline_with_its_ratio(mha: Session) -> None:
    text = brief.step_brief(cast(StepContext, context(mha)), hints=[], directions=None)
    best = text[text.index("## Best so far"):].split("\n\n")[0]
    # 588/560 = 1.05 against FA4 on the full shape, 396/440 = 0.90 against FA3 on the causal.
    assert f"- {FULL}: 588 TFLOP/s, 1.050x fa4" in best
    assert f"- {CAUSAL}: 396 TFLOP/s, 0.900x fa3" in best
    assert re.search(r"v1, 560 TFLOP/s geomean, 0\.972x the strongest baseline \((fa4|fa3) on 1, "
                     r"(fa3|fa4) on 1 of 2 configurations\), 1\.130x cudnn", best), best


def test_profile_defaults_to_the_configuration_furthest_behind_the_strongest_baseline(
    mha: Session, tmp_path: Path
) -> None:
    """Against cuDNN the full shape is furthest behind (588/600 = 0.98x against 396/380 =
    1.04x); against the strongest it is the causal one (0.90x FA3 against 1.05x FA4)."""
    kb = KnowledgeBase([])
    workspace = Workspace(tmp_path / "ws", kb, 100_000)
    workspace.reset(mha.read_files("v1"))
    bars = {FULL: {"cudnn": 600.0, "fa4": 560.0}, CAUSAL: {"cudnn": 380.0, "fa3": 440.0}}
    ctx = StandIn(SessionView(mha), target=MHA, bars=bars)
    toolbox = Toolbox(cast(StepContext, ctx), workspace, kb, base="v1", transcript=lambda: "{}")
    assert toolbox._worst_config() == CAUSAL  # cuDNN alone would say FULL (0.98x)


def lineage_of(text: str) -> tuple[str, str]:
    """The lineage table's header and v1's row, from a brief or list_versions."""
    lines = text[text.index("version parent"):].splitlines()
    return lines[0], next(line for line in lines if line.startswith("v1"))


def toolbox_on(ctx: StandIn, tmp_path: Path) -> Toolbox:
    kb = KnowledgeBase([])
    workspace = Workspace(tmp_path / "ws", kb, 100_000)
    return Toolbox(cast(StepContext, ctx), workspace, kb, base="v1", transcript=lambda: "{}")


def test_the_lineage_and_list_versions_are_against_the_strongest_baseline_and_name_it(
    mha: Session, tmp_path: Path
) -> None:
    """FA4 leads on the full shape, FA3 on the causal: ``x best``, at 0.972x (the geometric
    mean of 1.050x fa4 and 0.900x fa3), where the stored ratio reads 1.130x cuDNN."""
    ctx = context(mha)
    toolbox = toolbox_on(ctx, tmp_path)
    texts = {
        "brief": brief.step_brief(cast(StepContext, ctx), hints=[], directions=None),
        "review": brief.review_prompt(cast(StepContext, ctx), "no commit for 30 attempts"),
        "list_versions": toolbox.call("list_versions", {}).text,
    }
    for where, text in texts.items():
        header, v1 = lineage_of(text)
        assert header.split()[3:5] == ["TFLOP/s", "x"] and header.split()[5] == "best", where
        assert re.search(r" 560 +0\.972x ", v1) and "1.130x" not in v1, (where, v1)
        # the ratio sits under its heading
        assert header.index("x best") + len("x best") == v1.index("0.972x") + len("0.972x")
    shown = toolbox.call("show_version", {"version": "v1"}).text
    assert "score: 560 TFLOP/s geomean, 0.972x best, 1.130x cudnn" in shown, shown
    assert " 0.972x " in shown.splitlines()[0]


@pytest.mark.parametrize(("bars", "heading", "ratio"), [
    # FA4 the strongest on both shapes: named (588/560 and 396/440, as above)
    ({FULL: {"cudnn": 500.0, "fa4": 560.0}, CAUSAL: {"cudnn": 400.0, "fa4": 440.0}},
     "x fa4", "0.972x"),
    # cuDNN alone measured: each score's own ratio, to it
    ({FULL: {"cudnn": 500.0}, CAUSAL: {"cudnn": 400.0}}, "x cudnn", "1.130x"),
    # nothing measured yet (a step before the first evaluation): the same
    ({}, "x cudnn", "1.130x"),
])
def test_the_lineage_names_the_one_baseline_or_falls_back_to_the_stored_ratio(
    mha: Session, tmp_path: Path, bars: dict[str, dict[str, float]], heading: str, ratio: str
) -> None:
    ctx = StandIn(SessionView(mha), target=MHA, bars=bars)
    for text in (brief.step_brief(cast(StepContext, ctx), hints=[], directions=None),
                 toolbox_on(ctx, tmp_path).call("list_versions", {}).text):
        header, v1 = lineage_of(text)
        assert f" {heading} vs parent" in header, header
        assert header.index(heading) + len(heading) == v1.index(ratio) + len(ratio), v1


def test_a_long_baseline_name_keeps_the_lineage_columns_aligned(tmp_path: Path) -> None:
    with Session.create(tmp_path / "cpu", target="cpu-attention", operator="agent",
                        seed_files={"attention.c": "int x;\n"}, sync=False) as session:
        session.commit({"attention.c": "int y;\n"}, author="agent", message="unroll",
                       score=Score(41.0, {"a": 41.0}, ratio=1.25, baseline="torch-sdpa-cpu",
                                   unit="GFLOP/s"))
        ctx = StandIn(SessionView(session), bars={"a": {"torch-sdpa-cpu": 32.8}})
        header, v1 = lineage_of(toolbox_on(ctx, tmp_path).call("list_versions", {}).text)
    heading = "x torch-sdpa-cpu"
    assert header.index(heading) + len(heading) == v1.index("1.250x") + len("1.250x"), v1
    assert header.index("vs parent") == v1.index("1.250x") + len("1.250x ")  # the next column


def evaluated(passing_edges: int, failing_edge: bool, stored: float = 588.0) -> str:
    def row(config: Config, edge: bool, passed: bool = True) -> ConfigResult:
        return ConfigResult(config, edge=edge, passed=passed, max_abs_err=1e-3,
                            row_error_ratio=0.2, throughput=0.0 if edge else 588.0,
                            baselines={} if edge else {"cudnn": 500.0, "fa4": 560.0})

    timed = [row(c, False) for c in MHA.configs]
    edges = [row(attention_config(1, 2, 2, 100 + n, 128, n % 2 == 0, "bfloat16"), True)
             for n in range(passing_edges)]
    if failing_edge:
        edges.append(row(attention_config(1, 2, 2, 77, 128, True, "bfloat16"), True,
                         passed=False))
    result = EvalResult("mha", "cuda", "H200", "TFLOP/s", 1, False, configs=timed + edges)
    attempt = Attempt("a1", "v0", "agent", {}, "slower", "detail", Score(
        stored, {c.name: stored for c in MHA.configs}), 0.0)
    return report.evaluation(result, {}, attempt)


def test_evaluate_lists_the_timed_grid_and_failures_but_counts_passing_random_shapes() -> None:
    text = evaluated(25, failing_edge=False)
    assert len(text.splitlines()) == 1 + 1 + len(MHA.configs) + 2, text
    assert "edge and random shapes: all 25 passed (the worst row at 0.20 of its tolerance)" \
        in text
    assert f"{MHA.configs[0].name:<34} pass" in text and "fa4 560" in text
    assert "geomean: 1.050x the strongest baseline (fa4 on 8 of 8 configurations)" in text
    # a score stored on the lineage's scale (engine/scores.py) is not set against the
    # baselines measured beside the rows: the ratio is the rows' own
    chained = evaluated(25, failing_edge=False, stored=612.0)
    assert "geomean: 1.050x the strongest baseline (fa4 on 8 of 8 configurations)" in chained
    failing = evaluated(25, failing_edge=True)
    [row] = [line for line in failing.splitlines() if " FAIL " in line]
    assert "(edge)" in row and "all 25 passed" in failing


def test_the_approximation_rule_is_the_tolerance_as_the_seed_uses_ex2_approx() -> None:
    seed = next(iter(seed_files(MHA).values()))
    assert ("ex2.approx" in seed and "EXP2_POLY" in seed) or "poly_exp2" in seed
    rules = instructions.rules(MHA)
    assert "no approximation the reference does not make" not in rules
    assert "ex2.approx" in rules and "the tolerance the evaluator judges by" in rules
    assert "is the rule" in rules


def test_being_near_the_peak_is_not_called_a_bug() -> None:
    """The mha seed runs at about 88% of the measured matrix peak."""
    rules = instructions.rules(MHA)
    assert "near the hardware peak" not in rules
    assert "beyond the measured peak" in rules


def system_prompt_for(session: Session, target_name: str) -> str:
    ctx = StandIn(SessionView(session), target=get_target(target_name))
    return instructions.system_prompt(cast(StepContext, ctx), KnowledgeBase(default_folders()))


def test_cpu_attention_is_not_told_of_gpu_tools_kernels_or_notes(tmp_path: Path) -> None:
    with Session.create(tmp_path / "cpu", target="cpu-attention", operator="agent",
                        seed_files=seed_files(CPU), sync=False) as session:
        text = system_prompt_for(session, "cpu-attention")
    for gpu in ("profile", "sanitize", "tensor map", "GPU", "SASS", "MUFU", "not for cpu"):
        assert gpu not in text, gpu
    assert "files about other hardware left out" in text
    names = [t["name"] for t in cached_tools("cpu")]
    assert "profile" not in names and "sanitize" not in names and "evaluate" in names
    assert {"profile", "sanitize"} <= {t["name"] for t in cached_tools("cuda")}


def test_the_commit_reviewer_is_given_the_rules_and_the_precision() -> None:
    system = instructions.commit_review_system(MHA)
    assert instructions.rules(MHA) in system
    assert "bf16 inputs and output, fp32 accumulation" in system


def test_the_brief_shows_every_note_the_note_tool_keeps(tmp_path: Path) -> None:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files={"attention.c": "int x;\n"}, sync=False) as session:
        ctx = StandIn(SessionView(session))
        ctx.kept["notes"] = [f"note {n}: " + "n" * 100 for n in range(NOTES_KEPT)]
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
    assert all(f"note {n}: " in text for n in range(NOTES_KEPT))
    [note] = [s for s in tool_schemas.SCHEMAS if s["name"] == "note"]
    assert "search_history searches them all" in note["description"]


@dataclass
class Promising(StandIn):
    """A stand-in whose every evaluation reads as promising."""

    def evaluate(self, files: dict[str, str], *, base: str, note: str = "",
                 quick: bool = False, idea: str | None = None) -> Trial:
        attempt = Attempt("a1", base, "agent", {}, "promising", "+3% on the best",
                          Score(1.03, {"a": 1.03}), 0.0)
        result = EvalResult("cpu-attention", "c", "cpu", "GFLOP/s", 1, False)
        return Trial(attempt, result, dict(files), "key-" + str(hash(tuple(files.items()))))


@pytest.mark.parametrize(("change", "every", "asked"), [
    ("#pragma omp barrier\n", False, True),  # the audit found a barrier: asked by itself
    ("int y;\n", False, False),  # nothing synchronising, reviews off: not asked
    ("int y;\n", True, True),  # review_commits on: every commit
])
def test_the_reviewer_runs_by_itself_when_the_audit_finds_synchronisation(
    tmp_path: Path, change: str, every: bool, asked: bool
) -> None:
    seed = {"attention.c": "int x;\n"}
    reviews: list[str] = []

    def reviewer(checklist: str) -> str:
        reviews.append(checklist)
        return "OK"

    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files=seed, sync=False) as session:
        ctx = Promising(SessionView(session))
        kb = KnowledgeBase([])
        workspace = Workspace(tmp_path / "ws", kb, 10_000)
        workspace.reset({"attention.c": "int x;\n" + change})
        toolbox = Toolbox(cast(StepContext, ctx), workspace, kb, base="v0",
                          transcript=lambda: "{}", reviewer=reviewer,
                          review_every_commit=every)
        text = toolbox.call("commit", {"message": "m"}).text
    assert bool(reviews) == asked, text
    if asked and not every:
        assert "The reviewer's verdict (asked because the change touches synchronisation)" \
            in text


@dataclass
class ByThreads(StandIn):
    """A stand-in that scores a kernel by its THREADS knob (more is faster), and keeps what it
    was asked to evaluate."""

    asked: list[tuple[str, str]] = field(default_factory=list)

    def evaluate(self, files: dict[str, str], *, base: str, note: str = "",
                 quick: bool = False, idea: str | None = None) -> Trial:
        found = re.search(r"#define THREADS (\d+)", files["attention.c"])
        assert found is not None
        threads = int(found.group(1))
        number = len(self.asked) + 1
        self.asked.append((idea or "", str(threads)))
        attempt = Attempt(f"a{number}", base, "agent", {}, "slower", f"THREADS {threads}",
                          Score(1.0 + threads, {"a": 1.0 + threads}), 0.0, idea=idea)
        result = EvalResult("cpu-attention", "c", "cpu", "GFLOP/s", 1, False)
        return Trial(attempt, result, dict(files), f"k{number}")


def test_evaluate_scores_a_few_knob_variants_in_one_call(tmp_path: Path) -> None:
    kernel = {"attention.c": "#define THREADS 1       // avo:knob 0 1 2 4 8\nint x;\n"}
    with Session.create(tmp_path / "s", target="cpu-attention", operator="agent",
                        seed_files=kernel, sync=False) as session:
        ctx = ByThreads(SessionView(session))
        kb = KnowledgeBase([])
        workspace = Workspace(tmp_path / "ws", kb, 10_000)
        workspace.reset(kernel)
        toolbox = Toolbox(cast(StepContext, ctx), workspace, kb, base="v0",
                          transcript=lambda: "{}")
        text = toolbox.call("evaluate", {"idea": "more threads",
                                         "variants": ["THREADS=2", "THREADS=8", "THREADS=4"]}).text
        assert ctx.asked == [("more threads [THREADS=2]", "2"), ("more threads [THREADS=8]", "8"),
                             ("more threads [THREADS=4]", "4")]
        assert "- THREADS=8: a2 slower - THREADS 8" in text
        assert "The best, THREADS=8, in full" in text
        assert workspace.files() == kernel  # left as it was
        # The step's log keeps each variant's knob change, read from its diff (changes.py).
        assert [changes.untagged(idea) for idea, _ in toolbox.log.tried] == [
            i for i, _ in ctx.asked]
        assert toolbox.log.tried[0][0].startswith("[change: knob | threads | increase | 2] ")
        refused = toolbox.call("evaluate", {"idea": "x", "variants": ["NOPE=3"]})
        assert refused.is_error and "no knob NOPE" in refused.text
        assert toolbox.call("evaluate", {"idea": "x", "variants": ["THREADS"]}).is_error
        assert toolbox.call("evaluate", {"idea": "x", "variants": ["THREADS=1"] * 5}).is_error


def test_the_brief_gives_the_best_back_to_back_where_the_run_read_it(tmp_path: Path) -> None:
    """avo run --sustained: the best's ratios at the power limit under its scores, and why
    they matter; a score without them says nothing of it."""
    read = Score(560.0, {FULL: 588.0, CAUSAL: 396.0}, ratio=1.13, baseline="cudnn",
                 sustained={"cudnn": 1.021, "fa3": 0.987})
    for score, said in ((read, True), (SCORE, False)):
        with Session.create(tmp_path / str(said), target="mha", operator="agent",
                            seed_files=seed_files(MHA), sync=False) as session:
            session.commit(session.read_files("v0"), author="agent", message="m", score=score)
            text = brief.step_brief(cast(StepContext, context(session)), hints=[],
                                    directions=None)
        best = text[text.index("## Best so far"):].split("\n\n")[0]
        line = ("Back to back at the power limit (each kernel alone, as users run it): "
                "1.021x cudnn, 0.987x fa3.")
        assert (line in best) is said, best


def test_the_brief_states_the_knob_values_the_guidance_allows(tmp_path: Path) -> None:
    """Issue 87: a comparison in the guidance is a set of values; the agent is told the set,
    not left to read "UNROLL > 2" as it may."""
    with Session.create(tmp_path / "cpu", target="cpu-attention", operator="agent",
                        seed_files=seed_files(CPU), sync=False) as session:
        ctx = StandIn(SessionView(session), target=CPU, bars={})
        ctx.guidance = "UNROLL > 2, avoid 128 for BLOCK_K"
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
        assert ("UNROLL > 2, avoid 128 for BLOCK_K\nOf this kernel's knobs it asks: UNROLL one "
                "of 4 8, BLOCK_K never 128. A candidate outside this is against the operator's "
                "guidance.") in text
        ctx.guidance = "make it faster"  # no knob: the words alone, as written
        text = brief.step_brief(cast(StepContext, ctx), hints=[], directions=None)
        assert "make it faster" in text and "Of this kernel's knobs" not in text
