"""benchmarks/agent_cost.py with one short step: the real agent on a real session against the
fake Messages API. Its table must add up: each turn reads from the cache what the turn before
sent (so the reads grow turn by turn) and writes the rest, the dollars are the tokens times
the default model's prices, the steps are the sums of their turns, and the session was
charged what the report says (the fake answered with the estimated usage)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bench_scripts import load_benchmark

from avo_tui.evaluation import Worker
from avo_tui.operators.agent.settings import DEFAULT_MODEL, AgentSettings

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "agent_cost.py"
FIGURES = ("prompt", "input", "cache_write", "cache_read", "output")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark(SCRIPT, "agent_cost_bench")


def test_one_short_step_adds_up(bench: ModuleType, tmp_path: Path, worker: Worker) -> None:
    doc: dict[str, Any] = bench.run(tmp_path / "session", steps=1, short=True, worker=worker,
                                    thinking_tokens=300, steps_per_day=100)
    turns = [t for t in doc["turns"] if t["turn"] > 0]
    assert [t["turn"] for t in turns] == list(range(1, len(turns) + 1))
    assert len(turns) >= 5  # plan, view, edit, evaluate, the end (and the debrief)
    assert turns[0]["cache_read"] == 0 and turns[0]["cache_write"] == turns[0]["prompt"]
    for before, turn in itertools.pairwise(turns):
        assert turn["cache_read"] == before["prompt"] > before["cache_read"]
        assert turn["cache_write"] == turn["prompt"] - before["prompt"] > 0
        assert turn["input"] == 0
    assert all(t["output"] >= 300 for t in turns)  # the assumed thinking, and what it said

    price = AgentSettings().price()
    assert price is not None and doc["assumptions"]["model"] == DEFAULT_MODEL
    for turn in doc["turns"]:
        usd = (turn["input"] * price.input + turn["cache_write"] * price.cache_write
               + turn["cache_read"] * price.cache_read + turn["output"] * price.output) / 1e6
        assert turn["usd"] == pytest.approx(usd)

    [step] = doc["steps"]
    assert step["turns"] == len(doc["turns"])
    for name in FIGURES:
        assert step[name] == sum(t[name] for t in doc["turns"])
    assert step["usd"] == pytest.approx(sum(t["usd"] for t in doc["turns"]), abs=1e-4)
    assert step["request_kb_first"] < step["request_kb_last"]
    assert doc["usd_per_day"] == pytest.approx(100 * doc["usd_per_step"], abs=0.01)
    assert doc["session_usd"] == pytest.approx(doc["total_usd"], abs=1e-4)

    text = bench.table(doc)
    assert text.splitlines()[0].split() == ["step", "turns", "KB_first", "KB_last", "in",
                                            "cache_write", "cache_read", "out", "$",
                                            "committed"]
    assert text.splitlines()[1].split()[:2] == ["1", str(step["turns"])]
    assert f"${doc['usd_per_day']:.0f} at 100 steps/day" in text


def test_the_modelled_mha_step_states_its_assumptions_and_adds_up(bench: ModuleType) -> None:
    """Issue 39: the realistic step (mha-sized prompts, every turn of the default max_turns,
    1.5k thinking tokens a turn, the conversation read back from the cache each turn), not the
    short played one (issue 54: the default turns, 60, not 30)."""
    prefix, opening = bench.mha_prompt_tokens(3.5)
    assert prefix > 3_000 and opening > 1_000  # measured from the real mha texts
    model = bench.StepModel()
    turns_by_default = AgentSettings().max_turns
    assert (model.turns, model.thinking_tokens) == (turns_by_default, 1_500)
    price = AgentSettings().price()
    assert price is not None
    prices = {"input": price.input, "output": price.output, "cache_write": price.cache_write,
              "cache_read": price.cache_read}
    doc = bench.modelled(model, prefix, opening, prices, DEFAULT_MODEL)
    turns = doc["turns"]
    assert len(turns) == turns_by_default and turns[0]["cache_read"] == 0
    assert turns[0]["cache_write"] == prefix + opening
    for before, turn in itertools.pairwise(turns):
        assert turn["cache_read"] == before["prompt"]
        assert turn["cache_write"] == turn["prompt"] - before["prompt"]
    assert all(t["output"] == 1_750 for t in turns)
    assert doc["usd_per_step"] == pytest.approx(sum(t["usd"] for t in turns), abs=1e-3)
    assert 5.5 < doc["usd_per_step"] < 7.5  # issue 54's reading: $6.45 a step at 60 turns
    low, high = doc["minutes_per_step"]
    assert 25 <= low < high <= 45  # 105k tokens out at 50-70 tokens/s, and the evaluations
    assert doc["usd_per_day"][0] == pytest.approx(doc["usd_per_step"]
                                                  * doc["steps_per_day"][0], rel=0.01)
    assert f"{turns_by_default} turns; 1500 thinking" in bench.modelled_table(doc)
    # The docs state this step's figure, at the default settings.
    for doc_file in ("README.md", "docs/agent.md"):
        said = re.findall(r"about \**\$(\d+\.\d) a step\**", (ROOT / doc_file).read_text())
        assert said == [f"{doc['usd_per_step']:.1f}"], doc_file
        assert f"{turns_by_default} turns" in (ROOT / doc_file).read_text(), doc_file
