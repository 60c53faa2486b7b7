"""session.json and every other file of a session are strict JSON: no NaN or Infinity, which
Python writes by default and strict readers refuse; a file an older avo wrote with them is
repaired when the session is next opened for writing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from avo_tui.store import Session
from avo_tui.store.strict_json import dumps


def strict(raw: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


def create(tmp_path: Path, settings: dict[str, object]) -> Path:
    with Session.create(tmp_path / "s", target="cpu-attention", operator="tuner",
                        seed_files={"k.c": "int x;\n"}, settings=settings) as session:
        session._storage.compact()  # everything into session.json
    return tmp_path / "s"


def test_a_non_finite_number_is_written_as_null(tmp_path: Path) -> None:
    directory = create(tmp_path, {"budgets": {"hours": math.nan, "max_cost_usd": math.inf}})
    doc = strict((directory / "session.json").read_text())
    assert doc is not None
    with Session.open(directory, writable=False) as session:
        assert session.meta["settings"]["budgets"] == {"hours": None, "max_cost_usd": None}
    assert dumps({"a": [1.5, -math.inf]}) == '{"a": [1.5, null]}'


def test_a_file_an_older_avo_wrote_with_nan_is_repaired_on_opening(tmp_path: Path) -> None:
    directory = create(tmp_path, {"budgets": {"hours": 1.25, "max_cost_usd": 3.5}})
    base = directory / "session.json"
    text = base.read_text()
    assert '"hours":1.25' in text and '"max_cost_usd":3.5' in text
    base.write_text(text.replace('"hours":1.25', '"hours":NaN')
                    .replace('"max_cost_usd":3.5', '"max_cost_usd":Infinity'))
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict(base.read_text())
    with Session.open(directory) as session:
        budgets = session.meta["settings"]["budgets"]
        assert budgets == {"hours": None, "max_cost_usd": None}
    strict(base.read_text())  # repaired in place
    with Session.open(directory, writable=False) as session:
        assert session.meta["settings"]["budgets"]["hours"] is None
