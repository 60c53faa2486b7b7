"""Cheating kernels made from any target's own seed (issue 41: every attack test runs against
every target).

A cheat is the seed, untouched, inside a wrapper that cheats around it: the cheats themselves
are written once, in C (tests/adversarial/generic/avo_attack.h) and in CUDA (avo_attack.cuh),
and this module fits them to a target. It gives them what an attacker who has read the target
knows: the entry point's parameters, and the configurations the target times with their
scalars and sizes (``Row``). A C target's seed is included with its entry point renamed
``avo_honest`` and called from an entry point of the target's signature; a CUDA seed keeps its
entry point (its launch bounds, its tensor maps), whose body becomes a lambda the cheat calls.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from avo_tui.evaluation import get_target
from avo_tui.evaluation.declarations.candidate import apply_knobs, load_sources
from avo_tui.evaluation.targets.problem import Config, Param, output_param
from avo_tui.evaluation.targets.spec import TargetSpec
from avo_tui.evaluation.toolchains import CompileCache, CompileResult, CudaToolchain

GENERIC = Path(__file__).parent / "adversarial" / "generic"
# The cheats, in avo_attack.h's (and avo_attack.cuh's) numbering; "honest" is the control: the
# wrapper around the seed, cheating nowhere.
ATTACKS = (
    "honest",
    "skips_repeats",
    "skips_unless_poisoned",
    "caches_by_pointer",
    "caches_by_sampled_inputs",
    "writes_input",
    "writes_input_when_repeated",
    "lower_precision",
    "lower_precision_when_repeated",
    "leaves_last_slice",
)
SLICE_SHARE = 8  # an output without leading dimensions loses its last eighth of rows
HOPPER = "sm_90a"  # the GPU the GPU tests run on
KERNELS = Path(__file__).parents[1] / "kernels"
C_SEED, C_KERNEL, C_CHEATS = "avo_attack_seed.h", "avo_attack.c", "avo_attack.h"
CUDA_TARGET, CUDA_CHEATS = "avo_attack_target.cuh", "avo_attack.cuh"
DTYPE_CODES = {"float32": 0, "bfloat16": 1, "float16": 2}
ELEMENT_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Row:
    """A configuration the target times, as a cheat knows it."""

    ints: tuple[int, ...]
    floats: tuple[float, ...]
    numel: int  # output elements
    in_numel: tuple[int, ...]
    keep: int  # output elements before its last slice
    shorten: int  # which int a C seed is called with shortened to leave that slice undone; -1
    shortened: int


@dataclass(frozen=True)
class Seeded:
    """A target and its seed for Hopper, its knobs applied: the honest kernel."""

    spec: TargetSpec
    seed: dict[str, str]  # the seed's files
    main: str  # the one among them that defines the entry point


def seeded(name: str) -> Seeded:
    """The evaluator's own choice of seed (not tests/attack_targets.py's, which imports the
    engine, and so the session store's packages, which a bare GPU machine may lack)."""
    spec = get_target(name)
    seed = spec.seed_for(HOPPER)
    assert seed is not None, f"{name} has no seed for {HOPPER}"
    path = Path(seed.kernel) if Path(seed.kernel).is_absolute() else KERNELS / seed.kernel
    return Seeded(spec, apply_knobs(load_sources(path, "cuda"), seed.knobs), path.name)


def around_entry(target: Seeded, header: Path, defines: dict[str, object], before: str,
                 after: str) -> dict[str, str]:
    """The target's seed with its entry point's body run as a lambda between ``before`` and
    ``after`` (CUDA statements), ``header`` included first under ``defines``; the header's file
    joins the sources."""
    text = target.seed[target.main]
    start, end, _ = entry_body(text, target.spec.entry)
    lines = [f"#define {name} {value}" for name, value in defines.items()]
    prologue = "\n".join([*lines, f'#include "{header.name}"', ""])
    body = f"{{\n    {before}\n    [&]() {text[start:end]}();\n    {after}\n}}"
    return target.seed | {target.main: prologue + text[:start] + body + text[end:],
                          header.name: header.read_text()}


def builds_for_hopper(target: Seeded, sources: dict[str, str], cache: Path) -> CompileResult:
    """``sources`` compiled by NVRTC for Hopper under the target's defines (no GPU needed)."""
    nvrtc = CudaToolchain(CompileCache(cache), HOPPER)
    options = tuple(f"-D{name}={value}" for name, value in target.spec.defines.items())
    return nvrtc.compile(sources, options)


def timed_configs(spec: TargetSpec) -> tuple[Config, ...]:
    """Every configuration the target times, quick or not."""
    return tuple(dict.fromkeys((*spec.quick_configs, *spec.configs)))


def rows(spec: TargetSpec) -> list[Row]:
    return [row(config) for config in timed_configs(spec)]


