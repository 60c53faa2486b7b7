#!/usr/bin/env python3
"""Four agent lanes on one session, end to end, killed with -9 mid-run and resumed (issue 23).

    python3 benchmarks/lanes_run.py --target mha --gpus all            # the GPU machine
    python3 benchmarks/lanes_run.py --target cpu-attention --workers 2  # no GPU (CI)
    python3 benchmarks/lanes_run.py --target mha --gpus 0,1 --json --keep
    ray start --head && python3 benchmarks/lanes_run.py --target mha --ray auto  # Ray actors

What it runs: the real ``avo run --lanes 4 --operator agent --headless --quick`` as a process
of its own, its agents talking through the real anthropic SDK to the loopback fake of the
Messages API (tests/fake_anthropic), served here.

The slowed seed. The session starts from the target's seed (on mha the real wgmma kernel,
kernels/cuda/attention_wgmma.cu) with slowdown knobs AVO_SLOW_1, AVO_SLOW_2 ... (shares)
declared at the file's top, all at 1. Each at 1 makes the kernel do its work 5/4 times over on a
GPU target, 5/2 times on the CPU target (its CTAs, or its tasks, computed again: real work, the
same output); at 0 it does nothing. Taking any one share out is then a 1.25x (CPU: 2.5x) gain
whatever the others are. A GPU target has one share per lane: the seed launches (5/4)^4 = 2.4x
the shipped seed's CTAs, each gain under the evaluator's implausible-jump rule (1.5x the best's
stored score). That holds for a grid of a CTA per tile, so a seed's knobs that make its grid
persistent are fixed off in the slowed seed (ONE_CTA_PER_TILE): on mha's seed as shipped
(PERSISTENT 2, its CTAs drawing tiles from one counter) a copy redid only its first tile, and on
four H200s the shares read +13.35%, +1.22% and +1.06%; with a CTA per tile, on one H200, 1.23x,
1.28x, then 1.25x each for the last two. The CPU target has two ((5/2)^2 = 6.25x; --shares),
lanes 1 and 3 owning the first, 2 and 4 the second: on a 2-core machine that other processes
load, timings swing by 2x within seconds, the gate's bar (timed beside the best) reached +98%,
and a 1.75x gain (tests/engine_helpers.py) was refused there; so the CPU target has few gate
decisions, each a large gain. Under heavier load a 2.5x share too can stay undecided at every
gate (safely: the gate does not owe a commit), so the tests run the benchmark with --share 12/1
on a small CPU target (tests/fixtures/targets/cpu_attention_tenfold.py: a thirtieth of the
quick grid's work, and a jump limit of 30x) and --gate-cap 30 (docs/testing.md).

What each lane's scripted agent does (lane K owns share ((K - 1) mod shares) + 1). Its replies
are derived from each request alone (the lane's number from its brief, where it stands from
the last tool results), so a lane resumed from its draft after the kill goes on with its
conversation: read the knobs of the newest version (show_version head) and of its own
workspace (view), set its workspace to the newest's knobs with its own share at 0
(str_replace), evaluate, commit (the checklist, then the gate). When the gate refuses because
another lane committed first, it reads the head again and merges again, in the same step. A
lane whose share is out of the head ends its step at once. So every version is the one before
it and one share out (the versions build on each other), each share is committed once, and the
run's last version is the target's own seed again. (The head, not the best: the best is the
highest stored score, and on a loaded CPU a version the gate has just judged faster, timed
beside the best, can store a lower score than the best's, measured at a quieter moment.)

The operator's part, through ``avo send``. A result flagged as an implausible jump over the
best's stored score is held as a suspect (on a loaded CPU, a stored score can be half of what
the machine does a minute later); the slowdown is real by construction, so a held suspect whose
only flags are jumps and which is the head with one more share out is approved (a GPU target
should need none; the report counts them). In the resumed run, a lane that has taken a step
and whose share is out of the head is stopped (--lane K stop): it has nothing left to do, and
the run ends when the last lane does (or at its step budget, --max-steps, default 3 per lane).
A lane that finds its share out holds its reply until that stop is sent (in the first run,
until the kill), as an agent that thinks takes its time: answered at once, one lane took eight
steps while the others evaluated once on four GPUs, and spent the budget the lanes share.

The kill: the run is polled through its session, read-only, as ``avo attach`` reads it. Once a
version is committed and at least two evaluations are in flight (two candidates saved in
flight, compiling or timed), the run process is killed with SIGKILL. To
make that moment certain, the other lanes' requests wait until lane 1 is told of its commit,
then go on together, so their evaluations start at once. Its
evaluation workers end by themselves when their parent dies (worker.watch_parent), and this
checks that they did. Then the same command runs again: a resume.

Agent and tuner lanes, for a set time, over several processes (issue 73's 20-minute run on
four GPUs, where a device call lasts at most 10 minutes):

    python3 benchmarks/lanes_run.py --target mha --gpus all --operator agent,agent,agent,tuner \
        --minutes 20 --dir R --phase first                       # call 1: run 1, killed with -9
    python3 benchmarks/lanes_run.py ... --phase resume --stop-after 540  # call 2: stopped
    python3 benchmarks/lanes_run.py ... --phase resume                   # call 3: to the end

--operator takes the lanes in turn as avo run's does. With a tuner lane, an agent lane's share
is a plain macro the tuner does not see (so it cannot take an agent's share out first), and the
tuner lane's share is a knob it finds by itself; with one tuner lane every lane has a share of
its own to commit, and the check is that every lane committed. --minutes is avo run --hours:
the session's time, every run counted; agent lanes are stopped once their share is out, and
the tuner lane searches on to the end (its versions may then turn other knobs only). --phase
first saves the session as the kill left it (killed.json in --dir); --phase resume reads it,
resumes, and either stops the run after --stop-after seconds (avo send stop, as its operator
would) for another resume, or runs it to its end and makes the checks below.

The checks (exit status 1, and one line saying which failed and why, if any):

    kill_during_parallel_evaluations  the session the kill left holds >= 2 candidates in flight
    commit_acknowledged_before_kill   >= 1 version committed before the kill
    acknowledged_versions_kept        every version the store held at the kill, and every one
                                      the agents were told of ("committed vN"), is there after,
                                      with the same files, lane and parent
    attempts_kept                     every attempt written before the kill is there, unchanged
    lineage_whole                     v0..vN without a gap or repeat, no two versions with the
                                      same kernel, each version decided once in its lane (the
                                      gate's committed attempt, or an approved suspect)
    versions_build_on_each_other      each version is the one it builds on with one more share
                                      out, that of the lane that committed it (or whose suspect
                                      was approved): an agent lane's builds on the version
                                      before it, a tuner lane's on its parent (its island of
                                      the frontier), its share out or, once out, other knobs
    interrupted_once_per_lane         each candidate in flight at the kill is recorded once as an
                                      interrupted attempt of its lane, with its files and base
    every_lane_resumed                a lane whose conversation draft at the kill was still its
                                      step's resumed the step from it, and every lane completed a
                                      step after (a version that moved the lineage under every
                                      lane, an approved suspect, ends their steps: their drafts
                                      are then left, by design, and the steps start afresh)
    commits_from_several_lanes        >= 2 lanes committed (with tuner lanes and a share per
                                      lane: commits_from_every_lane)
    every_share_done                  each share was committed (twice only on two lines of the
                                      lineage, a tuner's island and the newest's), and the
                                      head has none in
    resume_finished                   the resumed run ended cleanly (finished, or its lanes
                                      stopped), nothing left in flight
    no_orphaned_workers               no evaluation worker of the killed run outlived it

Progress goes to stderr; the report (a table, or --json) to stdout. A GPU target needs NVIDIA
GPUs (--gpus); without them this says so in one line.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from common.figures import print_figures

from lanes_run_parts.benchmark import Benchmark, Outcome
from lanes_run_parts.settings import CPU_SHARES, DEFAULT_TIMEOUT_S, MAX_SHARES, Failed, progress

from avo_tui.evaluation import TargetSpec, UnknownTarget, get_target
from avo_tui.pool import GpuSpecError, resolve_gpus

# -- the report ---------------------------------------------------------------------------------

LANE_COLUMNS = ("lane", "in_flight_at_kill", "draft_at_kill", "draft_resumable",
                "resumed_from_draft", "steps_after", "attempts_after", "share", "commits",
                "stopped")


def print_report(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print_figures(asdict(outcome) | {"failed": outcome.failed}, as_json=True)
        return
    kill = outcome.kill
    print_figures({
        "target": f"{outcome.target}, {outcome.lanes} lanes, {outcome.placement}",
        "slowdown": outcome.slowdown,
        "wall_s": ", ".join(f"{k} {v}" for k, v in outcome.seconds.items()),
        "kill": f"{len(kill['in_flight'])} candidates in flight (lanes "
                f"{', '.join(kill['in_flight']) or '-'}), conversation drafts of lanes "
                f"{', '.join(map(str, kill['drafts'])) or '-'}",
        "acknowledged": f"in the store {', '.join(kill['versions_in_store']) or '-'}; the "
                        f"agents told {', '.join(kill['versions_agents_were_told']) or '-'}",
        "lineage": "  ".join(f"{v['id']}(L{v['lane']} on {v['parent']}, {len(v['shares_out'])} "
                             f"out{', approved' if v['approved'] else ''})" if v["parent"]
                             else v["id"] for v in outcome.lineage),
        "interrupted": ", ".join(f"{a['attempt']} (L{a['lane']})"
                                 for a in outcome.interrupted) or "-",
        "approved": ", ".join(outcome.approved) or "- (no suspect held)",
        "api_requests": f"{outcome.api['requests']} (" + ", ".join(
            f"lane {k}: {v}" if k != "0" else f"the supervisor's reviews: {v}"
            for k, v in outcome.api["per_lane"].items()) + ")",
    }, as_json=False)
    print("\n" + "  ".join(LANE_COLUMNS))
    for row in outcome.per_lane:
        print("  ".join(f"{_cell(row[c]):>{len(c)}}" for c in LANE_COLUMNS))
    print()
    for name, passed in outcome.checks.items():
        reason = "" if passed else f": {outcome.reasons[name].splitlines()[0]}"
        print(f"{'pass' if passed else 'FAIL'}  {name}{reason}")


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- main ---------------------------------------------------------------------------------------


def share_factor(text: str) -> tuple[int, int]:
    """'12/1' as (12, 1): a work factor over 1."""
    num, _, den = text.partition("/")
    try:
        factor = (int(num), int(den or "1"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no N/D, as 5/2") from None
    if not 0 < factor[1] < factor[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: a share's factor is over 1, as 5/2")
    return factor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status 0 when every check passed, 1 otherwise (the reason in one line).")
    parser.add_argument("--target", default="mha",
                        help="mha (default; needs NVIDIA GPUs), another GPU target, or "
                        "cpu-attention")
    parser.add_argument("--lanes", type=int, default=4, help="lanes (default 4)")
    parser.add_argument("--operator", default="agent", metavar="agent|agent,...,tuner",
                        help="the lanes' operators, taking the lanes in turn as avo run's "
                        "--operator does (default agent). With tuner lanes, an agent lane's "
                        "share is a plain macro no tuner sees, and a tuner lane's a knob it "
                        "finds by itself: with one tuner lane, every lane has a share to "
                        "commit (agent,agent,agent,tuner)")
    parser.add_argument("--minutes", type=float,
                        help="run the session this long, every run counted (avo run --hours): "
                        "agent lanes are stopped once their share is out, tuner lanes search "
                        "on (default: until every lane is done)")
    parser.add_argument("--phase", choices=("all", "first", "resume"), default="all",
                        help="split the benchmark over processes, e.g. one device call each "
                        "(needs --dir, the same each time): first runs until the kill; resume "
                        "resumes and runs to the end and checks, or with --stop-after stops "
                        "the run, for another resume (default all: both in this process)")
    parser.add_argument("--kill-after", type=float, default=0.0, metavar="S",
                        help="kill the first run no sooner than S seconds after it starts")
    parser.add_argument("--stop-after", type=float, default=0.0, metavar="S",
                        help="--phase resume: stop the run after S seconds (avo send stop)")
    parser.add_argument("--shares", type=int, metavar="N",
                        help="slowdown knobs, each a lane's to take out (default: one per lane "
                        f"on a GPU target, {CPU_SHARES} on the CPU target, where the seed does "
                        f"(5/2)^N its work); 2 to {MAX_SHARES}, at most --lanes")
    parser.add_argument("--share", type=share_factor, metavar="N/D",
                        help="one share's work factor (default 5/2 on the CPU, 5/4 on a GPU). "
                        "The tests take 12/1 on a small CPU target: on a loaded CPU the gate "
                        "may leave a 2.5x share undecided at every try (docs/testing.md)")
    parser.add_argument("--gpus", default="all",
                        help="GPU targets: the GPUs to evaluate on, 'all' or e.g. 0,1 (default "
                        "all; at least two)")
    parser.add_argument("--workers", type=int, default=2,
                        help="cpu-attention: CPU worker processes (default 2; at least two)")
    parser.add_argument("--ray", metavar="auto|ADDRESS",
                        help="evaluate in the actors of this Ray cluster, one per GPU (auto: the "
                        "one this machine joined with `ray start --head`), instead of --gpus")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="each run's step budget, every lane's steps counted (default: 3 "
                        "per lane)")
    parser.add_argument("--gate-cap", type=float, metavar="S",
                        help="the commit gate's longest measurement of one decision (avo run "
                        "--gate-cap; default: the target's). On a loaded CPU every decision "
                        "measures to its cap, and a longer one decides gains a short one "
                        "leaves undecided")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"give up after S seconds in all (default {DEFAULT_TIMEOUT_S:.0f})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, help="where to build the session (default: temp)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the session and the runs' logs (kept anyway on a failure)")
    args = parser.parse_args(argv)
    if args.lanes < 2:
        parser.error("--lanes must be at least 2")
    if args.shares is not None and not 2 <= args.shares <= min(args.lanes, MAX_SHARES):
        parser.error(f"--shares must be from 2 to {MAX_SHARES}, and at most --lanes")
    operators = args.operator.split(",")
    if not set(operators) <= {"agent", "tuner"} or "agent" not in operators:
        parser.error("--operator takes agent and tuner, comma-separated, agent at least once")
    if args.phase != "all" and args.dir is None:
        parser.error("--phase first and resume need --dir (the same each time)")
    if args.stop_after and args.phase != "resume":
        parser.error("--stop-after is for --phase resume")
    if args.minutes is not None and args.minutes <= 0:
        parser.error("--minutes must be positive")
    if args.gate_cap is not None and args.gate_cap <= 0:
        parser.error("--gate-cap must be positive")
    # a run of --minutes ends at its time budget, not at a count of steps
    args.max_steps = args.max_steps or (10**6 if args.minutes else 3 * args.lanes)
    if args.max_steps < args.lanes:
        parser.error("--max-steps must give every lane a step (at least --lanes)")
    return args


def check_placement(args: argparse.Namespace) -> TargetSpec:
    """The target, where two evaluations can run at once: two GPUs, or two CPU workers."""
    try:
        target = get_target(args.target)
    except UnknownTarget as error:
        raise Failed(str(error)) from None
    if target.device == "cpu":
        if args.workers < 2:
            raise Failed("--workers must be at least 2: two evaluations in flight at once")
        args.shares = args.shares or min(args.lanes, CPU_SHARES)
        return target
    args.shares = args.shares or min(args.lanes, MAX_SHARES)
    if args.ray:  # the cluster's GPUs, counted by the run itself
        return target
    try:
        gpus = resolve_gpus(args.gpus)
    except GpuSpecError as error:
        raise Failed(f"{error}; {target.name} needs NVIDIA GPUs (or --target cpu-attention "
                     "--workers 2)") from None
    if len(gpus) < 2:
        raise Failed(f"--gpus {args.gpus} is one GPU; two evaluations in flight at once need "
                     "two")
    return target


def fail(reason: str) -> int:
    """Say why in one line, the last on stderr (details, such as a run's last lines, before)."""
    first, *details = reason.splitlines()
    for line in details:
        print(f"  {line}", file=sys.stderr)
    print(f"lanes_run: FAILED: {first}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        target = check_placement(args)
    except Failed as error:
        print(f"lanes_run: {error}", file=sys.stderr)
        return 1
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    # phases share one folder, named by --dir; a whole run gets a fresh one in it
    workdir = (args.dir if args.phase != "all"
               else Path(tempfile.mkdtemp(prefix="avo-lanes-run-", dir=args.dir)))
    outcome: Outcome | None = None
    try:
        outcome = Benchmark(args, target, workdir).run()
    except Failed as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return fail("interrupted (Ctrl-C)")
    finally:
        if args.phase != "all":
            pass  # --dir is the caller's, and a later phase reads it
        elif args.keep or outcome is None or outcome.failed:
            progress(f"the session and the runs' logs are kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if outcome is None:
        return 0  # a phase that a later one goes on from
    print_report(outcome, args.json)
    if outcome.failed:
        return fail(outcome.failed)
    progress("every check passed")
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupted)
    sys.exit(main())
