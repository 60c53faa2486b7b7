"""Subcommands of ``avo`` that have grown past a few lines live here, one module each."""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Callable
from typing import NoReturn, TypeAlias

from ..store.session import check_session_name

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
    return parser


def checked_number(text: str, kind: type[int] | type[float] = float, *,
                   zero: bool = False) -> float:
    """The one rule for every number an operator types, as an option or in ``avo send``: a
    finite number of ``kind``, not negative, and not zero unless ``zero`` (where it means
    something). ValueError says what is wrong, in words for the operator."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        article = "an integer" if kind is int else "a number"
        raise ValueError(f"must be {article}, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text!r}")
    if value < 0 or (value == 0 and not zero):
        bound = "0 or more" if zero else "a positive number"
        raise ValueError(f"must be {bound}, got {text!r}")
    return value


class NumberOption:
    """An argparse type for a numeric option, by checked_number's rule; every numeric option
    of every command uses one (a test walks the parser to hold them all to it)."""

    def __init__(self, kind: type[int] | type[float], zero: bool = False) -> None:
        self.kind, self.zero = kind, zero
        self.__name__ = kind.__name__  # argparse names the type in some of its messages

    def __call__(self, text: str) -> float:
        try:
            return checked_number(text, self.kind, zero=self.zero)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None


positive_int, positive_float = NumberOption(int), NumberOption(float)
count = NumberOption(int, zero=True)  # 0 or more: input seeds, counts that may be none


def session_name(text: str) -> str:
    """An argparse type for every argument naming a session: the store's one rule. It raises
    the store's error (argparse lets it through), so ``avo`` reports it as one line, as it
    does when a session is opened by name."""
    return check_session_name(text)


def session_ref(text: str) -> str:
    """``SESSION[:VERSION]``, its session name checked as :func:`session_name` does."""
    check_session_name(text.partition(":")[0])
    return text
