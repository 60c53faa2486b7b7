"""The agent's tools: schemas the model sees, and what each call does.

Every call returns text. A call that cannot be carried out (bad input, a path outside the
workspace, an unknown version) returns an ``is_error`` result the model can act on; nothing
here raises into the conversation loop except StepInterrupted, which ends the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...evaluation.profile import ProfileUnavailable, profile
from ...knowledge import KnowledgeBase, KnowledgeError
from ...store import NOT_FAILURES, StoreError, UnknownVersion, Version
from ..protocol import StepContext, Trial
from . import report
from .api import INVALID_INPUT
from .workspace import ToolError, Workspace

EDITOR = "str_replace_based_edit_tool"
NOTES_KEPT = 40


def _tool(name: str, description: str, properties: dict[str, Any],
          required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": properties,
                         "required": list(required), "additionalProperties": False},
    }


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}

SCHEMAS: list[dict[str, Any]] = [
    # Anthropic's own text-editor tool: the model knows its commands (view, create,
    # str_replace, insert); paths are relative to the workspace, knowledge/ is read-only.
    {"type": "text_editor_20250728", "name": EDITOR},
    _tool("list_versions", "The lineage: every committed version with parent, author, score "
          "(geometric mean over the grid), ratio to the baseline, size of change and message.",
          {"limit": _INT | {"description": "at most this many, newest last (default 30)"}}),
    _tool("show_version", "One version: message, score per configuration, files. With `file`, "
          "that file's source.", {"version": _STR, "file": _STR}, ("version",)),
    _tool("diff_versions", "Unified diff between two versions (e.g. v3 and v7).",
          {"old": _STR, "new": _STR}, ("old", "new")),
    _tool("list_attempts", "Recent evaluated candidates, committed or not, with their outcome "
          "(compile_error, incorrect, slower, ...) and the reason.",
          {"limit": _INT | {"description": "default 15"},
           "failures_only": _BOOL | {"description": "only failed candidates"}}),
    _tool("search_knowledge", "Search the knowledge base (Hopper/Blackwell kernels, PTX, "
          "attention algorithms, profiling). Returns ranked sections with a snippet.",
          {"query": _STR, "limit": _INT}, ("query",)),
    _tool("read_knowledge", "Read a knowledge-base section, 'FILE#Heading', or a whole file.",
          {"ref": _STR}, ("ref",)),
    _tool("evaluate", "Compile, check and time the workspace kernel. Full (default) scores the "
          "whole grid and is what commit needs; quick checks the quick grid only (faster, not "
          "comparable with versions). Returns compile errors with source lines, correctness and "
          "throughput per configuration, ratio to the baseline, registers and spills.",
          {"quick": _BOOL}),
    _tool("profile", "Nsight Compute metrics of the workspace kernel on one configuration "
          "(where ncu works).", {"config": _STR}, ("config",)),
    _tool("update_plan", "Replace your current plan (the operator watches it live). Keep it to "
          "a few lines: the idea, the steps, what you expect.", {"plan": _STR}, ("plan",)),
    _tool("note", "Keep a note for your later steps (they start without this conversation): "
          "what worked, what failed and why.", {"text": _STR}, ("text",)),
    _tool("commit", "Ask to commit the workspace kernel. The commit gate re-evaluates it "
          "independently and accepts only a correct kernel faster than the best by more than "
          "the noise. Ends the step when accepted. A result the evaluator flags as implausible "
          "is held for the operator's review instead (a suspect): do not re-submit it.",
          {"message": _STR}, ("message",)),
]
TOOL_NAMES = [s["name"] for s in SCHEMAS]


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    committed: Version | None = None


class Toolbox:
    def __init__(
        self,
        ctx: StepContext,
        workspace: Workspace,
        knowledge: KnowledgeBase,
        *,
        base: str,
        transcript: Callable[[], str],
    ) -> None:
        self.ctx = ctx
        self.workspace = workspace
        self.knowledge = knowledge
        self.base = base  # the version this step's edits start from
        self.transcript = transcript
        self.last_trial: Trial | None = None
        self.evaluations = 0

    def call(self, name: str, arguments: object) -> ToolResult:
        handler = getattr(self, f"_{name}", None) if name in TOOL_NAMES else None
        if handler is None:
            return ToolResult(f"unknown tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}",
                              is_error=True)
        try:
            args = _validated(name, arguments)
            result = handler(**args)
        except ToolError as error:
            return ToolResult(str(error), is_error=True)
        except (UnknownVersion, StoreError, KnowledgeError) as error:
            return ToolResult(str(error), is_error=True)
        return result if isinstance(result, ToolResult) else ToolResult(result)

    # -- the editor ---------------------------------------------------------------------------

    def _str_replace_based_edit_tool(self, command: str, path: str, **args: Any) -> str:
        ws = self.workspace
        match command:
            case "view":
                return ws.view(path, args.get("view_range"))
            case "create":
                return ws.create(path, _required(args, "file_text", command))
            case "str_replace":
                return ws.str_replace(path, _required(args, "old_str", command),
                                      args.get("new_str", ""))
            case "insert":
                text = args.get("insert_text", args.get("new_str"))
                if text is None:
                    raise ToolError("insert needs insert_text")
                return ws.insert(path, _required(args, "insert_line", command), text)
        raise ToolError(f"unknown command {command!r} (view, create, str_replace, insert)")

    # -- the lineage --------------------------------------------------------------------------

    def _list_versions(self, limit: int = 30) -> str:
        return report.versions_table(self.ctx.session, self.ctx.target.unit, max(1, limit))

    def _show_version(self, version: str, file: str | None = None) -> str:
        session = self.ctx.session
        found = session.version(version)
        if file is None:
            return report.version_detail(session, found)
        files = session.read_files(found)
        if file not in files:
            raise ToolError(f"{found.id} has no file {file!r} (files: {', '.join(files)})")
        return files[file]

    def _diff_versions(self, old: str, new: str) -> str:
        diff = self.ctx.session.diff(old, new)
        return diff.text or f"{old} and {new} have the same files"

    def _list_attempts(self, limit: int = 15, failures_only: bool = False) -> str:
        attempts = self.ctx.session.recent_attempts(max(1, min(limit, 100)) * (
            4 if failures_only else 1))
        if failures_only:
            attempts = [a for a in attempts if a.outcome not in NOT_FAILURES][:limit]
        return report.attempts_table(attempts, report.pending(self.ctx.session))

    # -- knowledge ----------------------------------------------------------------------------

    def _search_knowledge(self, query: str, limit: int = 5) -> str:
        hits = self.knowledge.search(query, max(1, min(limit, 20)))
        if not hits:
            files = ", ".join(self.knowledge.files()) or "none yet"
            return f"no section matches {query!r} (knowledge files: {files})"
        return "\n".join(f"{h.section.ref}  (score {h.score:.2f})\n    {h.snippet}" for h in hits)

    def _read_knowledge(self, ref: str) -> str:
        return self.knowledge.read(ref).text

    # -- evaluation, plan, notes, commit ------------------------------------------------------

    def _evaluate(self, quick: bool = False) -> str:
        files = self._kernel_files()
        trial = self.ctx.evaluate(files, base=self.base, note="agent", quick=quick)
        self.evaluations += 1
        self.last_trial = trial
        text = report.evaluation(trial.result, files, trial.attempt)
        if trial.outcome in ("promising", "slower"):
            text += f"\ncommit needs more than {self.ctx.commit_threshold():.4g} " \
                    f"{self.ctx.target.unit} (the best plus the measured noise)"
        return text

    def _profile(self, config: str) -> str:
        if self.ctx.target.device != "cuda":
            raise ToolError(f"profile needs a CUDA target; {self.ctx.target.name} runs on the "
                            "CPU. Use evaluate's per-configuration throughput instead.")
        names = [c.name for c in self.ctx.target.configs]
        if config not in names:
            raise ToolError(f"no configuration {config!r}; the grid is: {', '.join(names)}")
        self.ctx.safe_point()
        try:
            return profile(self.ctx.target.name, self.ctx.target.entry, self._kernel_files(),
                           config)
        except ProfileUnavailable as error:
            raise ToolError(f"profile is unavailable: {error}. evaluate still reports "
                            "registers and spills.") from None

    def _update_plan(self, plan: str) -> str:
        self.ctx.plan(plan.strip())
        return "plan updated"

    def _note(self, text: str) -> str:
        notes = [*self.ctx.memory().get("notes", []), text.strip()][-NOTES_KEPT:]
        self.ctx.remember(notes=notes)
        return f"noted ({len(notes)} notes kept)"

    def _commit(self, message: str) -> ToolResult:
        files = self._kernel_files()
        trial = self.last_trial
        if trial is None or trial.files != files or trial.outcome == "checked":
            trial = self.ctx.evaluate(files, base=self.base, note="agent, before commit")
            self.last_trial = trial
        if trial.outcome != "promising":
            return ToolResult(f"not committed: {trial.outcome} - {trial.attempt.detail}. "
                              f"A commit needs a correct kernel faster than "
                              f"{self.ctx.commit_threshold():.4g} {self.ctx.target.unit}.")
        version = self.ctx.commit(trial, message.strip() or "agent version", self.transcript())
        if version is None:
            latest = self.ctx.session.recent_attempts(1)
            if latest and latest[0].outcome == "suspect":
                return ToolResult(report.held_suspect(self.ctx.session, latest[0]))
            why = latest[0].detail if latest else "the re-evaluation did not confirm the gain"
            return ToolResult(f"the commit gate refused it: {why}")
        return ToolResult(f"committed {version.id} (parent {version.parent}); the step ends here",
                          committed=version)

    def _kernel_files(self) -> dict[str, str]:
        files = self.workspace.files()
        if not files:
            raise ToolError("the workspace is empty; create the kernel file first")
        return files


def _required(args: dict[str, Any], key: str, command: str) -> Any:
    if key not in args or args[key] is None:
        raise ToolError(f"{command} needs {key}")
    return args[key]


_EDITOR_FIELDS = {"command": str, "path": str, "file_text": str, "old_str": str,
                  "new_str": str, "insert_line": int, "insert_text": str, "view_range": list}
_TYPES = {"string": str, "integer": int, "boolean": bool}


def _validated(name: str, arguments: object) -> dict[str, Any]:
    """Check the input against the tool's schema; the model learns what was wrong."""
    if not isinstance(arguments, dict):
        raise ToolError(f"{name} takes a JSON object, got {type(arguments).__name__}")
    if INVALID_INPUT in arguments:
        raise ToolError(f"the input of {name} was not valid JSON: {arguments[INVALID_INPUT]!r}")
    if name == EDITOR:
        expected: dict[str, type] = _EDITOR_FIELDS
        required: list[str] = ["command", "path"]
    else:
        schema = next(s for s in SCHEMAS if s["name"] == name)["input_schema"]
        expected = {k: _TYPES[v["type"]] for k, v in schema["properties"].items()}
        required = schema["required"]
    missing = [k for k in required if k not in arguments]
    unknown = [k for k in arguments if k not in expected]
    wrong = [
        f"{k} must be {expected[k].__name__}"
        for k, v in arguments.items()
        if k in expected and v is not None and (
            not isinstance(v, expected[k]) or (expected[k] is int and isinstance(v, bool))
        )
    ]
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"unknown {', '.join(unknown)}"] if unknown else []) + wrong
    if problems:
        raise ToolError(f"invalid input for {name}: " + "; ".join(problems))
    return dict(arguments)
