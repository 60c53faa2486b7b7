"""cli.py only wires: every handler its parser dispatches to, ``avo`` alone included, lives in a
module of avo_tui.commands, so a subcommand has one home."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from avo_tui.cli import build_parser


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every parser of its commands, theirs too."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_parser(sub)


def test_every_handler_lives_in_commands() -> None:
    handlers = {parser.prog: parser.get_default("func") for parser in every_parser(build_parser())}
    assert {"avo", "avo sessions show", "avo export", "avo run"} <= set(handlers)
    elsewhere = [f"{prog}: {func.__module__}.{func.__qualname__}"
                 for prog, func in handlers.items()
                 if not f"{func.__module__}.".startswith("avo_tui.commands.")]
    assert not elsewhere, "handlers outside avo_tui/commands/: " + "; ".join(elsewhere)
