"""What the model may call: each tool's schema, with the bounds of its input written into it.

The handlers are in tools.py (``Toolbox``); tool_inputs.py checks every call's input against
these schemas before a handler runs.
"""

from __future__ import annotations

from typing import Any

from ...evaluation.diagnostics.profile import MAX_METRIC_CHARS, MAX_METRICS, PROFILE_SECTIONS
from ...evaluation.diagnostics.sanitize import SANITIZER_TOOLS
from .notes import MAX_NOTE_CHARS, MAX_NOTES_CHARS, NOTES_KEPT
from .vocabulary import DIRECTIONS, offered
from .workspace import MAX_PATH_CHARS

EDITOR = "str_replace_based_edit_tool"
EDITOR_COMMANDS = ("view", "create", "str_replace", "insert")

# What the model may send. Each bound is written into the tool's schema, so the model sees it,
# and tool_inputs.validated enforces it, so a hostile or confused input is an is_error result
# before a handler runs. Texts are in characters; the editor's texts are bounded by the
# workspace's max_write_bytes (AgentSettings) instead.
MAX_REF_CHARS = 64  # a version: v12, head, best
MAX_QUERY_CHARS = 1_000  # a knowledge search, a knowledge reference, a configuration name
MAX_PLAN_CHARS = 4_000
MAX_MESSAGE_CHARS = 2_000  # a commit message
MAX_IDEA_CHARS = 300  # what an evaluated candidate tries
MAX_VARIANTS = 4  # knob settings scored by one evaluate call
MAX_VARIANT_CHARS = 200
MAX_PLACE_CHARS = 60  # of a change's place and value (changes.py)
MAX_LISTED = 100  # versions or attempts in one listing
MAX_HITS = 20  # knowledge search results
MAX_LINE = 10_000_000  # a line number in the editor


def _tool(name: str, description: str, properties: dict[str, Any],
          required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": properties,
                         "required": list(required), "additionalProperties": False},
    }


