"""The profile tool without a GPU: what a model may ask for, the ncu command line it becomes, and
the reading of ncu's CSV pages (fixtures below are in the shape ncu 2025 prints) into a short
answer. A fake ``ncu`` on the PATH stands in for the real one end to end."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

from avo_tui.evaluation import PROFILE_SECTIONS, ProfileRequestError, ProfileUnavailable
from avo_tui.evaluation.diagnostics import profile as profiling
from avo_tui.evaluation.diagnostics.profile import (
    CHILD,
    METRICS,
    check_request,
    collect_command,
    format_profile,
    parse_raw_csv,
    pipe_utilization,
    profile,
    stall_reasons,
)
from avo_tui.evaluation.diagnostics.source_page import code_regions, parse_source_csv

CONFIG = "b2-h16-s4096-d128-full"
STALLS = {  # reason -> warp cycles per issued instruction
    "long_scoreboard": "0.35", "short_scoreboard": "0.12", "barrier": "2.41", "wait": "1.10",
    "math_pipe_throttle": "0.62", "mio_throttle": "0.08", "not_selected": "0.30",
    "selected": "1.00", "no_instruction": "0.05", "dispatch_stall": "0.02", "drain": "0.00",
    "lg_throttle": "0.01", "membar": "0.00", "sleeping": "0.44", "branch_resolving": "0.03",
}
PIPES = {  # metric -> % of peak while active
    "sm__inst_executed_pipe_alu.avg.pct_of_peak_sustained_active": "12.40",
    "sm__inst_executed_pipe_fma.avg.pct_of_peak_sustained_active": "18.92",
    "sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active": "41.07",
    "sm__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active": "3.10",
    "sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active": "63.55",
    "sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active": "20.01",
    "sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active": "9.87",
}
SUMMARY = {
    "gpu__time_duration.sum": ("usecond", "812.58"),
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": ("%", "71.32"),
    "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed": ("%", "38.05"),
    "sm__warps_active.avg.pct_of_peak_sustained_active": ("%", "24.87"),
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active": ("%", "0"),
    "sm__inst_issued.avg.pct_of_peak_sustained_active": ("%", "30.11"),
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum": ("", "0"),
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum": ("", "1,536"),
    "dram__bytes.sum": ("Mbyte", "71.37"),
    "launch__registers_per_thread": ("register/thread", "168"),
    "lts__t_sector_hit_rate.pct": ("%", "88.14"),
    "dram__bytes_read.sum": ("Mbyte", "54.52"),
    "l1tex__m_xbar2l1tex_read_bytes_mem_global_op_tma_ld.sum": ("Mbyte", "402.65"),
    "smsp__average_warp_latency_per_inst_issued.ratio": ("cycle", "6.93"),
}


def raw_page(metrics: dict[str, tuple[str, str]]) -> str:
    """ncu --page raw --csv: header, units, one row per kernel; the launch's own lines around."""
    fixed = [("ID", "", "0"), ("Process ID", "", "4242"), ("Process Name", "", "python3"),
             ("Kernel Name", "", "avo_attention_fwd"), ("Block Size", "", "(512, 1, 1)"),
             ("Grid Size", "", "(22, 16, 2)"), ("Device", "", "0"), ("CC", "", "9.0")]
    columns = fixed + [(name, unit, value) for name, (unit, value) in metrics.items()]

    def line(index: int) -> str:
        return ",".join(f'"{column[index]}"' for column in columns)

    return "\n".join(["==PROF== Connected to process 4242", line(0), line(1), line(2), ""])


def full_row() -> dict[str, tuple[str, str]]:
    metrics = dict(SUMMARY)
    for reason, value in STALLS.items():
        name = f"smsp__average_warps_issue_stalled_{reason}_per_issue_active.ratio"
        metrics[name] = ("", value)
        not_issued = f"smsp__average_warps_issue_stalled_{reason}_not_issued_per_issue_active.ratio"
        metrics[not_issued] = ("", "9.99")
    metrics |= {name: ("%", value) for name, value in PIPES.items()}
    return metrics


