"""The instruction mix of a kernel's main loop, read from its SASS: what our own kernel work
counted by hand (439 against 425 instructions a loop), for the agent's ``disassemble`` tool.

``loop_mix`` reads the text ``cuobjdump -sass`` or ``nvdisasm`` prints (standard library only,
so it runs and is tested on a machine without a GPU, on checked-in samples). The function
named by the target's entry is found and its loops are its **natural loops**: the instructions
are cut into basic blocks, joined by their branches (a guarded ``BRA`` or ``EXIT`` also falls
through, an unguarded one does not), dominators are computed, and each branch to a block that
dominates it closes a loop: that header and every block that reaches the branch without passing
it (loops sharing a header are one). Not every backward branch is a loop: on Hopper the compiler
moves an mbarrier try-wait's retry out of line, past the function's ``EXIT``: ``@!P0 BRA`` jumps
forward to a block that spins on ``SYNCS.PHASECHK`` and then branches back to the instruction
after the jump. That branch back does not close a loop (its target does not dominate it), and
the retry block is part of whatever loop the wait sits in, though its instructions lie far
from the rest. Indirect branches (``BRX``, ``JMX``, ``RET``) have no known successor; blocks
that no edge reaches are taken as entries too, so the code they lead to is still searched (the
padding after the last instruction, a branch to itself that nothing reaches, is no loop).

The **main loop** is, of the loops that hold matrix instructions and no inner loop that does
(the KV loops of an attention kernel, one per consumer path), the one holding the most, the
shortest among equals (the longer ones are copies carrying the edge blocks' extra work, such as
a causal mask, whichever comes first); the others are listed. Without matrix instructions it is
the largest loop.
Its instructions are counted by class: MMA (HGMMA, HMMA and Blackwell's UTC*MMA), MUFU.EX2 (and
the other MUFU functions), FFMA, barriers and waits (BAR, SYNCS mbarrier operations, WARPGROUP,
DEPBAR ...), and the uniform datapath (U* opcodes).

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
from itertools import chain
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
LABEL = re.compile(r"^\s*(?P<label>(?:\.L_|\$)[\w$.]+):")  # $__internal_...: a subroutine
FUNCTION = re.compile(r"^\s*(?:Function\s*:\s*(?P<cuobjdump>\S+)|\.text\.(?P<nvdisasm>[\w$.]+):)")
TARGET_ADDRESS = re.compile(r"0x(?P<hex>[0-9a-fA-F]+)")
TARGET_LABEL = re.compile(r"`\(\s*(?P<label>(?:\.L_|\$)[\w$.]+)\s*\)")
# Opcodes (without modifiers) that end a basic block, and which of them go to an address given.
TRANSFERS = frozenset({"BRA", "JMP", "BRX", "JMX", "CALL", "EXIT", "RET", "KILL"})
DIRECT = frozenset({"BRA", "JMP", "CALL"})
ALWAYS = frozenset({"", "@PT", "@UPT"})  # guards under which an instruction always runs
NEVER = frozenset({"@!PT", "@!UPT"})


class SassUnavailable(RuntimeError):
    """cuobjdump and nvdisasm are missing, or the candidate did not compile."""


@dataclass(frozen=True)
class Instruction:
    """One SASS instruction: its address, its opcode with modifiers (``MUFU.EX2``), and its
    operands (a branch's target resolved to an address)."""

    address: int
    opcode: str
    operands: str
    guard: str = ""  # its predicate, "@!P0" or "@UP1"; "" when it always runs (none, or @PT)


@dataclass(frozen=True)
class Loop:
    """One natural loop: its header's address, the address of the last instruction that goes
    back to the header (the branch back, the highest one where several do), its instructions
    as indices into the function's list (not contiguous where it branches out of line and
    back), inner loops' included, and the loop around it."""

    start: int
    end: int
    members: frozenset[int]
    parent: int | None = None  # the header address of the loop right around it, if any


@dataclass(frozen=True)
class Mix:
    """The main loop of one function: where it lies and its instructions by class."""

    function: str
    start: int  # the address of its header, where each iteration begins
    end: int  # the address of its (last) branch back to the header
    classes: dict[str, int]  # CLASSES -> how many
    opcodes: dict[str, int] = field(default_factory=dict)
    loops: int = 0  # loops in the function
    # the other innermost loops with matrix instructions: (start, end, instructions, MMA)
    others: tuple[tuple[int, int, int, int], ...] = ()
    # each wait for wgmma groups (WARPGROUP.DEPBAR's operands) in address order, with how many
    # of the loop's MUFU.EX2 come before it: where ptxas put the wait among the softmax
    waits: tuple[tuple[str, int], ...] = ()

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
        guard = (match.group("predicate") or "").strip()
        for waiting in pending:
            labels[f"{name}\0{waiting}"] = address
        pending = []
        operands = match.group("operands")
        target = TARGET_LABEL.search(operands)
        if target:  # a label target becomes the address it names, once known (resolved below)
            operands = f"{operands} @label:{target.group('label')}"
        found.setdefault(name, []).append(Instruction(
            address, match.group("opcode"), operands, "" if guard in ALWAYS else guard))
    return {fn: [_resolved(i, labels, fn) for i in body] for fn, body in found.items()}


def _resolved(instruction: Instruction, labels: dict[str, int], function: str) -> Instruction:
    if "@label:" not in instruction.operands:
        return instruction
    operands, label = instruction.operands.rsplit("@label:", 1)
    address = labels.get(f"{function}\0{label}")
    return Instruction(instruction.address, instruction.opcode,
                       f"{operands} 0x{address:x}" if address is not None else operands,
                       instruction.guard)


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


def _flow(body: list[Instruction]) -> list[tuple[bool, int | None, bool]]:
    """For each instruction: whether it ends a basic block, the index it may go to (None if
    none or unknown), and whether control may go on to the next instruction."""
    index = {i.address: n for n, i in enumerate(body)}
    flow: list[tuple[bool, int | None, bool]] = []
    for instruction in body:
        base = instruction.opcode.split(".", 1)[0]
        if base not in TRANSFERS or instruction.guard in NEVER:
            flow.append((False, None, True))
            continue
        target = None
        rest = ""
        operands = TARGET_LABEL.sub("", instruction.operands)
        if base in DIRECT and "[" not in operands:  # not through memory: CALL.ABS c[0x0][0x8]
            addresses = TARGET_ADDRESS.findall(operands)
            target = index.get(int(addresses[-1], 16)) if addresses else None
            # what the branch names besides its target is a condition: BRA P1, BRA.DIV UR4
            rest = TARGET_ADDRESS.sub("", operands).strip(" ,")
        conditional = bool(instruction.guard) or bool(rest) or base == "CALL"  # a call returns
        flow.append((True, target, conditional))
    return flow


def _blocks(body: list[Instruction], flow: list[tuple[bool, int | None, bool]]
            ) -> tuple[list[range], list[list[int]]]:
    """The basic blocks (ranges of indices, in order) and each block's successors."""
    leaders = {0}
    for n, (ends, target, _) in enumerate(flow):
        if ends:
            leaders.add(n + 1)
        if target is not None:
            leaders.add(target)
    starts = sorted(n for n in leaders if n < len(body))
    blocks = [range(a, b) for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]
    block_of = {b.start: k for k, b in enumerate(blocks)}
    successors: list[list[int]] = []
    for k, block in enumerate(blocks):
        _, target, onward = flow[block[-1]]
        following = [k + 1] if onward and k + 1 < len(blocks) else []
        jumps = [block_of[target]] if target is not None else []
        successors.append(list(dict.fromkeys(jumps + following)))
    return blocks, successors


def _dominators(successors: list[list[int]]) -> tuple[list[int], list[int]]:
    """The immediate dominator of each block (-1 for the virtual entry above the entries, or
    for a block nothing reaches) and the blocks in reverse postorder. The entries are block 0
    and every block without predecessors (code behind an indirect branch, subroutines)."""
    count = len(successors)
    has_predecessor = [False] * count
    for targets in successors:
        for t in targets:
            has_predecessor[t] = True
    root = count
    graph = [*successors, [0, *(k for k in range(1, count) if not has_predecessor[k])]]
    order: list[int] = []  # postorder, iteratively: kernels have thousands of blocks
    seen = [False] * (count + 1)
    seen[root] = True
    stack = [(root, iter(graph[root]))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            order.append(node)
        elif not seen[child]:
            seen[child] = True
            stack.append((child, iter(graph[child])))
    order.reverse()
    number = {node: n for n, node in enumerate(order)}
    predecessors: list[list[int]] = [[] for _ in range(count + 1)]
    for node in order:
        for t in graph[node]:
            predecessors[t].append(node)
    # Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm" (2001)
    idom = [-1] * (count + 1)
    idom[root] = root
    changed = True
    while changed:
        changed = False
        for node in order[1:]:
            new = -1
            for p in predecessors[node]:
                if idom[p] == -1:
                    continue
                if new == -1:
                    new = p
                    continue
                a, b = p, new
                while a != b:
                    while number[a] > number[b]:
                        a = idom[a]
                    while number[b] > number[a]:
                        b = idom[b]
                new = a
            if idom[node] != new:
                idom[node] = new
                changed = True
    return [-1 if d == root else d for d in idom[:count]], order[1:]


def _intervals(idom: list[int], order: list[int]) -> tuple[list[int], list[int]]:
    """Each block's preorder number in the dominator tree and the number after its subtree's:
    a dominates b when first[a] <= first[b] < after[a]."""
    children: list[list[int]] = [[] for _ in idom]
    tops: list[int] = []
    for node in order:
        (children[idom[node]] if idom[node] >= 0 else tops).append(node)
    first = [0] * len(idom)
    after = [0] * len(idom)
    clock = 0
    stack = [(node, False) for node in reversed(tops)]
    while stack:
        node, done = stack.pop()
        if done:
            after[node] = clock
            continue
        first[node] = clock
        clock += 1
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children[node]))
    return first, after


