"""What a kernel declares in its source: knobs, constraints and (for CUDA) launch geometry.

The declarations are comments the C preprocessor ignores, so the source stays an ordinary
kernel (knowledge/kernel-contract.md is the user's reference):

    #define BLOCK_Q 32        // avo:knob 16 32 64
    // avo:require BLOCK_Q * HEAD_DIM <= 8192
    // avo:launch grid=(ceil_div(S, BLOCK_Q), HQ, B) block=(NUM_THREADS,) smem=SMEM_BYTES
    // avo:tensormap tma_q tensor=q box=(1, 1, BLOCK_Q, 64) swizzle=128B

A knob is a ``#define`` whose allowed values follow ``avo:knob``; the tuner rewrites the value in
place, so a tuned kernel is still plain source. Expressions are a small, safe subset of Python
(integers, + - * / // % **, comparisons, and/or/not, ``&&``/``||``, min, max, ceil_div): they
may name knobs, other simple ``#define``s, and the variables the harness supplies. A tensor map
is a TMA descriptor the harness builds over one of the tensors for every launch and passes after
the fixed parameters, in declaration order.

The kernel's author may be hostile, and the tuner evaluates declarations in the engine's own
process: values, expression sizes, nesting, #define chains and the work of one evaluation are
bounded (the MAX_* limits below), and every refusal is a ContractError.
"""

from __future__ import annotations

import ast
import bisect
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

KNOB = re.compile(
    r"^(?P<head>[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+)(?P<value>[^\s/]+)"
    r"(?P<gap>[ \t]*)//[ \t]*avo:knob\b(?P<choices>[^\n]*)$",
    re.MULTILINE,
)
# The value is the rest of the line up to a // comment, without trailing blanks; it is cut in
# Python, because a lazy value followed by [ \t]* backtracks quadratically on a long run of blanks.
DEFINE = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+(?P<rest>[^\n]*)$", re.MULTILINE
)
DIRECTIVE = re.compile(
    r"//[ \t]*avo:(?P<kind>require|launch|tensormap)\b(?P<body>[^\n]*)$", re.MULTILINE
)
# Blanks before a ``key=``; the look-behind starts a match only where a run of blanks starts (a
# match tried inside a long run of blanks, at every position, would be quadratic).
FIELD_SPLIT = re.compile(r"(?<!\s)\s+(?=\w+=)")
LAUNCH_FIELDS = ("grid", "block", "smem", "cluster")
# Tensor maps travel in Declarations.launch, each under this prefix and its name: whoever merges
# the launch fields of several files then keeps the maps too, in declaration order.
TENSORMAP_KEY = "tensormap:"
TENSORS = ("q", "k", "v", "out")  # each [batch, heads, seq_len, head_dim], contiguous
TENSOR_RANK = 4
SWIZZLES = {"none": 0, "32B": 32, "64B": 64, "128B": 128}  # name -> swizzle span in bytes
TENSORMAP_OPTIONS: dict[str, tuple[str, ...]] = {
    "tensor": TENSORS,
    "swizzle": tuple(SWIZZLES),
    "l2": ("none", "64B", "128B", "256B"),
    "oob": ("zero", "nan"),
}
TENSORMAP_FIELDS = ("tensor", "box", "swizzle", "l2", "oob")
MAX_BOX = 256  # the TMA unit's limit on each box dimension, in elements
# Names whose value changes with the configuration: a box is a tile shape, fixed per kernel.
CONFIG_VARIABLES = frozenset({"B", "HQ", "HKV", "S", "D", "CAUSAL", "NUM_SMS"})


class ContractError(ValueError):
    """A declaration is malformed, or a value breaks it."""


class MissingEntry(LookupError):
    """The compiled kernel does not export the entry point its target calls."""


@dataclass(frozen=True)
class Knob:
    name: str
    value: str
    choices: tuple[str, ...]
    line: int

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "choices": list(self.choices)}