SASS = [  # address, SASS, all samples, stall_long_sb, stall_wait, stall_barrier
    ("00007f3a1c000000", "MOV R1, c[0x0][0x28]", 0, 0, 0, 0),
    ("00007f3a1c000010", "S2R R0, SR_TID.X", 3, 0, 3, 0),
    ("00007f3a1c0001a0", "SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x20], R3", 950, 0, 10, 0),
    ("00007f3a1c000200", "HGMMA.64x128x16.F32.BF16 R24, gdesc[UR8].tnspB, RZ, !UPT, gsb0 ; "
     "long operand list that goes on and on", 400, 0, 380, 0),
    ("00007f3a1c000310", "MUFU.EX2 R40, R40", 120, 0, 20, 0),
    ("00007f3a1c000400", "BAR.SYNC.DEFER_BLOCKING 0x1, 0x100", 527, 0, 0, 527),
]


def source_page(rows: list[tuple[str, str, int, int, int, int]],
                executed: list[int] | None = None) -> str:
    """ncu's source page for ``rows``, each instruction executed 1,024 times unless
    ``executed`` says how often."""
    header = ['"Address"', '"Source"', '"Warp Stall Sampling (All Samples)"',
              '"Warp Stall Sampling (Not-issued Samples)"', '"Instructions Executed"',
              '"stall_long_sb"', '"stall_wait"', '"stall_barrier"']
    lines = ['"Kernel Name","avo_attention_fwd"', ",".join(header)]
    for n, (address, sass, samples, long_sb, wait, barrier) in enumerate(rows):
        runs = executed[n] if executed else 1024
        lines.append(f'"{address}","{sass}","{samples:,}","{samples // 2}","{runs:,}",'
                     f'"{long_sb}","{wait}","{barrier}"')
    return "\n".join(lines) + "\n"


# -- the request ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    ["--launch-count", "regex:.*", "sm__x;rm -rf ~", "Sm__Cycles.avg", "a b", "x" * 121,
     "sm__cycles_elapsed.avg,--export", "", "group:memory", "../etc", "sm__x.avg\n--force"],
)
def test_a_metric_name_that_is_not_plain_never_reaches_ncu(metric: str) -> None:
    with pytest.raises(ProfileRequestError, match="lowercase letters, digits"):
        check_request(["summary"], [metric])


def test_unknown_sections_name_every_allowed_one() -> None:
    with pytest.raises(ProfileRequestError) as caught:
        check_request(["summary", "occupancy"], [])
    assert "'occupancy'" in str(caught.value)
    assert all(section in str(caught.value) for section in PROFILE_SECTIONS)
    assert issubclass(ProfileRequestError, ValueError)


def test_too_many_metrics_and_an_empty_request_are_refused() -> None:
    with pytest.raises(ProfileRequestError, match="at most"):
        check_request([], [f"sm__m{i}.sum" for i in range(13)])
    with pytest.raises(ProfileRequestError, match="at least one"):
        check_request([], [])
    with pytest.raises(ProfileRequestError, match="lowercase letters"):
        check_request([], [["sm__cycles_elapsed.avg"]])  # type: ignore[list-item]


def test_sections_come_back_in_their_order_and_metrics_once() -> None:
    sections, metrics = check_request(
        ["source", "summary", "source"], ["sm__cycles_elapsed.avg", "sm__cycles_elapsed.avg"]
    )
    assert sections == ("summary", "source")
    assert metrics == ("sm__cycles_elapsed.avg",)
    assert check_request("pipes", "dram__bytes.sum") == (("pipes",), ("dram__bytes.sum",))


def test_each_section_collects_its_ncu_section_and_extra_metrics_are_asked_for() -> None:
    command = collect_command("ncu", "avo_attention_fwd", ["warp_state", "pipes", "source"],
                              ["sm__cycles_elapsed.avg"], Path("/tmp/r.ncu-rep"))
    pairs = list(itertools.pairwise(command))
    for section in ("WarpStateStats", "ComputeWorkloadAnalysis", "SourceCounters"):
        assert ("--section", section) in pairs
    assert ("--section", "MemoryWorkloadAnalysis") not in pairs
    assert ("--metrics", "sm__cycles_elapsed.avg") in pairs
    assert ("--kernel-name", "regex:avo_attention_fwd") in pairs
    assert ("--clock-control", "none") in pairs and ("--export", "/tmp/r.ncu-rep") in pairs


