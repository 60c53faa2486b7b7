"""The instruction mix of a kernel's main loop, read from its SASS: what our own kernel work
counted by hand (439 against 425 instructions a loop), for the agent's ``disassemble`` tool.

``loop_mix`` reads the text ``cuobjdump -sass`` or ``nvdisasm`` prints (standard library only,
so it runs and is tested on a machine without a GPU, on a checked-in sample). The function
named by the target's entry is found; its loops are the backward branches (a ``BRA`` to an
address or label at or before it); the **main loop** is, of the loops that hold matrix
instructions and no inner loop that does (the KV loops of an attention kernel, one per
consumer path), the one holding the most, the first among equals; the others are listed.
Without matrix instructions it is the largest loop. Its instructions
are counted by class: MMA (HGMMA, HMMA and Blackwell's UTC*MMA), MUFU.EX2 (and the other MUFU
functions), FFMA, barriers and waits (BAR, SYNCS mbarrier operations, WARPGROUP, DEPBAR ...),
and the uniform datapath (U* opcodes).

``disassemble`` compiles the candidate as the evaluator does (NVRTC, the device's arch) and runs
cuobjdump (or nvdisasm) on the cubin; it raises SassUnavailable where either is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MMA = frozenset({"HGMMA", "HMMA", "IMMA", "DMMA", "QGMMA", "IGMMA", "BGMMA", "UTCHMMA",
                 "UTCQMMA", "UTCIMMA", "UTCOMMA", "UTCMMA"})
BARRIERS = frozenset({"BAR", "BSYNC", "BSSY", "SYNCS", "WARPGROUP", "WARPSYNC", "DEPBAR",
                      "MEMBAR", "ERRBAR", "CCTL", "FENCE", "ARRIVES", "NANOSLEEP"})
CLASSES = ("MMA", "MUFU.EX2", "MUFU other", "FFMA", "FMUL/FADD/FMNMX", "barriers and waits",
           "uniform datapath", "other")
MAX_SASS_CHARS = 64_000_000
TOOL_TIMEOUT_S = 120

INSTRUCTION = re.compile(
    r"/\*(?P<address>[0-9a-fA-F]{4,})\*/\s+(?:\{\s*)?(?P<predicate>@!?U?P[T0-9]+\s+)?"
    r"(?P<opcode>[A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)(?P<operands>[^;]*);")
LABEL = re.compile(r"^\s*(?P<label>\.L_[\w.]+):")
FUNCTION = re.compile(r"^\s*(?:Function\s*:\s*(?P<cuobjdump>\S+)|\.text\.(?P<nvdisasm>[\w$.]+):)")
TARGET_ADDRESS = re.compile(r"0x(?P<hex>[0-9a-fA-F]+)")
TARGET_LABEL = re.compile(r"`\(\s*(?P<label>\.L_[\w.]+)\s*\)")


class SassUnavailable(RuntimeError):
    """cuobjdump and nvdisasm are missing, or the candidate did not compile."""


@dataclass(frozen=True)
class Instruction:
    """One SASS instruction: its address, its opcode with modifiers (``MUFU.EX2``), and its
    operands (a branch's target resolved to an address)."""

    address: int
    opcode: str
    operands: str


@dataclass(frozen=True)
class Mix:
    """The main loop of one function: where it lies and its instructions by class."""

    function: str
    start: int  # the address of its first instruction
    end: int  # and of its last, the branch back
    classes: dict[str, int]  # CLASSES -> how many
    opcodes: dict[str, int] = field(default_factory=dict)
    loops: int = 0  # loops in the function
    # the other innermost loops with matrix instructions: (start, end, instructions, MMA)
    others: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def total(self) -> int:
        return sum(self.classes.values())


def functions(text: str) -> dict[str, list[Instruction]]:
    """{function name: its instructions in order}; text with no function header is one
    function named ''. Labels become the address of the instruction after them."""
    found: dict[str, list[Instruction]] = {}
    name = ""
    labels: dict[str, int] = {}
    pending: list[str] = []
    for line in text[:MAX_SASS_CHARS].splitlines():
        header = FUNCTION.match(line)
        if header:
            name = header.group("cuobjdump") or header.group("nvdisasm") or ""
            continue
        label = LABEL.match(line)
        if label:
            pending.append(label.group("label"))
        match = INSTRUCTION.search(line)
        if not match:
            continue
        address = int(match.group("address"), 16)
        for waiting in pending:
            labels[f"{name}\0{waiting}"] = address
        pending = []
        operands = match.group("operands")
        target = TARGET_LABEL.search(operands)
        if target:  # a label target becomes the address it names, once known (resolved below)
            operands = f"{operands} @label:{target.group('label')}"
        found.setdefault(name, []).append(Instruction(address, match.group("opcode"), operands))
    return {fn: [_resolved(i, labels, fn) for i in body] for fn, body in found.items()}


def _resolved(instruction: Instruction, labels: dict[str, int], function: str) -> Instruction:
    if "@label:" not in instruction.operands:
        return instruction
    operands, label = instruction.operands.rsplit("@label:", 1)
    address = labels.get(f"{function}\0{label}")
    return Instruction(instruction.address, instruction.opcode,
                       f"{operands} 0x{address:x}" if address is not None else operands)


def classify(opcode: str) -> str:
    base = opcode.split(".", 1)[0]
    if base in MMA:
        return "MMA"
    if opcode.startswith("MUFU.EX2"):
        return "MUFU.EX2"
    if base == "MUFU":
        return "MUFU other"
    if base in ("FFMA", "FFMA2", "HFMA2"):
        return "FFMA"
    if base in ("FMUL", "FADD", "FMUL2", "FADD2", "FMNMX"):
        return "FMUL/FADD/FMNMX"
    if base in BARRIERS:
        return "barriers and waits"
    if base.startswith("U") or base == "R2UR":
        return "uniform datapath"
    return "other"


def loops(body: list[Instruction]) -> list[tuple[int, int]]:
    """(first, last) index of each loop: a branch back to an instruction at or before it."""
    index = {i.address: n for n, i in enumerate(body)}
    found = []
    for n, instruction in enumerate(body):
        if instruction.opcode.split(".", 1)[0] not in ("BRA", "JMP"):
            continue
        target = TARGET_ADDRESS.findall(instruction.operands)
        start = index.get(int(target[-1], 16)) if target else None
        if start is not None and start <= n:
            found.append((start, n))
    return found


def loop_mix(text: str, entry: str = "") -> Mix | None:
    """The main loop of ``entry`` (or of the function with the most MMA instructions, if no
    function is named so), or None when the text holds no loop."""
    bodies = functions(text)
    if not bodies:
        return None
    named = [fn for fn in bodies if entry and (fn == entry or entry in fn)]
    name = named[0] if named else max(bodies, key=lambda fn: sum(
        classify(i.opcode) == "MMA" for i in bodies[fn]))
    body = bodies[name]
    spans = loops(body)
    if not spans:
        return None

    mma = {span: sum(classify(i.opcode) == "MMA" for i in body[span[0]:span[1] + 1])
           for span in set(spans)}
    leaves = sorted(span for span, count in mma.items() if count and not any(
        other != span and mma[other] and span[0] <= other[0] and other[1] <= span[1]
        for other in mma))
    if leaves:
        first, last = max(leaves, key=lambda s: (mma[s], -s[0]))
    else:
        first, last = max(mma, key=lambda s: (s[1] - s[0], -s[0]))
    others = tuple((body[a].address, body[b].address, b - a + 1, mma[(a, b)])
                   for a, b in leaves if (a, b) != (first, last))
    inside = body[first:last + 1]
    classes = Counter(classify(i.opcode) for i in inside)
    opcodes = Counter(i.opcode.split(".", 1)[0] for i in inside)
    return Mix(name, body[first].address, body[last].address,
               {c: classes.get(c, 0) for c in CLASSES}, dict(opcodes.most_common(12)),
               len(mma), others)


def describe(mix: Mix, against: Mix | None = None, label: str = "the best") -> str:
    """The mix as the agent reads it, with the change against ``against``'s."""
    lines = [f"main loop of {mix.function or 'the kernel'}: 0x{mix.start:04x}-0x{mix.end:04x}, "
             f"{mix.total} instructions ({mix.loops} loops in the function)"]
    if against is not None:
        lines[0] += f"; {label}: {against.total} ({mix.total - against.total:+d})"
    for name in CLASSES:
        count = mix.classes.get(name, 0)
        line = f"  {name:<20} {count:>5}  {100 * count / max(1, mix.total):5.1f}%"
        if against is not None:
            line += f"   {label} {against.classes.get(name, 0):>5} " \
                    f"({count - against.classes.get(name, 0):+d})"
        lines.append(line)
    lines.append("  opcodes: " + ", ".join(f"{op} {n}" for op, n in mix.opcodes.items()))
    if mix.others:
        lines.append("  other loops with MMA: " + "; ".join(
            f"0x{a:04x}-0x{b:04x} {n} instructions, {m} MMA" for a, b, n, m in mix.others))
    return "\n".join(lines)


# -- getting the SASS ------------------------------------------------------------------------


def dump_tool() -> list[str]:
    """The command that prints a cubin's SASS: cuobjdump, else nvdisasm."""
    for name, args in (("cuobjdump", ["-sass"]), ("nvdisasm", ["-c"])):
        found = shutil.which(name) or next(
            (str(p) for p in (Path("/usr/local/cuda/bin") / name,) if p.exists()), None)
        if found:
            return [found, *args]
    raise SassUnavailable("neither cuobjdump nor nvdisasm is installed (CUDA toolkit's bin)")


def disassemble(toolchain_name: str, sources: Mapping[str, str], defines: Mapping[str, object],
                arch: str) -> str:
    """The SASS of ``sources`` compiled as the evaluator compiles them, for ``arch``."""
    from ..toolchains import get_toolchain
    from ..toolchains.base import CompileCache, ToolchainUnavailable, define_options

    command = dump_tool()
    with tempfile.TemporaryDirectory(prefix="avo-sass-") as folder:
        try:
            toolchain = get_toolchain(toolchain_name, CompileCache(Path(folder) / "cache"), arch)
            compiled = toolchain.compile(dict(sources), define_options(defines))
        except ToolchainUnavailable as error:
            raise SassUnavailable(str(error)) from None
        if not compiled.ok or compiled.artifact is None:
            raise SassUnavailable(f"the kernel does not compile: {compiled.summary()}")
        cubin = Path(folder) / "kernel.cubin"
        cubin.write_bytes(Path(compiled.artifact).read_bytes())
        try:
            done = subprocess.run([*command, str(cubin)], capture_output=True, text=True,
                                  timeout=TOOL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SassUnavailable(f"{Path(command[0]).name} failed: {error}") from None
    if done.returncode != 0:
        raise SassUnavailable(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")
    return done.stdout