def row(config: Config) -> Row:
    problem = config.problem
    scalars = problem.scalars(config)
    out = output_param(problem).shape_on(config)
    numel = math.prod(out)
    keep, cut = last_slice(out)
    shorten, shortened = shortening(config, cut)
    return Row(
        ints=tuple(int(scalars[p.name]) for p in problem.parameters if p.kind == "int"),
        floats=tuple(float(scalars[p.name]) for p in problem.parameters if p.kind == "float"),
        numel=numel,
        in_numel=tuple(math.prod(p.shape_on(config)) for p in _inputs(problem.parameters)),
        keep=keep,
        shorten=shorten,
        shortened=shortened,
    )


def last_slice(shape: tuple[int, ...]) -> tuple[int, int]:
    """(output elements before the last slice, the leading indices that slice is, where it is
    a prefix of the first dimension, else 0). The slice is the last index of the leading
    dimensions as the harness samples them (problem.RowSample: [*leading, rows, width]), or,
    for an output with none, its last SLICE_SHARE-th of rows."""
    numel = math.prod(shape)
    if len(shape) >= 3:
        return numel - shape[-2] * shape[-1], 1 if len(shape) == 3 else 0
    cut = -(-shape[0] // SLICE_SHARE)
    return numel - cut * (numel // shape[0]), cut


def shortening(config: Config, cut: int) -> tuple[int, int]:
    """(the position among the int parameters of the one a seed can be called with ``cut``
    smaller to compute all but the output's last ``cut`` leading indices, its value then); (-1,
    0) where no dimension does that: every tensor keeps its shape but for its first size, cut
    by as much, and no other scalar moves."""
    if not cut:
        return -1, 0
    problem = config.problem
    ints = [p for p in problem.parameters if p.kind == "int"]
    before = problem.scalars(config)
    for name, value in config.dims:
        if isinstance(value, bool) or value <= cut:
            continue
        try:
            shorter = Config(problem, tuple((n, v - cut if n == name else v)
                                            for n, v in config.dims), config.dtype)
        except ValueError:
            continue
        after = problem.scalars(shorter)
        moved = [i for i, p in enumerate(ints) if after[p.name] != before[p.name]]
        if (len(moved) != 1 or after[ints[moved[0]].name] != before[ints[moved[0]].name] - cut
                or any(after[p.name] != before[p.name] for p in problem.parameters
                       if p.kind == "float")):
            continue
        if all(_prefix(p.shape_on(config), p.shape_on(shorter), cut, p.kind == "output")
               for p in problem.parameters if p.is_tensor):
            return moved[0], int(after[ints[moved[0]].name])
    return -1, 0


def _prefix(whole: tuple[int, ...], part: tuple[int, ...], cut: int, output: bool) -> bool:
    cut_first = part[:1] == (whole[0] - cut,) and part[1:] == whole[1:]
    return cut_first if output else cut_first or part == whole


def _inputs(parameters: tuple[Param, ...]) -> list[Param]:
    return [p for p in parameters if p.kind == "input"]


def _c_float(value: float) -> str:
    """A float32 literal C reads back exactly."""
    (single,) = struct.unpack("<f", struct.pack("<f", value))
    return float(single).hex() + "f"


def _table(spec: TargetSpec, integer: str) -> str:
    """AVO_TIMED_ROWS: each timed configuration as a cheat's initializer."""
    lines = []
    for r in rows(spec):
        ints = ", ".join(map(str, r.ints)) or "0"
        floats = ", ".join(map(_c_float, r.floats)) or "0"
        in_numel = ", ".join(f"{n}{integer}" for n in r.in_numel)
        lines.append(f"    {{{{{ints}}}, {{{floats}}}, {r.numel}{integer}, {{{in_numel}}}, "
                     f"{r.keep}{integer}, {r.shorten}, {r.shortened}}}")
    return "{ \\\n" + ", \\\n".join(lines) + " \\\n}"


def _shape_macros(spec: TargetSpec, attack: str) -> str:
    """The cheats by number (AVO_SKIPS_REPEATS ...), the one chosen, the entry point's shape."""
    params = spec.problem.parameters
    return "\n".join((
        *(f"#define AVO_{name.upper()} {number}" for number, name in enumerate(ATTACKS)),
        f"#define AVO_ATTACK AVO_{attack.upper()}",
        f"#define AVO_INPUTS {len(_inputs(params))}",
        f"#define AVO_INTS {sum(p.kind == 'int' for p in params)}",
        f"#define AVO_FLOATS {sum(p.kind == 'float' for p in params)}",
    ))


# -- C -----------------------------------------------------------------------------------------


def c_sources(spec: TargetSpec, seed: dict[str, str], main: str, attack: str) -> dict[str, str]:
    """The sources of ``attack`` around the C seed ``seed`` (its files; ``main`` the one that
    defines the entry point)."""
    entry, params = spec.entry, spec.problem.parameters
    declared = {"input": "const float *", "output": "float *", "int": "int ", "float": "float "}
    signature = ", ".join(f"{declared[p.kind]}p{i}" for i, p in enumerate(params))
    ints = [i for i, p in enumerate(params) if p.kind == "int"]
    floats = [i for i, p in enumerate(params) if p.kind == "float"]
    out = next(i for i, p in enumerate(params) if p.kind == "output")
    arguments = [f"(plan.shorten == {ints.index(i)} ? plan.shortened : p{i})" if p.kind == "int"
                 else f"p{i}" for i, p in enumerate(params)]
    kernel = f"""\
/* {attack} around the seed of {spec.name} (generated by tests/attack_kernels.py) */
#define {entry} avo_honest
#include "{C_SEED}"
#undef {entry}
{_shape_macros(spec, attack)}
#define AVO_TIMED_ROWS {_table(spec, "L")}
#include "{C_CHEATS}"

void {entry}({signature}) {{
    const float *avo_in[] = {{{", ".join(f"p{i}" for i, p in enumerate(params)
                                       if p.kind == "input")}}};
    const int avo_ints[] = {{{"".join(f"p{i}, " for i in ints)}0}};
    const float avo_floats[] = {{{"".join(f"p{i}, " for i in floats)}0}};
    AvoPlan plan = avo_before(avo_in, p{out}, avo_ints, avo_floats);
    if (plan.compute) avo_honest({", ".join(arguments)});
    avo_after(&plan, avo_in, p{out});
}}
"""
    files = {name: text for name, text in seed.items() if name != main}
    return files | {C_SEED: seed[main], C_CHEATS: (GENERIC / C_CHEATS).read_text(),
                    C_KERNEL: kernel}


# -- CUDA --------------------------------------------------------------------------------------


def cuda_sources(spec: TargetSpec, seed: dict[str, str], main: str, attack: str
                 ) -> dict[str, str]:
    """The sources of ``attack`` in the CUDA seed ``seed``: its entry point's body wrapped."""
    quick = [row(c) for c in spec.quick_configs]
    target = "\n".join((
        f"// {attack} in the seed of {spec.name} (generated by tests/attack_kernels.py)",
        _shape_macros(spec, attack),
        f"#define AVO_ELEMENT_BYTES {ELEMENT_BYTES[spec.quick_configs[0].dtype]}",
        f"#define AVO_DTYPE {DTYPE_CODES[spec.quick_configs[0].dtype]}",
        f"#define AVO_SLOT_ELEMENTS {max(r.numel for r in quick)}LL",
        f"#define AVO_TIMED_ROWS {_table(spec, 'LL')}",
        f'#include "{CUDA_CHEATS}"',
        "",
    ))
    text = seed[main]
    body_start, body_end, names = entry_body(text, spec.entry)
    params = spec.problem.parameters
    named = dict(zip((p.name for p in params), names, strict=False))
    listed = {kind: ", ".join([named[p.name] for p in params if p.kind == kind] + extra)
              for kind, extra in (("input", []), ("int", ["0"]), ("float", ["0.0f"]))}
    out = named[output_param(spec.problem).name]
    wrapped = f"""{{
    __shared__ AvoPlan avo_plan;
    const void *avo_in[] = {{{listed["input"]}}};
    const int avo_ints[] = {{{listed["int"]}}};
    const float avo_floats[] = {{{listed["float"]}}};
    avo_begin(&avo_plan, avo_in, (void *)({out}), avo_ints, avo_floats);
    if (avo_plan.compute) [&]() {text[body_start:body_end]}();
    avo_end(&avo_plan, avo_in, (void *)({out}), avo_ints, avo_floats);
}}"""
    kernel = (f'#include "{CUDA_TARGET}"\n' + text[:body_start] + wrapped + text[body_end:])
    return seed | {main: kernel, CUDA_TARGET: target,
                   CUDA_CHEATS: (GENERIC / CUDA_CHEATS).read_text()}


COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                               re.DOTALL)


def code_only(text: str) -> str:
    """``text`` with comments and string literals blanked, every offset kept."""
    return COMMENT_OR_STRING.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def entry_body(text: str, entry: str) -> tuple[int, int, list[str]]:
    """Where the definition of ``entry`` has its body (from its ``{`` to past its ``}``), and
    its parameters' names in order."""
    code = code_only(text)
    for found in re.finditer(rf"\b{re.escape(entry)}\s*\(", code):
        close = _matching(code, found.end() - 1)
        brace = close + 1 + len(code[close + 1:]) - len(code[close + 1:].lstrip())
        if code[brace:brace + 1] == "{":
            names = [re.findall(r"\w+", part)[-1]
                     for part in _split_top(code[found.end():close]) if part.strip()]
            return brace, _matching(code, brace) + 1, names
    raise ValueError(f"the seed defines no {entry}(...) {{...}}")


def _matching(code: str, at: int) -> int:
    """The offset of the bracket closing the one at ``at``."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = []
    for index in range(at, len(code)):
        char = code[index]
        if char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return index
    raise ValueError(f"an unclosed {code[at]!r}")


def _split_top(params: str) -> list[str]:
    """A parameter list split at its commas outside brackets."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(params):
        depth += char in "([{<"
        depth -= char in ")]}>"
        if char == "," and depth == 0:
            parts.append(params[start:index])
            start = index + 1
    return [*parts, params[start:]]