def test_summary_and_memory_name_their_metrics() -> None:
    command = collect_command("ncu", "k", ["summary", "memory"], [], Path("r"))
    wanted = command[command.index("--metrics") + 1].split(",")
    assert set(METRICS.values()) <= set(wanted)
    assert "lts__t_sector_hit_rate.pct" in wanted and len(wanted) == len(set(wanted))


# -- reading ncu's pages ----------------------------------------------------------------------


def test_raw_page_values_keep_their_units_and_separators() -> None:
    rows = parse_raw_csv(raw_page(SUMMARY))
    assert len(rows) == 1
    row = rows[0]
    assert row["Kernel Name"] == ("avo_attention_fwd", "")
    assert row["gpu__time_duration.sum"] == ("812.58", "usecond")
    text = format_profile(row, CONFIG, ["summary"], [])
    assert text.splitlines()[0] == f"Nsight Compute, avo_attention_fwd on {CONFIG}:"
    assert "duration                               812.58 usecond" in text
    assert "shared-memory bank conflicts (st)      1,536" in text
    assert "warp stalls" not in text


def test_stall_reasons_are_ranked_with_their_share_and_meaning() -> None:
    row = parse_raw_csv(raw_page(full_row()))[0]
    reasons = stall_reasons(row)
    assert [r for r, _ in reasons[:3]] == ["barrier", "wait", "math_pipe_throttle"]
    assert "selected" not in dict(reasons)  # issuing is not a stall
    assert all(not r.endswith("not_issued") for r, _ in reasons)
    text = format_profile(row, CONFIG, ["warp_state"], [])
    lines = text.splitlines()
    total = sum(float(v) for r, v in STALLS.items() if r != "selected")
    assert lines[1].startswith("warp stalls") and "issues every 6.9 cycles" in lines[1]
    assert lines[2].split()[:2] == ["barrier", f"{100 * 2.41 / total:.1f}%"]
    assert "CTA barrier" in lines[2]
    assert len(lines) == 2 + profiling.TOP_STALLS


def test_older_ncu_stall_names_are_read_when_the_newer_are_absent() -> None:
    metrics = {f"smsp__average_warp_latency_issue_stalled_{r}.ratio": ("", v)
               for r, v in (("long_scoreboard", "5.0"), ("wait", "1.0"), ("selected", "1.0"))}
    reasons = stall_reasons(parse_raw_csv(raw_page(metrics))[0])
    assert reasons == [("long_scoreboard", 5.0), ("wait", 1.0)]


def test_pipes_are_ranked_and_the_mufu_pipe_is_named() -> None:
    row = parse_raw_csv(raw_page(full_row()))[0]
    pipes = pipe_utilization(row)
    assert pipes[0] == ("tensor_op_gmma (cycles)", 63.55)
    assert pipes[1] == ("xu (issue)", 41.07)
    assert ("fma (cycles)", 20.01) in pipes and ("fma (issue)", 18.92) in pipes
    text = format_profile(row, CONFIG, ["pipes"], [])
    xu = next(line for line in text.splitlines() if "xu (issue)" in line)
    assert "41.1%" in xu and "MUFU" in xu


def test_memory_shows_hit_rates_bytes_and_a_tma_counter() -> None:
    row = parse_raw_csv(raw_page(full_row()))[0]
    text = format_profile(row, CONFIG, ["memory"], [])
    assert "L2 hit rate (%)                        88.14 %" in text
    assert "DRAM bytes read                        54.52 Mbyte" in text
    assert "n/a" in next(line for line in text.splitlines() if "L1/TEX hit rate" in line)
    assert "op_tma_ld.sum" in text and "402.65 Mbyte" in text


