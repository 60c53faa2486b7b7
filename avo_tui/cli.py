"""The ``avo`` command: its parser, whose subcommands live in commands/ (one module each),
and the dispatch that turns every error a user can cause into one line.

A command's module is imported only when the command line names it (or asks for the whole
help): the modules import the engine, the evaluator, the operators and Textual, which take
longer to import than ``avo sessions list`` takes to answer."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .commands import ArgumentParser, HelpFormatter, add_sessions_dir, open_app, sessions
from .settings_file import settings_moved
from .store import StoreError, resolve_sessions_dir

DESCRIPTION = """\
avo-tui: supervised agentic evolution of GPU kernels.

A session evolves one kernel for one target: a variation operator (a Claude agent, or the
classical tuner) proposes versions, an isolated evaluator scores them, and every version,
attempt and event is kept in the session's folder so a run can be paused, rolled back,
browsed and resumed after a crash.
"""

EPILOG = """\
avo with no command opens the app: on the session written last (attaching to it if another
process runs it), or on a new session (target mha where a CUDA GPU is present, else
cpu-attention; the agent operator where ANTHROPIC_API_KEY is set, else the tuner).

sessions live in --sessions-dir (given before the command or after it), else
$AVO_SESSIONS_DIR, else sessions/ of the checkout (or ~/.local/share/avo-tui/sessions when
installed elsewhere).

examples:
  avo
  avo run --target mha --session mha-1            the app, on a new session
  avo attach long-1                               watch and steer a headless run
  avo run --target cpu-attention --session cpu-1 --headless --max-steps 30
  avo sessions list
  avo sessions show my-run
  avo export my-run --version best --out ./best-kernel
  avo rescore my-run v7                           a score found impossible
  avo report my-run                               one HTML page, offline
  avo serve my-run                                the app in a browser
  avo kb search "give the consumer warpgroups more registers"
  avo targets check ./my_target.py               a target of your own
"""



def user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can cause, each told in one line. Their packages are imported once
    an error is to be told: an error of theirs was raised from inside them, so they are
    loaded by then, and a command that raised none need not load them."""
    from .evaluation import (
        CandidateError,
        ContractError,
        TargetFileError,
        ToolchainUnavailable,
        UnknownTarget,
        WorkerError,
    )
    from .knowledge import KnowledgeError
    from .operators import OperatorUnavailable
    from .settings_file import SettingsFileError

    return (StoreError, OperatorUnavailable, CandidateError, ContractError, TargetFileError,
            UnknownTarget, ToolchainUnavailable, WorkerError, KnowledgeError, SettingsFileError)


# Each command's word, and its module in commands/ (which registers it), in the help's order.
COMMANDS = {"sessions": "sessions", "export": "export", "run": "run", "attach": "app",
            "send": "send", "rescore": "rescore", "eval": "evaluate", "kb": "kb",
            "targets": "targets", "report": "report", "serve": "serve"}

# -- parser -----------------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print avo-tui's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from . import __version__

        print(f"avo-tui {__version__}")
        parser.exit()


def _named_command(argv: Sequence[str]) -> list[str] | None:
    """The words of the command ``argv`` names (``["sessions", "list", ...]``), where its
    parser alone reads it; None where the whole parser is needed: no known command, or an
    option before it other than --sessions-dir (the top level's help, its version, an
    abbreviation)."""
    args = list(argv)
    while args and args[0].startswith("--sessions-dir"):
        del args[:1 if "=" in args[0] else 2]
    if not args or args[0] not in COMMANDS:
        return None
    return [arg for arg in args if not arg.startswith("-")]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or, given the command line, of the command it names."""
    parser: argparse.ArgumentParser = ArgumentParser(
        prog="avo",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    add_sessions_dir(parser, None)
    parser.set_defaults(func=open_app)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    words = None if argv is None else _named_command(argv)
    if words is not None and words[0] == "sessions" and words[1:2] in ([], ["list"]) \
            and not {"-h", "--help"} & set(argv or ()):
        sessions.register(commands, listing_only=True)
        return parser
    for word, module in COMMANDS.items():
        if words is None or words[0] == word:
            importlib.import_module(f".commands.{module}", __package__).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Before a command imports torch: its OpenMP threads in this process (an import's checks,
    # a reference computed here) sleep once their work is done, as the worker's do. Spinning,
    # they took 3.5x as long on a busy 2-core machine and held cores the evaluator's timing
    # and the user's other work need (docs/testing.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        # inside the try: a session name is checked as the arguments are read
        argv = sys.argv[1:] if argv is None else argv
        args = build_parser(argv).parse_args(argv)
        args.sessions_dir = resolve_sessions_dir(args.sessions_dir)
        if moved := settings_moved():
            print(moved, file=sys.stderr)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except OSError as exc:
        print(f"avo: error: {os_error_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avo: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        print(f"avo: error: {exc}", file=sys.stderr)
        return 1


def os_error_text(exc: OSError) -> str:
    """``/x/y: permission denied`` rather than ``[Errno 13] Permission denied: '/x/y'``."""
    if exc.strerror is None:
        return str(exc)
    reason = exc.strerror[:1].lower() + exc.strerror[1:]
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason

if __name__ == "__main__":
    sys.exit(main())
