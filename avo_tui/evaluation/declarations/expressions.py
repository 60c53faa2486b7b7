"""Safe expressions: the small subset of Python (integers, + - * / // % **, comparisons,
and/or/not, C's ``&&``/``||``/``!``, min, max, ceil_div) that a kernel's declarations are written
in, read and evaluated against the kernel's #defines and the variables the harness supplies.

The kernel is written by an agent that may be hostile and has read this file, and the tuner
evaluates these expressions in the engine's own process: every limit below turns what could
be a hang or an exhausted machine into a ContractError a kernel author can act on.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any


class ContractError(ValueError):
    """A declaration is malformed, or a value breaks it."""


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


def compile_expression(text: str, line: int = 0) -> ast.Expression:
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
