"""The main loop's instruction mix from SASS, on the real seed's SASS: cuobjdump -sass of
kernels/cuda/attention_wgmma.cu built by NVRTC for sm_90a (CUDA 13.0), dumped on an H200 on
2026-11-24 and checked in (tests/fixtures/sass), so the parser and the agent's disassemble tool
are tested on a machine without a GPU."""

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

SEED_SASS = gzip.decompress(
    (Path(__file__).parent / "fixtures" / "sass" / "attention_wgmma.sm_90a.sass.gz").read_bytes()
).decode()
MHA = get_target("mha")


def test_the_seeds_main_loop_is_its_kv_loop_with_its_instruction_mix() -> None:
    mix = sass.loop_mix(SEED_SASS, MHA.entry)
    assert mix is not None and mix.function == "avo_attention_fwd"
    assert (mix.start, mix.end, mix.total) == (0x1090, 0x2DC0, 468)
    # One KV block of one consumer: 16 wgmma (QK^T and PV), 66 exponentials and 66 FFMAs.
    assert mix.classes["MMA"] == 16 and mix.opcodes["HGMMA"] == 16
    assert mix.classes["MUFU.EX2"] == 66 and mix.classes["FFMA"] == 66
    assert mix.classes["barriers and waits"] == 8 and mix.classes["uniform datapath"] == 55
    assert sum(mix.classes.values()) == mix.total
    # The other consumer path's loop is named too.
    assert (0x2F90, 0x5910, 665, 16) in mix.others
    text = sass.describe(mix)
    assert text.startswith("main loop of avo_attention_fwd: 0x1090-0x2dc0, 468 instructions")
    assert "MUFU.EX2                66" in text


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
    assert "468 instructions" in result.text and "v1: 468 (+0)" in result.text
    assert "MUFU.EX2                66   14.1%   v1    64 (+2)" in result.text
    assert "by the latest full score: full 80.0%, causal 72.2%" in result.text
    assert "disassemble" not in {s["name"] for s in tool_schemas.schemas_for("cpu")}
