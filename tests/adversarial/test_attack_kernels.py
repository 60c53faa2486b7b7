"""The cheating kernels of attack_kernels.py, without evaluating them: every cheat builds around
every CUDA target's seed (NVRTC needs no GPU), the seed's entry point is found whatever
surrounds it, and a cheat knows where a slice of the output can be left undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_kernels import ATTACKS, entry_body, last_slice, rows
from attack_targets import AttackTarget, attack_target, target_names

from avo_tui.evaluation.toolchains import CompileCache, CudaToolchain

HOPPER = "sm_90a"  # the GPU the CUDA attack tests run on


def _compiled_with_every_cheat(names: list[str]) -> list[tuple[str, str]]:
    """(target, attack) pairs to compile: every cheat in the first target of each seed, the
    control in the others (their cheats differ by the table of configurations and the
    macros the harness defines, both in the control too)."""
    seen: set[str] = set()
    pairs = []
    for name in names:
        target = attack_target(name)
        key = repr(sorted(target.seed.items()))
        pairs += [(name, a) for a in (ATTACKS if key not in seen else ATTACKS[:1])]
        seen.add(key)
    return pairs


@pytest.fixture(scope="module")
def nvrtc(tmp_path_factory: pytest.TempPathFactory) -> CudaToolchain:
    return CudaToolchain(CompileCache(tmp_path_factory.mktemp("attack-cache")), HOPPER)


@pytest.mark.parametrize(("target", "attack"),
                         _compiled_with_every_cheat(target_names("cuda")))
def test_every_cheat_builds_around_every_cuda_seed(
    nvrtc: CudaToolchain, target: str, attack: str
) -> None:
    cheat = attack_target(target)
    options = tuple(f"-D{name}={value}" for name, value in cheat.spec.defines.items())
    result = nvrtc.compile(cheat.sources(attack), options)
    assert result.ok, result.log
    assert result.resources.get("registers", 0) <= 255


SEED = """\
/* avo_entry(int n) { a comment that looks like a definition } */
#include <cuda_bf16.h>
extern "C" __global__ void avo_entry(const float *x, float *out, int n);
static const char *note = "avo_entry(int n) {";
// avo_entry(float *x) {
extern "C" __global__ void __launch_bounds__(128, 2)
avo_entry(const float *__restrict__ x /* in */, float *out, int n,
          const __grid_constant__ CUtensorMap tma_x) {
    if (n > 0) { out[0] = x[0]; }
    const char brace = '}';
}
int after;
"""


def test_the_entry_point_is_found_past_comments_strings_and_declarations() -> None:
    start, end, names = entry_body(SEED, "avo_entry")
    assert names == ["x", "out", "n", "tma_x"]
    assert SEED[start:end].startswith("{\n    if (n > 0)")
    assert SEED[end:] == "\nint after;\n"
    with pytest.raises(ValueError, match="defines no avo_other"):
        entry_body(SEED, "avo_other")


def test_a_slice_is_the_last_leading_index_or_the_last_eighth_of_rows() -> None:
    assert last_slice((2, 4, 256, 64)) == (2 * 4 * 256 * 64 - 256 * 64, 0)
    assert last_slice((3, 10, 8)) == (2 * 10 * 8, 1)  # one leading dimension: a prefix
    assert last_slice((1024, 512)) == (896 * 512, 128)
    assert last_slice((9,)) == (7, 2)  # at least one row, rounded up


@pytest.mark.parametrize(("name", "shortens"), [
    ("docs-example", True),  # rows: out, x and r are [rows, cols]
    ("vector-add", True),  # n
    ("cpu-attention", False),  # a (batch, head) pair is no prefix of one dimension
])
def test_the_slice_is_left_undone_where_one_dimension_allows(
    tmp_path: Path, name: str, shortens: bool
) -> None:
    target: AttackTarget = attack_target(name, tmp_path)
    for r in rows(target.spec):
        assert (r.shorten >= 0) == shortens
        if shortens:
            cut = r.ints[r.shorten] - r.shortened
            assert r.keep == r.numel // r.ints[r.shorten] * (r.ints[r.shorten] - cut)
