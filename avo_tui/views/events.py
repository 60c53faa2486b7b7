"""How an event reads as one line of output: shared by the headless console, the app's output
pane and the session's output log, so all three tell the same story."""

from __future__ import annotations

import re

from rich.markup import escape

from ..store import (
    AttemptPayload,
    CommitPayload,
    ErrorPayload,
    Event,
    FlaggedPayload,
    GuidancePayload,
    HintPayload,
    OperatorPayload,
    PausePayload,
    Payload,
    PlanPayload,
    QueuedPayload,
    RescorePayload,
    ResearchPayload,
    ResumePayload,
    RollbackPayload,
    SessionPayload,
    StatusPayload,
    StepPayload,
    StepResumedPayload,
    SupervisorPayload,
    SuspectPayload,
    ToolCallPayload,
    UnreadablePayload,
    base_label,
    payload_of,
)
from ..store.clip import clip
from .attempts import outcome_style

ENDED = ("finished", "stopped", "interrupted", "crashed")
# A gain with its spread, as evaluation/paired.py's describe() writes it: "+0.61% ± 0.20%".
GAIN = re.compile(r"[+-]\d+(?:\.\d+)?% ± \d+(?:\.\d+)?%")


def counted(count: int, noun: str) -> str:
    """``1 hint``, ``2 hints``: every count an operator reads."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def event_line(event: Event, unit: str) -> str | None:
    """Rich markup for one event worth an operator's attention; None for the rest."""
    return payload_line(payload_of(event), unit)


def payload_line(payload: Payload | UnreadablePayload, unit: str) -> str | None:
    """:func:`event_line` for an event already read (a view that also uses the payload reads
    it once). An event that does not read shows as a generic line naming its kind. An event
    from one lane of a run of several opens with the lane (``L2``)."""
    line = _line(payload, unit)
    lane = getattr(payload, "lane", None)
    if line is None or not isinstance(lane, int):
        return line
    return f"[bold blue]L{lane}[/] {line}"


def _line(payload: Payload | UnreadablePayload, unit: str) -> str | None:
    match payload:
        case UnreadablePayload(kind=kind, problem=problem):
            return f"[dim]{escape(kind):<8} (unreadable event: {escape(clip(problem, 120))})[/]"
        case SessionPayload(action="created", seed=str(seed)):
            return f"[dim]session  created: {escape(seed)}[/]"
        case PlanPayload(text=text):
            return f"[cyan]plan[/]     {escape(text)}"
        case AttemptPayload():
            style = outcome_style(payload.outcome)
            gain = deciding_gain(payload.detail)
            return (f"[{style}]{escape(payload.attempt):<8} {escape(payload.outcome):<13}[/] "
                    f"{f'[bold]{gain}[/] · ' if gain else ''}{escape(payload.detail)}")
        case CommitPayload():
            gmean = f"{payload.gmean:.4g} {unit}" if payload.gmean else "-"
            return (f"[bold green]commit   {escape(payload.version)}[/] from "
                    f"{escape(base_label(payload.parent))} by {escape(payload.author)}: {gmean}  "
                    f"{escape(payload.message)}")
        case StepPayload():
            cost = (f" (${payload.cost_usd:.3f}, {payload.tokens:,} tokens)"
                    if payload.tokens else "")
            style, ended = ("red", "failed") if payload.failed else ("dim", "done")
            return f"[{style}]step {payload.step} {ended}{cost}: {escape(payload.summary)}[/]"
        case StepResumedPayload(message=message):
            return f"[yellow]resumed[/]  {escape(message)}"
        case ToolCallPayload():
            style = "red" if payload.error else "dim"
            result = payload.result.splitlines()  # one line: the whole is in the transcript
            return (f"[{style}]tool     {escape(payload.tool)} {escape(clip(payload.input, 100))}"
                    f" -> {escape(clip(result[0], 160)) if result else ''}[/]")
        case HintPayload():
            return _told("hint", payload.action, payload.text, payload.note)
        case GuidancePayload():
            return _told("guidance", payload.action, payload.text or "", None)
        case SupervisorPayload():
            proposals = f"\n{escape(payload.proposals)}" if payload.proposals else ""
            return (f"[yellow]supervisor[/] {escape(payload.reason)}: {payload.action}"
                    f"{proposals}")
        case SuspectPayload():
            return _suspect_line(payload, unit)
        case PausePayload(reason=reason):
            return "[yellow]paused[/]" + (f": {escape(reason)}" if reason else "")
        case ResumePayload():
            return "[yellow]resumed[/]"
        case RollbackPayload():
            return (f"[yellow]rollback[/] head {escape(payload.from_version)} -> "
                    f"{escape(payload.to_version)}")
        case OperatorPayload():
            return (f"[magenta]operator switched[/] from {escape(payload.from_operator)} to "
                    f"{escape(payload.to_operator)}")
        case QueuedPayload(commands=commands):
            sent = counted(len(commands), "command")
            return (f"[magenta]queued   applying {sent} sent while no run was live:[/] "
                    f"{escape('; '.join(commands))}")
        case ResearchPayload(action="record"):
            lesson = f": {escape(payload.lesson)}" if payload.lesson else ""
            return f"[cyan]learned[/]  step {payload.step} ({escape(payload.outcome)}){lesson}"
        case ResearchPayload():
            return (f"[cyan]review[/]   of the kernel built on {escape(base_label(payload.base))}: "
                    f"{escape(payload.outcome)}: {escape(payload.final)}")
        case RescorePayload():
            return _rescore_line(payload, unit)
        case FlaggedPayload():
            return _flagged_line(payload)
        case ErrorPayload(message=message):
            return f"[red]error[/]    {escape(message)}"
        case StatusPayload(lane=int()):
            return f"[dim]lane     {payload.status}: {escape(payload.reason)}[/]"
        case StatusPayload(status=status, reason=reason) if status in ENDED:
            return f"[dim]status   {status}: {escape(reason)}[/]"
    return None


