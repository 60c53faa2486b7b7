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
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

KNOB = re.compile(
    r"^(?P<head>[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+)(?P<value>[^\s/]+)"
    r"(?P<gap>[ \t]*)//[ \t]*avo:knob\b(?P<choices>[^\n]*)$",
    re.MULTILINE,
)
DEFINE = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+(?P<value>[^\n]*?)[ \t]*(?://[^\n]*)?$",
    re.MULTILINE,
)
DIRECTIVE = re.compile(
    r"//[ \t]*avo:(?P<kind>require|launch|tensormap)\b(?P<body>[^\n]*)$", re.MULTILINE
)
FIELD_SPLIT = re.compile(r"\s+(?=\w+=)")
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
            if not env.evaluate(expression):
                raise ContractError(f"line {line}: requirement not met: {expression.strip()}")


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def parse(source: str) -> Declarations:
    knobs = []
    for match in KNOB.finditer(source):
        choices = tuple(match["choices"].replace(",", " ").split())
        line = _line_of(source, match.start())
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
    for match in DIRECTIVE.finditer(source):
        line = _line_of(source, match.start())
        body = match["body"].strip()
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
        defines[match["name"]] = match["value"]
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


def ceil_div(a: int, b: int) -> int:
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
COMPARE: dict[type[ast.cmpop], Callable[[object, object], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _c_to_python(text: str) -> str:
    text = re.sub(r"(?<=\d)[uUlL]+\b", "", text)  # 64u, 1024UL
    text = text.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", text)


def _compile_expression(text: str, line: int = 0) -> ast.Expression:
    try:
        return ast.parse(_c_to_python(text).strip(), mode="eval")
    except SyntaxError:
        where = f"line {line}: " if line else ""
        raise ContractError(f"{where}cannot read the expression {text.strip()!r}") from None


class Environment:
    """Evaluates declaration expressions against #defines and harness variables."""

    def __init__(self, defines: Mapping[str, str], variables: Mapping[str, object]) -> None:
        self._defines = defines
        self._values: dict[str, object] = dict(variables)
        self._resolving: set[str] = set()

    def value(self, name: str) -> object:
        if name in self._values:
            return self._values[name]
        if name not in self._defines:
            raise ContractError(f"unknown name {name!r} in a declaration")
        if name in self._resolving:
            raise ContractError(f"#define {name} refers to itself")
        self._resolving.add(name)
        try:
            result = self.evaluate(self._defines[name])
        finally:
            self._resolving.discard(name)
        self._values[name] = result
        return result

    def evaluate(self, text: str) -> object:
        return self._eval(_compile_expression(text).body)

    def _eval(self, node: ast.AST) -> object:
        match node:
            case ast.Constant(value=bool() | int() | float() as value):
                return value
            case ast.Name(id=name):
                return self.value(name)
            case ast.Tuple(elts=items):
                return tuple(self._eval(item) for item in items)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self._number(operand)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self._eval(operand)
            case ast.BinOp(op=ast.Div(), left=left, right=right):
                a, b = self._number(left), self._number(right)
                # C semantics: integer division truncates
                return int(a / b) if isinstance(a, int) and isinstance(b, int) else a / b
            case ast.BinOp(op=op, left=left, right=right) if type(op) in BINARY:
                return BINARY[type(op)](self._number(left), self._number(right))
            case ast.BoolOp(op=ast.And(), values=values):
                return all(self._eval(v) for v in values)
            case ast.BoolOp(op=ast.Or(), values=values):
                return any(self._eval(v) for v in values)
            case ast.Compare(left=left, ops=ops, comparators=rights):
                current = self._eval(left)
                for op, right in zip(ops, rights, strict=True):
                    if type(op) not in COMPARE:
                        break
                    value = self._eval(right)
                    if not COMPARE[type(op)](current, value):
                        return False
                    current = value
                else:
                    return True
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self._eval(body) if self._eval(test) else self._eval(orelse)
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in FUNCTIONS:
                return FUNCTIONS[name](*(self._eval(a) for a in args))
        raise ContractError(f"unsupported expression: {ast.unparse(node)!r}")

    def _number(self, node: ast.AST) -> int | float:
        value = self._eval(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ContractError(f"{ast.unparse(node)!r} is not a number")
        return value
