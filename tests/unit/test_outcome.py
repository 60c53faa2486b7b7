"""Attempt outcomes are one enum: what the engine writes, the store keeps and the views read."""

from __future__ import annotations

import json

from avo_tui.store import NOT_FAILURES, Outcome


def test_an_outcome_is_stored_as_its_plain_name() -> None:
    assert json.dumps({"outcome": Outcome.WITHIN_NOISE}) == '{"outcome": "within_noise"}'
    assert Outcome("committed") is Outcome.COMMITTED


def test_of_the_decisions_unchanged_and_a_rejection_count_against_a_step() -> None:
    assert set(Outcome) - NOT_FAILURES == {Outcome.UNCHANGED,
                                           Outcome.REJECTED_UNDECIDED_TWICE}
    assert "compile" not in NOT_FAILURES  # a failure's kind is its outcome
