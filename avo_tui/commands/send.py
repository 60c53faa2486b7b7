"""``avo send``: deliver a control command to a session's running engine, from any terminal."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import replace
from pathlib import Path

from ..engine import commands as cmd
from ..engine import send
from ..engine.inbox import INBOX, describe, queued
from ..evaluation import get_target
from ..evaluation.declarations.candidate import load_sources
from ..operators.hints import declared_knobs, read_knob_request, reading, refusal
from ..store import MOST_LANES, RunState, Session, SessionCatalog, StoreError
from ..store.blobs import blob_hash
from . import (
    MOST_COST_USD,
    MOST_HOURS,
    MOST_STEPS,
    MOST_TOKENS,
    Subcommands,
    add_command,
    bounded_int,
    checked_number,
    session_name,
)

ACTIONS = ("pause", "resume", "stop", "hint", "guide", "rollback", "edit", "budget", "approve",
           "reject", "drop")
# avo send NAME budget cost=20 tokens=5e6: the words a person types -> Budgets fields
BUDGET_KEYS = {"cost": "max_cost_usd", "tokens": "max_tokens", "steps": "max_steps",
               "hours": "hours"}
USED = {"max_cost_usd": "cost_usd", "max_tokens": "tokens", "max_steps": "steps",
        "hours": "seconds"}  # Budgets field -> the Usage figure it limits
WHOLE = ("max_tokens", "max_steps")
MOST = {"max_cost_usd": MOST_COST_USD, "max_tokens": MOST_TOKENS, "max_steps": MOST_STEPS,
        "hours": MOST_HOURS}  # as avo run's --max-cost, --token-budget, --max-steps, --hours
SHOW_USED = {"max_cost_usd": "${:.2f}", "max_tokens": "{:,.0f} tokens",
             "max_steps": "{:.0f} steps", "hours": "{:.2f} h of running"}

EPILOG = """\
A run applies the command at its next safe point (before its next evaluation or between steps);
an evaluation already running finishes first. What can be checked now is checked before
anything is sent: the version of a rollback, a budget's figures, a suspect's id, an edit's files.

No run live? The command is queued in the session's inbox/ folder, and the next run (avo run
--session NAME) announces it and applies it first. A stop or a pause would act on that run's
start (end it, or hold it paused), so with no run live they are refused unless --queue says
to queue them on purpose. 'avo sessions show NAME' lists what is queued; 'avo send NAME drop'
removes it.

In a run of several lanes (avo run --lanes N), pause, resume, stop, hint and guide act on
every lane, or with --lane K on lane K alone (the others go on); rollback, edit, budget,
approve and reject act on the session, and so on every lane.

examples:
  avo send cpu-1 pause
  avo send cpu-1 --lane 2 pause    pause lane 2; the other lanes go on
  avo send cpu-1 --lane 2 hint "try BLOCK_Q=64"
  avo send cpu-1 hint "try BLOCK_Q=64"
  avo send cpu-1 guide "vary BLOCK_K and UNROLL"
  avo send cpu-1 guide ''          clear the standing guidance
  avo send cpu-1 rollback v2
  avo send cpu-1 edit ./my_kernel.c -m "hand-unrolled inner loop"
  avo send cpu-1 budget cost=40 tokens=20e6
                                   raise the session's budgets (also steps=,
                                   hours=), then resume a run a budget paused
  avo send cpu-1 approve a12       commit suspect a12 as a version
  avo send cpu-1 reject a12        drop suspect a12; it is never committed
  avo send cpu-1 drop              remove the commands queued for the next run
  avo send cpu-1 pause --queue     with no run live: the next run starts paused

In a tuner's session, a hint or guidance is read as knob requests, for any declared knob:
  a value       keep UNROLL at 8, hold BLOCK_N at 128, BLOCK_Q=64, BLOCK_Q 64
  as it is      never touch THREADS, don't change STAGES, keep UNROLL
  only these    only vary BLOCK_K, vary BLOCK_K and UNROLL
  never a value avoid UNROLL 1, BLOCK_Q != 16, BLOCK_K=16 is slow,
                UNROLL 8 hurt, keep UNROLL away from 8, BLOCK_K 16 didn't help
  one step      try BLOCK_K=16 first (next, once), even as guidance
Praise (BLOCK_K=16 is good) is not read as a pin, nor "is not bad" as anything: both are
refused. What it cannot read for sure is refused in one line, before it is sent
(docs/engine.md).

