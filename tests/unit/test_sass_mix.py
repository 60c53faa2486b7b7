"""The main loop's instruction mix from SASS, on the real seed's SASS, checked in
(tests/fixtures/sass) so that the parser and the agent's disassemble tool are tested on a
machine without a GPU:

- attention_wgmma.sm_90a.sass.gz: cuobjdump -sass of kernels/cuda/attention_wgmma.cu built by
  NVRTC for sm_90a (CUDA 13.0), dumped on an H200 on 2026-11-24;
- attention_wgmma_pingpong.sm_90a.sass.gz: the seed as of commit 6cd541d (persistent grid,
  ping-pong consumers), built by NVRTC for sm_90a (CUDA 13.0) with the mha target's defines on
  2026-11-26, in nvdisasm's form (labels, not addresses, as branch targets). Its mbarrier waits
  retry out of line, past the EXIT, and branch back: the backward branches that are not loops."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import cast

import pytest
from agent_context import StandIn

from avo_tui.evaluation import get_target
from avo_tui.evaluation.diagnostics import sass
from avo_tui.knowledge import KnowledgeBase
from avo_tui.operators.agent import tool_schemas
from avo_tui.operators.agent.tools import Toolbox
from avo_tui.operators.agent.workspace import Workspace
from avo_tui.operators.protocol import StepContext
from avo_tui.store import Score, Session
from avo_tui.store.view import SessionView

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sass"
SEED_SASS = gzip.decompress((FIXTURES / "attention_wgmma.sm_90a.sass.gz").read_bytes()).decode()
PINGPONG_SASS = gzip.decompress(
    (FIXTURES / "attention_wgmma_pingpong.sm_90a.sass.gz").read_bytes()).decode()
MHA = get_target("mha")


def test_the_seeds_main_loop_is_its_kv_loop_with_its_instruction_mix() -> None:
    mix = sass.loop_mix(SEED_SASS, MHA.entry)
    assert mix is not None and mix.function == "avo_attention_fwd"
    # 468 instructions from 0x1090 to the branch back at 0x2dc0, and 6 out of line: two waits'
    # retries (0x92d0-0x92f0 and 0x9300-0x9320: TRYWAIT, its spin, the branch back to 0x11e0
    # and 0x2be0), which run in the loop.
    assert (mix.start, mix.end, mix.total) == (0x1090, 0x2DC0, 474)
    # One KV block of one consumer: 16 wgmma (QK^T and PV), 66 exponentials and 66 FFMAs.
    assert mix.classes["MMA"] == 16 and mix.opcodes["HGMMA"] == 16
    assert mix.classes["MUFU.EX2"] == 66 and mix.classes["FFMA"] == 66
    # 8 in line and the two retries' SYNCS.PHASECHK
    assert mix.classes["barriers and waits"] == 10 and mix.classes["uniform datapath"] == 55
    assert sum(mix.classes.values()) == mix.total
    # The other consumer path's loop is named too (665 in line, 6 in its retries at 0x9330).
    assert (0x2F90, 0x5910, 671, 16) in mix.others
    text = sass.describe(mix)
    assert text.startswith("main loop of avo_attention_fwd: 0x1090-0x2dc0, 474 instructions")
    assert "MUFU.EX2                66" in text


def test_the_pingpong_seeds_main_loop_is_a_kv_loop_not_a_wait_retrys_branch_back() -> None:
    # Each mbarrier wait retries in a block past the EXIT (0x107a0) that branches back to the
    # instruction after the wait: read as a loop, 0x5830-0x10890 held 2823 instructions and
    # 24 HGMMA, and was reported as the main loop.
    mix = sass.loop_mix(PINGPONG_SASS, MHA.entry)
    assert mix is not None and mix.function == "avo_attention_fwd"
    # The first consumer's KV loop: 471 instructions in line, two retries of 3 out of line.
    assert (mix.start, mix.end, mix.total) == (0x3960, 0x56C0, 477)
    assert mix.classes["MMA"] == 16 and mix.opcodes["HGMMA"] == 16
    assert mix.classes["MUFU.EX2"] == 66 and mix.classes["FFMA"] == 66
    assert mix.others == ((0x5760, 0x8230, 692, 16),)  # the second consumer's
    # Both inside the persistent loop over tiles, which holds them and the prologues' HGMMA.
    found = {loop.start: loop for loop in sass.loops(sass.functions(PINGPONG_SASS)[MHA.entry])}
    assert found[0x3960].parent == found[0x5760].parent == 0x4B0
    assert found[0x3960].members | found[0x5760].members < found[0x4B0].members
    body = sass.functions(PINGPONG_SASS)[MHA.entry]
    last = max(i.address for i in body if i.opcode == "EXIT" and not i.guard)
    assert last == 0x107A0
    assert all(end < last for _, end, _, _ in ((mix.start, mix.end, 0, 0), *mix.others))
    # What the GPU test reads (tests/gpu/test_agent_brief_gpu.py): HGMMA among the opcodes.
    opcodes = next(line for line in sass.describe(mix).splitlines() if "opcodes:" in line)
    assert "HGMMA 16" in opcodes


def test_the_mix_says_after_which_exponential_each_wgmma_wait_lands() -> None:
    # With overlap, S(j) is waited for before the softmax (wait 1: P V may still run) and P V
    # before P is rewritten; where ptxas puts the second decides how much softmax runs under
    # the GEMM, and it moves with edits elsewhere in the kernel (docs/kernels.md, rung 2d).
    pingpong = sass.loop_mix(PINGPONG_SASS, MHA.entry)
    assert pingpong is not None
    assert pingpong.waits == (("gsb0, 0x1", 0), ("gsb0, 0x0", 18))
    assert "wgmma waits, after how many of the loop's MUFU.EX2 (address order): gsb0, 0x1 " \
        "after 0 of 66; gsb0, 0x0 after 18 of 66" in sass.describe(pingpong)
    # Three plain consumers: S waited for before the softmax, P V after all of it.
    plain = sass.loop_mix(SEED_SASS, MHA.entry)
    assert plain is not None and plain.waits == (("gsb0, 0x0", 0), ("gsb0, 0x0", 66))
    assert sass.describe(pingpong, plain, "v1").endswith("after 18 of 66; v1: 0; 66")


# A wait before the loop and one in it, each retried out of line after the EXIT and branching
# back; after the loop a third HGMMA, after the EXIT a branch to itself (the compiler's padding).
# Taken for a loop, the second retry's branch back (0x60-0x150) held 3 HGMMA and was the main.
OUT_OF_LINE = """\
        Function : k
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x8], R0 ;
        /*0020*/              @!P0 BRA 0x100 ;
        /*0030*/                   MOV R2, RZ ;
        /*0040*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4], R2 ;
        /*0050*/              @!P0 BRA 0x130 ;
        /*0060*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;
        /*0070*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR8], R24 ;
        /*0080*/                   MUFU.EX2 R3, R2 ;
        /*0090*/               @P1 BRA 0x40 ;
        /*00a0*/                   HGMMA.64x64x16.F32.BF16 R56, gdesc[UR12], RZ ;
        /*00b0*/                   EXIT ;
        /*00c0*/                   BRA 0xc0;
        /*0100*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x8], R0 ;
        /*0110*/              @!P0 BRA 0x100 ;
        /*0120*/                   BRA 0x30 ;
        /*0130*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4], R2 ;
        /*0140*/              @!P0 BRA 0x130 ;
        /*0150*/                   BRA 0x60 ;
