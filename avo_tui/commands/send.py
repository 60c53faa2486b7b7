"""``avo send``: deliver a control command to a session's running engine, from any terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine import commands as cmd
from ..engine import send
from ..evaluation import get_target
from ..evaluation.candidate import load_sources
from ..store import SessionCatalog, StoreError
from . import Subcommands, add_command, session_name

ACTIONS = ("pause", "resume", "stop", "hint", "guide", "rollback", "edit", "budget", "approve",
           "reject")
# avo send NAME budget cost=20 tokens=5e6: the words a person types -> Budgets fields
BUDGET_KEYS = {"cost": "max_cost_usd", "tokens": "max_tokens", "steps": "max_steps",
               "hours": "hours"}

EPILOG = """\
The command waits in the session's inbox/ folder until the engine reaches a safe point (before
its next evaluation or between steps); an evaluation already running finishes first. Commands
sent while no run is live are applied when the session is next run.

examples:
  avo send cpu-1 pause
  avo send cpu-1 hint "try BLOCK_Q=64"
  avo send cpu-1 guide "vary BLOCK_K and UNROLL"
  avo send cpu-1 guide ''                 clear the standing guidance
  avo send cpu-1 rollback v2
  avo send cpu-1 edit ./my_kernel.c -m "hand-unrolled inner loop"
  avo send cpu-1 budget cost=40 tokens=20e6   raise the session's budgets (also steps=, hours=);
                                          then resume a run that a spent budget paused
  avo send cpu-1 approve a12              commit suspect a12 as a version
  avo send cpu-1 reject a12               drop suspect a12; it is never committed

A suspect is a result the evaluator flagged as implausible (beyond the hardware peak, beyond the
target's plausible ratio to the baseline, or a jump over the best beyond the target's limit)
that the commit gate would otherwise have committed: it is held until you approve or reject it.
`avo sessions show NAME` lists the pending ones with their flags.
"""


def cmd_send(args: argparse.Namespace) -> int:
    catalog = SessionCatalog(args.sessions_dir)
    path = catalog.path(args.name)
    command = _command(args, path)
    send(path, command)
    with catalog.open(args.name, writable=False) as session:
        live = session.lock_holder is not None
    when = "at its next safe point" if live else "when the session next runs"
    print(f"sent {args.action} to '{args.name}'; the engine applies it {when}")
    return 0


def _command(args: argparse.Namespace, path: Path) -> cmd.Command:
    text = " ".join(args.text)
    match args.action:
        case "pause":
            return cmd.Pause()
        case "resume":
            return cmd.Resume()
        case "stop":
            return cmd.Stop(text or "stopped by avo send")
        case "hint":
            if not text:
                raise StoreError("a hint needs text: avo send NAME hint 'BLOCK_Q=64'")
            return cmd.Hint(text)
        case "guide":
            return cmd.Guidance(text or None)
        case "rollback":
            if not text:
                raise StoreError("rollback needs a version: avo send NAME rollback v3")
            return cmd.Rollback(text)
        case "budget":
            return cmd.SetBudgets(_budget_limits(args.text))
        case "approve" | "reject":
            return _verdict(args.action, args.text, path)
        case _:  # edit
            if not text:
                raise StoreError("edit needs a kernel file or folder: avo send NAME edit PATH")
            with SessionCatalog(path.parent).open(path.name, writable=False) as session:
                target = get_target(session.meta["target"])
            return cmd.OperatorEdit(load_sources(Path(text), target.toolchain), args.message)


def _verdict(action: str, words: list[str], path: Path) -> cmd.Command:
    """Approve or reject one pending suspect, checked against the session now (the engine
    checks again when it applies the command)."""
    if len(words) != 1:
        raise StoreError(f"{action} needs one suspect's attempt id: avo send NAME {action} a12")
    with SessionCatalog(path.parent).open(path.name, writable=False) as session:
        suspect = session.suspect(words[0])
    return cmd.Approve(suspect.attempt) if action == "approve" else cmd.Reject(suspect.attempt)


def _budget_limits(words: list[str]) -> dict[str, float]:
    limits: dict[str, float] = {}
    for word in words:
        key, _, value = word.partition("=")
        field = BUDGET_KEYS.get(key.strip())
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if field is None or number <= 0:
            raise StoreError(
                f"budget takes KEY=NUMBER with KEY one of {', '.join(BUDGET_KEYS)} and a "
                f"positive number, e.g. cost=40; got {word!r}"
            )
        limits[field] = int(number) if field in ("max_tokens", "max_steps") else number
    if not limits:
        raise StoreError("budget needs at least one limit, e.g. avo send NAME budget cost=40")
    return limits


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "send", cmd_send,
        "pause, resume, stop, hint, guide, roll back, edit, budget a run; approve or reject "
        "a suspect",
        "Send a control command to a session's engine.", EPILOG,
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("text", nargs="*", help="hint or guidance text, a version, a kernel path, "
                   "or a suspect's attempt id (approve, reject)")
    p.add_argument("-m", "--message", default="edited by hand", help="message of an edit")