def test_extra_metrics_show_their_value_or_that_ncu_had_none() -> None:
    row = parse_raw_csv(raw_page(full_row()))[0]
    text = format_profile(row, CONFIG, [], ["dram__bytes_read.sum", "sm__nothing.sum"])
    assert "dram__bytes_read.sum" in text and "54.52 Mbyte" in text
    assert "sm__nothing.sum" in text and "n/a" in text.splitlines()[-1]


def test_sass_lines_are_ranked_by_stall_samples_with_offsets_and_reasons() -> None:
    lines = parse_source_csv(source_page(SASS))
    assert [line.offset for line in lines[:3]] == [0, 0x10, 0x1A0]
    assert lines[2].samples == 950 and lines[2].reasons == {"wait": 10}
    text = format_profile(parse_raw_csv(raw_page(SUMMARY))[0], CONFIG, ["source"], [], lines)
    shown = text[:text.index("code regions")].splitlines()[2:]
    assert "of 2000 samples" in text.splitlines()[1]
    assert shown[0].split()[:3] == ["47.5%", "+0x001a0", "SYNCS.PHASECHK.TRANS64.TRYWAIT"]
    assert shown[1].split()[:3] == ["26.4%", "+0x00400", "BAR.SYNC.DEFER_BLOCKING"]
    assert "(barrier 100%)" in shown[1]
    assert "HGMMA" in shown[2] and "..." in shown[2] and "(wait 95%)" in shown[2]
    assert len(shown) == 5  # the instruction never sampled is left out


def test_code_regions_split_where_the_execution_count_changes_and_say_their_share() -> None:
    # A prologue run once a tile, a loop body 16 times as often (its branch back included),
    # an epilogue once a tile: where the time goes per region, not per instruction.
    rows = [(f"{0x7F0000000000 + 16 * i:016x}", sass, samples, 0, wait, barrier)
            for i, (sass, samples, wait, barrier) in enumerate([
                ("MOV R1, c[0x0][0x28]", 10, 10, 0),
                ("HGMMA.64x128x16.F32.BF16 R24, gdesc[UR8], RZ", 90, 90, 0),
                ("BAR.SYNC.DEFER_BLOCKING 0x1, 0x100", 300, 0, 300),
                ("HGMMA.64x128x16.F32.BF16 R88, gdesc[UR4], RZ", 500, 400, 0),
                ("MUFU.EX2 R40, R40", 0, 0, 0),  # never sampled: it stays in its run
                ("@P0 BRA 0x7f0000000020", 40, 40, 0),
                ("STG.E.128 desc[UR4][R2.64], R8", 50, 50, 0),
                ("EXIT", 10, 0, 0)])]
    executed = [4096, 4096, 65536, 65536, 0, 61440, 4096, 4096]
    lines = parse_source_csv(source_page(rows, executed))
    assert [line.executed for line in lines] == executed
    regions = code_regions(lines)
    assert [(r.start, r.end, r.instructions, r.passes, r.samples, r.mma) for r in regions] == [
        (0x00, 0x10, 2, 4096, 100, 1), (0x20, 0x50, 4, 65536, 840, 1),
        (0x60, 0x70, 2, 4096, 60, 0)]
    assert regions[1].reasons == {"barrier": 300, "wait": 440}
    text = format_profile(parse_raw_csv(raw_page(SUMMARY))[0], CONFIG, ["source"], [], lines)
    shown = text[text.index("code regions"):].splitlines()
    assert "208,896 warp instructions executed in all" in shown[0]
    assert shown[1].split()[:7] == ["10.0%", "+0x00000-+0x00010", "2", "instructions", "x",
                                    "4,096,", "1"]
    assert "84.0%  +0x00020-+0x00050  4 instructions x 65,536, 1 MMA  (wait 52%, barrier 36%)" \
        in shown[2]
    assert len(shown) == 4