"""


def test_a_wait_retried_out_of_line_is_part_of_its_loop_and_its_branch_back_no_loop() -> None:
    mix = sass.loop_mix(OUT_OF_LINE)
    assert mix is not None and (mix.start, mix.end, mix.total) == (0x40, 0x90, 9)
    assert mix.classes["MMA"] == 2 and mix.classes["barriers and waits"] == 2
    assert mix.others == () and mix.loops == 3
    body = sass.functions(OUT_OF_LINE)["k"]
    found = {loop.start: loop for loop in sass.loops(body)}
    # The loop at 0x40 and the two retries' spins; no loop at 0x30 (the first retry's way
    # back) nor at 0x60 (the second's), and none at 0xc0: the padding, which nothing reaches.
    assert sorted(found) == [0x40, 0x100, 0x130]
    members = {body[n].address for n in found[0x40].members}
    assert members == {0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0x130, 0x140, 0x150}
    assert found[0x40].end == 0x90
    # A branch under @!PT is never taken: the first retry is then dead code, with no loop.
    never = OUT_OF_LINE.replace("@!P0 BRA 0x100", "@!PT BRA 0x100")
    assert [loop.start for loop in sass.loops(sass.functions(never)["k"])] == [0x40, 0x130]


# DIAGONAL_FIRST's order: the masked copy of the KV loop (the blocks on the diagonal) comes
# first, and the unmasked loop that runs the rest of the tile after it; both hold the same MMA.
MASKED_FIRST = """\
        Function : k
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;
        /*0020*/                   FSEL R4, R4, -INF , P2 ;
        /*0030*/                   FSEL R5, R5, -INF , P3 ;
        /*0040*/                   MUFU.EX2 R3, R2 ;
        /*0050*/               @P1 BRA 0x10 ;
        /*0060*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;
        /*0070*/                   MUFU.EX2 R3, R2 ;
        /*0080*/               @P0 BRA 0x60 ;
        /*0090*/                   EXIT ;
