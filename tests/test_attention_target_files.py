"""The five attention targets are the same targets they were as entries of the evaluator, field
for field (issue 41, item 3): every fact of each TargetSpec, from its configurations' names
and work to the rules the agent reads, equals the one stored from the code before
(tests/fixtures/attention_target_specs.json, target_spec_facts.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from target_spec_facts import ATTENTION_TARGETS, FIXTURE, as_json, facts

from avo_tui.evaluation import get_target, known_names, targets


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_each_attention_target_is_what_it_was(name: str) -> None:
    stored = json.loads(FIXTURE.read_text())[name]
    now = json.loads(as_json({name: facts(get_target(name))}))[name]
    assert now == stored


@pytest.mark.parametrize("name", ATTENTION_TARGETS)
def test_each_is_a_shipped_file_found_by_its_name(name: str) -> None:
    spec = get_target(name)
    assert spec.source is not None and spec.source.shipped and spec.ref == name
    path = Path(spec.source.path)
    assert path.name == f"{name.replace('-', '_')}.py" and path.parent.name == "targets"


def test_the_evaluator_holds_no_attention_target_of_its_own() -> None:
    assert not hasattr(targets, "TARGETS") and not targets.IN_PROCESS
    assert "problems.attention" not in Path(targets.__file__).read_text()
    assert known_names()[:len(ATTENTION_TARGETS)] == list(ATTENTION_TARGETS)
