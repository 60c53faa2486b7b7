"""Subcommands of ``avo`` that have grown past a few lines live here, one module each."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import TypeAlias

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


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names it in "invalid int value: '2.5'"
    return parse


positive_int, positive_float = _positive(int), _positive(float)


def session_name(text: str) -> str:
    """An argparse type for every argument naming a session: the store's one rule. It raises
    the store's error (argparse lets it through), so ``avo`` reports it as one line, as it
    does when a session is opened by name."""
    return check_session_name(text)


def session_ref(text: str) -> str:
    """``SESSION[:VERSION]``, its session name checked as :func:`session_name` does."""
    check_session_name(text.partition(":")[0])
    return text