def _told(kind: str, action: str, text: str, note: str | None) -> str:
    shown = f" ({escape(note)})" if note else ""
    return f"[magenta]{kind:<8} {action}[/] {escape(text)}{shown}"


def deciding_gain(detail: str) -> str:
    """The gain that decided an attempt, shown before its detail, so that a line cut to fit
    a narrow pane still says it: the last one the detail names (a re-evaluation names the
    first reading's, then the gate's)."""
    gains = GAIN.findall(detail)
    return gains[-1] if gains else ""


def _suspect_line(p: SuspectPayload, unit: str) -> str:
    attempt = escape(p.attempt)
    if p.action == "held":
        gmean = f"{p.gmean:.4g} {escape(p.unit or unit)}" if p.gmean else "-"
        return (f"[bold yellow]⚠ suspect {attempt} held[/] for the operator's review "
                f"(approve or reject it): {gmean} by {escape(p.author or '?')} from "
                f"{escape(p.base or '?')}, flagged: {escape('; '.join(p.flags or ()))}")
    if p.action == "approved":
        return (f"[bold green]suspect  {attempt} approved[/] by the operator -> "
                f"{escape(p.version or '?')}")
    return f"[yellow]suspect  {attempt} {p.action}[/] by the operator"


def _flagged_line(p: FlaggedPayload) -> str:
    """'⚠ flagged v3 read 0.502x seed beside a12's candidate, recorded at 1.003x (-49.9%, past
    the -4.1% allowed): the suspect; avo rescore measures it again against the anchor'."""
    if p.failures:
        return (f"[bold red]⚠ flagged {escape(p.version)}[/] failed beside its successors "
                f"{p.failures} times (the last beside {escape(p.attempt)}'s candidate): the "
                f"suspect; its successors are measured beside the anchor alone, against its "
                f"recorded {p.recorded:.4g}x {escape(p.anchor)}; avo rescore measures it again")
    change = 100 * (p.measured / p.recorded - 1) if p.recorded else 0.0
    return (f"[bold red]⚠ flagged {escape(p.version)}[/] read {p.measured:.4g}x "
            f"{escape(p.anchor)} beside {escape(p.attempt)}'s candidate, recorded at "
            f"{p.recorded:.4g}x ({change:+.1f}%, past the -{p.allowed_pct:.1f}% allowed): the "
            "suspect; avo rescore measures it again against the anchor")


def _rescore_line(p: RescorePayload, unit: str) -> str:
    """'rescore  v1 1.172e+04 -> 101.3 GFLOP/s (x0.0864), measured: +0.12% ± 0.05% on v0
    timed beside it; why: ...'."""
    was = f"{p.was:.4g}" if p.was is not None else "-"
    factor = f" (x{p.now / p.was:.3g})" if p.was else ""
    if p.how == "followed":
        how = f"follows {escape(p.beside or '?')}, its gain over it kept"
    elif p.gain:
        how = f"measured: {escape(p.gain)}"
    else:
        how = "measured on its own"
    why = f"; why: {escape(p.reason)}" if p.reason else ""
    style = "bold yellow" if p.how == "measured" else "yellow"
    return (f"[{style}]rescore  {escape(p.version)}[/] {was} -> {p.now:.4g} "
            f"{escape(p.unit or unit)}{factor}, {how}{why}")


_TAG = re.compile(r"(?<!\\)\[(?:/|[a-z][a-z _]*)\]")


def plain(markup: str) -> str:
    """The text of a line from :func:`event_line`, without parsing it as Rich markup: a view
    streaming a thousand lines a second cannot afford the parser (many times slower)."""
    return _TAG.sub("", markup).replace("\\[", "[")
