"""A small, safe expression language compiled to vectorised NumPy.

Requirements and outcome conditions in scenarios are strings such as
``DPRK.capability >= 60 and talks.open``.  We tokenize and parse them ourselves
(a precedence-climbing parser; no eval, no ``ast``) into a tree of closures, each of
which does one NumPy operation over the arrays of all simulated worlds at once.

Grammar, loosest binding first (as in Python):

    expr       := expr "or" expr | expr "and" expr | "not" expr
                | expr CMP expr (CMP expr)*        # chains: 0 < x < 5 is 0 < x and x < 5
                | expr ("+" | "-") expr | expr ("*" | "/") expr
                | ("-" | "+") expr | "(" expr ")" | NUMBER | "true" | "false" | NAME | CALL
    CMP        := "<" | "<=" | ">" | ">=" | "==" | "!="
    NAME       := IDENT ("." IDENT)*        IDENT := [A-Za-z_][A-Za-z0-9_]*
    CALL       := "count(" KEY "," DIGITS ")" | "since(" KEY ")" | "crossed(" KEY ")" | "prepared(" KEY ")"
    KEY        := ID ("." ID)?              ID := [A-Za-z][A-Za-z0-9_-]*   (an option id may hold '-')

The four calls are the whole of it: not general functions, but the record of the game read by
name (see `call_name`), so the engine knows which records an expression reads before it plays.

`not` cannot stand where Python forbids it (``a < not b``, ``-not a``).
"""
from __future__ import annotations

import difflib
import keyword
import re
from typing import Callable, Mapping

import numpy as np

from .errors import printable

__all__ = ["ExpressionError", "Expression", "compile_expression", "call_name", "read_call", "MAX_COUNT_TURNS"]

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_COUNT_TURNS = 104  # count(KEY, N): two years of weekly turns


