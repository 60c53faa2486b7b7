"""The five attention targets are the same targets they were as entries of the evaluator, field
for field (issue 41, item 3): every fact of each TargetSpec, from its configurations' names
and work to the rules the agent reads, equals the one stored from the code before
(tests/fixtures/attention_target_specs.json, target_spec_facts.py)."""

from __future__ import annotations

import json

import pytest
from target_spec_facts import ATTENTION_TARGETS, FIXTURE, as_json, facts

from avo_tui.evaluation import get_target


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_each_attention_target_is_what_it_was(name: str) -> None:
    stored = json.loads(FIXTURE.read_text())[name]
    now = json.loads(as_json({name: facts(get_target(name))}))[name]
    assert now == stored