def loops(body: list[Instruction]) -> list[Loop]:
    """The natural loops of a function's instructions, by header address: each branch to a
    block that dominates it closes one (see the module's docstring)."""
    if not body:
        return []
    blocks, successors = _blocks(body, _flow(body))
    idom, order = _dominators(successors)
    first, after = _intervals(idom, order)
    reached = set(order)
    predecessors: list[list[int]] = [[] for _ in blocks]
    latches: dict[int, list[int]] = {}  # header -> the blocks that branch back to it
    for node in order:
        for target in successors[node]:
            predecessors[target].append(node)
            if first[target] <= first[node] < after[target]:  # target dominates node
                latches.setdefault(target, []).append(node)
    # Inner loops first (a header lies below the headers around it in the dominator tree).
    # Each loop's walk back from its latches steps over an inner loop already found, from its
    # header, by a union-find: deep nesting costs no more walking than shallow.
    inner_first = sorted(latches, key=first.__getitem__, reverse=True)
    outermost = list(range(len(blocks)))  # a block -> the outermost loop found around it

    def find(node: int) -> int:
        root = node
        while outermost[root] != root:
            root = outermost[root]
        while outermost[node] != root:
            outermost[node], node = root, outermost[node]
        return root

    own: dict[int, list[int]] = {}  # header -> the blocks it is the innermost loop of
    parent: dict[int, int] = {}  # header -> the header of the loop around it
    for header in inner_first:
        inside = {header}
        walk = [find(t) for t in latches[header]]
        while walk:
            node = walk.pop()
            if node not in inside:
                inside.add(node)
                walk.extend(find(p) for p in predecessors[node] if p in reached)
        own[header] = [header]
        for node in inside - {header}:
            outermost[node] = header
            if node in own:  # an inner loop's header, not yet inside another
                parent[node] = header
            else:
                own[header].append(node)
    members: dict[int, frozenset[int]] = {}
    nested: dict[int, list[int]] = {}
    for header, around in parent.items():
        nested.setdefault(around, []).append(header)
    for header in inner_first:
        mine = frozenset(chain.from_iterable(blocks[b] for b in own[header]))
        members[header] = mine.union(*(members[h] for h in nested.get(header, ())))
    address = [body[b.start].address for b in blocks]
    return [Loop(address[header], max(body[blocks[t][-1]].address for t in latches[header]),
                 members[header], address[parent[header]] if header in parent else None)
            for header in sorted(latches)]


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
    found = loops(body)
    if not found:
        return None

    matrix = [classify(i.opcode) == "MMA" for i in body]
    mma = [sum(map(matrix.__getitem__, loop.members)) for loop in found]
    # a loop holds an inner loop with MMA when one of the loops right inside it holds MMA
    around = {loop.parent for loop, count in zip(found, mma, strict=True) if count}
    leaves = [k for k, loop in enumerate(found) if mma[k] and loop.start not in around]
    if leaves:
        # Of loops with as many MMA, the shortest: the others are copies of it that carry extra
        # work for the edge blocks (a causal mask), and they run a block or two a tile.
        main = max(leaves, key=lambda k: (mma[k], -len(found[k].members), -found[k].start))
    else:
        main = max(range(len(found)), key=lambda k: (len(found[k].members), -found[k].start))
    others = tuple((found[k].start, found[k].end, len(found[k].members), mma[k])
                   for k in leaves if k != main)
    inside = [body[n] for n in sorted(found[main].members)]
    classes = Counter(classify(i.opcode) for i in inside)
    opcodes = Counter(i.opcode.split(".", 1)[0] for i in inside)
    return Mix(name, found[main].start, found[main].end,
               {c: classes.get(c, 0) for c in CLASSES}, dict(opcodes.most_common(12)),
               len(found), others, _waits(inside))


def _waits(inside: list[Instruction]) -> tuple[tuple[str, int], ...]:
    exponentials = 0
    waits = []
    for instruction in inside:
        if instruction.opcode.startswith("MUFU.EX2"):
            exponentials += 1
        elif instruction.opcode.startswith("WARPGROUP.DEPBAR"):
            waits.append((" ".join(instruction.operands.split()), exponentials))
    return tuple(waits)


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
    exponentials = mix.classes.get("MUFU.EX2", 0)
    if mix.waits and exponentials:
        # Where the wait for a GEMM lands decides how much of the softmax overlaps it, and
        # ptxas moves it with edits elsewhere in the kernel (docs/kernels.md, rung 2d).
        line = "  wgmma waits, after how many of the loop's MUFU.EX2 (address order): " + \
            "; ".join(f"{operands} after {n} of {exponentials}" for operands, n in mix.waits)
        if against is not None and against.waits:
            line += f"; {label}: " + "; ".join(f"{n}" for _, n in against.waits)
        lines.append(line)
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