class ExpressionError(ValueError):
    """A bad expression; ``offset`` is the 0-based character where the problem is."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message, self.offset = message, offset


# A call is one token: its argument is an id (which may hold '-', as option ids do), not an expression.
_CALL = r"(count|since|crossed|prepared)\s*\(\s*([A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)?)\s*(?:,\s*([0-9]+)\s*)?\)"
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<call>(?:count|since|crossed|prepared)\s*\(\s*[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)?\s*(?:,\s*[0-9]+\s*)?\))
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<bad>\*\*|//|&&|\|\||=>|=<)
  | (?P<op><=|>=|==|!=|[-+*/<>()])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

_BAD = {
    "**": "'**' (power) is not supported",
    "//": "'//' is not supported; use '/'",
    "&&": "'&&' is not supported; use 'and'",
    "||": "'||' is not supported; use 'or'",
    "=>": "'=>' is not a comparison; use '>='",
    "=<": "'=<' is not a comparison; use '<='",
    "%": "'%' is not supported",
    "=": "'=' is not a comparison; use '=='",
    "!": "'!' is not supported; use 'not'",
    "&": "'&' is not supported; use 'and'",
    "|": "'|' is not supported; use 'or'",
    "[": "subscripts and lists ('[') are not supported",
    "]": "subscripts and lists (']') are not supported",
    "'": "strings are not supported",
    '"': "strings are not supported",
    ".": "unexpected '.'; names are written like 'DPRK.capability'",
    ",": "unexpected ','; function calls are not supported",
}
_CALL_PARTS = re.compile(_CALL)
_CALLS = {  # what each call reads, and its argument as messages name it
    "count": "option or tag", "since": "option or tag", "crossed": "threshold", "prepared": "option that takes preparing",
}
_SIGNATURE = {
    "count": f"count(OPTION_OR_TAG, N), N a whole number of turns from 1 to {MAX_COUNT_TURNS}",
    "since": "since(OPTION_OR_TAG)", "crossed": "crossed(THRESHOLD)", "prepared": "prepared(OPTION)",
}
_SIGNATURES = "count(OPTION_OR_TAG, N), since(OPTION_OR_TAG), crossed(THRESHOLD) and prepared(OPTION)"
_WORDS = {"and", "or", "not", "true", "false"}
_CAPITALS = {"True": "true", "False": "false", "AND": "and", "OR": "or", "NOT": "not"}
_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide}
_F8 = np.float64

Node = Callable[[Mapping], object]  # env -> array or scalar


def _q(text: str, limit: int = 40) -> str:
    """A piece of an expression as a message quotes it: short, control characters escaped."""
    return "'" + printable(text, limit) + "'"


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) triples, ending with ("end", "", len(text))."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind, value, at = match.lastgroup, match.group(), match.start()
        if kind == "space":
            continue
        if kind == "name":
            if value.startswith("__") or ".__" in value:
                raise ExpressionError(f"names starting with '__' are not allowed ({_q(value)})", at)
            if value in _CAPITALS:
                raise ExpressionError(f"write {_CAPITALS[value]!r}, not {_q(value)}", at)
            if value not in _WORDS and keyword.iskeyword(value):
                raise ExpressionError(f"{_q(value)} is not supported in expressions", at)
            if value in _CALLS and re.match(r"\s*\(", text[match.end():]):  # a call its token did not match
                raise ExpressionError(f"write {value}(...) as {_SIGNATURE[value]}", at)
            kind = value if value in _WORDS else "name"
        elif kind in ("bad", "other"):
            raise ExpressionError(_BAD.get(value, f"unexpected character {_q(value)}"), at)
        tokens.append((kind, value, at))
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    """Precedence climbing: one `expr` call per nesting level, and each run of operators
    of one precedence becomes one flat node, so neither parsing nor evaluation recurses
    more than a few frames per parenthesis."""

    def __init__(self, text: str, names: frozenset[str], calls: Mapping[str, frozenset[str]]):
        self.allowed, self.calls, self.used = names, calls, set()
        self.tokens, self.i, self.depth = _tokenize(text), 0, 0
        self.reads = 0  # names read so far: an operand that reads none is a constant

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        self.i += 1
        return self.tokens[self.i - 1]

    def binary(self) -> tuple[str | None, int]:
        """The binary operator at the current token and its precedence, or (None, 0)."""
        kind, value, _ = self.peek()
        op = kind if kind in ("and", "or") else value if kind == "op" else None
        return op, _PRECEDENCE.get(op, 0)

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise ExpressionError("empty expression", 0)
        node = self.expr(1)
        kind, value, at = self.peek()
        if (kind, value) == ("op", ")"):
            raise ExpressionError("unmatched ')'", at)
        if kind != "end":
            raise ExpressionError(f"unexpected {_q(value)} (missing operator?)", at)
        return node

    def expr(self, min_prec: int) -> Node:
        node = self.prefix(min_prec)
        op, prec = self.binary()
        while prec >= min_prec:
            group, operands = prec, [node]
            ops = []
            while prec == group:
                at = self.take()[2]
                ops.append(op)
                reads = self.reads
                operands.append(self.expr(group + 1))
                if op == "/" and self.reads == reads and _zero(operands[-1]):
                    raise ExpressionError("division by zero (the divisor is always 0)", at)
                op, prec = self.binary()
            node = _combine(group, ops, operands)
        return node

    def nested(self, at: int, min_prec: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested too deeply (more than {MAX_DEPTH} levels)", at)
        node = self.expr(min_prec)
        self.depth -= 1
        return node

    def prefix(self, min_prec: int) -> Node:
        kind, value, at = self.take()
        if kind == "not" and min_prec <= _NOT:
            operand = self.nested(at, _NOT)
            return lambda env: np.logical_not(operand(env))
        if kind == "op" and value in ("-", "+"):
            operand = self.nested(at, _UNARY)
            ufunc = np.negative if value == "-" else np.positive
            return lambda env: ufunc(operand(env), dtype=_F8)
        if kind == "op" and value == "(":
            inner = self.nested(at, 1)
            closing = self.take()
            if closing[:2] == ("op", ")"):
                return inner
            if closing[0] == "end":
                raise ExpressionError("'(' is never closed", at)
            raise ExpressionError(f"expected ')' but found {_q(closing[1])}", closing[2])
        if kind == "number":
            number = _F8(value)
            return lambda env: number
        if kind in ("true", "false"):
            truth = np.bool_(kind == "true")
            return lambda env: truth
        if kind == "call":
            return self.call(value, at)
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                only = f"; the only calls are {_SIGNATURES}" if self.calls else ""
                raise ExpressionError(f"function calls are not supported ('{value}(...)'){only}", at)
            if value not in self.allowed:
                close = difflib.get_close_matches(value, self.allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ExpressionError(f"unknown name {_q(value)}{hint}", at)
            self.used.add(value)
            self.reads += 1
            return lambda env: np.asarray(env[value], dtype=_F8)
        if kind == "end":
            raise ExpressionError("the expression ends too early; expected a value", at)
        raise ExpressionError(f"expected a value but found {_q(value)}", at)


    def call(self, text: str, at: int) -> Node:
        """count(KEY, N), since(KEY), crossed(KEY) or prepared(KEY): a value the engine keeps per world, read by
        its name (`call_name`) like a variable."""
        parts = _CALL_PARTS.fullmatch(text)
        func, key, turns = parts.groups()
        if func not in self.calls:
            raise ExpressionError(f"function calls are not supported ('{func}(...)')", at)
        if (turns is None) != (func != "count"):
            where = at + (parts.start(3) if turns else parts.end(2))
            raise ExpressionError(f"{func}(...) takes {'a name and a number of turns' if func == 'count' else 'one name'}: "
                                  f"the calls are {_SIGNATURES}", where)
        if turns is not None and not 1 <= int(turns) <= MAX_COUNT_TURNS:
            raise ExpressionError(f"count(..., N): N is a number of turns from 1 to {MAX_COUNT_TURNS} (got {turns})",
                                  at + parts.start(3))
        pool = self.calls[func]
        if key not in pool:
            close = difflib.get_close_matches(key, pool, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ExpressionError(f"{func}(...): unknown {_CALLS[func]} {_q(key)}{hint}", at + parts.start(2))
        name = call_name(func, key, None if turns is None else int(turns))
        self.used.add(name)
        self.reads += 1
        return lambda env: np.asarray(env[name], dtype=_F8)


def call_name(func: str, key: str, turns: int | None = None) -> str:
    """The name a call's value goes by in an environment: 'count(DPRK.launch,4)', 'since(launch)'."""
    return f"{func}({key})" if turns is None else f"{func}({key},{turns})"


