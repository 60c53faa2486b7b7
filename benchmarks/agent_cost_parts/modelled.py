"""A realistic agent step on ``mha`` priced without playing one (agent_cost.py --modelled): the
prompts measured from the real texts, the turns modelled from stated assumptions."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent_cost_parts.pricing import CHARS_PER_TOKEN, Turn, price_of, tokens

from avo_tui.operators.agent.settings import AgentSettings


@dataclass
class StepModel:
    """A realistic agent step on ``mha``, by stated assumptions (each a flag)."""

    # A GPU step that uses every turn the agent's settings give it (max_turns): plan,
    # profile, read, edit, evaluate, repair, commit; fewer turns are the --turns rows.
    turns: int = AgentSettings.max_turns
    thinking_tokens: int = 1_500  # a turn, at the default effort
    visible_tokens: int = 250  # a turn's text and tool inputs (an edit, an idea, a plan)
    result_tokens: int = 1_200  # a tool result (a view of ~120 lines, an evaluate report)
    thinking_kept: bool = True  # a turn's thinking is sent back with the tool results
    tokens_per_s: tuple[float, float] = (50.0, 70.0)  # the model's generation speed
    evaluations: int = 4  # full evaluations a step, the gate's included
    evaluation_s: float = 75.0  # one full mha evaluation on an H200
    chars_per_token: float = CHARS_PER_TOKEN


def mha_prompt_tokens(chars_per_token: float) -> tuple[int, int]:
    """(tokens of the system prompt and the tools, tokens of the step-1 brief), measured from
    the real texts for ``mha``, rendered from the shipped seed with the shipped knowledge."""
    from agent_context import StandIn

    from avo_tui.engine.launch import seed_files
    from avo_tui.evaluation import get_target
    from avo_tui.knowledge import KnowledgeBase, default_folders
    from avo_tui.operators.agent import brief, instructions
    from avo_tui.operators.agent.tool_schemas import schemas_for
    from avo_tui.store import Session
    from avo_tui.store.view import SessionView

    target = get_target("mha")
    with tempfile.TemporaryDirectory() as folder, Session.create(
            Path(folder) / "mha", target="mha", operator="agent",
            seed_files=seed_files(target), sync=False) as session:
        ctx: Any = StandIn(SessionView(session), target=target)
        system = instructions.system_prompt(ctx, KnowledgeBase(default_folders()))
        opening = brief.step_brief(ctx, hints=[], directions=None)
    tools = sum(len(json.dumps(t)) for t in schemas_for("cuda"))
    return tokens(len(system) + tools, chars_per_token), tokens(len(opening), chars_per_token)


def modelled(model: StepModel, prefix: int, opening: int, prices: dict[str, float],
             price_model: str) -> dict[str, Any]:
    """The step turn by turn: turn 1 writes the system prompt, tools and brief to the cache
    (a previous step's prefix is assumed expired); each later turn reads back the whole
    conversation so far and writes what the last turn added (its reply and the tool result)."""
    output = model.thinking_tokens + model.visible_tokens
    added = model.visible_tokens + model.result_tokens + (
        model.thinking_tokens if model.thinking_kept else 0)
    rows, prompt = [], 0
    for number in range(1, model.turns + 1):
        before, prompt = prompt, prefix + opening + added * (number - 1)
        turn = Turn(0, number, 0, prompt, 0, prompt - before, before, output)
        turn.usd = price_of(turn, prices)
        rows.append(turn)
    usd = sum(t.usd for t in rows)
    out = sum(t.output for t in rows)
    fast, slow = (out / speed + model.evaluations * model.evaluation_s
                  for speed in sorted(model.tokens_per_s, reverse=True))
    per_day = (86_400 / slow, 86_400 / fast)
    return {
        "assumptions": {**asdict(model), "prefix_tokens": prefix, "brief_tokens": opening,
                        "model": price_model, "prices_per_mtok": prices},
        "turns": [asdict(t) for t in rows],
        "usd_per_step": round(usd, 4),
        **{k: sum(getattr(t, k) for t in rows) for k in ("cache_write", "cache_read", "output")},
        "usd_by_kind": {k: round(sum(getattr(t, k) for t in rows) * prices[k] / 1e6, 4)
                        for k in ("cache_write", "cache_read", "output")},
        "minutes_per_step": (round(fast / 60, 1), round(slow / 60, 1)),
        "steps_per_day": (round(per_day[0]), round(per_day[1])),
        "usd_per_day": (round(usd * per_day[0]), round(usd * per_day[1])),
    }


def modelled_table(doc: dict[str, Any]) -> str:
    a, p = doc["assumptions"], doc["assumptions"]["prices_per_mtok"]
    low, high = doc["minutes_per_step"]
    return "\n".join([
        f"per step    ${doc['usd_per_step']:.2f} (output ${doc['usd_by_kind']['output']:.2f}, "
        f"cache writes ${doc['usd_by_kind']['cache_write']:.2f}, cache reads "
        f"${doc['usd_by_kind']['cache_read']:.2f}); {low:g}-{high:g} minutes",
        f"tokens      {doc['output']:,} output, {doc['cache_write']:,} cache write, "
        f"{doc['cache_read']:,} cache read",
        f"per day     {doc['steps_per_day'][0]}-{doc['steps_per_day'][1]} steps, "
        f"${doc['usd_per_day'][0]}-{doc['usd_per_day'][1]} (one lane)",
        f"model       {a['model']}: ${p['input']}/${p['cache_write']}/${p['cache_read']}/"
        f"${p['output']} per MTok (input/cache write/cache read/output)",
        f"assumed     {a['turns']} turns; {a['thinking_tokens']} thinking + "
        f"{a['visible_tokens']} visible tokens out a turn; {a['result_tokens']} tokens of tool "
        f"result a turn; thinking sent back: {a['thinking_kept']}; system prompt and tools "
        f"{a['prefix_tokens']:,} tokens and brief {a['brief_tokens']:,} (measured, mha); "
        f"{a['tokens_per_s'][0]:g}-{a['tokens_per_s'][1]:g} tokens/s; {a['evaluations']} "
        f"evaluations of {a['evaluation_s']:g} s",
    ])
