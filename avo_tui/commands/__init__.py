"""Subcommands of ``avo`` that have grown past a few lines live here, one module each."""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeAlias

from ..store.names import check_session_name

Handler = Callable[[argparse.Namespace], int]
# argparse exposes no public name for it, and the class is not subscriptable at run time.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Prose in descriptions and epilogs is wrapped to the terminal (at 80 columns over SSH a
    raw paragraph runs off the screen); indented lines, the examples, stay as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        prose: list[str] = []

        def flush() -> None:
            if prose:
                out.extend(textwrap.wrap(" ".join(prose), width, initial_indent=indent,
                                         subsequent_indent=indent))
                prose.clear()

        for line in text.splitlines():
            if line.strip() and not line[0].isspace():
                prose.append(line.strip())
                continue
            flush()
            out.append(indent + line if line.strip() else "")
        flush()
        return "\n".join(out)


class ArgumentParser(argparse.ArgumentParser):
    """A usage error is one line, ``avo: error: ...``, as every other error of avo (argparse
    would print the whole usage first); ``--help`` has the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"avo: error: {message} (see {self.prog} --help)\n")


def open_app(args: argparse.Namespace) -> int:
    """``avo`` with no command: the app (app.py), imported only then: it brings Textual."""
    from .app import cmd_default

    return cmd_default(args)


def add_sessions_dir(parser: argparse.ArgumentParser, default: object) -> None:
    """``--sessions-dir``, the option of ``avo`` itself that every command takes too, before
    it or after it. A command's parser is given ``default=argparse.SUPPRESS``: its own default
    would otherwise overwrite a value given before the command (argparse copies every
    attribute of a subcommand's namespace over the top level's)."""
    parser.add_argument(
        "--sessions-dir",
        type=Path,
        default=default,
        metavar="DIR",
        help="folder holding the session folders, before or after the command (default: "
        "$AVO_SESSIONS_DIR, else sessions/ of the checkout, else "
        "~/.local/share/avo-tui/sessions)",
    )


def add_command(
    group: Subcommands, name: str, func: Handler, summary: str, description: str, epilog: str = ""
) -> argparse.ArgumentParser:
    parser = group.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog or None,
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(func=func)
    add_sessions_dir(parser, argparse.SUPPRESS)
    return parser


def checked_number(text: str, kind: type[int] | type[float] = float, *,
                   zero: bool = False, most: float | None = None) -> float:
    """The one rule for every number an operator types, as an option or in ``avo send``: a
    finite number of ``kind``, not negative, not zero unless ``zero`` (where it means
    something), and not above ``most`` (every count has a ceiling: a typo of a few zeros is
    refused before anything is written). ValueError says what is wrong, in words for the
    operator."""
    try:
        value = kind(text)
    except (TypeError, ValueError, OverflowError):
        article = "an integer" if kind is int else "a number"
        raise ValueError(f"must be {article}, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text!r}")
    if value < 0 or (value == 0 and not zero):
        bound = "0 or more" if zero else "a positive number"
        raise ValueError(f"must be {bound}, got {text!r}")
    if most is not None and value > most:
        shown = f"{int(most):,}" if float(most).is_integer() else f"{most:,g}"
        raise ValueError(f"must be at most {shown}, got {text!r}")
    return value


class NumberOption:
    """An argparse type for a numeric option, by checked_number's rule; every numeric option
    of every command uses one, each with its ceiling (a test walks the parser to hold them
    all to it)."""

    def __init__(self, kind: type[int] | type[float], most: float, zero: bool = False) -> None:
        self.kind, self.zero, self.most = kind, zero, most
        self.__name__ = kind.__name__  # argparse names the type in some of its messages

    def __call__(self, text: str) -> float:
        try:
            return checked_number(text, self.kind, zero=self.zero, most=self.most)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None


# The ceilings (docs/app.md, "Bounds"): each far above any sensible value, so that only a typo
# meets one. Lanes are bounded again against the machine when a run starts (engine/lanes.py).
MOST_STEPS = 10_000_000  # years of steps at a step a second
MOST_HOURS = 24 * 366.0  # a year
MOST_COST_USD = 1_000_000.0
MOST_TOKENS = 10**12
MOST_OUTPUT_TOKENS = 1_000_000  # max_tokens of one response; the model's own limit is lower
MOST_SECONDS = 24 * 3600.0  # a timeout or a gate cap: a day
MOST_PERCENT = 100.0
MOST_SEED = 2**32 - 1  # a seed the random generators of Python, numpy and torch all take
MOST_SHOWN = 1_000_000  # rows or sections a listing shows
MOST_WORKERS = 1024  # Ray actors; CPU workers are bounded by the cores too (pool/)

positive_int, positive_float = NumberOption(int, MOST_STEPS), NumberOption(float, MOST_HOURS)


def bounded_int(most: float) -> NumberOption:
    return NumberOption(int, most)


def bounded_float(most: float) -> NumberOption:
    return NumberOption(float, most)


seed_number = NumberOption(int, MOST_SEED, zero=True)  # 0 or more: a random seed
# An evaluation's own seed, as its result prints it: 62 bits (measurement/stage.py), which
# the evaluator's generators take through Python's random and its (seed, stream) mix.
input_seed = NumberOption(int, 2**63 - 1, zero=True)
count = seed_number


def session_name(text: str) -> str:
    """An argparse type for every argument naming a session: the store's one rule. It raises
    the store's error (argparse lets it through), so ``avo`` reports it as one line, as it
    does when a session is opened by name."""
    return check_session_name(text)


def session_ref(text: str) -> str:
    """``SESSION[:VERSION]``, its session name checked as :func:`session_name` does."""
    check_session_name(text.partition(":")[0])
    return text