"""


def test_of_loops_with_as_many_mma_the_main_is_the_shortest_not_the_first() -> None:
    mix = sass.loop_mix(MASKED_FIRST)
    assert mix is not None and (mix.start, mix.end, mix.total) == (0x60, 0x80, 3)
    assert mix.others == ((0x10, 0x50, 5, 1),)


NVDISASM = """\
        .text.avo_attention_fwd:
.L_x_0:
        /*0000*/                   LDC R1, c[0x0][0x28] ;
.L_x_1:
        /*0010*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR4], RZ ;
        /*0020*/                   MUFU.EX2 R3, R2 ;
        /*0030*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*0040*/               @P0 BRA `(.L_x_1) ;
        /*0050*/                   EXIT ;
"""


def test_nvdisasm_labels_are_branch_targets_too() -> None:
    mix = sass.loop_mix(NVDISASM, "avo_attention_fwd")
    assert mix is not None and (mix.start, mix.end, mix.total) == (0x10, 0x40, 4)
    assert mix.classes["MMA"] == mix.classes["MUFU.EX2"] == 1
    assert mix.classes["barriers and waits"] == 1
    assert sass.loop_mix("no sass here") is None
    assert sass.loop_mix(NVDISASM.replace("`(.L_x_1)", "`(.L_x_9)")) is None  # no loop


def test_the_disassemble_tool_compares_with_the_best_and_gives_percent_of_peak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"attention_wgmma.cu": "// the workspace kernel\n"}
    best = {"attention_wgmma.cu": "// the best\n"}
    # The best's loop has two exponentials fewer (moved to the FMA pipe, say).
    fewer = SEED_SASS.replace("MUFU.EX2", "FFMA", 2)
    texts = {files["attention_wgmma.cu"]: SEED_SASS, best["attention_wgmma.cu"]: fewer}
    monkeypatch.setattr(sass, "disassemble", lambda toolchain, sources, defines, arch: texts[
        next(iter(sources.values()))])
    with Session.create(tmp_path / "s", target="mha", operator="agent", seed_files=files,
                        sync=False) as session:
        session.commit(best, author="agent", message="fewer exponentials",
                       score=Score(600.0, {"full": 632.0, "causal": 570.0}))
        ctx = StandIn(SessionView(session), target=MHA, facts={"peak_bf16_tflops": 790.0})
        kb = KnowledgeBase([])
        workspace = Workspace(tmp_path / "ws", kb, 100_000)
        workspace.reset(files)
        toolbox = Toolbox(cast(StepContext, ctx), workspace, kb, base="v0",
                          transcript=lambda: "{}")
        result = toolbox.call("disassemble", {})
    assert not result.is_error, result.text
    assert "474 instructions" in result.text and "v1: 474 (+0)" in result.text
    assert "MUFU.EX2                66   13.9%   v1    64 (+2)" in result.text
    assert "by the latest full score: full 80.0%, causal 72.2%" in result.text
    assert "disassemble" not in {s["name"] for s in tool_schemas.schemas_for("cpu")}
