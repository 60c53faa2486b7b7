"""How an event reads as one line of output: shared by the headless console, the app's output
pane and the session's output log, so all three tell the same story."""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

from ..store import Event


def event_line(event: Event, unit: str) -> str | None:
    """Rich markup for one event worth an operator's attention; None for the rest."""
    d = event.data
    match event.kind:
        case "plan":
            return f"[cyan]plan[/]     {escape(d['text'])}"
        case "attempt":
            style = {"committed": "green", "promising": "cyan", "slower": "dim",
                     "suspect": "bold yellow"}.get(d["outcome"], "red")
            return (f"[{style}]{d['attempt']:<8} {d['outcome']:<13}[/] "
                    f"{escape(d.get('detail', ''))}")
        case "commit":
            gmean = f"{d['gmean']:.4g} {unit}" if d.get("gmean") else "-"
            return (f"[bold green]commit   {d['version']}[/] from {d['parent']} "
                    f"by {d['author']}: {gmean}  {escape(d.get('message', ''))}")
        case "step":
            cost = f" (${d['cost_usd']:.3f}, {d['tokens']:,} tokens)" if d.get("tokens") else ""
            return f"[dim]step {d['step']} done{cost}: {escape(d['summary'])}[/]"
        case "tool_call":
            style = "red" if d.get("error") else "dim"
            result = (d.get("result") or "").splitlines()
            return (f"[{style}]tool     {d['tool']} {escape(d.get('input', ''))[:100]} -> "
                    f"{escape(result[0][:100]) if result else ''}[/]")
        case "hint" | "guidance":
            note = f" ({escape(d['note'])})" if d.get("note") else ""
            text = escape(str(d.get("text")))
            return f"[magenta]{event.kind:<8} {d.get('action', '')}[/] {text}{note}"
        case "supervisor":
            proposals = f"\n{escape(d['proposals'])}" if d.get("proposals") else ""
            return (f"[yellow]supervisor[/] {escape(d['reason'])}: {d.get('action', '')}"
                    f"{proposals}")
        case "suspect":
            return _suspect_line(d, unit)
        case "pause":
            return "[yellow]paused[/]" + (f": {escape(d['reason'])}" if d.get("reason") else "")
        case "resume":
            return "[yellow]resumed[/]"
        case "rollback":
            return f"[yellow]rollback[/] head {d['from']} -> {d['to']}"
        case "error":
            return f"[red]error[/]    {escape(d['message'])}"
        case "status" if d.get("status") in ("finished", "stopped", "interrupted", "crashed"):
            return f"[dim]status   {d['status']}: {escape(str(d.get('reason', '')))}[/]"
    return None


def _suspect_line(d: dict[str, Any], unit: str) -> str:
    attempt, action = d.get("attempt", "?"), d.get("action", "")
    if action == "held":
        gmean = f"{d['gmean']:.4g} {d.get('unit') or unit}" if d.get("gmean") else "-"
        flags = "; ".join(str(f) for f in d.get("flags") or ())
        return (f"[bold yellow]⚠ suspect {attempt} held[/] for the operator's review "
                f"(approve or reject it): {gmean} by {d.get('author', '?')} from "
                f"{d.get('base', '?')}, flagged: {escape(flags)}")
    if action == "approved":
        return f"[bold green]suspect  {attempt} approved[/] by the operator -> {d.get('version')}"
    return f"[yellow]suspect  {attempt} {escape(str(action))}[/] by the operator"


_TAG = re.compile(r"(?<!\\)\[(?:/|[a-z][a-z _]*)\]")


def plain(markup: str) -> str:
    """The text of a line from :func:`event_line`, without parsing it as Rich markup: a view
    streaming a thousand lines a second cannot afford the parser (10x slower)."""
    return _TAG.sub("", markup).replace("\\[", "[")
