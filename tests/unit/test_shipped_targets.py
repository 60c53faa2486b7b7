"""Shipped target files (the registry, evaluation/targets/spec.py): every ``*.py`` of ``targets/``
is a built-in target found by its name, its file the name with ``_`` for ``-``, and it must declare
that name. Requests, sessions and the worker's pipe name it by its name, never by the path of one
machine's install. Here the registry is pointed at a folder of its own holding the docs' example
(docs/targets.md) renamed, its seed in a kernels folder beside, as a wheel lays them out, and the
attention targets' files (which are listed first)."""

from __future__ import annotations

import hashlib
import pickle
import shutil
from pathlib import Path

import pytest
from target_example import Edits, example

from avo_tui.cli import main
from avo_tui.engine.launch import session_target, shipped_target_changed, target_file_meta
from avo_tui.evaluation import UnknownTarget, get_target
from avo_tui.evaluation.targets import spec as registry
from avo_tui.evaluation.targets.spec import LISTED_FIRST, TargetFileUnusable, known_names
from avo_tui.store import Session

REPO = Path(__file__).resolve().parents[2]
NAME = "my-resadd"
RENAMED: Edits = [('name="scaled-residual"', f'name="{NAME}"'),
                  ('seed="scaled_residual.c"', 'seed="../kernels/cpu/scaled_residual.c"')]


def edited(edits: Edits) -> str:
    text = example()[0]
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder laid out as an install's (targets/, kernels/cpu/), the registry's."""
    data = tmp_path / "_data"
    (data / "kernels" / "cpu").mkdir(parents=True)
    (data / "kernels" / "cpu" / "scaled_residual.c").write_text(example()[1])
    (data / "targets").mkdir()
    (data / "targets" / "my_resadd.py").write_text(edited(RENAMED))
    for name in LISTED_FIRST:
        file = f"{name.replace('-', '_')}.py"
        shutil.copy(REPO / "targets" / file, data / "targets" / file)
    monkeypatch.setattr(registry, "shipped_folder", lambda: data / "targets")
    return data


def test_a_shipped_file_is_found_and_named_by_its_name(shipped: Path) -> None:
    spec = get_target(NAME)
    path = shipped / "targets" / "my_resadd.py"
    assert spec.name == spec.ref == NAME
    assert spec.source is not None and spec.source.shipped
    assert spec.source.path == str(path.resolve())
    assert spec.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # the seed beside it, resolved past the "..": where an installed package has its kernels
    assert spec.seed is not None
    assert spec.seed.kernel == str((shipped / "kernels" / "cpu" / "scaled_residual.c").resolve())
    # A configuration crosses a pipe by the name: another machine finds its own install's file.
    config = spec.configs[0]
    pickled = pickle.dumps(config)
    assert NAME.encode() in pickled and str(shipped).encode() not in pickled
    assert pickle.loads(pickled) == config
    assert known_names() == [*LISTED_FIRST, NAME]


def test_a_file_must_declare_the_name_it_is_found_by(shipped: Path) -> None:
    (shipped / "targets" / "other_norm.py").write_text(edited(RENAMED))
    path = (shipped / "targets" / "other_norm.py").resolve()
    with pytest.raises(TargetFileUnusable) as raised:
        get_target("other-norm")
    assert str(raised.value) == (
        f"target file {path}: declares the target 'my-resadd', not 'other-norm', the name it is "
        "found by (a shipped target's file is its name with _ for -)")


def test_an_unknown_name_lists_and_suggests_the_shipped_targets(shipped: Path) -> None:
    with pytest.raises(UnknownTarget) as raised:
        get_target("my-resad")
    message = str(raised.value)
    assert f"known: {', '.join(LISTED_FIRST)}, {NAME}, or the path" in message
    assert message.endswith(f"did you mean {NAME}?")
    # the file name itself is not a name: "_" never appears in one
    with pytest.raises(UnknownTarget):
        get_target("my_resadd")


def test_targets_list_has_the_attention_files_first(
    shipped: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["targets", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [*LISTED_FIRST, NAME]
    assert lines[-1].split()[1:3] == ["cpu", "GFLOP/s"]
    assert lines[-1].endswith("out = x + alpha * r, float32, rows x cols, on the CPU")


def test_a_session_keeps_the_name_and_resumes_on_a_changed_file_with_a_note(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    sessions = tmp_path / "sessions"
    seed = shipped / "kernels" / "cpu" / "scaled_residual.c"
    assert main(["--sessions-dir", str(sessions), "sessions", "new", "kept", "--target", NAME,
                 "--seed", str(seed)]) == 0
    capsys.readouterr()
    with Session.open(sessions / "kept", writable=False) as session:
        meta = dict(session.meta)
    then = get_target(NAME)
    assert meta["target"] == NAME
    assert meta["target_file"] == target_file_meta(then) == {
        "shipped": NAME, "sha256": then.source.sha256 if then.source else ""}
    assert shipped_target_changed("kept", meta, session_target("kept", meta)) is None

    # An upgrade of avo-tui changes the shipped file: the session resumes, and says so.
    path = shipped / "targets" / "my_resadd.py"
    path.write_text(edited([*RENAMED, ('Float("alpha", 0.5)', 'Float("alpha", 0.25)')]))
    now = session_target("kept", meta)
    assert now.ref == NAME and now.source != then.source
    assert shipped_target_changed("kept", meta, now) == (
        f"the shipped target {NAME} changed since session 'kept' began (sha256 "
        f"{meta['target_file']['sha256'][:12]} then, "
        f"{hashlib.sha256(path.read_bytes()).hexdigest()[:12]} now: avo-tui was upgraded); "
        "scores from before may not compare with new ones")
