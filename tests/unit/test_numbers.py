"""Every number an operator types is held to one rule (commands.checked_number): finite, not
negative, and not zero where zero makes no sense, refused with one `avo: error:` line. The
options are read off the parser itself, so a new numeric option is covered as it is added."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from avo_tui.cli import build_parser, main
from avo_tui.commands import NumberOption, checked_number


def numeric_options() -> Iterator[tuple[list[str], str, NumberOption]]:
    """(the subcommand path, the option, its type) for every option that takes a number."""

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[
            tuple[list[str], str, NumberOption]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*path, name])
            elif action.type in (int, float):
                raise AssertionError(f"{' '.join(path)} {action.option_strings}: a bare "
                                     f"{action.type.__name__}, outside the rule")
            elif isinstance(action.type, NumberOption):
                yield path, action.option_strings[0], action.type

    yield from walk(build_parser(), [])


OPTIONS = list(numeric_options())


def test_the_parser_has_the_options_this_test_is_for() -> None:
    names = {f"{' '.join(path)} {option}" for path, option, _ in OPTIONS}
    assert {"run --hours", "run --max-cost", "run --noise-floor", "run --timeout",
            "eval --timeout", "eval --seed", "run --rng-seed"} <= names


@pytest.mark.parametrize(("path", "option", "kind"), OPTIONS,
                         ids=[f"{' '.join(p)}{o}" for p, o, _ in OPTIONS])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "-1", "1e400", "x"])
def test_every_numeric_option_refuses_what_is_no_number_for_it(
    path: list[str], option: str, kind: NumberOption, bad: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*path, f"{option}={bad}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"avo: error: argument {option}: must be ") and err.count("\n") == 1, err


@pytest.mark.parametrize(("path", "option", "kind"), OPTIONS,
                         ids=[f"{' '.join(p)}{o}" for p, o, _ in OPTIONS])
def test_zero_is_refused_where_it_makes_no_sense(
    path: list[str], option: str, kind: NumberOption, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind.zero:
        assert kind("0") == 0
        return
    with pytest.raises(SystemExit):
        main([*path, f"{option}=0"])
    assert "must be a positive number, got '0'" in capsys.readouterr().err


def test_the_rule() -> None:
    assert checked_number("2.5") == 2.5 and checked_number("3", int) == 3
    assert checked_number("0", zero=True) == 0
    for text, message in [("nan", "finite"), ("Infinity", "finite"), ("-0.5", "positive"),
                          ("0", "positive"), ("2.5", "an integer"), ("", "a number")]:
        kind = int if text == "2.5" else float
        with pytest.raises(ValueError, match=message):
            checked_number(text, kind)
