"""`ladder lint`: warnings about a valid scenario that validation cannot give.

A scenario can be valid and still hold parts that never play: a requirement no state can meet,
a move no bot ever takes, a rung with no moves, an actor that can only climb, a variable that
nothing changes or nothing reads, a move without a quote, an event after the horizon, a threshold
no position reaches, an effect that lands after the horizon, an actor with no moves. Each
check is one function returning located problems, printed as FILE:LINE:COL: warning: ...
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..engine.memory import NEVER
from ..engine.rules import Rules
from ..engine.stepping import Engine
from ..format.errors import Problem
from ..format.expr import _tokenize, read_call
from ..format.model import Option
from ..format.scenario import load
from ..format.source import Document
from ..format.words import plural

__all__ = ["RUNS", "lint"]

RUNS = 1000  # games per doctrine assignment when looking for moves no bot takes
SEED = 0  # fixed, so a file always gets the same warnings


def lint(path) -> list[Problem]:
    """Every warning about the scenario file at path; raises ScenarioError if it is not valid."""
    loaded = load(path)
    doc, rules = loaded.document, Rules(loaded.scenario, loaded.name)
    checks = (_requirements_never_hold, _never_chosen, _rungs_without_options, _no_way_down,
              _variables_never_changed, _variables_never_read, _options_without_quote, _injects_after_horizon,
              _thresholds_out_of_reach, _lags_beyond_horizon, _actors_without_options)
    return sorted(p for check in checks for p in check(doc, rules))


def _warn(doc: Document, path: tuple, message: str, key: bool = False) -> Problem:
    return doc.problem(path, f"warning: {message}", key=key)


def _option_paths(rules: Rules) -> list[tuple[tuple, Option]]:
    """(path in the file, option) for every option, in the file's order."""
    return [(("options", i), o) for i, o in enumerate(rules.scenario.options)]


# --- 1. requirements no state can meet ------------------------------------------------------


def _requirements_never_hold(doc: Document, rules: Rules) -> list[Problem]:
    s = rules.scenario
    ranges = {name: _Range(v.min, v.max) for name, v in s.variables.items()}
    ranges["turn"] = _Range(0, s.clock.horizon - 1)
    ranges |= {f"redline.{r.id}": _Range(0, 1) for r in s.mechanics.red_lines}
    levels = [r.level for r in s.ladder.rungs]
    for actor in s.actors:  # a position is between the lowest and highest rungs; a peak never below 0
        ranges[f"{actor}.position"] = _Range(min(0, *levels), max(0, *levels))
        ranges[f"{actor}.peak"] = _Range(0, max(0, *levels))
    ranges |= {"month": _Range(1, 12), "day_of_year": _Range(1, 366)}
    ranges |= {f"window.{w.id}": _Range(0, 1) for w in s.calendar}
    out = []
    for path, o in _option_paths(rules):
        req = rules.requires[rules.option_index[o.id]]
        if req is not None and not _truth(_Bounds(req.text, ranges).value())[1]:
            within = ", ".join(f"{n} within [{ranges[n].lo:g}, {ranges[n].hi:g}]" for n in sorted(req.names) if n in ranges)
            why = f" ({within})" if within else ""
            out.append(_warn(doc, path + ("requires",), f"option '{o.id}' requires {req.text!r}, which can never hold{why}"))
    return out


class _Range(NamedTuple):
    """The values an expression can take: [lo, hi]; truth values are 0 (false) and 1 (true)."""

    lo: float
    hi: float


_ANY = _Range(-math.inf, math.inf)


def _truth(r: _Range) -> tuple[bool, bool]:
    """(can be false, can be true): zero is false, anything else true, as in the engine."""
    return r.lo <= 0 <= r.hi, not r.lo == r.hi == 0


def _boolean(can_false: bool, can_true: bool) -> _Range:
    return _Range(0.0 if can_false else 1.0, 1.0 if can_true else 0.0)


def _and(a: _Range, b: _Range) -> _Range:
    (false_a, true_a), (false_b, true_b) = _truth(a), _truth(b)
    return _boolean(false_a or false_b, true_a and true_b)


def _or(a: _Range, b: _Range) -> _Range:
    (false_a, true_a), (false_b, true_b) = _truth(a), _truth(b)
    return _boolean(false_a and false_b, true_a or true_b)


def _compare(op: str, a: _Range, b: _Range) -> _Range:
    if op in (">", ">="):  # a > b is b < a
        op, a, b = op.replace(">", "<"), b, a
    if op == "<":
        return _boolean(a.hi >= b.lo, a.lo < b.hi)
    if op == "<=":
        return _boolean(a.hi > b.lo, a.lo <= b.hi)
    can_equal = a.lo <= b.hi and b.lo <= a.hi
    can_differ = not a.lo == a.hi == b.lo == b.hi
    return _boolean(can_differ, can_equal) if op == "==" else _boolean(can_equal, can_differ)


