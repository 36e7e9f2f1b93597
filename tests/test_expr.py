"""The expression language: vectorised results over worlds, and located rejections."""
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.format.expr
from sim.format.expr import Expression, ExpressionError, compile_expression

NAMES = ["DPRK.capability", "talks.open", "tension", "US.credibility", "China.enforcement", "redline.icbm", "turn"]
ENV = {
    "DPRK.capability": np.array([10.0, 60.0, 70.0, 59.9, 100.0]),
    "talks.open": np.array([1.0, 0.0, 1.0, 0.0, 1.0]),
    "tension": np.array([80.0, 20.0, 71.0, 70.0, 0.0]),
    "US.credibility": np.array([10.0, 40.0, 30.0, 20.0, 50.0]),
    "China.enforcement": np.array([0.0, 10.0, 20.0, 30.0, 40.0]),
    "redline.icbm": np.array([0.0, 0.0, 1.0, 1.0, 0.0]),
    "turn": 3.0,
}
T, F = True, False


def ev(text: str):
    return compile_expression(text, NAMES)(ENV)


def mask(text: str):
    return compile_expression(text, NAMES).mask(ENV)


def rejected(text: str, names=NAMES) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, names)
    return info.value


# --- values ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("DPRK.capability >= 60", [F, T, T, F, T]),
    ("tension > 70", [T, F, T, F, F]),
    ("tension == 70", [F, F, F, T, F]),
    ("tension != 70", [T, T, T, F, T]),
    ("US.credibility <= 30", [T, F, T, T, F]),
    ("DPRK.capability >= 60 and talks.open", [F, F, T, F, T]),
    ("tension > 70 or not (US.credibility < 30)", [T, T, T, F, T]),
    ("not tension > 70", [F, T, F, T, T]),          # not binds looser than a comparison
    ("not talks.open or redline.icbm", [F, T, T, T, F]),
    ("talks.open and not redline.icbm", [T, F, F, F, T]),
    ("tension > 50 or talks.open and redline.icbm", [T, F, T, T, F]),  # and binds tighter than or
    ("(tension > 50 or talks.open) and redline.icbm", [F, F, T, T, F]),
    ("20 < tension < 75", [F, F, T, T, F]),
    ("0 <= China.enforcement < 30", [T, T, T, F, F]),
    ("tension > 10 == true", [F, F, F, F, F]),  # a chain, as in Python: tension > 10 and 10 == true
])
def test_boolean_masks(text, expected):
    result = mask(text)
    assert result.dtype == np.bool_
    assert result.tolist() == expected


def test_chained_comparison_is_a_conjunction():
    assert mask("20 < tension < 75").tolist() == mask("20 < tension and tension < 75").tolist()
    assert mask("70 > tension > 10").tolist() == [F, T, F, F, F]


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("-(2 - 5)", 3.0),
    ("10 - 4 - 3", 3.0),      # left to right
    ("8 / 2 / 2", 2.0),
    ("2 * 3 / 4", 1.5),
    ("-2 * -3", 6.0),
    ("- - 4", 4.0),
    ("+4 - +1", 3.0),
    ("1e3 + .5 + 2.", 1002.5),
    ("turn * 2", 6.0),
    ("true + true", 2.0),
])
def test_arithmetic_precedence(text, expected):
    result = ev(text)
    assert result.dtype == np.float64
    assert result.shape == (5,)  # a constant is broadcast over the worlds
    assert np.all(result == expected)


def test_arithmetic_over_worlds():
    result = ev("0.4 + 0.012 * China.enforcement")
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, [0.4, 0.52, 0.64, 0.76, 0.88])


def test_bare_name_truthiness():
    expr = compile_expression("talks.open", NAMES)
    np.testing.assert_array_equal(expr(ENV), [1.0, 0.0, 1.0, 0.0, 1.0])
    assert expr.mask(ENV).tolist() == [T, F, T, F, T]
    assert compile_expression("tension - 20", NAMES).mask(ENV).tolist() == [T, F, T, T, T]
    assert compile_expression("not China.enforcement", NAMES).mask(ENV).tolist() == [T, F, F, F, F]


def test_constants_and_scalars_broadcast_to_worlds():
    assert mask("true").tolist() == [T] * 5
    assert mask("false or turn > 2").tolist() == [T] * 5
    assert compile_expression("turn > 2", ["turn"])({"turn": 3.0}).shape == ()  # no arrays: nothing to broadcast to


