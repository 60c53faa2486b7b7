#!/usr/bin/env python3
"""What the agent costs per step and per day: realistic steps played against the loopback fake
Messages API, the size of every request measured, and the tokens and dollars estimated.

    python benchmarks/agent_cost.py                      # 3 steps of ~15 turns; a few minutes
    python benchmarks/agent_cost.py --steps 5 --json
    python benchmarks/agent_cost.py --short --steps 1    # 5 turns: what the test runs
    python benchmarks/agent_cost.py --thinking-tokens 1500 --steps-per-day 300
    python benchmarks/agent_cost.py --modelled           # the realistic mha step: no run

``--modelled`` prices a realistic step on ``mha`` without playing one (``modelled``): the
system prompt, tools and step brief are rendered for ``mha`` from the shipped seed and
measured, and the step's turns (every one of the default max_turns) are modelled from stated
assumptions (StepModel: thinking a turn, what each tool result adds, the cache read back each
turn, generation speed, evaluation time). That is what a user should expect; the played steps
below are shorter than real ones.

Why: the agent is the only part of a run that costs money, and what it costs per step depends
on how big its requests get: the system prompt and the tools, the brief, the kernel it views,
the knowledge it reads, the evaluation reports, all sent again on every turn (read back from
the prompt cache). This runs the real Agent in the real Engine on a real session (target
``cpu-attention``, the CPU worker evaluates for real) through the real anthropic SDK, against
tests/fake_anthropic, which plays a scripted, realistic step and records every request:

    brief -> update_plan -> view the kernel whole -> search_knowledge, read_knowledge (twice)
    -> two edits -> a quick evaluate -> a third edit -> a full evaluate -> commit (the
    checklist), commit again (the gate) -> [not accepted: note, then the end of the turn]
    -> the debrief the agent is asked for at a step's end

so 13 to 16 requests a step. The first step makes a real gain (the seed does its work seven
times, the edit four; tests/engine_helpers.py), so its commit is usually accepted and ends the
step; the later steps' edits are comments, which the gate refuses as nothing new.

The fake's usage figures are its own, so the sizes are MEASURED here, from the requests the
fake recorded, and turned into tokens under these assumptions (each a flag, all printed):

- tokens = characters / 3.5 (--chars-per-token), counting the text of the system prompt,
  the tool definitions (as JSON) and every block of the messages (text, thinking, tool
  inputs as JSON, tool results). The API's own framing of messages and tools, and the
  definition of the built-in text editor tool, are not counted;
- caching as the agent asks for it (breakpoints on the system prompt, the last tool and the
  last block): a turn reads from the cache everything the previous turn of its conversation
  sent and writes the new suffix (the previous reply and the new tool results); a step's
  first turn reads the system prompt and tools that the previous step wrote (the cache's
  5 minutes are assumed to hold between steps) and writes its brief. A request without a
  breakpoint (a one-shot question such as the supervisor's review) is uncached input;
- output = the reply's characters (its text and tool inputs, as scripted here) / 3.5, plus
  the thinking the model is assumed to do each turn (--thinking-tokens, default 400): the
  replies carry a thinking block of that size, so later requests send it back, as the agent
  keeps a turn's blocks;
- an edit inserts --edit-chars characters (default 1,200: a moderate rewrite of a loop);
- the kernel has the size of the CUDA seed (--pad-like, default kernels/cuda/attention_wgmma.cu,
  ~32 KB): the CPU seed is padded with a comment holding that file's text, so viewing it
  whole costs what it costs on a GPU target (a view is cut at the agent's max_tool_output).
  ``--pad-like none`` keeps the 4.7 KB CPU kernel.

Prices are the default model's (avo_tui/operators/agent/settings.py, DEFAULT_PRICES for
claude-opus-4-7 unless --model). The fake answers each request with the usage estimated here,
so the engine charges the session exactly that, through the agent's own cost accounting; the
report checks the session's total against its own (``session_usd``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT

from agent_cost_parts.modelled import StepModel, mha_prompt_tokens, modelled, modelled_table
from agent_cost_parts.pricing import (
    CHARS_PER_TOKEN,
    Turn,
    block_chars,
    cached,
    price_of,
    request_chars,
    tokens,
)

from avo_tui.operators.agent.settings import AgentSettings

API_KEY = "cost-bench-key"
THINKING_TOKENS = 400
EDIT_CHARS = 1_200
STEPS = 3
STEPS_PER_DAY = 200  # a GPU step (two evaluations and the gate's) takes 5-8 minutes
PAD_LIKE = ROOT / "kernels" / "cuda" / "attention_wgmma.cu"
PAD_MARK = "/* the CUDA kernel this C one mirrors:"
KNOWLEDGE = ROOT / "knowledge"
KNOWLEDGE_FILES = ("attention-online-softmax.md", "hopper-wgmma.md")
EDITOR = "str_replace_based_edit_tool"
SEARCHES = ("online softmax rescale only when the running max changes",
            "wgmma producer consumer warpgroups register budget")
PROSE = ("The rescale of the running sum costs an exp per row per tile; if the running max "
         "does not change for most tiles the rescale can be skipped, which removes a multiply "
         "from the inner loop and one exp. The K tile is reused across the query rows. ")
DEBRIEF = ("<lesson>Skipping the rescale when the running max holds saved the exp per tile; "
           "the gain is in the inner loop, the tails did not move.</lesson>\n<summary>"
           + PROSE * 5 + "</summary>")


@dataclass
class Assumptions:
    model: str
    chars_per_token: float
    thinking_tokens: int
    edit_chars: int
    pad_like: str
    steps_per_day: int
    prices_per_mtok: dict[str, float] = field(default_factory=dict)
    rounds: int = 0  # extra view-range, edit, quick-evaluate rounds a step (a longer step)


def padded(files: dict[str, str], like: Path | None) -> dict[str, str]:
    """The kernel with a trailing comment holding ``like``'s text, so it has that size. The
    comment cannot end early, and declares no knob."""
    if like is None:
        return files
    text = like.read_text().replace("*/", "* /").replace("avo:", "avo-")
    return {name: f"{body}\n{PAD_MARK}\n{text}\n*/\n" for name, body in files.items()}


def filler(tokens_wanted: int, per_token: float) -> str:
    chars = int(tokens_wanted * per_token)
    return (PROSE * (chars // len(PROSE) + 1))[:chars]


def knowledge_refs() -> list[str]:
    """Two 'FILE#Heading' references to sections of the knowledge base (its first '## '
    heading in each file), whatever the files say today."""
    refs = []
    names = [n for n in KNOWLEDGE_FILES if (KNOWLEDGE / n).exists()]
    names += sorted(p.name for p in KNOWLEDGE.glob("*.md") if p.name not in names)
    for name in names:
        headings = [line[3:].strip() for line in (KNOWLEDGE / name).read_text().splitlines()
                    if line.startswith("## ")]
        if headings:
            refs.append(f"{name}#{headings[0]}")
        if len(refs) == 2:
            break
    return refs


class ScriptedModel:
    """A callable step of tests/fake_anthropic that plays a realistic agent step, estimates
    each request's tokens as it answers it, and answers with that usage."""

    def __init__(self, server: Any, workspace: Path, kernel: str, prices: dict[str, float],
                 assumptions: Assumptions, short: bool) -> None:
        import fake_anthropic

        self.fa = fake_anthropic
        self.server = server
        self.workspace = workspace
        self.kernel = kernel
        self.prices = prices
        self.a = assumptions
        self.short = short
        self.refs = knowledge_refs()
        self.turns: list[Turn] = []
        self.step = 0
        self.previous: dict[str, int] = {}  # conversation (its first message) -> prompt tokens
        self.prefix_written = False
        self.lock = threading.Lock()

    def __call__(self, record: Any) -> Any:
        self.server.script(self)  # the next request finds this step again
        with self.lock:
            return self._answer(record.body)

    def _answer(self, body: dict[str, Any]) -> Any:
        fa = self.fa
        messages = body.get("messages", [])
        if not cached(body):  # a one-shot question (the supervisor's, a commit review)
            reply = fa.reply(fa.thinking(filler(self.a.thinking_tokens, self.a.chars_per_token)),
                             fa.text(PROSE * 2))
            turn = self._measure(body, 0, reply)
            reply.usage = self._usage(turn)
            return reply
        if len(messages) == 1:
            self.step += 1
        number = sum(1 for m in messages if m.get("role") == "assistant") + 1
        script = self._script()
        last = messages[-1].get("content") or [{}]
        asked = isinstance(last, list) and last[-1].get("type") == "text"
        if (number > 1 and asked) or number > len(script):
            blocks = [fa.text(DEBRIEF)]  # asked something at the step's end: text only
        else:
            blocks = script[number - 1]()
        reply = fa.reply(fa.thinking(filler(self.a.thinking_tokens, self.a.chars_per_token)),
                         *blocks)
        turn = self._measure(body, number, reply)
        reply.usage = self._usage(turn)
        return reply

    def _measure(self, body: dict[str, Any], number: int, reply: Any) -> Turn:
        per = self.a.chars_per_token
        prefix_chars, message_chars = request_chars(body)
        prompt = tokens(prefix_chars, per) + tokens(message_chars, per)
        output = tokens(sum(block_chars(b) for b in reply.content), per)
        size = len(json.dumps(body))
        if number == 0:
            turn = Turn(self.step, 0, size, prompt, prompt, 0, 0, output)
        else:
            # the brief names the conversation (its cache mark moves on after the first turn)
            brief = body["messages"][0]["content"]
            conversation = brief if isinstance(brief, str) else json.dumps(
                [{k: v for k, v in b.items() if k != "cache_control"} for b in brief])
            read = self.previous.get(conversation)
            if read is None:  # a step's first turn: the system prompt and tools may be cached
                read = tokens(prefix_chars, per) if self.prefix_written else 0
            self.previous = {conversation: prompt}
            self.prefix_written = True
            turn = Turn(self.step, number, size, prompt, 0, prompt - read, read, output)
        turn.usd = price_of(turn, self.prices)
        self.turns.append(turn)
        return turn

    @staticmethod
    def _usage(turn: Turn) -> dict[str, int]:
        return {"input_tokens": turn.input, "output_tokens": turn.output,
                "cache_creation_input_tokens": turn.cache_write,
                "cache_read_input_tokens": turn.cache_read}

    # -- the step's turns -------------------------------------------------------------------

    def _script(self) -> list[Any]:
        fa, kernel = self.fa, self.kernel
        search = [lambda q=q: [fa.tool_use("search_knowledge", {"query": q})] for q in SEARCHES]
        read = [lambda r=r: [fa.tool_use("read_knowledge", {"ref": r})] for r in self.refs]
        plan = [lambda: [fa.text("Reading the lineage and the kernel first."),
                         fa.tool_use("update_plan", {"plan": PROSE})]]
        view = [lambda: [fa.tool_use(EDITOR, {"command": "view", "path": kernel})]]
        edit = [lambda k=k: [fa.text("Trying the change."), self._edit(k)] for k in range(3)]

        def evaluate(quick: bool) -> Any:
            return lambda: [fa.tool_use("evaluate", {"idea": "skip the rescale when the max "
                                                     "holds", "quick": quick})]

        commit = [lambda: [fa.tool_use("commit", {"message": PROSE[:160]})]] * 2
        note = [lambda: [fa.tool_use("note", {"text": PROSE})]]
        end = [lambda: [fa.text("No commit this step; the notes say why.")]]
        if self.short:
            return [*plan, *view, edit[0], evaluate(True), *end]
        ranged = [lambda: [fa.tool_use(EDITOR, {"command": "view", "path": kernel,
                                                 "view_range": [1, 120]})]]
        rounds = [part for k in range(self.a.rounds)
                  for part in (*ranged, lambda k=k: [fa.text("Another try."), self._edit(3 + k)],
                               evaluate(True))]
        return [*plan, *view, search[0], read[0], search[1], read[1], edit[0], edit[1],
                evaluate(True), *rounds, edit[2], evaluate(False), *commit, *note, *end]

    def _edit(self, k: int) -> dict[str, Any]:
        """A str_replace that applies to the workspace as it is now: the first of a step that
        starts from the slow seed makes the real gain (engine_helpers.SLOW -> FAST); any other
        inserts edit_chars of comment and a global of its own (a new kernel to the evaluator,
        as any real edit is) before a #define of the C kernel that occurs once."""
        from engine_helpers import FAST, SLOW

        text = (self.workspace / self.kernel).read_text()
        if k == 0 and SLOW in text:
            return self.fa.tool_use(EDITOR, {"command": "str_replace", "path": self.kernel,
                                             "old_str": SLOW, "new_str": FAST})
        own = text.split(PAD_MARK)[0].split("\n")
        anchors = [line for line in own if line.startswith("#define ") and text.count(line) == 1
                   and not line.endswith("\\")]
        anchor = anchors[(self.step * 3 + k) % len(anchors)]
        words = filler(tokens(self.a.edit_chars, self.a.chars_per_token),
                       self.a.chars_per_token)
        code = "".join(f"// {words[i:i + 90]}\n" for i in range(0, len(words), 90))
        code += f"int avo_cost_bench_{self.step}_{k} = {k};\n"
        return self.fa.tool_use(EDITOR, {"command": "str_replace", "path": self.kernel,
                                         "old_str": anchor, "new_str": code + anchor})