def _arithmetic(op: str, a: _Range, b: _Range) -> _Range:
    if op == "+":
        return _Range(a.lo + b.lo, a.hi + b.hi)
    if op == "-":
        return _Range(a.lo - b.hi, a.hi - b.lo)
    if op == "/":
        if b.lo <= 0 <= b.hi:  # a division by zero is possible: anything goes
            return _ANY
        b = _Range(1 / b.hi, 1 / b.lo)
    products = [x * y for x in a for y in b]
    return _ANY if any(math.isnan(p) for p in products) else _Range(min(products), max(products))


class _Bounds:
    """Interval arithmetic over an expression (its grammar is in sim/expr.py), each name
    ranging over its interval. Sound but loose: names are treated as independent, so
    `x > 5 and x < 3` is not caught; whatever is reported can never hold."""

    def __init__(self, text: str, ranges: dict[str, _Range]):
        self.tokens = [(kind, value) for kind, value, _ in _tokenize(text)]
        self.i, self.ranges = 0, ranges

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def take(self) -> str:
        self.i += 1
        return self.tokens[self.i - 1][1]

    def value(self) -> _Range:  # or
        r = self.conjunction()
        while self.peek()[0] == "or":
            self.take()
            r = _or(r, self.conjunction())
        return r

    def conjunction(self) -> _Range:  # and
        r = self.negation()
        while self.peek()[0] == "and":
            self.take()
            r = _and(r, self.negation())
        return r

    def negation(self) -> _Range:  # not
        if self.peek()[0] == "not":
            self.take()
            can_false, can_true = _truth(self.negation())
            return _boolean(can_true, can_false)
        return self.comparison()

    def comparison(self) -> _Range:  # a < b <= c is a < b and b <= c
        left = self.sum()
        result = None
        while self.peek()[1] in ("<", "<=", ">", ">=", "==", "!="):
            op = self.take()
            right = self.sum()
            test = _compare(op, left, right)
            result, left = test if result is None else _and(result, test), right
        return left if result is None else result

    def sum(self) -> _Range:
        r = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            r = _arithmetic(self.take(), r, self.product())
        return r

    def product(self) -> _Range:
        r = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            r = _arithmetic(self.take(), r, self.unary())
        return r

    def unary(self) -> _Range:
        kind, value = self.peek()
        if (kind, value) in (("op", "-"), ("op", "+")):
            self.take()
            r = self.unary()
            return _Range(-r.hi, -r.lo) if value == "-" else r
        self.take()
        if value == "(":
            r = self.value()
            self.take()  # ")": the expression was validated
            return r
        if kind == "number":
            return _Range(float(value), float(value))
        if kind in ("true", "false"):
            return _boolean(kind == "false", kind == "true")
        if kind == "call":
            return _CALL_RANGES[read_call(value)[0]]
        return self.ranges[value]


_CALL_RANGES = {"count": _Range(0, math.inf), "since": _Range(0, NEVER), "crossed": _Range(0, 1)}


# --- 2. moves no bot takes ------------------------------------------------------------------


def _never_chosen(doc: Document, rules: Rules) -> list[Problem]:
    """Options no doctrine takes in RUNS games: with the default doctrines, then with each
    preset played by every actor (an assignment per preset keeps it to a few seconds; we stop
    as soon as every option has been taken)."""
    untaken = np.ones(len(rules.options), dtype=bool)
    assignments = [{}] + [dict.fromkeys(rules.actors, preset) for preset in rules.scenario.doctrines]
    for doctrines in assignments:
        engine = Engine(rules, seed=SEED, runs=RUNS, record=False, doctrines=doctrines).run()
        untaken &= engine.state.counts.sum(axis=0) == 0
        if not untaken.any():
            return []
    return [
        _warn(doc, path + ("id",), f"option '{o.id}' is never chosen in {RUNS:,} games, by the default "
              "doctrines or by any preset played by every actor")
        for path, o in _option_paths(rules) if untaken[rules.option_index[o.id]]
    ]


# --- 3. and 4. the ladder -------------------------------------------------------------------


def _rungs_without_options(doc: Document, rules: Rules) -> list[Problem]:
    used = {o.rung for o in rules.options}
    return [
        _warn(doc, ("ladder", "rungs", i, "id"), f"rung '{r.id}' has no options: no move ever reaches it")
        for i, r in enumerate(rules.scenario.ladder.rungs) if r.id not in used
    ]


def _no_way_down(doc: Document, rules: Rules) -> list[Problem]:
    """Actors that can climb but never come down: a move on a rung at or above 0 only raises
    an actor's position (see Engine._move_position); only a move on a negative rung lowers it."""
    out = []
    for a, name in enumerate(rules.actors):
        levels = rules.level[rules.by_actor[a]]
        if levels.size and levels.max() > 0 and levels.min() >= 0:
            out.append(_warn(doc, ("actors", name), f"actor '{name}' has no way down the ladder: none of its "
                             "options is on a negative rung", key=True))
    return out


