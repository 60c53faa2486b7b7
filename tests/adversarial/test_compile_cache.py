"""Attacks on the compile cache, as written by someone who read toolchains/base.py.

The cache is a folder of entries ``<root>/<key[:2]>/<key>/`` holding the artifact (``kernel.so``)
and ``result.json``. Anything that can write there (a candidate's code, another process) could
plant a binary in the entry of a clean source, and a later evaluation of that source would load
it. Each test here plants something and checks that it is never served or loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

from avo_tui.evaluation.toolchains import (
    ArtifactTampered,
    CompileCache,
    CompileResult,
    CToolchain,
    read_artifact,
)

KERNELS = Path(__file__).parent / "kernels"


def sources(name: str) -> dict[str, str]:
    return {
        name: (KERNELS / name).read_text(),
        "naive.h": (KERNELS / "naive.h").read_text(),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def toolchain(root: Path) -> CToolchain:
    return CToolchain(CompileCache(root))


def compile_ok(toolchain: CToolchain, name: str) -> CompileResult:
    result = toolchain.compile(sources(name))
    assert result.ok and result.artifact is not None, result.log
    return result


def planted_library(toolchain: CToolchain) -> bytes:
    """A real shared library exporting the same entry point, built from a cheating source."""
    evil = compile_ok(toolchain, "nan_output.c")
    assert evil.artifact is not None
    return evil.artifact.read_bytes()


def assert_rebuilt_honestly(toolchain: CToolchain, honest: CompileResult, planted: bytes) -> None:
    again = toolchain.compile(sources("honest.c"))
    assert again.ok and not again.cached, "the tampered entry was served from the cache"
    loaded = read_artifact(again)
    assert loaded != planted
    assert again.artifact_sha256 == sha256(loaded) == honest.artifact_sha256


def test_a_fresh_build_records_the_sha256_of_its_artifact(toolchain: CToolchain) -> None:
    fresh = compile_ok(toolchain, "honest.c")
    assert fresh.artifact is not None and not fresh.cached
    assert fresh.artifact_sha256 == sha256(fresh.artifact.read_bytes())
    assert fresh.as_dict()["artifact_sha256"] == fresh.artifact_sha256
    hit = toolchain.compile(sources("honest.c"))
    assert hit.cached and hit.artifact_sha256 == fresh.artifact_sha256
    assert read_artifact(hit) == read_artifact(fresh)
    failed = toolchain.compile({"broken.c": "int f(void) { return x; }\n"})
    assert not failed.ok and failed.artifact_sha256 is None


def test_a_planted_library_is_not_served_from_the_cache(toolchain: CToolchain) -> None:
    honest = compile_ok(toolchain, "honest.c")
    planted = planted_library(toolchain)
    assert honest.artifact is not None
    honest.artifact.write_bytes(planted)  # the attack: overwrite the clean entry's library
    assert_rebuilt_honestly(toolchain, honest, planted)


def test_a_record_rewritten_to_match_the_planted_library_is_not_trusted(
    toolchain: CToolchain,
) -> None:
    honest = compile_ok(toolchain, "honest.c")
    planted = planted_library(toolchain)
    assert honest.artifact is not None
    entry = honest.artifact.parent
    honest.artifact.write_bytes(planted)
    record = json.loads((entry / "result.json").read_text())
    record["artifact_sha256"] = sha256(planted)  # consistent with the planted bytes...
    record["ok"] = True
    # ...and a MAC under every key the attacker can guess (the real one is not readable here).
    for guess in (b"", b"\x00" * 32, os.urandom(32)):
        record["mac"] = hmac.new(guess, json.dumps(record).encode(), "sha256").hexdigest()
        (entry / "result.json").write_text(json.dumps(record))
        honest.artifact.write_bytes(planted)
        assert_rebuilt_honestly(toolchain, honest, planted)
    # The record without any MAC (as an older version wrote them) is a miss too.
    del record["mac"]
    (entry / "result.json").write_text(json.dumps(record))
    honest.artifact.write_bytes(planted)
    assert_rebuilt_honestly(toolchain, honest, planted)


def test_another_sources_valid_entry_moved_into_a_clean_entry_is_not_served(
    toolchain: CToolchain,
) -> None:
    """A complete, genuinely MAC'd entry of the cheating source, copied over the honest one's
    folder: the MAC binds each record to its own key."""
    honest = compile_ok(toolchain, "honest.c")
    evil = compile_ok(toolchain, "nan_output.c")
    assert honest.artifact is not None and evil.artifact is not None
    planted = evil.artifact.read_bytes()
    for name in ("kernel.so", "result.json"):
        shutil.copyfile(evil.artifact.parent / name, honest.artifact.parent / name)
    assert_rebuilt_honestly(toolchain, honest, planted)


def test_an_artifact_swapped_after_the_check_is_refused_at_load(toolchain: CToolchain) -> None:
    fresh = compile_ok(toolchain, "honest.c")
    planted = planted_library(toolchain)
    hit = toolchain.compile(sources("honest.c"))
    assert hit.cached and hit.artifact is not None
    # lookup verified the bytes and returned; the attacker swaps them before the worker loads.
    hit.artifact.write_bytes(planted)
    with pytest.raises(ArtifactTampered, match="changed after it was built or verified"):
        read_artifact(hit)
    with pytest.raises(ArtifactTampered):
        read_artifact(fresh)  # the fresh result points at the same cached file
    hit.artifact.unlink()
    with pytest.raises(ArtifactTampered, match="cannot be read"):
        read_artifact(hit)


def test_a_result_without_a_recorded_hash_is_never_loaded(tmp_path: Path) -> None:
    library = tmp_path / "kernel.so"
    library.write_bytes(b"\x7fELF anything")
    with pytest.raises(ArtifactTampered, match="no recorded sha256"):
        read_artifact(CompileResult(True, library, ""))


@pytest.mark.parametrize("damage", ["garbage", "short", "directory", "symlink", "shared"])
def test_an_unusable_key_means_no_cache_hits_and_no_crash(root: Path, damage: str) -> None:
    root.mkdir(parents=True)
    key = root / ".key"
    if damage == "garbage":
        key.write_bytes(os.urandom(100))
    elif damage == "short":
        key.write_bytes(b"abc")
    elif damage == "directory":
        key.mkdir()
    elif damage == "symlink":  # a key the attacker chose, linked in
        chosen = root.parent / "chosen"
        chosen.write_bytes(b"k" * 32)
        chosen.chmod(0o600)
        key.symlink_to(chosen)
    else:  # a key others can read is no secret
        key.write_bytes(b"k" * 32)
        key.chmod(0o644)
    if damage in ("garbage", "short"):
        key.chmod(0o600)
    toolchain = CToolchain(CompileCache(root))
    first = compile_ok(toolchain, "honest.c")
    second = compile_ok(toolchain, "honest.c")
    assert not first.cached and not second.cached
    assert read_artifact(second) == read_artifact(first)


@pytest.mark.parametrize(
    "record",
    [
        b"\x00\xff garbage",
        b"[1, 2, 3]",
        b'{"format": 2}',
        b'{"format": 2, "key": "%(key)s", "mac": 5, "artifact": "../../x"}',
        b'{"format": 2, "key": "%(key)s", "mac": "00", "artifact": null, "artifact_sha256": null}',
    ],
)
def test_a_garbage_record_is_a_miss_and_is_rebuilt(toolchain: CToolchain, record: bytes) -> None:
    honest = compile_ok(toolchain, "honest.c")
    assert honest.artifact is not None
    entry = honest.artifact.parent
    (entry / "result.json").write_bytes(record.replace(b"%(key)s", entry.name.encode()))
    assert toolchain.cache.lookup(entry.name) is None
    assert not entry.exists(), "the bad entry is removed"
    again = compile_ok(toolchain, "honest.c")
    assert not again.cached and read_artifact(again) == read_artifact(honest)
    assert toolchain.compile(sources("honest.c")).cached  # the rebuilt entry serves again


def test_a_record_of_the_previous_format_is_a_miss(toolchain: CToolchain) -> None:
    honest = compile_ok(toolchain, "honest.c")
    assert honest.artifact is not None
    old = honest.as_dict() | {"artifact": "kernel.so"}  # what the cache wrote before
    del old["artifact_sha256"]
    (honest.artifact.parent / "result.json").write_text(json.dumps(old))
    assert not toolchain.compile(sources("honest.c")).cached


def test_a_key_replaced_while_running_is_not_adopted(toolchain: CToolchain, root: Path) -> None:
    honest = compile_ok(toolchain, "honest.c")
    planted = planted_library(toolchain)
    assert honest.artifact is not None
    # The attacker swaps in a key of their own and MACs a forged record with it, exactly as
    # base.py does. The running cache keeps the key it read first.
    import avo_tui.evaluation.toolchains.base as base

    (root / ".key").unlink()
    chosen = b"a" * base.KEY_BYTES
    (root / ".key").write_bytes(chosen)
    (root / ".key").chmod(0o600)
    entry = honest.artifact.parent
    record = json.loads((entry / "result.json").read_text())
    record["artifact_sha256"] = sha256(planted)
    record["mac"] = base._entry_mac(chosen, entry.name, sha256(planted), record)
    (entry / "result.json").write_text(json.dumps(record))
    honest.artifact.write_bytes(planted)
    assert_rebuilt_honestly(toolchain, honest, planted)


def _make_key(root: str, ready: object) -> bytes | None:
    ready.wait()  # type: ignore[attr-defined]
    return CompileCache(Path(root)).secret()


def test_workers_racing_to_make_the_key_agree_on_one(root: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = 6
    with context.Manager() as manager:
        ready = manager.Barrier(workers)
        with context.Pool(workers) as pool:
            keys = pool.starmap(_make_key, [(str(root), ready)] * workers)
    assert keys[0] is not None and len(set(keys)) == 1
    key = root / ".key"
    assert key.read_bytes() == keys[0] and key.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in root.iterdir()] == [".key"], "no temporary key files left behind"


def test_workers_storing_the_same_key_share_one_verified_entry(
    toolchain: CToolchain, tmp_path: Path
) -> None:
    """Two workers build the same sources at once: the second store finds the first's entry."""
    first = compile_ok(toolchain, "honest.c")
    assert first.artifact is not None
    key = first.artifact.parent.name
    late = CompileCache(toolchain.cache.root)
    copy = tmp_path / "kernel.so"
    shutil.copyfile(first.artifact, copy)
    stored = late.store(key, CompileResult(True, copy, "log"))
    assert stored.artifact == first.artifact
    assert stored.artifact_sha256 == first.artifact_sha256
    assert read_artifact(stored) == read_artifact(first)
    leftovers = [p.name for p in first.artifact.parent.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "the losing worker's staging folder is removed"


def test_a_worker_never_runs_a_library_planted_in_a_clean_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the worker evaluates the honest kernel, the attacker overwrites its cached
    library with the cheating one, the worker evaluates the honest source again."""
    from avo_tui.evaluation import EvalRequest, Worker

    monkeypatch.setenv("AVO_CACHE_DIR", str(tmp_path / "worker-cache"))
    request = EvalRequest("cpu-attention", sources("honest.c"), quick=True, measure_baselines=False)
    toolchain = CToolchain(CompileCache())  # the worker's cache, as the attacker finds it
    with Worker() as worker:
        first = worker.evaluate(request)
        assert first.correct, first.failure
        honest = toolchain.compile(sources("honest.c"))
        assert honest.cached and honest.artifact is not None
        honest.artifact.write_bytes(planted_library(toolchain))
        again = worker.evaluate(request)
    assert again.correct, f"the planted library ran: {again.failure}"
    assert again.compile is not None and not again.compile.cached
    assert again.artifact_sha256 == first.artifact_sha256