@contextlib.contextmanager
def pointed_at(url: str) -> Iterator[None]:
    """The SDK pointed at the fake for the run, the environment as it was after."""
    saved = {k: os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    os.environ["ANTHROPIC_API_KEY"], os.environ["ANTHROPIC_BASE_URL"] = API_KEY, url
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(directory: Path, *, steps: int = STEPS, short: bool = False, model: str | None = None,
        chars_per_token: float = CHARS_PER_TOKEN, thinking_tokens: int = THINKING_TOKENS,
        edit_chars: int = EDIT_CHARS, pad_like: Path | None = PAD_LIKE,
        steps_per_day: int = STEPS_PER_DAY, rounds: int = 0,
        worker: Any = None) -> dict[str, Any]:
    """Play ``steps`` steps on a new session in ``directory``; the report (a dict)."""
    from engine_helpers import TARGET, new_session, slow_seed
    from fake_anthropic import FakeAnthropic

    from avo_tui.engine import Budgets, Engine, Evaluator
    from avo_tui.evaluation import Worker
    from avo_tui.operators.agent import AgentSettings
    from avo_tui.operators.agent.agent import Agent

    settings = AgentSettings(request_timeout_s=60.0, outage_wait_s=0.05, outage_wait_max_s=0.2)
    settings = settings.override(model=model)
    price = settings.price()
    if price is None:
        raise SystemExit(f"agent_cost: no price for model {settings.model}")
    prices = asdict(price)
    assumptions = Assumptions(settings.model, chars_per_token, thinking_tokens, edit_chars,
                              str(pad_like.relative_to(ROOT) if pad_like and
                                  pad_like.is_relative_to(ROOT) else pad_like),
                              steps_per_day, prices, rounds)
    with contextlib.ExitStack() as stack:
        if worker is None:
            worker = stack.enter_context(Worker("cpu"))
        files = padded(slow_seed(), pad_like)
        session = stack.enter_context(new_session(directory, worker, files))
        server = stack.enter_context(FakeAnthropic(api_key=API_KEY))
        stack.enter_context(pointed_at(server.url))
        model_ = ScriptedModel(server, directory / "workspace", next(iter(files)), prices,
                               assumptions, short)
        server.script(model_)
        engine = Engine(session, Agent(settings), Evaluator(TARGET, worker, quick=True),
                        budgets=Budgets(max_steps=steps))
        ended = engine.run()
        step_events = [e.data for e in session.events() if e.kind == "step"]
        charged = session.state["usage"]["cost_usd"]
        versions = [(v.id, v.cost_usd) for v in session.lineage]
    return report(model_.turns, step_events, assumptions, ended, charged, versions)


def report(turns: list[Turn], step_events: list[dict[str, Any]], a: Assumptions, ended: str,
           session_usd: float, versions: list[tuple[str, float]]) -> dict[str, Any]:
    rows = []
    for number in sorted({t.step for t in turns}):
        mine = [t for t in turns if t.step == number]
        talk = [t for t in mine if t.turn > 0] or mine  # the conversation, not a one-shot
        event = step_events[number - 1] if number <= len(step_events) else {}
        rows.append({
            "step": number,
            "turns": len(mine),
            "request_kb_first": round(talk[0].request_bytes / 1024, 1),
            "request_kb_last": round(talk[-1].request_bytes / 1024, 1),
            **{k: sum(getattr(t, k) for t in mine)
               for k in ("prompt", "input", "cache_write", "cache_read", "output")},
            "usd": round(sum(t.usd for t in mine), 4),
            "committed": event.get("version"),
        })
    total = sum(t.usd for t in turns)
    per_step = total / len(rows) if rows else 0.0
    return {
        "assumptions": asdict(a),
        "ended": ended,
        "steps": rows,
        "turns": [asdict(t) for t in turns],
        "total_usd": round(total, 4),
        "usd_per_step": round(per_step, 4),
        "usd_per_day": round(per_step * a.steps_per_day, 2),
        "tokens_per_day": round(sum(t.prompt + t.output for t in turns) / max(1, len(rows))
                                * a.steps_per_day),
        "session_usd": round(session_usd, 4),
        "versions": [{"id": vid, "cost_usd": round(cost, 4)} for vid, cost in versions],
    }


COLUMNS = ("step", "turns", "request_kb_first", "request_kb_last", "input", "cache_write",
           "cache_read", "output", "usd", "committed")


def table(doc: dict[str, Any]) -> str:
    a = doc["assumptions"]
    header = ("step", "turns", "KB_first", "KB_last", "in", "cache_write", "cache_read", "out",
              "$", "committed")
    cells = [header] + [tuple(str(row[k] if row[k] is not None else "-") for k in COLUMNS)
                        for row in doc["steps"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    p = a["prices_per_mtok"]
    lines += [
        "",
        f"per step    ${doc['usd_per_step']:.2f}   ({doc['total_usd']:.2f} over "
        f"{len(doc['steps'])} steps; the session was charged ${doc['session_usd']:.2f})",
        f"per day     ${doc['usd_per_day']:.0f} at {a['steps_per_day']} steps/day, "
        f"{doc['tokens_per_day'] / 1e6:.1f}M tokens",
        "versions    " + ", ".join(f"{v['id']} ${v['cost_usd']:.2f}" for v in doc["versions"]),
        f"model       {a['model']}: ${p['input']}/${p['cache_write']}/${p['cache_read']}/"
        f"${p['output']} per MTok (input/cache write/cache read/output)",
        f"assumed     {a['chars_per_token']} chars/token, {a['thinking_tokens']} thinking "
        f"tokens a turn, edits of {a['edit_chars']} chars, kernel padded like {a['pad_like']}, "
        f"{a['rounds']} extra rounds a step",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--short", action="store_true", help="5-turn steps (for the test)")
    parser.add_argument("--model", help="price another model (default: the agent's default)")
    parser.add_argument("--chars-per-token", type=float, default=CHARS_PER_TOKEN)
    parser.add_argument("--thinking-tokens", type=int,
                        help="thinking per turn, in tokens (output, and sent back as input); "
                        f"default {THINKING_TOKENS} played, {StepModel.thinking_tokens} "
                        "--modelled")
    parser.add_argument("--edit-chars", type=int, default=EDIT_CHARS)
    parser.add_argument("--pad-like", default=str(PAD_LIKE),
                        help="pad the kernel to this file's size; 'none' to leave it")
    parser.add_argument("--steps-per-day", type=int, default=STEPS_PER_DAY)
    parser.add_argument("--rounds", type=int, default=0,
                        help="extra rounds a step of view a range, edit, quick evaluate "
                        "(3 turns each): a longer step")
    parser.add_argument("--dir", type=Path, help="where the session goes (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--modelled", action="store_true",
                        help="price the realistic mha step (StepModel) without playing one")
    parser.add_argument("--turns", type=int, default=StepModel.turns, help="with --modelled")
    parser.add_argument("--result-tokens", type=int, default=StepModel.result_tokens,
                        help="with --modelled: tokens a tool result adds")
    args = parser.parse_args(argv)
    if args.modelled:
        settings = AgentSettings().override(model=args.model)
        price = settings.price()
        if price is None:
            raise SystemExit(f"agent_cost: no price for model {settings.model}")
        thinking = (StepModel.thinking_tokens if args.thinking_tokens is None
                    else args.thinking_tokens)
        model = StepModel(turns=args.turns, thinking_tokens=thinking,
                          result_tokens=args.result_tokens, chars_per_token=args.chars_per_token)
        doc = modelled(model, *mha_prompt_tokens(args.chars_per_token), asdict(price),
                       settings.model)
        print(json.dumps(doc, indent=2) if args.json else modelled_table(doc))
        return 0
    pad = None if args.pad_like == "none" else Path(args.pad_like).resolve()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        doc = run(Path(folder) / "session", steps=args.steps, short=args.short,
                  model=args.model, chars_per_token=args.chars_per_token,
                  thinking_tokens=(THINKING_TOKENS if args.thinking_tokens is None
                                   else args.thinking_tokens), edit_chars=args.edit_chars,
                  pad_like=pad, steps_per_day=args.steps_per_day, rounds=args.rounds)
    print(json.dumps(doc, indent=2) if args.json else table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