@dataclass(frozen=True)
class TensorMap:
    """An ``avo:tensormap`` declaration: a TMA descriptor over one tensor, built by the harness."""

    name: str
    tensor: str
    box: str  # expression: TENSOR_RANK sizes in elements, outermost dimension first
    swizzle: str = "none"
    l2: str = "none"
    oob: str = "zero"

    def box_shape(self, env: Environment, element_bytes: int) -> tuple[int, ...]:
        """The box evaluated and checked against what the TMA unit accepts."""
        try:
            value = env.evaluate(self.box)
        except ContractError as error:
            raise ContractError(f"avo:tensormap {self.name}: box: {error}") from None
        return check_box(self, value, element_bytes)


def check_box(tensormap: TensorMap, value: object, element_bytes: int) -> tuple[int, ...]:
    where = f"avo:tensormap {tensormap.name}: box={value!r}"
    box = value if isinstance(value, tuple) else (value,)
    if len(box) != TENSOR_RANK or not all(type(n) is int for n in box):
        raise ContractError(
            f"{where} must be {TENSOR_RANK} integers, outermost first, one per dimension of "
            f"{tensormap.tensor} [batch, heads, seq_len, head_dim]"
        )
    if not all(1 <= n <= MAX_BOX for n in box):
        raise ContractError(f"{where}: every size must be 1 to {MAX_BOX} elements")
    row_bytes = box[-1] * element_bytes
    if row_bytes % 16:
        raise ContractError(
            f"{where}: the innermost size is {row_bytes} bytes; TMA needs a multiple of 16"
        )
    span = SWIZZLES[tensormap.swizzle]
    if span and row_bytes > span:
        raise ContractError(
            f"{where}: the innermost size is {row_bytes} bytes, more than the "
            f"{tensormap.swizzle} swizzle span; split the row into boxes of at most "
            f"{span // element_bytes} elements"
        )
    return box


@dataclass(frozen=True)
class Declarations:
    knobs: tuple[Knob, ...]
    requires: tuple[tuple[int, str], ...]  # (line, expression)
    launch: dict[str, str] = field(default_factory=dict)  # field -> expression
    defines: dict[str, str] = field(default_factory=dict)  # simple object-like #defines

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        known = ", ".join(k.name for k in self.knobs) or "none"
        raise ContractError(f"the kernel declares no knob {name!r} (knobs: {known})")

    @property
    def tensormaps(self) -> tuple[TensorMap, ...]:
        return tuple(
            read_tensormap(key.removeprefix(TENSORMAP_KEY), body)
            for key, body in self.launch.items()
            if key.startswith(TENSORMAP_KEY)
        )

    def environment(self, variables: Mapping[str, object] | None = None) -> Environment:
        return Environment(self.defines, dict(variables or {}))

    def check_requirements(self, variables: Mapping[str, object] | None = None) -> None:
        env = self.environment(variables)
        for line, expression in self.requires:
            try:
                holds = env.evaluate(expression)
            except ContractError as error:
                raise ContractError(f"line {line}: {error}") from None
            if not holds:
                raise ContractError(f"line {line}: requirement not met: {expression.strip()}")


