"""Each target's seed carries its own knob values: one file serves both head dims, and head
dim 64 has its own measured best tiles (Seed.knobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avo_tui.engine.launch import choose_seed, seed_files, seed_path
from avo_tui.evaluation import get_target, known_names
from avo_tui.evaluation.declarations import contract
from avo_tui.evaluation.targets.archs import COMPILE_CHECKED


def knob(files: dict[str, str], name: str) -> str:
    return next(k.value for text in files.values() for k in contract.parse(text).knobs
                if k.name == name)


def test_a_session_or_eval_of_the_shipped_seed_gets_the_targets_knob_values() -> None:
    d64, mha = get_target("mha-d64"), get_target("mha")
    assert d64.seeds[0].kernel == mha.seeds[0].kernel  # one file, two sets of values
    names = ("NUM_WG", "OVERLAP", "PINGPONG", "TILE_ORDER")
    # three consumers at head dim 64, where O leaves room for them; two at 128 (the file's)
    assert [knob(seed_files(d64), k) for k in names] == ["3", "1", "1", "1"]
    assert [knob(seed_files(mha), k) for k in names] == ["2", "1", "1", "1"]


def test_a_seed_given_by_path_is_taken_as_it_is() -> None:
    d64 = get_target("mha-d64")
    assert knob(seed_files(d64, seed_path(d64)), "NUM_WG") == "2"  # the file's, not mha-d64's


@pytest.mark.parametrize("name", [t for t in known_names()
                                  if get_target(t).seeds and get_target(t).seeds[0].knobs])
def test_seed_knob_values_are_allowed_and_meet_the_kernels_requirements(name: str) -> None:
    target = get_target(name)
    text = "".join(seed_files(target).values())
    declarations = contract.parse(text)
    declarations.check_requirements(dict(target.defines))  # raises on a violated avo:require
    assert Path(target.seeds[0].kernel).suffix == ".cu"


@pytest.mark.parametrize("persistent", ["0", "1", "2"])
def test_a_persistent_grid_is_one_cta_per_sm_at_most(persistent: str) -> None:
    """PERSISTENT=1 (a static walk) and 2 (tiles drawn from a counter, the default) launch
    min(SMs, tiles) CTAs, each walking its share of the tiles; 0 a
    CTA per (query block, head, batch). Read from the seed's own avo:launch, as the evaluator
    and the exported operator read it."""
    from avo_tui.evaluation.declarations.candidate import apply_knobs
    from avo_tui.evaluation.declarations.expressions import Environment
    from avo_tui.evaluation.devices.gpu import launch_variables

    mha = get_target("mha")
    files = apply_knobs(seed_files(mha), {"PERSISTENT": persistent})
    declared = contract.parse(next(iter(files.values())))
    tiles = {"b8-h16-s4096-d128-full": 32 * 16 * 8, "b1-h16-s1-d128-full": 16}  # 128-row tiles
    configs = [c for c in (*mha.grid(), *mha.edge_configs) if c.name in tiles]
    assert sorted(c.name for c in configs) == sorted(tiles)
    for config in configs:
        env = Environment(declared.defines, launch_variables(config, 132) | mha.defines)
        expected = tiles[config.name] if persistent == "0" else min(132, tiles[config.name])
        assert env.evaluate(declared.launch["grid"]) == (expected,), config.name


def _launch(knobs: dict[str, str]) -> contract.Declarations:
    from avo_tui.evaluation.declarations.candidate import apply_knobs

    return contract.parse(next(iter(apply_knobs(seed_files(get_target("mha")), knobs).values())))


@pytest.mark.parametrize("knobs", [{"CLUSTER_ONLY": "1"}, {"MULTICAST": "1", "PERSISTENT": "2"}],
                         ids=["cluster-only", "multicast"])
def test_a_cluster_build_launches_an_even_grid_of_two_block_clusters(
    knobs: dict[str, str],
) -> None:
    """CLUSTER_ONLY (issue 88: the seed's own code launched in 2-CTA clusters) and MULTICAST
    launch clusters of two CTAs, an even grid of at most one CTA per SM, also where the tiles
    are odd; the seed launches no cluster."""
    from avo_tui.evaluation.devices.gpu import cluster_dims, clusters_in

    declared = _launch(knobs)
    declared.check_requirements({"AVO_HEAD_DIM": 128})
    seed = _launch({})
    for batch, heads, seq_len in ((8, 16, 4096), (1, 16, 1), (1, 3, 1), (1, 1, 1000)):
        tiles = -(-seq_len // 128) * heads * batch
        variables = {"B": batch, "HQ": heads, "HKV": heads, "S": seq_len, "D": 128, "CAUSAL": 0,
                     "NUM_SMS": 132, "AVO_HEAD_DIM": 128}
        env = declared.environment(variables)
        grid = env.evaluate(declared.launch["grid"])
        assert grid == (2 * min(66, -(-tiles // 2)),), (tiles, grid)
        cluster = cluster_dims(env.evaluate(declared.launch["cluster"]))
        assert cluster == (2,) and clusters_in(grid, cluster) == (grid[0] // 2, 1, 1)
        plain = seed.environment(variables)
        assert plain.evaluate(seed.launch["grid"]) == (min(132, tiles),)
        assert cluster_dims(plain.evaluate(seed.launch["cluster"])) is None


@pytest.mark.parametrize("knobs", [
    # a CTA per tile (O staged in Q's rows, as that grid needs): its grid may be odd
    {"CLUSTER_ONLY": "1", "PERSISTENT": "0", "O_BUFFER": "0"},
    {"CLUSTER_ONLY": "1", "MULTICAST": "1"},
    {"PEER_ARRIVE": "1"},  # no peer without MULTICAST
    {"PEER_ARRIVE": "2"},
    {"DRAW_AHEAD": "1", "PERSISTENT": "1"},  # the static walk draws nothing
    {"DRAW_AHEAD": "1", "MULTICAST": "1", "PERSISTENT": "1"},
    {"UNSHARED": "1"},  # no pair to keep apart without MULTICAST
    {"UNSHARED": "1", "CLUSTER_ONLY": "1"},
], ids=["cluster-only-per-tile", "cluster-only-multicast", "peer-offset-alone",
        "one-arrival-a-lane-alone", "draw-ahead-static-walk", "draw-ahead-multicast-static-walk",
        "unshared-alone", "unshared-cluster-only"])
def test_a_cluster_knob_outside_its_build_is_refused(knobs: dict[str, str]) -> None:
    with pytest.raises(contract.ContractError, match="requirement not met"):
        _launch(knobs).check_requirements({"AVO_HEAD_DIM": 128})


def test_the_pairs_kept_apart_are_refused_at_head_dim_64_only() -> None:
    """UNSHARED (issue 88) is gqa-4's experiment; at head dim 64 its producer spills."""
    declared = _launch({"UNSHARED": "1", "MULTICAST": "1", "PERSISTENT": "2"})
    declared.check_requirements({"AVO_HEAD_DIM": 128})
    with pytest.raises(contract.ContractError, match="requirement not met"):
        declared.check_requirements({"AVO_HEAD_DIM": 64})


# The most shared memory one block may take (CUDA C++ Programming Guide, the compute
# capabilities' table): 163 KB on sm_80, 99 KB on sm_86, sm_89 and sm_120a, 227 KB on Hopper
# and data-centre Blackwell.
BLOCK_SHARED_MEMORY = {"sm_80": 166912, "sm_86": 101376, "sm_89": 101376, "sm_90a": 232448,
                       "sm_100a": 232448, "sm_120a": 101376}


@pytest.mark.parametrize("arch", COMPILE_CHECKED)
@pytest.mark.parametrize("name", ["mha-bwd", "gqa-bwd"])
def test_the_backward_seed_chosen_on_a_gpu_fits_its_blocks_shared_memory(name: str,
                                                                          arch: str) -> None:
    """The backward seed's fast defaults take 161 KB a block: a GPU with 99 KB gets smaller
    knobs, or its every launch would fail."""
    target = get_target(name)
    [declarations] = [contract.parse(text) for text in choose_seed(target, arch).files.values()]
    smem = declarations.environment(dict(target.defines)).evaluate(declarations.launch["smem"])
    assert isinstance(smem, int) and smem <= BLOCK_SHARED_MEMORY[arch]
    declarations.check_requirements(dict(target.defines))


@pytest.mark.parametrize("name", ["mha-bwd", "gqa-bwd"])
def test_the_hopper_backward_seed_sums_dq_in_scratch_the_evaluator_grants(name: str) -> None:
    """On sm_90a the dK/dV blocks sum dQ in fp32 in the launch's scratch (DQ_ATOMIC 1), a
    workspace past the counters' MiB: on every configuration the seed is checked or timed on,
    the scratch it declares is as much as its sums and counters take and within the evaluator's
    bound, or it would be refused before it ran (as it was on a GPU, where a version that padded
    each head to whole query blocks asked 32 bytes past the bound on one key)."""
    from avo_tui.evaluation.devices.gpu import scratch_limit

    target = get_target(name)
    chosen = choose_seed(target, "sm_90a")
    [declarations] = [contract.parse(text) for text in chosen.files.values()]
    assert knob(chosen.files, "DQ_ATOMIC") == "1"
    for config in (*target.configs, *target.edge_configs, *target.quick_configs):
        dims = target.problem.launch_variables(config)
        scratch = declarations.environment(dict(target.defines) | dims).evaluate(
            declarations.launch["scratch"])
        b, hq, hkv, s, d = (int(str(dims[v])) for v in ("B", "HQ", "HKV", "S", "D"))
        assert scratch == b * hq * s * d * 4 + b * hkv * 4, config.name  # the sums, the counters
        assert isinstance(scratch, int) and scratch <= scratch_limit(target.problem, config)
    assert knob(choose_seed(target, "sm_80").files, "DQ_ATOMIC") == "0"  # not run there yet
