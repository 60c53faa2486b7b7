"""``avo run``: start or resume a session's run. Headless, it is the main loop and prints one
line per step, evaluation and commit; Ctrl-C stops at the next safe point, a second Ctrl-C
at once (the evaluation it cuts short is recorded as interrupted)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from ..engine import Engine, Stop
from ..engine.alerts import AlertCommand
from ..engine.client import Restart, Restarted, RunClient
from ..engine.lanes import LANES_PER_WORKER, lane_lines, lane_operators_for_run
from ..evaluation.measurement.sustained import MOST_SUSTAINED_S, SUSTAINED_S
from ..operators import OPERATORS, OperatorUnavailable, get_operator, operator_names
from ..operators.agent import DEFAULT_MODEL
from ..operators.agent.models import EFFORT_LEVELS
from ..operators.agent.settings import DEFAULT_EFFORT, PROVIDERS
from ..pool import parse_gpus
from ..store import MOST_LANES, Event, Session, SessionCatalog, StoreError
from ..views.events import event_line
from ..views.output_log import OutputLog
from ..views.ratios import session_column
from . import (
    MOST_COST_USD,
    MOST_HOURS,
    MOST_OUTPUT_TOKENS,
    MOST_PERCENT,
    MOST_SECONDS,
    MOST_STEPS,
    MOST_TOKENS,
    MOST_WORKERS,
    Subcommands,
    add_command,
    bounded_float,
    bounded_int,
    seed_number,
    session_name,
    session_ref,
)
from .prepare import PreparedRun, again, create, resume
from .tables import figure

if TYPE_CHECKING:
    from ..tui import AvoApp

EPILOG = """\
A new session scores its seed kernel twice before it is created (a seed that fails creates
nothing). Run again with the same --session to resume exactly where it stopped.

--max-steps counts the steps of this run: a resume with --max-steps 5 does 5 more, wherever
the session stands, and the next run sets its own. --hours, --max-cost and --token-budget
count the whole session, every run of it (avo send NAME budget steps=N sets a step budget
for the whole session too). On a resume, --operator switches the session's variation
operator (e.g. a session begun with the agent goes on with the tuner); the switch is kept
for later runs and recorded as an event.

While it runs, from another terminal:
  avo send NAME pause | resume | stop
  avo send NAME hint "BLOCK_Q=64"         a one-off suggestion for the next step
  avo send NAME guide "vary BLOCK_K"      standing guidance (guide '' clears it)
  avo send NAME rollback v3               the next versions branch from v3
  avo send NAME edit path/to/kernel.c     a hand edit, committed if correct

examples:
  avo run --target cpu-attention --session cpu-1 --headless --max-steps 30
  avo run --session cpu-1 --headless --max-steps 10   10 more steps
  avo run --session cpu-1 --headless --hours 2        until 2 h in all
  avo run --session agent-1 --operator tuner          go on without the API
  avo run --session cpu-1 --headless --lanes 3        three tuners at once