class _Lines:
    """Line numbers of offsets in one source, each found in logarithmic time (counting the
    newlines before every one of many declarations would be quadratic in the source's size)."""

    def __init__(self, source: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", source)]

    def of(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def parse(source: str) -> Declarations:
    lines = _Lines(source)
    knobs = []
    for match in KNOB.finditer(source):
        choices = tuple(match["choices"].replace(",", " ").split())
        line = lines.of(match.start())
        if not choices:
            raise ContractError(f"line {line}: knob {match['name']} lists no allowed values")
        if match["value"] not in choices:
            raise ContractError(
                f"line {line}: knob {match['name']} = {match['value']} is not one of its "
                f"allowed values {' '.join(choices)}"
            )
        knobs.append(Knob(match["name"], match["value"], choices, line))
    names = [k.name for k in knobs]
    if len(set(names)) != len(names):
        raise ContractError(f"a knob is declared twice: {', '.join(names)}")

    requires: list[tuple[int, str]] = []
    launch: dict[str, str] = {}
    declared_chars = 0
    for match in DIRECTIVE.finditer(source):
        line = lines.of(match.start())
        body = match["body"].strip()
        declared_chars += len(match[0])
        if declared_chars > MAX_DECLARATION_CHARS:
            raise ContractError(
                f"line {line}: the avo:require, avo:launch and avo:tensormap declarations of "
                f"one file may hold at most {MAX_DECLARATION_CHARS:,} characters together"
            )
        if match["kind"] == "require":
            _compile_expression(body, line)
            requires.append((line, body))
        elif match["kind"] == "launch":
            launch.update(_parse_launch(body, line))
        else:
            key, options = _parse_tensormap(body, line)
            if key in launch:
                raise ContractError(f"line {line}: a tensor map is declared twice: {body}")
            launch[key] = options

    defines = {}
    for match in DEFINE.finditer(source):
        if source[match.end("name") : match.end("name") + 1] == "(":
            continue  # function-like macro
        defines[match["name"]] = match["rest"].split("//", 1)[0].rstrip(" \t")
    return Declarations(tuple(knobs), tuple(requires), launch, defines)


def _parse_launch(body: str, line: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in FIELD_SPLIT.split(body):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or key not in LAUNCH_FIELDS:
            raise ContractError(
                f"line {line}: avo:launch takes {', '.join(f + '=' for f in LAUNCH_FIELDS)}; "
                f"got {part!r}"
            )
        _compile_expression(value, line)
        fields[key] = value
    return fields


def _parse_tensormap(body: str, line: int) -> tuple[str, str]:
    name, *rest = body.split(maxsplit=1) or [""]
    options = rest[0] if rest else ""
    read_tensormap(name, options, line)
    return TENSORMAP_KEY + name, options


def read_tensormap(name: str, body: str, line: int = 0) -> TensorMap:
    """``NAME tensor=q box=(...) [swizzle=] [l2=] [oob=]`` (the part after the name)."""
    where = f"line {line}: " if line else ""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ContractError(
            f"{where}avo:tensormap starts with a name, then tensor=... box=(...); got {name!r}"
        )
    prefix = f"{where}avo:tensormap {name}"
    fields: dict[str, str] = {}
    for part in FIELD_SPLIT.split(body.strip()):
        key, sep, value = part.partition("=")
        if not sep or key not in TENSORMAP_FIELDS:
            raise ContractError(
                f"{prefix} takes {', '.join(f + '=' for f in TENSORMAP_FIELDS)}; got {part!r}"
            )
        if key in fields:
            raise ContractError(f"{prefix} gives {key}= twice")
        allowed = TENSORMAP_OPTIONS.get(key)
        if allowed is not None and value not in allowed:
            raise ContractError(f"{prefix}: {key}={value} is not one of {' '.join(allowed)}")
        fields[key] = value
    for required in ("tensor", "box"):
        if required not in fields:
            raise ContractError(f"{prefix} needs {required}= ({_TENSORMAP_HINT[required]})")
    _check_box_expression(fields["box"], prefix, line)
    return TensorMap(name, **fields)


_TENSORMAP_HINT = {
    "tensor": " ".join(TENSORS),
    "box": f"{TENSOR_RANK} tile sizes, outermost first, e.g. (1, 1, 64, 64)",
}


def _check_box_expression(text: str, prefix: str, line: int) -> None:
    tree = _compile_expression(text, line).body
    if isinstance(tree, ast.Tuple) and len(tree.elts) != TENSOR_RANK:
        raise ContractError(
            f"{prefix}: box={text} has {len(tree.elts)} sizes; it needs {TENSOR_RANK}, one per "
            f"dimension of [batch, heads, seq_len, head_dim], outermost first"
        )
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} & CONFIG_VARIABLES
    if used:
        raise ContractError(
            f"{prefix}: box={text} uses {', '.join(sorted(used))}, known only per "
            "configuration; a box is a tile shape fixed when the kernel is compiled (knobs, "
            "#defines, AVO_HEAD_DIM)"
        )


def set_knobs(source: str, values: Mapping[str, object], *, strict: bool = True) -> str:
    """Return ``source`` with the knobs' ``#define`` values replaced.

    With ``strict``, a value outside the knob's declared choices is refused."""
    declared = {k.name: k for k in parse(source).knobs}
    for name, value in values.items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ContractError(f"the kernel declares no knob {name!r} (knobs: {known})")
        if strict and str(value) not in declared[name].choices:
            raise ContractError(
                f"{value} is not an allowed value of {name} "
                f"(allowed: {' '.join(declared[name].choices)})"
            )

    def replace(match: re.Match[str]) -> str:
        if match["name"] not in values:
            return match[0]
        return f"{match['head']}{values[match['name']]}{match['gap']}//{match[0].split('//', 1)[1]}"

    return KNOB.sub(replace, source)


# -- safe expressions ----------------------------------------------------------------------------
#
# The kernel is written by an agent that may be hostile and has read this file, and the tuner
# evaluates these expressions in the engine's own process: every limit below turns what could
# be a hang or an exhausted machine into a ContractError a kernel author can act on.

# Every value, intermediate or final, has a magnitude below 2**63: a declaration stands for a
# grid or block size, a byte count or a tile shape, all of which a signed 64-bit C integer holds
# (the widest type the kernel's own arithmetic has), and bounded integers keep each operation
# constant time: ``**`` and ``<<`` are checked before they compute, so nothing large is built.
MAX_MAGNITUDE = 2**63
MAX_EXPRESSION_CHARS = 1024  # one expression; an honest one is a line of well under 200
MAX_DECLARATION_CHARS = 16 * 1024  # the avo:require/launch/tensormap text of one file together
MAX_NESTING = 100  # levels of nesting, counting the #defines an expression refers to
MAX_DEFINE_DEPTH = 32  # a #define that refers to one that refers to one ... at most this deep
# Expression nodes one Environment reads (each parsed node) and evaluates (each evaluated node):
# bounds the work of one check_requirements or launch geometry, however the #defines are built.
MAX_STEPS = 10_000
_QUOTE_CHARS = 80  # how much of an expression an error message repeats


def ceil_div(a: int, b: int) -> int:
    if b == 0:
        raise ContractError(f"division by zero in ceil_div({a}, {b})")
    return -(-a // b)


FUNCTIONS: dict[str, Callable[..., object]] = {"min": min, "max": max, "ceil_div": ceil_div}
BINARY: dict[type[ast.operator], Callable[[object, object], object]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}
COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITHMETIC = {*BINARY, ast.Div}
_EVALUATION_ERRORS = (ArithmeticError, TypeError, ValueError)  # ContractError is a ValueError


def _quote(text: str) -> str:
    """``text`` for an error message: quoted, and shortened if long."""
    text = " ".join(text.split())
    if len(text) > _QUOTE_CHARS:
        text = f"{text[: _QUOTE_CHARS - 20]} ... {text[-15:]}"
    return repr(text)


def _c_to_python(text: str) -> str:
    text = re.sub(r"(?<=\d)[uUlL]+\b", "", text)  # 64u, 1024UL
    text = text.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", text)


def _read_expression(text: str) -> tuple[ast.Expression, str, int]:
    """Parse one expression: (tree, the Python text parsed, its number of expression nodes)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ContractError(
            f"the expression {_quote(text)} is {len(text):,} characters long; an expression "
            f"may have at most {MAX_EXPRESSION_CHARS}"
        )
    python = _c_to_python(text).strip()
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError as error:
        reason = f": {error.msg}" if error.msg and error.msg != "invalid syntax" else ""
        raise ContractError(f"cannot read the expression {_quote(text)}{reason}") from None
    except (RecursionError, MemoryError):  # the parser's own limits on nesting
        raise ContractError(
            f"cannot read the expression {_quote(text)}: it nests too deeply"
        ) from None
    except (ValueError, OverflowError) as error:  # a NUL byte, say
        raise ContractError(f"cannot read the expression {_quote(text)}: {error}") from None
    nodes = 0
    pending: list[tuple[ast.expr, int]] = [(tree.body, 1)]
    while pending:  # iteratively: the tree may be deeper than Python's recursion limit
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            raise ContractError(
                f"the expression {_quote(text)} nests more than {MAX_NESTING} levels deep"
            )
        nodes += 1
        pending.extend(
            (child, depth + 1)
            for child in ast.iter_child_nodes(node)
            if isinstance(child, ast.expr)
        )
    return tree, python, nodes


def _compile_expression(text: str, line: int = 0) -> ast.Expression:
    try:
        return _read_expression(text)[0]
    except ContractError as error:
        where = f"line {line}: " if line else ""
        raise ContractError(f"{where}{error}") from None


class Environment:
    """Evaluates declaration expressions against #defines and harness variables.

    Every refusal is a ContractError: values are bounded by MAX_MAGNITUDE, the work of one
    environment by MAX_STEPS, nesting by MAX_NESTING and #define chains by MAX_DEFINE_DEPTH."""

    def __init__(self, defines: Mapping[str, str], variables: Mapping[str, object]) -> None:
        self._defines = defines
        self._values: dict[str, object] = dict(variables)
        self._resolving: list[str] = []  # the chain of #defines being resolved, outermost first
        self._steps = 0
        self._depth = 0
        self._text = ""  # the Python text of the expression being evaluated, for messages

    def value(self, name: str) -> object:
        return self._guarded(name, lambda: self._value(name))

    def evaluate(self, text: str) -> object:
        return self._guarded(text, lambda: self._evaluate(text))

    def _guarded(self, text: str, run: Callable[[], object]) -> object:
        """``run()``, whose every failure is a ContractError naming ``text``."""
        depth, resolving, current = self._depth, list(self._resolving), self._text
        try:
            return run()
        except ContractError:
            raise
        except RecursionError:
            raise ContractError(f"{_quote(text)} nests too deeply to evaluate") from None
        except MemoryError:
            raise ContractError(f"{_quote(text)} needs too much memory to evaluate") from None
        except _EVALUATION_ERRORS as error:  # a gap in the checks below: still a refusal
            raise ContractError(f"cannot evaluate {_quote(text)}: {error}") from None
        finally:
            self._depth, self._resolving, self._text = depth, resolving, current

    def _value(self, name: str) -> object:
        if name in self._values:
            return self._values[name]
        if name not in self._defines:
            raise ContractError(f"unknown name {name!r} in a declaration")
        if name in self._resolving:
            raise ContractError(f"#define {name} refers to itself")
        if len(self._resolving) >= MAX_DEFINE_DEPTH:
            chain = [*self._resolving[:3], "...", *self._resolving[-2:], name]
            raise ContractError(
                f"more than {MAX_DEFINE_DEPTH} #define levels: {' -> '.join(chain)}; a "
                f"declaration may refer through at most {MAX_DEFINE_DEPTH} #defines"
            )
        self._resolving.append(name)
        try:
            result = self._evaluate(self._defines[name])
        finally:
            self._resolving.pop()
        self._values[name] = result
        return result

    def _evaluate(self, text: str) -> object:
        tree, python, nodes = _read_expression(text)
        self._step(nodes, text)
        outer, self._text = self._text, python
        try:
            return self._eval(tree.body)
        finally:
            self._text = outer

    def _step(self, count: int, text: str) -> None:
        self._steps += count
        if self._steps > MAX_STEPS:
            raise ContractError(
                f"evaluating {_quote(text)}{self._inside()} takes more than {MAX_STEPS:,} steps "
                "(expression nodes read and evaluated); simplify the declarations"
            )

    def _inside(self) -> str:
        return f" (in #define {self._resolving[-1]})" if self._resolving else ""

    def _source(self, node: ast.AST) -> str:
        return _quote(ast.get_source_segment(self._text, node) or self._text)

    def _fail(self, node: ast.AST, problem: str) -> ContractError:
        return ContractError(problem.replace("{expr}", self._source(node)) + self._inside())

    def _eval(self, node: ast.AST) -> object:
        self._step(1, self._text)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise self._fail(
                    node,
                    f"{{expr}} nests more than {MAX_NESTING} levels deep, counting the "
                    "#defines it refers to",
                )
            return self._bounded(node, self._eval_node(node))
        finally:
            self._depth -= 1

    def _eval_node(self, node: ast.AST) -> object:
        match node:
            case ast.Constant(value=bool() | int() | float() as value):
                return value
            case ast.Name(id=name):
                return self._value(name)
            case ast.Tuple(elts=items):
                return tuple(self._eval(item) for item in items)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self._number(operand)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self._eval(operand)
            case ast.BinOp(op=op, left=left, right=right) if type(op) in _ARITHMETIC:
                return self._arithmetic(node, op, self._number(left), self._number(right))
            case ast.BoolOp(op=ast.And(), values=values):
                return all(self._eval(v) for v in values)
            case ast.BoolOp(op=ast.Or(), values=values):
                return any(self._eval(v) for v in values)
            case ast.Compare(left=left, ops=ops, comparators=rights):
                current = self._eval(left)
                for comparison, right in zip(ops, rights, strict=True):
                    if type(comparison) not in COMPARE:
                        break
                    compared = self._eval(right)
                    try:
                        holds = COMPARE[type(comparison)](current, compared)
                    except TypeError as error:
                        raise self._fail(node, f"cannot compare in {{expr}}: {error}") from None
                    if not holds:
                        return False
                    current = compared
                else:
                    return True
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self._eval(body) if self._eval(test) else self._eval(orelse)
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in FUNCTIONS:
                return self._call(node, name, [self._eval(a) for a in args])
        raise self._fail(node, "unsupported expression: {expr}")

    def _number(self, node: ast.AST) -> int | float:
        value = self._eval(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(node, "{expr} is not a number")
        return value

    def _arithmetic(
        self, node: ast.AST, op: ast.operator, a: int | float, b: int | float
    ) -> object:
        both_int = isinstance(a, int) and isinstance(b, int)
        if both_int and isinstance(op, ast.Pow) and b > 0 and abs(a) > 1:
            bits = (abs(int(a)).bit_length() - 1) * b  # a lower bound on the result's bits
            if bits >= MAX_MAGNITUDE.bit_length() - 1:
                raise self._fail(
                    node, f"{{expr}} exceeds the bound of 2**63 ({a} ** {b} is at least 2**{bits})"
                )
        if both_int and isinstance(op, ast.LShift) and b >= 0:
            if a == 0:
                return 0
            bits = abs(int(a)).bit_length() - 1 + int(b)
            if bits >= MAX_MAGNITUDE.bit_length() - 1:
                raise self._fail(
                    node, f"{{expr}} exceeds the bound of 2**63 ({a} << {b} is at least 2**{bits})"
                )
        try:
            if isinstance(op, ast.Div):  # C semantics: integer division truncates toward zero
                if both_int:
                    quotient = abs(int(a)) // abs(int(b))
                    return quotient if (a < 0) == (b < 0) else -quotient
                return a / b
            return BINARY[type(op)](a, b)
        except ZeroDivisionError:  # 1 // 0, 1.0 % 0.0, 0 ** -1
            raise self._fail(node, "division by zero in {expr}") from None
        except OverflowError:  # float arithmetic beyond what a double holds
            raise self._fail(node, "{expr} exceeds the bound of 2**63") from None
        except (TypeError, ValueError) as error:  # 1.5 << 2, 1 << -1
            raise self._fail(node, f"cannot evaluate {{expr}}: {error}") from None

    def _call(self, node: ast.AST, name: str, args: list[object]) -> object:
        if name in ("min", "max") and not args:
            raise self._fail(node, f"{name}() needs at least one value: {{expr}}")
        if name == "ceil_div":
            if len(args) != 2:
                raise self._fail(node, f"ceil_div takes 2 values, got {len(args)}: {{expr}}")
            if args[1] == 0:
                raise self._fail(node, "division by zero in {expr}")
        try:
            return FUNCTIONS[name](*args)
        except (ArithmeticError, TypeError, ValueError) as error:
            raise self._fail(node, f"cannot evaluate {{expr}}: {error}") from None

    def _bounded(self, node: ast.AST, value: object) -> object:
        """``value``, if it is a finite number of magnitude below 2**63 (or not a number)."""
        if isinstance(value, int):
            if not -MAX_MAGNITUDE < value < MAX_MAGNITUDE:
                raise self._fail(
                    node,
                    "{expr} exceeds the bound of 2**63: every value in a declaration must fit "
                    "a signed 64-bit integer",
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self._fail(node, f"{{expr}} is not a finite number ({value})")
            if not -MAX_MAGNITUDE < value < MAX_MAGNITUDE:
                raise self._fail(node, "{expr} exceeds the bound of 2**63")
        elif isinstance(value, complex):
            raise self._fail(node, "{expr} is not a real number")
        return value
