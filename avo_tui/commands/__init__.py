"""Subcommands of ``avo`` that have grown past a few lines live here, one module each."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
Subcommands = argparse._SubParsersAction  # argparse exposes no public name for it


def add_command(
    group: Subcommands, name: str, func: Handler, summary: str, description: str, epilog: str = ""
) -> argparse.ArgumentParser:
    parser = group.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser
