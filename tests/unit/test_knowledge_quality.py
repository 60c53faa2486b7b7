"""The knowledge base answers the questions an engineer new to Hopper attention kernels asks.

Each question names the section(s) that answer it; where two files both answer (a concept in
its topic file and the instruction in ptx-reference.md), either counts. At least 90% must have an
answering section among the first three results. The files themselves are checked too: every
factual file names its sources, and every heading is unique within its file, so a search
result's FILE#heading always reads back the section it came from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avo_tui.knowledge import KnowledgeBase, KnowledgeError
from avo_tui.knowledge.index import split_sections

KNOWLEDGE = Path(__file__).parents[2] / "knowledge"
WGMMA_DESCRIPTOR = "hopper-wgmma.md#The wgmma shared-memory matrix descriptor: exact 64-bit layout"
SETMAXNREG = (
    "hopper-execution.md#setmaxnreg: moving registers from the producer to consumer warpgroups",
    "ptx-reference.md#setmaxnreg.inc / setmaxnreg.dec: moving registers between producer and "
    "consumer warpgroups",
    "attention-flash3.md#setmaxnreg register split between producer and consumer warpgroups",
)

# (question, the sections that answer it)
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    # the issue's own examples
    ("how do I give the consumer warpgroups more registers", SETMAXNREG),
    ("why does my wgmma read garbage after I wrote shared memory with st.shared",
     ("shared-memory.md#Async proxy vs generic proxy: fence.proxy.async before wgmma or TMA "
      "store",)),
    ("what box size can a TMA load have",
     ("hopper-tma.md#TMA box size limits: 256 elements per dimension, 16-byte rows, swizzle "
      "span",)),
    # Hopper: wgmma
    ("which bits of the wgmma descriptor encode the swizzle mode",
     (WGMMA_DESCRIPTOR, "ptx-reference.md#wgmma shared-memory descriptor: start address, LBO, "
      "SBO, base offset, swizzle bits")),
    ("which thread owns which element of the wgmma accumulator",
     ("hopper-wgmma.md#wgmma accumulator fragment layout for m64nN: which thread holds which "
      "element",)),
    ("what number do I give wgmma.wait_group to keep one batch of MMAs in flight",
     ("hopper-wgmma.md#wgmma.fence, commit_group and wait_group: the ordering protocol",
      "ptx-reference.md#wgmma.commit_group and wgmma.wait_group N: batching and retiring "
      "asynchronous MMAs")),
    ("ptxas warns that my wgmma instructions are serialized",
     ("hopper-wgmma.md#ptxas wgmma serialization warnings (C7510-C7518) and how to avoid them",
      "nvrtc.md#ptxas advisories: wgmma serialization (C7510-C7515) and setmaxnreg ignored "
      "(C7508)")),
    ("can one warpgroup keep the tensor cores busy or do I need two",
     ("hopper-wgmma.md#wgmma throughput: tensor-core rate per SM, N size, one vs two "
      "warpgroups",)),
    # Hopper: TMA, mbarrier, shared memory
    ("load one K tile into every CTA of a cluster with a single TMA copy",
     ("hopper-tma.md#TMA multicast across a thread-block cluster (.multicast::cluster, ctaMask)",
      "ptx-reference.md#TMA multicast: .multicast::cluster with a 16-bit ctaMask")),
    ("how do I pass a TMA descriptor to my kernel in this project",
     ("hopper-tma.md#Tensor maps in avo-tui: avo:tensormap declarations and __grid_constant__ "
      "CUtensorMap parameters",
      "kernel-contract.md#Tensor maps: avo:tensormap declarations the harness builds for TMA")),
    ("when is it safe to overwrite the shared buffer after a TMA store",
     ("hopper-tma.md#TMA stores: shared::cta to global with bulk_group, commit_group, "
      "wait_group.read",
      "ptx-reference.md#cp.async.bulk.tensor store with bulk_group: commit_group and "
      "wait_group.read")),
    ("my kernel hangs forever waiting on an mbarrier",
     ("hopper-mbarrier.md#Debugging mbarrier hangs: timeouts with %globaltimer, printing stage "
      "and phase",)),
    ("which parity does the producer wait on the first time around the ring of stages",
     ("hopper-mbarrier.md#Parity bookkeeping: stage index, phase flip, and the initial-parity "
      "off-by-one",)),
    ("two TMA copies complete on one barrier, how many bytes does expect_tx get",
     ("hopper-mbarrier.md#expect_tx byte accounting and the 2^20-1 tx-count limit",
      "hopper-mbarrier.md#arrive, arrive.expect_tx, expect_tx and complete_tx: the transaction "
      "count")),
    ("XOR pattern of the 128 byte swizzle",
     ("shared-memory.md#The 128B swizzle formula (TMA and wgmma): chunk ^= row % 8, "
      "Swizzle<3,4,3>, 1024-B alignment",)),
    ("how many shared memory banks are there and when do two accesses conflict",
     ("shared-memory.md#Shared memory banks: 32 banks of 4 bytes, conflicts, broadcast and "
      "wavefronts",)),
    ("how much dynamic shared memory can one block use and how do I align it",
     ("shared-memory.md#Dynamic shared memory above 48 KB and aligning to 1024 bytes",)),
    # Hopper: execution
    ("synchronize only the consumer warpgroups without __syncthreads",
     ("hopper-execution.md#Warp specialization: producer warpgroup, consumer warpgroups, named "
      "barriers", "ptx-reference.md#bar.sync / bar.arrive: named barriers with a thread count "
      "between warpgroups")),
    ("how many registers does an H100 SM have and how many can one thread use",
     ("hopper-execution.md#H100 SXM and H200 resources: SM count, registers, shared memory "
      "size, L2 cache, clocks, TFLOPS",
      "hopper-execution.md#Register budget per SM and occupancy arithmetic for a 384-thread "
      "CTA")),
    ("elect one lane of the warp to issue the TMA copy",
     ("ptx-reference.md#elect.sync: electing one leader lane to issue TMA, arrive or commit",)),
    # attention algorithms
    ("online softmax update when the running max changes",
     ("attention-online-softmax.md#Online softmax recurrence: running max m, running sum l, "
      "output accumulator O",)),
    ("fold the softmax scale into the exponent so it costs one FFMA",
     ("attention-online-softmax.md#exp2 with the softmax scale folded into one FFMA "
      "(scale_log2)",)),
    ("skip rescaling the output accumulator unless the max grew a lot",
     ("attention-online-softmax.md#Conditional (lazy) rescaling: FA4's threshold of 8 in log2 "
      "units",)),
    ("I get NaN when every key of a row is masked",
     ("attention-online-softmax.md#Masking with -inf and the fully-masked-row guard",)),
    ("row max reduction across the threads that share an accumulator row",
     ("attention-online-softmax.md#Row max and row sum reductions in the accumulator layout: "
      "quad shuffles",
      "ptx-reference.md#shfl.sync.bfly: row max and row sum across the quad of a wgmma "
      "accumulator row")),
    ("why does FlashAttention-2 split queries across warps instead of keys",
     ("attention-flash2.md#Splitting Q across warps, not K/V: no split-K shared-memory "
      "reduction",)),
    ("how does ping-pong scheduling between two consumer warpgroups work",
     ("attention-flash3.md#Ping-pong scheduling of two consumer warpgroups with named "
      "barriers",)),
    ("overlap the softmax with the next QK^T GEMM inside one warpgroup",
     ("attention-flash3.md#Intra-warpgroup overlap: issue QK^T of the next block before the "
      "softmax of this one",)),
    ("how much does FA3 lose without warp specialization or pipelining",
     ("attention-flash3.md#FA3 ablation: warp specialization and GEMM-softmax pipelining, 661 "
      "vs 582 vs 570 TFLOP/s",)),
    ("keep P in registers for the second GEMM instead of writing it to shared memory",
     ("attention-flash3.md#P in registers for the PV wgmma (RS form) and V major-ness",
      "hopper-wgmma.md#Reusing S as the A operand of P·V (RS form, P in registers)",
      "attention-flash2.md#P in registers with mma.sync: why the S accumulator is the A operand "
      "of the PV product")),
    ("which key blocks can a causal kernel skip entirely",
     ("attention-causal.md#Classifying KV blocks: fully masked, fully visible, diagonal",)),
    ("later query blocks do more work under causal masking, what order should a persistent "
     "kernel take them in",
     ("attention-causal.md#Work imbalance across Q blocks and longest-processing-time-first "
      "ordering", "attention-causal.md#Persistent LPT scheduling with L2 head swizzling "
      "(FA3/FA4)")),
    ("which key/value head does query head 13 read in grouped-query attention",
     ("attention-gqa.md#GQA head mapping: kv_head = q_head / (heads_q / heads_kv)",)),
    ("why is head dim 64 attention stuck near 500 TFLOP/s",
     ("attention-limits.md#Exp bound worked for head dim 64, 128, 256: why d = 64 stalls near "
      "500 TFLOP/s",)),
    ("how slow is the exponential unit compared with the tensor cores",
     ("attention-limits.md#The MUFU exponential bottleneck: one exp per score against 4d "
      "matmul FLOPs",)),
    # Blackwell and the numbers
    ("what replaces wgmma on Blackwell B200",
     ("blackwell.md#tcgen05.mma: one thread issues the MMA, the accumulator lives in tensor "
      "memory", "blackwell.md#What carries over from Hopper: TMA, mbarrier, clusters, "
      "setmaxnreg; what does not: wgmma",
      "blackwell.md#Which Blackwell: sm_100a has tcgen05 and TMEM but no wgmma; sm_120 has "
      "neither")),
    ("how big is tensor memory and how do I allocate it",
     ("blackwell.md#Tensor memory (TMEM): 128 lanes x 512 columns, allocated with "
      "tcgen05.alloc",)),
    ("what did cuDNN reach on our H200",
     ("known-numbers.md#Our H200 baselines: cuDNN and FlashAttention-2 SDPA measured by the "
      "harness",)),
    ("FlashAttention-3 forward TFLOP/s on H100 at head dim 128",
     ("known-numbers.md#FlashAttention-2 and FlashAttention-3 forward on H100 (FA3 paper "
      "figure)", "attention-flash3.md#Reported FA3 performance on H100")),
    ("my kernel reaches 450 TFLOP/s at d=128, how far is that from the best kernels",
     ("known-numbers.md#How far from the frontier: rules of thumb for H100/H200 bf16 forward "
      "attention",)),
    # compiling, profiling, the contract
    ("can I pass -maxrregcount to cap the registers",
     ("nvrtc.md#What a kernel author controls from source (no -maxrregcount, no "
      "-use_fast_math)", "nvrtc.md#__launch_bounds__ and __maxnreg__: how the register cap is "
      "derived")),
    ("what is the difference between sm_90a and sm_90",
     ("nvrtc.md#--gpu-architecture: sm_90a vs compute_90a, the \"a\" and \"f\" suffixes",)),
    ("how do I tell from the compile output that registers spilled",
     ("nvrtc.md#Reading the ptxas -v output: used registers, used barriers, smem, stack frame, "
      "spills", "profiling.md#Register spills: symptoms and confirmation")),
    ("which ncu metric shows tensor core utilization",
     ("profiling.md#Tensor-core utilization: wgmma vs mma.sync ceilings on H100/H200",
      "profiling.md#Hopper metric names for common questions (verified on H200, ncu 2025.3.1)",
      "profiling.md#The agent's profile tool: what each metric answers")),
    ("check my kernel for shared memory races",
     ("profiling.md#Races and synchronization bugs: compute-sanitizer and nondeterminism",)),
    ("my grid is a bit more than one wave of CTAs, what does the tail cost",
     ("profiling.md#Tail effects and wave quantization",
      "attention-limits.md#Tail effects and wave quantization for short sequences")),
    ("ncu fails with ERR_NVGPUCTRPERM",
     ("profiling.md#When ncu cannot run: ERR_NVGPUCTRPERM and other failures",)),
    ("how do I declare a tunable knob in my kernel",
     ("kernel-contract.md#Knobs: tunable #define values (avo:knob)",)),
    ("what error tolerance does the harness use to decide a kernel is correct",
     ("kernel-contract.md#How a candidate is judged: correctness, timing, score and failure "
      "kinds",)),
    # the GEMM target
    ("is the GEMM target compute bound or memory bound",
     ("gemm-epilogue.md#Roofline of the timed shapes on A100, H100, H200 and B200",)),
    ("which lane loads which row of w with ldmatrix in an NT GEMM",
     ("gemm-epilogue.md#ldmatrix and mma.sync m16n8k16 for an NT GEMM: which lane loads which "
      "row",)),
    ("my GEMM kernel rounds to bf16 before the activation and fails the tolerance",
     ("gemm-epilogue.md#Numerics: why the tolerance forbids rounding the product before GELU",)),
    ("split-k for a GEMM with small m",
     ("gemm-epilogue.md#Wave quantization, split-k and stream-k for few tiles",)),
    # RMSNorm, a memory-bound target
    ("what limits the speed of my rmsnorm kernel",
     ("rmsnorm.md#What bounds an RMSNorm kernel: memory bandwidth, not arithmetic",)),
    ("should rmsnorm read its inputs once or twice",
     ("rmsnorm.md#One pass or two: reading the inputs once and keeping the row on chip",)),
    ("how do I sum a row across the threads of a block",
     ("rmsnorm.md#Summing a row across the threads of a block: warp shuffles, then one value "
      "per warp",)),
    ("what does torch.compile generate for rmsnorm",
     ("rmsnorm.md#What torch.compile generates for RMSNorm",)),
    # attention's backward pass (issue 91)
    ("how is dQ accumulated in the attention backward pass, atomics or a second pass",
     ("attention-backward.md#Accumulating dQ: atomic adds or a second pass",)),
    ("what is the D term rowsum(dO * O) in the flash attention backward",
     ("attention-backward.md#The D = rowsum(dO * O) term and why dS needs it",)),
    ("where does FlashAttention-3's backward leave time on the table",
     ("attention-backward.md#Where FlashAttention-3's backward leaves time on the table",)),
    ("my bf16 rmsnorm fails the tolerance, where should it round",
     ("rmsnorm.md#Numerics of a bf16 RMSNorm: float32 accumulation and the rounded residual "
      "sum",)),
]

TOP = 3
REQUIRED_HIT_RATE = 0.9


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase([KNOWLEDGE])


def test_there_are_enough_questions() -> None:
    assert len(QUESTIONS) >= 30
    assert len({q for q, _ in QUESTIONS}) == len(QUESTIONS)


def test_every_answer_names_a_section_that_exists(knowledge: KnowledgeBase) -> None:
    for _question, answers in QUESTIONS:
        for ref in answers:
            assert knowledge.read(ref).ref == ref, ref


def test_the_answer_is_in_the_top_three_for_at_least_90_percent(
    knowledge: KnowledgeBase,
) -> None:
    misses = []
    for question, answers in QUESTIONS:
        found = [hit.section.ref for hit in knowledge.search(question, TOP)]
        if not set(found) & set(answers):
            misses.append(f"{question!r}: got {found}")
    hit_rate = 1 - len(misses) / len(QUESTIONS)
    assert hit_rate >= REQUIRED_HIT_RATE, f"top-{TOP} hit rate {hit_rate:.0%}; misses:\n" + \
        "\n".join(misses)


FACTUAL = [p for p in sorted(KNOWLEDGE.glob("*.md")) if p.name != "README.md"]


@pytest.mark.parametrize("path", FACTUAL, ids=[p.name for p in FACTUAL])
def test_every_factual_file_names_its_sources(path: Path) -> None:
    sections = {s.heading: s.text for s in split_sections(path.name, path.read_text())}
    assert "Sources" in sections, f"{path.name} has no '## Sources' section"
    assert len(re.findall(r"^\s*[-*] \S", sections["Sources"], re.M)) >= 1


@pytest.mark.parametrize("path", FACTUAL, ids=[p.name for p in FACTUAL])
def test_headings_are_unique_within_a_file(path: Path) -> None:
    headings = [s.heading.lower() for s in split_sections(path.name, path.read_text())]
    assert len(headings) == len(set(headings)), sorted(h for h in headings
                                                       if headings.count(h) > 1)


def test_cross_references_between_files_resolve(knowledge: KnowledgeBase) -> None:
    broken = []
    for path in FACTUAL:
        for ref in re.findall(r"`([a-z0-9-]+\.md#[^`\n]+)`", path.read_text()):
            try:
                knowledge.read(ref)
            except KnowledgeError as error:
                broken.append(f"{path.name}: {error}")
    assert not broken, "\n".join(broken)