A suspect is a result the evaluator flagged as implausible (beyond the hardware peak, beyond the
target's plausible ratio to the baseline, or a jump over the best beyond the target's limit)
that the commit gate would otherwise have committed: it is held until you approve or reject it.
`avo sessions show NAME` lists the pending ones with their flags.
"""


def cmd_send(args: argparse.Namespace) -> int:
    with SessionCatalog(args.sessions_dir).open(args.name, writable=False) as session:
        writer = session.lock_holder
        if args.action == "drop":
            return _drop(session, writer is not None)
        _lane_exists(args.lane, session)  # before the words: a missing lane is the plainer
        command = _for_lane(_command(args, session), args.lane, session)
        if writer is None and not args.queue and (why := _acts_on_start(command)):
            raise StoreError(f"no run of '{session.name}' is live, and {why}; to queue it "
                             f"for the next run on purpose, add --queue: "
                             f"{_queued_on_purpose(args)}")
    send(session.directory, command)
    name, what = session.name, describe(command)
    if writer:
        print(f"sent {what} to '{name}' (run by pid {writer.pid} on {writer.host}); it "
              "applies at the run's next safe point")
        return 0
    print(f"queued {what} for '{name}': no run is live, so it waits for the next one "
          f"(avo run --session {name}), which announces it and applies it first")
    waiting = queued(session.directory)
    if len(waiting) > 1:
        print(f"{len(waiting)} commands wait, in this order: "
              + "; ".join(describe(q.command) for q in waiting)
              + f" (avo send {name} drop removes them)")
    if any(isinstance(q.command, cmd.Pause) for q in waiting):
        print(f"note: with a pause queued, the next run starts paused; avo send {name} resume "
              "(or p in the app) lets it go on")
    return 0


def _acts_on_start(command: cmd.Command) -> str | None:
    """What ``command``, queued, would do to the next run as it starts (None: nothing a person
    must mean): a stop sent while no run was live once ended the next run as soon as it began."""
    if isinstance(command, cmd.Stop):
        return "a stop queued now would end the next run as it starts"
    if isinstance(command, cmd.Pause):
        return "a pause queued now would hold the next run paused from its start"
    return None


def _queued_on_purpose(args: argparse.Namespace) -> str:
    """The command line that sends the same command with --queue."""
    lane = ["--lane", str(args.lane)] if args.lane is not None else []
    return shlex.join(["avo", "send", args.name, *lane, args.action, *args.text, "--queue"])


def _drop(session: Session, live: bool) -> int:
    """Remove what waits in the inbox, while no run can be taking it."""
    if live:
        raise StoreError(f"a run of '{session.name}' is live and takes its commands as they "
                         "come; drop works while no run is")
    waiting = queued(session.directory)
    for path in sorted((session.directory / INBOX).glob("*.json")):
        path.unlink(missing_ok=True)
    dropped = "; ".join(describe(q.command) for q in waiting) or "nothing was queued"
    print(f"dropped from '{session.name}': {dropped}")
    return 0


def _command(args: argparse.Namespace, session: Session) -> cmd.Command:
    """The command the words ask for, checked against the session as it stands now (the
    engine checks again when it applies it)."""
    words: list[str] = args.text
    text = " ".join(words)
    match args.action:
        case "pause" | "resume":
            if text:
                raise StoreError(f"{args.action} takes no text (got {text!r}): a hint is "
                                 f"avo send NAME hint '...'")
            return cmd.Pause() if args.action == "pause" else cmd.Resume()
        case "stop":
            return cmd.Stop(text or "stopped by avo send")
        case "hint" | "guide" if (why := cmd.too_long(
                {"hint": "hint", "guide": "guidance"}[args.action], text)):
            raise StoreError(why)
        case "hint":
            if not text.strip():
                raise StoreError("a hint needs text: avo send NAME hint 'BLOCK_Q=64'")
            _read_by_tuner(text, session)
            return cmd.Hint(text)
        case "guide":
            if text.strip():
                _read_by_tuner(text, session)
            return cmd.Guidance(text.strip() or None)
        case "rollback":
            if len(words) != 1:
                raise StoreError("rollback needs one version: avo send NAME rollback v3")
            return cmd.Rollback(session.version(words[0]).id)
        case "budget":
            return cmd.SetBudgets(_budget_limits(words, session.run_state))
        case "approve" | "reject":
            if len(words) != 1:
                raise StoreError(f"{args.action} needs one suspect's attempt id: avo send NAME "
                                 f"{args.action} a12")
            suspect = session.suspect(words[0])
            return cmd.Approve(suspect.attempt) if args.action == "approve" else cmd.Reject(
                suspect.attempt)
        case _:  # edit
            if len(words) != 1:
                raise StoreError("edit needs one kernel file or folder: avo send NAME edit PATH")
            target = get_target(session.meta["target"])
            files = load_sources(Path(words[0]), target.toolchain)
            _not_a_version(files, session)
            return cmd.OperatorEdit(files, args.message)


def _not_a_version(files: dict[str, str], session: Session) -> None:
    """Refuse an edit whose files are a version's own, which the run would refuse after
    "sent" (issue 87). A copy that differs in layout only compiles to a version's kernel:
    only the run, which compiles it, can tell."""
    hashes = {name: blob_hash(text.encode()) for name, text in files.items()}
    best = session.best()
    for version in session.lineage:
        if dict(version.files) == hashes:
            role = (" (the best)" if best and version.id == best.id else
                    " (the seed)" if version.author == "seed" else "")
            raise StoreError(f"the edit is identical to {version.id}{role}: nothing new to "
                             f"evaluate; change the files, or roll back to it (avo send "
                             f"{session.name} rollback {version.id}) to build on it")


def _read_by_tuner(text: str, session: Session) -> None:
    """In a tuner's session whose head declares knobs: say how the tuner reads ``text``, or
    refuse it in one line naming the forms it reads (the engine refuses it again if the knobs
    have changed by then). An agent reads the words as written."""
    head = session.head
    if session.meta.get("operator") != "tuner" or head is None:
        return
    knobs = declared_knobs(session.read_files(head))
    if not knobs:
        return
    choices = {name: knob.choices for name, knob in knobs.items()}
    request = read_knob_request(text, choices)
    if not request.usable:
        raise StoreError(refusal(request, choices))
    print(f"the tuner reads {text.strip()!r} as: {reading(request)}")


def _for_lane(command: cmd.Command, lane: int | None, session: Session) -> cmd.Command:
    """The command for lane ``lane`` (None: every lane), checked against the session's lanes."""
    if lane is None:
        return command
    if not isinstance(command, cmd.Pause | cmd.Resume | cmd.Hint | cmd.Guidance | cmd.Stop):
        raise StoreError(f"--lane applies to pause, resume, stop, hint and guide; "
                         f"{describe(command).split()[0]} acts on the session as a whole")
    _lane_exists(lane, session)
    return replace(command, lane=lane)