def test_no_samples_and_no_source_table_say_so() -> None:
    assert parse_source_csv('"Kernel Name","k"\n"==PROF== nothing"\n') == []
    row = parse_raw_csv(raw_page(SUMMARY))[0]
    text = format_profile(row, CONFIG, ["source"], [], parse_source_csv(source_page(SASS[:2])))
    assert "no warp stall samples" not in text  # three samples
    text = format_profile(row, CONFIG, ["source"], [], parse_source_csv(source_page(SASS[:1])))
    assert "no warp stall samples" in text


def test_every_section_at_once_stays_a_few_dozen_short_lines() -> None:
    metrics = full_row() | {
        f"sm__inst_executed_pipe_p{i}.avg.pct_of_peak_sustained_active": ("%", str(i))
        for i in range(40)
    }
    many = [(f"{0x7F0000000000 + 16 * i:016x}", f"FFMA R{i}, R{i}, R2, R{i}", i + 1, i, 0, 0)
            for i in range(400)]
    text = format_profile(parse_raw_csv(raw_page(metrics))[0], CONFIG, PROFILE_SECTIONS,
                          [f"sm__m{i}.sum" for i in range(12)], parse_source_csv(source_page(many)))
    lines = text.splitlines()
    assert len(lines) <= 80 and max(map(len, lines)) <= 140


# -- profile() end to end, with a fake ncu ----------------------------------------------------

FAKE_NCU = """#!{python}
import json, pathlib, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
if "--import" in args:
    page = args[args.index("--page") + 1]
    print(pathlib.Path({pages!r}, page + ".csv").read_text())
elif {collect_fails}:
    print("==ERROR== Failed to access the following 4 metrics: unknown")
    sys.exit(1)
else:
    pathlib.Path(args[args.index("--export") + 1]).write_text("report")
    request = json.loads(pathlib.Path(args[-1]).read_text())
    print("==PROF== Profiling avo_attention_fwd on", request["config"])
"""


def install_fake_ncu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     collect_fails: bool = False) -> Path:
    pages, folder, log = tmp_path / "pages", tmp_path / "bin", tmp_path / "ncu.log"
    pages.mkdir()
    folder.mkdir()
    (pages / "raw.csv").write_text(raw_page(full_row()))
    (pages / "source.csv").write_text(source_page(SASS))
    ncu = folder / "ncu"
    ncu.write_text(FAKE_NCU.format(python=sys.executable, log=str(log), pages=str(pages),
                                   collect_fails=collect_fails))
    ncu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return log


def test_profile_runs_ncu_on_the_launch_child_and_reads_both_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = install_fake_ncu(tmp_path, monkeypatch)
    text = profile("mha", "avo_attention_fwd", {"k.cu": "// kernel"}, CONFIG,
                   sections=["summary", "warp_state", "source"])
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    collect, *imports = calls
    assert collect[-3:-1] == ["-c", CHILD]
    assert [call[call.index("--page") + 1] for call in imports] == ["raw", "source"]
    assert "duration" in text and "warp stalls" in text and "SYNCS.PHASECHK" in text
    assert "pipe utilization" not in text


def test_profile_defaults_to_summary_and_warp_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = install_fake_ncu(tmp_path, monkeypatch)
    text = profile("mha", "avo_attention_fwd", {"k.cu": ""}, CONFIG)
    collect = json.loads(log.read_text().splitlines()[0])
    assert "WarpStateStats" in collect and "SourceCounters" not in collect
    assert "registers per thread" in text and "barrier" in text and "SASS" not in text


def test_ncu_failing_is_profile_unavailable_with_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_ncu(tmp_path, monkeypatch, collect_fails=True)
    with pytest.raises(ProfileUnavailable, match="Failed to access the following 4 metrics"):
        profile("mha", "avo_attention_fwd", {"k.cu": ""}, CONFIG)


def test_no_ncu_is_profile_unavailable_but_a_bad_request_is_refused_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiling, "find_tool", lambda name, places=(): None)
    with pytest.raises(ProfileRequestError):
        profile("mha", "avo_attention_fwd", {}, CONFIG, sections=["everything"])
    with pytest.raises(ProfileUnavailable, match="not installed"):
        profile("mha", "avo_attention_fwd", {}, CONFIG)