def _str(limit: int, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": limit}
    return schema | ({"description": description} if description else {})


def _int(low: int, high: int, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    return schema | ({"description": description} if description else {})


_BOOL = {"type": "boolean"}

SCHEMAS: list[dict[str, Any]] = [
    # Anthropic's own text-editor tool: the model knows its commands (view, create,
    # str_replace, insert); paths are relative to the workspace, knowledge/ is read-only.
    {"type": "text_editor_20250728", "name": EDITOR},
    _tool("list_versions", "The lineage: every committed version with parent, author, score "
          "(geometric mean over the grid), ratio to the strongest baseline measured (the "
          "column names it: x fa4, or x best where it differs by configuration), size of "
          "change and message.",
          {"limit": _int(1, MAX_LISTED, "at most this many, newest last (default 30)")}),
    _tool("show_version", "One version: message, score per configuration, files. With `file`, "
          "that file's source.", {"version": _str(MAX_REF_CHARS), "file": _str(MAX_PATH_CHARS)},
          ("version",)),
    _tool("diff_versions", "Unified diff between two versions (e.g. v3 and v7).",
          {"old": _str(MAX_REF_CHARS), "new": _str(MAX_REF_CHARS)}, ("old", "new")),
    _tool("list_attempts", "Recent evaluated candidates, committed or not, with the idea each "
          "tried, their outcome (compile_error, incorrect, slower, within_noise, ...) and the "
          "reason.",
          {"limit": _int(1, MAX_LISTED, "default 15"),
           "failures_only": _BOOL | {"description": "only failed candidates"}}),
    _tool("show_attempt", "One attempt (e.g. a12): its idea, outcome, score per configuration "
          "with the change against the version it was built on and against the best, and its "
          "files. With `file`, that file's source.",
          {"attempt": _str(MAX_REF_CHARS), "file": _str(MAX_PATH_CHARS)}, ("attempt",)),
    _tool("diff_attempt", "Unified diff of an attempt against the version it was built on, or "
          "against `against` (a version such as v3 or best, or another attempt such as a9).",
          {"attempt": _str(MAX_REF_CHARS), "against": _str(MAX_REF_CHARS)}, ("attempt",)),
    _tool("search_knowledge", "Search the knowledge base (Hopper/Blackwell kernels, PTX, "
          "attention algorithms, profiling). Returns ranked sections with a snippet.",
          {"query": _str(MAX_QUERY_CHARS), "limit": _int(1, MAX_HITS, "default 5")}, ("query",)),
    _tool("read_knowledge", "Read a knowledge-base section, 'FILE#Heading', or a whole file.",
          {"ref": _str(MAX_QUERY_CHARS)}, ("ref",)),
    _tool("evaluate", "Compile, check and time the workspace kernel. Full (default) scores the "
          "whole grid and is what commit needs; quick checks the quick grid only (faster, not "
          "comparable with versions). Returns compile errors with source lines, correctness and "
          "throughput per configuration against its strongest baseline, registers and spills, "
          "the closest past attempts at the idea, and the budget. `idea` says in a few words "
          "what this candidate tries; it is kept with the attempt, and later steps read it. "
          "Before any compile, the idea is compared with every direction tried: a repeat of "
          "a failed one is answered with that direction and its lessons, and not evaluated "
          "until you call again with `differs` saying what differs. Two values of one knob "
          "are two experiments. "
          f"`variants` scores up to {MAX_VARIANTS} knob settings of the workspace kernel in one "
          "call (each an attempt of its own), one line each, the best one in full; the "
          "workspace is left as it is.",
          {"idea": _str(MAX_IDEA_CHARS, "what this candidate tries, e.g. 'BLOCK_N 176 to cut "
                        "the causal tail'"), "quick": _BOOL,
           "differs": _str(MAX_IDEA_CHARS, "only for an idea evaluate named a repeat of a "
                           "failed direction: what differs from it, and why it may end "
                           "otherwise"),
           "technique": _str(32, "what the candidate changes, from the knowledge base's "
                             "list (knowledge/techniques.md; a synonym is read as its "
                             "entry); with place, direction and value, two attempts repeat "
                             "when all four agree (knob changes are read from the diff)")
           | {"enum": list(offered("cuda"))},
           "place": _str(MAX_PLACE_CHARS, "where: a region of the kernel (the brief lists "
                         "them, e.g. 'kv_loop'), or the identifiers there it changes, e.g. "
                         "'softmax_step', 'issue_pv'; matched to a region by the kernel's "
                         "text"),
           "direction": _str(16) | {"enum": list(DIRECTIONS)},
           "value": _str(MAX_PLACE_CHARS, "the new value, e.g. '128', '3', '16 KB', "
                         "'exp2', '' if none"),
           "variants": {"type": "array", "minItems": 1, "maxItems": MAX_VARIANTS,
                        "items": _str(MAX_VARIANT_CHARS, "knob settings, e.g. "
                                      "'BLOCK_N=176,STAGES=3'")}}, ("idea",)),
    _tool("profile", "Nsight Compute on the workspace kernel, one configuration (default: the "
          "one with the worst ratio to the baseline). Sections: "
          + ", ".join(PROFILE_SECTIONS) + " (default summary and warp_state: the top stall "
          "reasons); `source` lists the most stalled SASS lines. `metrics` adds raw ncu "
          "metric names.",
          {"config": _str(MAX_QUERY_CHARS),
           "sections": {"type": "array", "items": _str(32) | {"enum": list(PROFILE_SECTIONS)},
                        "minItems": 1, "maxItems": len(PROFILE_SECTIONS)},
           "metrics": {"type": "array", "items": _str(MAX_METRIC_CHARS), "minItems": 1,
                       "maxItems": MAX_METRICS}}),
    _tool("sanitize", "Run NVIDIA compute-sanitizer on the workspace kernel, one small "
          "configuration (default: the smallest), to find shared-memory races (racecheck), "
          "barrier misuse (synccheck) and bad accesses (memcheck). Slow: use it before a "
          "commit whose change touches synchronisation or shared memory.",
          {"tools": {"type": "array", "items": _str(16) | {"enum": list(SANITIZER_TOOLS)},
                     "minItems": 1, "maxItems": len(SANITIZER_TOOLS)},
           "config": _str(MAX_QUERY_CHARS)}),
    _tool("disassemble", "The instruction mix of the workspace kernel's main loop, from its SASS "
          "(cuobjdump): MMA, MUFU.EX2, FFMA, FMUL/FADD, barriers and waits, uniform-datapath "
          "instructions and the top opcodes, beside the same for the best version (or "
          "`against`) with the change; then the latest full score per configuration as a "
          "percent of the measured matrix peak. A compile, no GPU time: use it to see what a "
          "change did to the loop.", {"against": _str(MAX_REF_CHARS, "a version to compare "
                                                                     "with (default: the best)")}),
    _tool("update_plan", "Replace your current plan (the operator watches it live). Keep it to "
          "a few lines: the idea, the steps, what you expect.", {"plan": _str(MAX_PLAN_CHARS)},
          ("plan",)),
    _tool("note", "Keep a note for your later steps (they start without this conversation): "
          f"what worked, what failed and why. The newest {NOTES_KEPT} notes are kept, fewer "
          f"when together they pass {MAX_NOTES_CHARS:,} characters; each brief shows the "
          "newest that fit, and search_history searches them all.",
          {"text": _str(MAX_NOTE_CHARS)}, ("text",)),
    _tool("search_history", "Search the whole history of the search since the session "
          "began: every step's research record (its lesson, shown whole with the step, the "
          "version it started from and the measured effect; the ideas it evaluated), every "
          "running summary and note, every evaluated attempt (idea, outcome, reason) and the "
          "ledger of directions (each with every lesson learned under it). Best matches "
          "first. Use it before trying an idea, to learn whether it was tried and how it "
          "ended.", {"query": _str(MAX_QUERY_CHARS),
                     "limit": _int(1, MAX_HITS, "default 10")}, ("query",)),
    _tool("commit", "Ask to commit the workspace kernel. The first call for a kernel submits "
          "nothing: it returns a checklist (the diff against the head, the change per shape and "
          "its regressions, the synchronisation the change touches) to verify against the "
          "rules. Call commit again to submit it: the commit gate re-evaluates it independently "
          "beside the best and accepts only a correct kernel faster than the best by more than "
          "the noise. The gate decides once per kernel. Ends the step when accepted. A result "
          "the evaluator flags as implausible is held for the operator's review instead (a "
          "suspect): do not re-submit it.",
          {"message": _str(MAX_MESSAGE_CHARS)}, ("message",)),
]
TOOL_NAMES = [s["name"] for s in SCHEMAS]
# The tools that refuse on a CPU target: not offered there.
GPU_ONLY = frozenset({"profile", "sanitize", "disassemble"})


# What a description says of a GPU alone, and what it says on a CPU target instead.
GPU_WORDS = {"Hopper/Blackwell kernels": "kernels", ", registers and spills": ""}


def schemas_for(device: str) -> list[dict[str, Any]]:
    """The tools offered on a target of ``device`` ("cuda" or "cpu"), in its words."""
    if device == "cuda":
        return list(SCHEMAS)
    return [_in_cpu_words(s) for s in SCHEMAS if s["name"] not in GPU_ONLY]


def _in_cpu_words(schema: dict[str, Any]) -> dict[str, Any]:
    description = schema.get("description")
    if not isinstance(description, str):
        return schema
    for gpu, cpu in GPU_WORDS.items():
        description = description.replace(gpu, cpu)
    properties = schema["input_schema"]["properties"]
    if "technique" in properties:
        properties = {**properties, "technique": properties["technique"] | {
            "enum": list(offered("cpu"))}}
        schema = {**schema, "input_schema": {**schema["input_schema"],
                                             "properties": properties}}
    return {**schema, "description": description}


def editor_schema(max_text: int) -> dict[str, Any]:
    """The input of Anthropic's text editor as we accept it: the API defines the tool, so this
    schema is ours alone, for tool_inputs.validated; ``max_text`` bounds each text (the write
    limit)."""
    line = _int(-1, MAX_LINE)
    return {
        "properties": {
            "command": _str(16) | {"enum": list(EDITOR_COMMANDS)},
            "path": _str(MAX_PATH_CHARS),
            "file_text": _str(max_text), "old_str": _str(max_text),
            "new_str": _str(max_text), "insert_text": _str(max_text),
            "insert_line": _int(0, MAX_LINE),
            "view_range": {"type": "array", "items": line, "minItems": 2, "maxItems": 2},
        },
        "required": ["command", "path"],
    }