def _lane_exists(lane: int | None, session: Session) -> None:
    count = lane_count(session)
    if lane is not None and lane > count:
        raise StoreError(f"session '{session.name}' has no lane {lane}: it runs "
                         f"{count} lane{'s' if count > 1 else ''} (avo run --lanes N)")


def lane_count(session: Session) -> int:
    """How many lanes the session's runs have: as last set on a resume, else as created."""
    lanes = session.meta.get("settings", {}).get("lanes", 1)
    return session.run_state.lane_count or (lanes if isinstance(lanes, int) else 1)


def _budget_limits(words: list[str], state: RunState) -> dict[str, float]:
    """``cost=40 tokens=20e6`` as Budgets fields; a limit the session has already reached
    would end or pause the next run at once, so it is refused."""
    limits: dict[str, float] = {}
    for word in words:
        key, _, value = word.partition("=")
        field = BUDGET_KEYS.get(key.strip())
        if field is None:
            raise StoreError(
                f"budget takes KEY=NUMBER with KEY one of {', '.join(BUDGET_KEYS)}, e.g. "
                f"cost=40; got {word!r}"
            )
        try:
            number = checked_number(value, most=MOST[field])
        except ValueError as error:
            raise StoreError(f"budget {key}: {error}") from None
        if field in WHOLE and not number.is_integer():
            raise StoreError(f"{key} counts whole {key}; got {word!r}")
        used = state.usage_figure(USED[field]) / (3600 if field == "hours" else 1)
        if number <= used:
            raise StoreError(f"the session has used {SHOW_USED[field].format(used)} already; "
                             f"{word} would end or pause its run at once: give more")
        limits[field] = int(number) if field in WHOLE else number
    if not limits:
        raise StoreError("budget needs at least one limit, e.g. avo send NAME budget cost=40")
    return limits


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "send", cmd_send,
        "pause, resume, stop, hint, guide, roll back, edit, budget a run; approve or reject "
        "a suspect",
        "Send a control command to a session's run, live or next.", EPILOG,
    )
    p.add_argument("name", type=session_name, help="session name")
    p.add_argument("action", choices=ACTIONS, metavar="ACTION",
                   help=", ".join(ACTIONS) + " (see below)")
    p.add_argument("text", nargs="*", help="hint or guidance text, a version, a kernel path, "
                   "or a suspect's attempt id (approve, reject)")
    p.add_argument("-m", "--message", default="edited by hand", help="message of an edit")
    p.add_argument("--queue", action="store_true",
                   help="with no run live, queue a stop or pause for the next run, which it "
                   "then ends or holds paused as it starts (without --queue they are refused)")
    p.add_argument("--lane", type=bounded_int(MOST_LANES), metavar="K",
                   help="pause, resume, stop, hint or guide lane K alone, in a run of several "
                   "lanes (default: every lane)")