def read_call(name: str) -> tuple[str, str, int | None] | None:
    """(function, key, turns) of a call's name, or None for a plain name."""
    parts = _CALL_PARTS.fullmatch(name)
    if parts is None:
        return None
    func, key, turns = parts.groups()
    return func, key, None if turns is None else int(turns)


def _zero(constant: Node) -> bool:
    """Whether a node that reads no name is 0 (or not a number: 0/0 as a divisor)."""
    with np.errstate(all="ignore"):
        value = np.asarray(constant({}), dtype=_F8)
    return bool(value == 0 or np.isnan(value))


_NOT, _UNARY = 3, 7
_PRECEDENCE = {"or": 1, "and": 2, **dict.fromkeys(_COMPARE, 4), "+": 5, "-": 5, "*": 6, "/": 6}


def _combine(prec: int, ops: list[str], operands: list[Node]) -> Node:
    """One node for a run of same-precedence operators, evaluated in a flat loop."""
    first, rest = operands[0], operands[1:]
    if prec <= 2:  # and / or: truthiness in, booleans out
        ufunc = np.logical_or if prec == 1 else np.logical_and

        def logic(env):
            result = first(env)
            for node in rest:
                result = ufunc(result, node(env))
            return result
        return logic
    if prec == 4:  # a < b <= c means a < b and b <= c, each operand evaluated once
        tests = [_COMPARE[op] for op in ops]

        def compare(env):
            left, result = first(env), None
            for test, node in zip(tests, rest):
                right = node(env)
                outcome = test(left, right)
                result = outcome if result is None else np.logical_and(result, outcome)
                left = right
            return result
        return compare
    steps = [(_ARITH[op], node) for op, node in zip(ops, rest)]

    def arith(env):
        result = first(env)
        for ufunc, node in steps:
            result = ufunc(result, node(env), dtype=_F8)
        return result
    return arith


class Expression:
    """A compiled expression: call it with an environment of per-world arrays."""

    __slots__ = ("text", "names", "_node")

    def __init__(self, text: str, names: frozenset[str], node: Node):
        self.text, self.names, self._node = text, names, node

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __call__(self, env: Mapping) -> np.ndarray:
        """Evaluate over all worlds: float64 for arithmetic, bool for comparisons and logic.
        A result that reads no arrays (e.g. ``true``) is broadcast to the first array in env."""
        with np.errstate(all="ignore"):
            result = np.asarray(self._node(env))
        if result.ndim == 0:
            shape = next((v.shape for v in env.values() if isinstance(v, np.ndarray) and v.ndim), None)
            if shape is not None:
                result = np.full(shape, result)
        return result

    def mask(self, env: Mapping) -> np.ndarray:
        """The truth of the value in each world: non-zero is true, and NaN (0/0 of values that
        happen to be 0, say) is false: a condition that cannot be computed does not hold."""
        result = self(env)
        return result if result.dtype == np.bool_ else np.abs(result) > 0

    def number(self, env: Mapping) -> np.ndarray:
        """The value in each world as a number, NaN counted as 0 (so that it never reaches the
        state: a NaN tension would make every comparison with it false)."""
        result = self(env)
        if result.dtype.kind == "f" and np.isnan(result).any():
            result = np.where(np.isnan(result), 0.0, result)
        return result


def compile_expression(text: str, names, calls: Mapping[str, frozenset[str]] | None = None) -> Expression:
    """Parse ``text``, allowing only ``names``, and the calls in ``calls`` (function name -> the
    keys it may be given, e.g. {"crossed": {"nuclear"}}); raises ExpressionError. The names the
    expression reads (`Expression.names`) hold its calls' names (`call_name`)."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, not {type(text).__name__}", 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} characters; the limit is {MAX_LENGTH})",
                              MAX_LENGTH)
    parser = _Parser(text, frozenset(names), {f: frozenset(keys) for f, keys in (calls or {}).items()})
    node = parser.parse()
    return Expression(text, frozenset(parser.used), node)