"""


def prepare_run(args: argparse.Namespace, console: Console) -> PreparedRun:
    """Open ``args.session`` to resume it, or create it from ``args.target``; the caller owns
    the session and the worker pool it returns. Each job of it is a function of prepare.py."""
    catalog = SessionCatalog(args.sessions_dir)
    path = catalog.new_path(args.session)  # checks the name: run_args() skips the parser
    if path.exists():
        return resume(catalog, args, console)
    return create(catalog, path, args, console)


def cmd_run(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)  # a log line stays one line
    if not args.headless:
        require_terminal()
        return _run_in_app(args, console)
    prepared = prepare_run(args, console)
    try:
        with prepared.pool, prepared.session:
            engine, output_log = _start(prepared, args)
            engine.subscribe(_EventPrinter(console, prepared.target.unit))
            try:
                with _two_stage_interrupt(engine, console):
                    reason = engine.run()
            finally:
                output_log.close()
    except KeyboardInterrupt:
        console.print("[yellow]stopped at once; the cut-short evaluation is recorded as "
                      "interrupted[/]")
        return 130
    return _ended(prepared, reason, console)


def _start(prepared: PreparedRun, args: argparse.Namespace) -> tuple[Engine, OutputLog]:
    """The run's engine, writing the session's output.log."""
    settings = prepared.settings
    operators = lane_operators_for_run(
        settings.operator, settings.lanes, args.rng_seed,
        lambda name, seed: get_operator(name, seed, prepared.agent, prepared.knowledge))
    engine = Engine(prepared.session, operators, prepared.evaluator, budgets=prepared.budgets)
    output_log = OutputLog(prepared.session.directory, prepared.target.unit)
    engine.subscribe(output_log)
    if alerts := _alert_command(prepared):
        engine.subscribe(alerts)
    engine.on_progress(output_log.progress)
    return engine, output_log


def _alert_command(prepared: PreparedRun) -> AlertCommand | None:
    """The settings file's [alerts] command on this run's events (engine/alerts.py)."""
    session, unit = prepared.session, prepared.target.unit

    def best() -> str | None:
        version = session.best()
        return version.id if version else None

    def line(event: Event) -> str:
        markup = event_line(event, unit)
        return Text.from_markup(markup).plain if markup else event.kind

    return AlertCommand.from_settings(session.name, best, line)


def _ended(prepared: PreparedRun, reason: str, console: Console) -> int:
    session, unit = prepared.session, prepared.target.unit
    suspects = [s.attempt for s in session.suspects()]
    console.print(f"run ended: {reason}.")
    if prepared.settings.lanes > 1:
        for line in lane_lines(session.run_state):
            console.print(f"  {line}")
    if best := best_line(session, unit):
        console.print(best)
    if suspects:
        console.print(f"[yellow]⚠ held for your review: {', '.join(suspects)}[/] (flagged as "
                      f"implausible; avo sessions show {session.name}, then avo send "
                      f"{session.name} approve|reject ID)")
    return 0


def _run_in_app(args: argparse.Namespace, console: Console) -> int:
    """The app opens at once; the session is opened, or created with its seed scored, on a
    thread while the app shows how far it has got (prepare_run's lines). Where the user
    detached, or the terminal went away, the run goes on in a process of its own once this
    one has stopped at its safe point and let go of the session (hand_off)."""
    from ..tui import make_preparing_app  # Textual loads only for the app

    started: list[PreparedRun] = []
    with ExitStack() as held:
        app = make_preparing_app(args.session, app_preparation(args, held, started))
        reason = show_app(app)
        if app.preparation_error is not None:
            raise app.preparation_error
        if not started:
            console.print("left before the session was ready")
            return 0
        if not app.handing_off:
            return _ended(started[0], reason, console)
        argv = handoff_options(args, started[0])
    successor = headless_restart(started[0].session.directory.parent, args.session, argv)()
    console.print(f"the run goes on without this screen: {successor.line}; come back with "
                  f"avo attach {args.session}, or stop it with avo send {args.session} stop")
    return 0


def handoff_options(args: argparse.Namespace, prepared: PreparedRun) -> list[str]:
    """The options of ``avo run`` that its successor needs to go on as this run would have:
    the steps left of this run's --max-steps, and the limits and agent settings given for
    it. What the session keeps (operator, lanes, GPUs, workers, knowledge) it reads itself."""
    options: list[str] = []
    budgets = prepared.budgets
    if budgets.run_steps is not None:
        done = int(prepared.session.run_state.usage_figure("steps")) - budgets.run_from
        options += ["--max-steps", str(max(1, budgets.run_steps - done))]
    given = {"--hours": args.hours, "--max-cost": args.max_cost,
             "--token-budget": args.token_budget, "--model": args.model,
             "--provider": args.provider, "--max-output-tokens": args.max_output_tokens,
             "--thinking": args.thinking, "--effort": args.effort, "--timeout": args.timeout,
             "--max-step-cost": args.max_step_cost,
             "--rng-seed": args.rng_seed, "--ray": args.ray}
    for flag, value in given.items():
        if value is not None:
            options += [flag, str(value)]
    return options


def app_preparation(args: argparse.Namespace, held: ExitStack,
                    started: list[PreparedRun]) -> Callable[[Console], RunClient]:
    """How the app opens (or creates) the session of ``avo run``, on its preparation thread:
    the session and its workers are ``held`` until the command ends, the run is appended to
    ``started``, and the client it returns starts the run again in this process (the app's
    restart) as ``avo run`` with the same options would resume it."""

    def prepare(lines: Console) -> RunClient:
        prepared = prepare_run(args, lines)
        held.enter_context(prepared.pool)
        held.enter_context(prepared.session)
        engine, output_log = _start(prepared, args)
        logs = [output_log]
        held.callback(lambda: logs[-1].close())
        started.append(prepared)

        def restart() -> Restarted:
            line = again(prepared, args)
            logs[-1].close()  # the ended run's
            engine, output_log = _start(prepared, args)
            logs.append(output_log)
            return Restarted(line, engine=engine)

        return RunClient(prepared.session.directory, engine, restart=restart)

    return prepare


def headless_restart(sessions_dir: Path, name: str, options: list[str] | None = None
                     ) -> Restart:
    """How a view attached to session ``name`` starts its run again (and how an app's run is
    handed on): ``avo run --session NAME --headless [options]`` in a process of its own,
    detached from the app's terminal (its own process session: neither the app's leaving nor a
    hang-up ends it), its console output in a temporary file."""

    def restart() -> Restarted:
        handle, path = tempfile.mkstemp(prefix=f"avo-{name}-", suffix=".out")
        argv = [sys.executable, "-m", "avo_tui", "--sessions-dir", str(sessions_dir), "run",
                "--session", name, "--headless", *(options or [])]
        with os.fdopen(handle, "wb") as output:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        return Restarted(f"avo run --session {name} --headless, in process {process.pid}",
                         process=process, output=Path(path))

    return restart


def run_app(client: RunClient, read_only: bool = False) -> str:
    """Show the app until the user quits; the in-process engine (if any) has ended by then,
    unless the user left at once. Returns how the run ended."""
    from ..tui import make_app  # Textual loads only for the app

    return show_app(make_app(client, read_only))


def show_app(app: AvoApp) -> str:
    try:
        app.run()
    finally:
        if app.hung_up:
            _leave_terminal()
        if app.client is not None:
            app.client.close()
    client = app.client
    if client is None:
        return "left before the session was ready"
    if client.engine is None:
        return "detached"
    if app.handing_off:  # the run stops at its next safe point: an evaluation, an API turn
        client.wait_engine(timeout_s=HANDOFF_WAIT_S)
    if not client.wait_engine(timeout_s=0.5):
        return "left at once; the evaluation in flight is recorded as interrupted next time"
    return client.engine.stop_reason or "stopped"


# How long a hand-over waits for the run's next safe point: an evaluation or an API turn ends
# within minutes; a bound only so that nothing waits forever on a run that cannot stop.
HANDOFF_WAIT_S = 6 * 3600.0


def _leave_terminal() -> None:
    """The terminal is gone: standard input and output become /dev/null, so that nothing this
    process still does (its run's last safe point, the hand-over) writes into a dead terminal
    and fails, and a second hang-up is ignored."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def in_browser() -> bool:
    """The app is drawn in a web page (avo serve runs it through textual-serve, whose driver
    speaks to the page over standard input and output, which are then no terminal: Textual's
    WebDriver, or avo's own, tui/served.py)."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith("WebDriver")


def require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not in_browser():
        raise StoreError("the app needs a terminal; use avo run --headless for a log instead")


@contextmanager
def _two_stage_interrupt(engine: Engine, console: Console) -> Iterator[None]:
    """First Ctrl-C: stop at the next safe point. Second: KeyboardInterrupt, now."""
    previous = signal.getsignal(signal.SIGINT)
    pressed = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal pressed
        pressed += 1
        if pressed > 1:
            raise KeyboardInterrupt
        console.print("[yellow]stopping after the current evaluation (Ctrl-C again: at once)[/]")
        engine.submit(Stop("Ctrl-C"))

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

def best_line(session: Session, unit: str) -> str | None:
    """``best: v7 612 TFLOP/s (1.013x fa4)``: the best version's ratio to the strongest
    baseline the run measured, named as the lineage names it (views/ratios.py)."""
    best = session.best()
    if best is None or best.score is None:
        return None
    ratios = session_column(session)
    ratio = ratios.named(best.score)
    if ratio and not ratios.label:  # a session of no known target
        ratio += " baseline"
    return (f"best: {best.id} {figure(best.score.gmean or None, unit)}"
            + (f" ({ratio})" if ratio else ""))


class _EventPrinter:
    """One concise line per event worth a headless operator's attention."""

    def __init__(self, console: Console, unit: str) -> None:
        self.console = console
        self.unit = unit

    def __call__(self, event: Event) -> None:
        line = event_line(event, self.unit)
        if line:
            self.console.print(line)


def register(commands: Subcommands) -> None:
    p = add_command(
        commands, "run", cmd_run, "start or resume a session's run",
        "Start a run: create the session (scoring the seed) or resume an existing one, then "
        "let the operator propose versions until a budget runs out or you stop it.",
        EPILOG,
    )
    p.add_argument("--session", required=True, type=session_name, metavar="NAME",
                   help="session to create or resume")
    add_run_options(p)


def gpus_flag(text: str) -> str:
    """--gpus as argparse reads it: a bad value is one line of usage error."""
    try:
        return parse_gpus(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def operator_flag(text: str) -> str:
    """--operator as argparse reads it: ``tuner``, ``agent`` or a comma list of them."""
    try:
        return ",".join(operator_names(text))
    except OperatorUnavailable as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_args(session: str, **overrides: Any) -> argparse.Namespace:
    """The options of ``avo run --session SESSION`` with their defaults, as ``avo`` uses."""
    parser = argparse.ArgumentParser(add_help=False)
    add_run_options(parser)
    args = parser.parse_args([])
    args.session = session
    for name, value in overrides.items():
        setattr(args, name, value)
    return args


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="target of a new session (see avo eval --help)")
    p.add_argument("--operator", type=operator_flag, metavar="|".join(OPERATORS),
                   help="variation operator (default: agent when ANTHROPIC_API_KEY is set, "
                   "else tuner); on a resume, switch the session to it (kept for later runs). "
                   "Several, comma-separated, take the lanes in turn: --lanes 4 --operator "
                   "agent,tuner runs agent, tuner, agent, tuner")
    p.add_argument("--lanes", type=bounded_int(MOST_LANES), metavar="N",
                   help="run N operators on the session at once, each with its own workspace, "
                   "conversation and plan, all committing through the one gate (default: one "
                   "per operator named, else the session's, else 1); kept for later runs. At "
                   f"most {LANES_PER_WORKER} per evaluation worker (a GPU, or a CPU worker): "
                   "each lane waits for a free worker for every evaluation, so more would only "
                   f"queue; and never more than {MOST_LANES}, whatever the machine"),
    p.add_argument("--seed", type=Path, metavar="PATH",
                   help="seed kernel file or folder (default: the target's seed in kernels/)")
    p.add_argument("--from", dest="origin", type=session_ref, metavar="SESSION[:VERSION]",
                   help="seed a new session from another session's version (default: its "
                   "best), e.g. move an MHA kernel to --target gqa")
    p.add_argument("--headless", action="store_true",
                   help="no app: print one line per event (watch it later with avo attach)")
    p.add_argument("--max-steps", type=bounded_int(MOST_STEPS), metavar="N",
                   help="stop after N steps of this run (a resume does N more)")
    p.add_argument("--hours", type=bounded_float(MOST_HOURS), metavar="H",
                   help="stop once the session has run H hours, every run of it counted "
                   "(a year at most)")
    p.add_argument("--max-cost", type=bounded_float(MOST_COST_USD), metavar="USD",
                   help="pause once the agent has spent this much in the session")
    p.add_argument("--token-budget", type=bounded_int(MOST_TOKENS), metavar="N",
                   help="pause once the agent has used N tokens in the session")
    agent = p.add_argument_group(
        "agent", "override the settings file ([agent] in $AVO_SETTINGS or "
        "~/.config/avo-tui/settings.toml); keys and credentials come from the environment only")
    agent.add_argument("--model", help="Claude model (default: settings file, else "
                       f"{DEFAULT_MODEL}); Anthropic's name or the provider's own ID")
    agent.add_argument("--provider", choices=PROVIDERS,
                       help="where Claude is served (default: settings file, else anthropic); "
                       "bedrock and vertex need pip install 'avo-tui[bedrock]' or "
                       "'avo-tui[vertex]', a gateway its base_url (docs/agent.md)")
    agent.add_argument("--max-output-tokens", type=bounded_int(MOST_OUTPUT_TOKENS), metavar="N",
                       help="max_tokens of each response")
    agent.add_argument("--thinking", metavar="MODE",
                       help="'adaptive' (default), 'off', or a thinking budget in tokens")
    agent.add_argument("--effort", choices=[*EFFORT_LEVELS, "none"],
                       help="how much each response may spend, thinking included (default: "
                       f"settings file, else {DEFAULT_EFFORT}); 'none' sends none, for a model "
                       "without effort")
    agent.add_argument("--max-step-cost", type=bounded_float(MOST_COST_USD), metavar="USD",
                       help="end an agent step once it has spent this much (its attempts and "
                       "research record kept; default: settings file max_step_cost_usd, else "
                       "no limit)")
    agent.add_argument("--knowledge", type=Path, action="append", metavar="DIR",
                       help="a folder of your own markdown notes for the agent to consult "
                       "besides knowledge/ (repeat for several; kept with the session)")
    p.add_argument("--quick", action="store_true",
                   help="score on the target's quick grid (new sessions only)")
    p.add_argument("--noise-floor", type=bounded_float(MOST_PERCENT), default=0.5,
                   metavar="PCT",
                   help="where the best cannot be timed beside a candidate (it no longer "
                   "builds): the least gain over its stored score, in percent (default 0.5; "
                   "the measured noise is used when larger)")
    p.add_argument("--sustained", type=bounded_float(MOST_SUSTAINED_S), nargs="?",
                   const=SUSTAINED_S, metavar="S",
                   help="read each candidate the gate accepts back to back at the power limit "
                   f"too (S seconds a stretch, default {SUSTAINED_S:g}): the kernel and each "
                   "baseline alone, as users run them; the agent's brief and the app show it "
                   "beside the interleaved score, which decides (new sessions only)")
    p.add_argument("--gate-cap", type=bounded_float(MOST_SECONDS), metavar="SECONDS",
                   help="longest the commit gate measures one close decision (default: 60 on a "
                   "GPU target, 10 on the CPU); clear cases end in seconds (new sessions only)")
    p.add_argument("--gpus", type=gpus_flag, metavar="all|0,1,3",
                   help="evaluate on these GPUs, one warm worker each, each GPU leased to one "
                   "evaluation at a time: 'all', or numbers as CUDA counts them (default: one "
                   "GPU). Evaluations run side by side when several are asked for at once; "
                   "kept for later runs of the session")
    p.add_argument("--workers", type=bounded_int(MOST_WORKERS), metavar="N",
                   help="evaluation workers where no GPU is named: worker processes on the CPU "
                   "target (they share its cores, so timings slow each other: at most one per "
                   "core), or Ray actors with --ray (default: 1 on the CPU, one per GPU of a "
                   "Ray cluster); kept for later runs")
    p.add_argument("--ray", metavar="auto|ADDRESS",
                   help="evaluate in Ray actors, one whole GPU each (auto: the cluster this "
                   "machine joined with ray start); the session stays here. Needs "
                   "pip install 'avo-tui[ray]'")
    p.add_argument("--timeout", type=bounded_float(MOST_SECONDS), metavar="S",
                   help="kill an evaluation silent this long (default: the target's)")
    p.add_argument("--rng-seed", type=seed_number, metavar="N",
                   help="seed the tuner's random choices")