def test_names_read():
    expr = compile_expression("DPRK.capability >= 60 and (talks.open or turn > 2)", NAMES)
    assert isinstance(expr, Expression)
    assert expr.names == frozenset({"DPRK.capability", "talks.open", "turn"})
    assert expr.text == "DPRK.capability >= 60 and (talks.open or turn > 2)"


def test_division_by_zero_does_not_warn():
    zero = {"tension": np.array([0.0, 1.0, -1.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compile_expression("tension / (tension - tension)", ["tension"])(zero)  # (a constant 0 is refused)
        assert np.isnan(result[0]) and result[1] == np.inf and result[2] == -np.inf
        assert compile_expression("1 / tension > 5", ["tension"]).mask(zero).tolist() == [T, F, F]
        assert compile_expression("1e308 * 10 > 0", ["tension"])(zero).all()  # overflow, too


def test_ten_thousand_worlds():
    rng = np.random.default_rng(1)
    env = {n: rng.uniform(0, 100, 10_000) for n in NAMES}
    result = compile_expression("DPRK.capability >= 60 and tension > 50 or not US.credibility < 30", NAMES).mask(env)
    expected = ((env["DPRK.capability"] >= 60) & (env["tension"] > 50)) | ~(env["US.credibility"] < 30)
    assert result.shape == (10_000,)
    np.testing.assert_array_equal(result, expected)


# --- rejections --------------------------------------------------------------------------

@pytest.mark.parametrize("text, offset, fragment", [
    ("", 0, "empty expression"),
    ("   ", 0, "empty expression"),
    ("abs(tension)", 0, "function calls are not supported"),
    ("tension(1)", 0, "function calls are not supported"),
    ("tension[0] > 1", 7, "subscripts"),
    ("tension > 'high'", 10, "strings are not supported"),
    ('tension == "x"', 11, "strings are not supported"),
    ("tension ** 2", 8, "'**'"),
    ("tension % 2", 8, "'%'"),
    ("tension // 2", 8, "'//'"),
    ("lambda: 1", 0, "'lambda' is not supported"),
    ("__import__('os')", 0, "'__'"),
    ("tension.__class__", 0, "'__'"),
    ("tension = 70", 8, "use '=='"),
    ("if tension", 0, "'if' is not supported"),
    ("import os", 0, "'import' is not supported"),
    ("tension if turn else 1", 8, "'if' is not supported"),
    ("tension > 1 && turn", 12, "use 'and'"),
    ("!talks.open", 0, "use 'not'"),
    ("True", 0, "write 'true'"),
    ("(tension > 1", 0, "'(' is never closed"),
    ("tension > 1)", 11, "unmatched ')'"),
    ("(tension > 1 turn)", 13, "expected ')'"),
    ("tension turn", 8, "unexpected 'turn'"),
    ("tension > 70 garbage", 13, "unexpected 'garbage'"),
    ("5tension", 1, "unexpected 'tension'"),
    ("tension >", 9, "ends too early"),
    ("tension > > 1", 10, "expected a value"),
    ("tension < not turn", 10, "expected a value but found 'not'"),
    ("tension.", 7, "unexpected '.'"),
    ("tension, turn", 7, "','"),
    ("tension @ turn", 8, "unexpected character '@'"),
])
def test_forbidden_constructs_are_located(text, offset, fragment):
    error = rejected(text)
    assert fragment in error.message
    assert error.offset == offset
    assert isinstance(error, ValueError)


def test_unknown_name_suggests_the_closest():
    error = rejected("DPRK.capabilty >= 60")
    assert error.message == "unknown name 'DPRK.capabilty' (did you mean 'DPRK.capability'?)"
    assert error.offset == 0
    error = rejected("tension > 1 and zebra")
    assert error.message == "unknown name 'zebra'" and error.offset == 16


def test_length_limit():
    fine = "tension" + " + 1" * 248  # 999 characters
    assert len(fine) < 1000 and compile_expression(fine, NAMES)(ENV)[0] == 80 + 248
    error = rejected("tension" + " " * 1000)
    assert "too long" in error.message and error.offset == 1000


def test_nesting_limit():
    assert ev("(" * 50 + "turn" + ")" * 50)[0] == 3.0
    assert ev("-" * 50 + "turn")[0] == 3.0
    error = rejected("(" * 51 + "turn" + ")" * 51)
    assert "nested too deeply" in error.message and error.offset == 50
    assert "nested too deeply" in rejected("not " * 51 + "turn").message
    assert "nested too deeply" in rejected("(-" * 26 + "turn" + ")" * 26).message


def test_deep_expressions_leave_stack_room():
    """A long or deeply nested expression must not hit the recursion limit, even when called deep in a stack."""
    long_sum = compile_expression("turn" + " + turn" * 140, NAMES)
    nested = compile_expression("(" * 50 + "turn" + ")" * 50, NAMES)

    def deep(n):
        return deep(n - 1) if n else (long_sum(ENV)[0], nested(ENV)[0])
    assert deep(700) == (3.0 * 141, 3.0)


def test_not_a_string():
    assert "must be text" in rejected(42).message


def test_no_eval_or_ast_in_the_implementation():
    code = Path(sim.format.expr.__file__).read_text()
    assert not re.search(r"\b(eval|exec)\s*\(|(?<![.\w])compile\s*\(|\bimport ast\b|\bliteral_eval\b", code)


# --- a property: fully parenthesised random trees agree with direct NumPy -----------------

X = np.array([-2.0, 0.0, 0.5, 3.0, 10.0])
Y = np.array([1.0, -1.0, 0.0, 2.0, 4.0])

leaves = st.one_of(
    st.sampled_from([("x", X), ("y", Y)]),
    st.integers(0, 9).map(lambda n: (str(n), np.full(5, float(n)))),
)


def _extend(children):
    arith = st.tuples(st.sampled_from(["+", "-", "*"]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                   {"+": np.add, "-": np.subtract, "*": np.multiply}[t[0]](t[1][1], t[2][1])))
    compare = st.tuples(st.sampled_from(["<", ">=", "=="]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                   {"<": np.less, ">=": np.greater_equal, "==": np.equal}[t[0]](t[1][1], t[2][1]).astype(float)))
    logic = st.tuples(st.sampled_from(["and", "or"]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                   (np.logical_and if t[0] == "and" else np.logical_or)(t[1][1] != 0, t[2][1] != 0).astype(float)))
    negate = children.map(lambda c: (f"(-{c[0]})", -c[1]))
    invert = children.map(lambda c: (f"(not {c[0]})", (c[1] == 0).astype(float)))
    return st.one_of(arith, compare, logic, negate, invert)


@settings(max_examples=150, deadline=None)
@given(st.recursive(leaves, _extend, max_leaves=12))
def test_random_trees_match_numpy(tree):
    text, expected = tree
    result = np.asarray(compile_expression(text, ["x", "y"])({"x": X, "y": Y}), dtype=float)
    np.testing.assert_allclose(result, expected)


# --- issue 14: division by a constant zero, NaN, '=>' ------------------------------------------


@pytest.mark.parametrize("text, offset", [("0/0 > 1", 1), ("x / 0", 2), ("x / (2 - 2)", 2), ("x / -0.0 + 1", 2),
                                          ("x / (0/0)", 6)])
def test_division_by_a_constant_zero_is_refused(text, offset):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, ["x"])
    assert info.value.message == "division by zero (the divisor is always 0)" and info.value.offset == offset


def test_division_by_a_variable_is_allowed_and_nan_is_false_and_zero():
    e = compile_expression("x / y", ["x", "y"])
    env = {"x": np.array([0.0, 1.0, 0.0, -1.0]), "y": np.array([0.0, 0.0, 1.0, 2.0])}
    assert e.mask(env).tolist() == [False, True, False, True]  # 0/0 is NaN: false, not true
    assert e.number(env).tolist() == [0.0, np.inf, 0.0, -0.5]  # NaN as a number is 0
    assert compile_expression("x / 2", ["x"]).number({"x": np.array([2.0])}).tolist() == [1.0]


@pytest.mark.parametrize("text, hint", [("x => 3", "use '>='"), ("x =< 3", "use '<='"), ("x = 3", "use '=='")])
def test_a_reversed_comparison_gets_the_right_hint(text, hint):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, ["x"])
    assert hint in info.value.message and info.value.offset == 2