# --- 5. variables ---------------------------------------------------------------------------


def _variables_never_changed(doc: Document, rules: Rules) -> list[Problem]:
    s = rules.scenario
    changed = {e.var for part in (*s.options, *s.injects, *s.chance) for e in part.effects}
    changed |= {name for name, v in s.variables.items() if v.drift and v.baseline not in (None, v.initial)}
    return [
        _warn(doc, ("variables", name), f"variable '{name}' never changes: no effect, inject or drift "
              f"moves it from {v.initial:g}", key=True)
        for name, v in s.variables.items() if name not in changed
    ]


def _variables_never_read(doc: Document, rules: Rules) -> list[Problem]:
    s = rules.scenario
    detection = [chance for by in rules.knowledge.detect for _, chance in by if not isinstance(chance, float)]
    conditions = [*rules.requires, *rules.acts_when, *rules.inject_when, *rules.outcome_when, rules.sanction_scale,
                  *rules.chance_probability, *detection]
    read = {name for expr in conditions if expr is not None for name in expr.names}
    read |= {var for actor in s.actors.values() for var in actor.values}
    for d in s.doctrines.values():
        read |= set(d.weights) | set(d.after_red_line.weights if d.after_red_line else ())
        for rule in d.rules:
            read |= set(rule.weights) | rules.compile(rule.when).names
    read.add(s.mechanics.tension)  # the hazard of war reads it
    return [
        _warn(doc, ("variables", name), f"variable '{name}' is never read: no condition, detection chance, "
              "actor value or doctrine weight uses it", key=True)
        for name in s.variables if name not in read
    ]


# --- 6. and 7. sources and injects ----------------------------------------------------------


def _options_without_quote(doc: Document, rules: Rules) -> list[Problem]:
    return [
        _warn(doc, path + ("source", "quote"), f"option '{o.id}' has no source quote: quote the words of "
              f"'{o.source.ref}' the move comes from")
        for path, o in _option_paths(rules) if not o.source.quote.strip()
    ]


def _injects_after_horizon(doc: Document, rules: Rules) -> list[Problem]:
    out = []
    for i, (inject, turn) in enumerate(zip(rules.scenario.injects, rules.inject_turn)):
        if turn >= rules.horizon:
            field = "date" if inject.date else "turn"
            out.append(_warn(doc, ("injects", i, field), f"inject '{inject.id}' falls in turn {turn}, after the "
                             f"horizon (turns 0 to {rules.horizon - 1}): it never happens"))
    return out


# --- 8. to 10. thresholds, lags and actors that never play ----------------------------------


def _thresholds_out_of_reach(doc: Document, rules: Rules) -> list[Problem]:
    """A threshold is crossed when a position first reaches its level: positions lie between 0
    (they cool toward it, and moves below 0 only lower them) and the top rung."""
    top = max(r.level for r in rules.scenario.ladder.rungs)
    out = []
    for i, t in enumerate(rules.scenario.ladder.thresholds):
        if t.level > top:
            out.append(_warn(doc, ("ladder", "thresholds", i, "level"), f"threshold '{t.id}' is at level {t.level}, "
                             f"above the top rung ({top}): no position ever reaches it"))
        elif t.level <= 0:
            out.append(_warn(doc, ("ladder", "thresholds", i, "level"), f"threshold '{t.id}' is at level {t.level}: "
                             "every position is at least 0, so it is crossed at once or never means anything"))
    return out


def _lags_beyond_horizon(doc: Document, rules: Rules) -> list[Problem]:
    s, out = rules.scenario, []
    parts = [(("options", i), o.id, o.effects) for i, o in enumerate(s.options)]
    parts += [(("injects", i), inj.id, inj.effects) for i, inj in enumerate(s.injects)]
    parts += [(("chance", i), c.id, c.effects) for i, c in enumerate(s.chance)]
    for path, name, effects in parts:
        for j, e in enumerate(effects):
            lag = e.lag if e.lag is not None else s.mechanics.sanctions.lag if e.sanction else 0
            if lag >= rules.horizon:
                where = path + ("effects", j, "lag") if e.lag is not None else path + ("effects", j)
                out.append(_warn(doc, where, f"an effect of '{name}' lags {plural(lag, 'turn')}, as long as the "
                                 f"game or longer ({plural(rules.horizon, 'turn')}): it never takes effect"))
    return out


def _actors_without_options(doc: Document, rules: Rules) -> list[Problem]:
    return [
        _warn(doc, ("actors", name), f"actor '{name}' has no options: it never moves", key=True)
        for a, name in enumerate(rules.actors) if not len(rules.by_actor[a])
    ]
