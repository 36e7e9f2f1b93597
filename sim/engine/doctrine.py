"""Doctrines: how a bot scores the moves open to it and picks one (softmax over scores).

score(option) =  values x sum_v weight_v * E[change of v] / span_v * 10
               + escalation * level / L
               + reciprocity * (1 - |level - opponents' position| / L)
               - risk_aversion * (added war hazard, in percentage points)
               + habits (category, tags, option)
and passing scores `pass`. L is the highest |level| on the ladder. A variable with a goal is
valued on the state before and after the move instead, per world: sum_e p_e (u(x + d_e) - u(x)).
A doctrine's rules add their terms in the worlds where their condition holds (a mask over
worlds); `after_red_line` is one such rule, whose condition is a red line the actor owns being
crossed. Every doctrine is one instance of this class with different numbers from the scenario
file; there is no per-doctrine code.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import numpy as np

from ..format.model import Doctrine as DoctrineSpec
from ..format.model import DoctrineTerms, Goal
from . import rng
from .knowledge import View
from .params import Hazard, Params
from .rules import CompiledEffect, Rules


@dataclass(frozen=True)
class _Utility:
    """One goal's utility in score units, of z = the variable in tenths of its range from its min."""

    shape: str  # "saturate", "distance" or "band"
    weight: float  # the goal's weight times the doctrine's multiplier (`values`, for the actor's goals)
    low: float  # saturate: clip z to [low, high]; band: its ends; distance: the target (low)
    high: float

    def __call__(self, z: np.ndarray) -> np.ndarray:
        if self.shape == "saturate":
            return self.weight * np.clip(z, self.low, self.high)
        if self.shape == "distance":  # marginal weight: weight x distance in tenths
            return -0.5 * self.weight * (z - self.low) ** 2
        return -self.weight * (np.maximum(self.low - z, 0.0) + np.maximum(z - self.high, 0.0))

    @classmethod
    def of(cls, goal: Goal, factor: float, lo: float, span: float) -> _Utility:
        tenths = lambda x: (x - lo) / span * 10.0  # noqa: E731
        if goal.band is not None:
            return cls("band", goal.weight * factor, tenths(goal.band[0]), tenths(goal.band[1]))
        target = tenths(goal.target)
        if goal.shape == "distance":
            return cls("distance", goal.weight * factor, target, target)
        # Saturates in the direction the goal's own weight wants (a negative multiplier, from a
        # rule, turns the whole utility around, not the direction).
        low, high = (-np.inf, target) if goal.weight > 0 else (target, np.inf)
        return cls("saturate", goal.weight * factor, low, high)


class _Terms:
    """One set of doctrine terms, pre-computed for one actor's options.

    With numbers per world (`params`: the batch's; `own`: these terms' own fields, a preset's),
    what depends on them has a column per world ([options, W] arrays, [W] numbers), computed by
    the same operations as a scalar is, so each world scores as a batch of its values would."""

    def __init__(self, rules: Rules, actor: int, terms: DoctrineTerms, params: Params | None = None,
                 own: dict[str, np.ndarray] | None = None, weighs: dict[str, np.ndarray] | None = None):
        own, weighs = own or {}, weighs or {}
        get = lambda name: own[name] if name in own else getattr(terms, name) or 0.0  # noqa: E731  (a term not given adds nothing)
        idx = rules.by_actor[actor]
        opts = [rules.options[i] for i in idx]
        given = params.values.get(rules.actors[actor], {}) if params else {}  # the actor's value weights per world
        odds = {i: params.success[i] for i in idx if i in params.success} if params else {}
        self.hazard = Hazard(rules, params)
        deltas = params.deltas if params else {}  # effects' deltas per world
        expected = [rules.expected_effects(i, odds.get(i)) for i in idx]
        moved = bool(deltas) and any(e.key in deltas for pairs in expected for e, _ in pairs)
        wide = bool(own.keys() - {"temperature"} or given or odds or self.hazard.per_world or moved or weighs)
        shape = (len(idx), params.size) if wide else (len(idx),)
        weights = [0.0] * len(rules.var_names)
        self.goals: dict[int, list[_Utility]] = {}  # variable -> its goals' utilities
        pairs = [(v, given.get(v, w), get("values")) for v, w in rules.scenario.actors[rules.actors[actor]].values.items()]
        for var, w, factor in [*pairs, *((v, weighs.get(v, w), 1.0) for v, w in terms.weights.items())]:
            v = rules.var_index[var]
            if not isinstance(w, Goal):
                weights[v] = weights[v] + w * factor
            elif np.any(factor):  # a zero factor in some worlds adds a utility of zero there
                self.goals.setdefault(v, []).append(_Utility.of(w, factor, rules.vmin[v], rules.span[v]))
        per_unit = [w / span * 10.0 for w, span in zip(weights, rules.span)]

        plain = np.zeros(shape)  # expected value of state-independent changes
        self.sanction = np.zeros(shape)  # value of sanctions before the enforcement scale
        self.sets: list[tuple[int, int, float, float]] = []  # (column, var, value, probability)
        self.d_tension = np.zeros(shape)
        # Changes of a goal's variable, by what they do (variable, delta, set, sanction): options
        # often share one, and its gain in utility is then found once per decision.
        self.goal_effects: dict[tuple, dict[int, float]] = {}  # change -> {column: probability}
        self.goal_deltas: dict[tuple, np.ndarray] = {}  # a change's delta per world, by ("per world", n): see _changes_per_world
        changes = []  # (column, effect, its delta, probability) of each change of a goal's variable, in order
        for k, pairs in enumerate(expected):
            for e, p in pairs:
                delta = deltas[e.key] if e.key in deltas else e.delta
                if e.var in self.goals:
                    changes.append((k, e, delta, p))
                    columns = self.goal_effects.setdefault((e.var, e.delta, e.set, e.sanction), {})
                    columns[k] = columns.get(k, 0.0) + p
                if e.set is not None:
                    if np.any(per_unit[e.var]):
                        self.sets.append((k, e.var, e.set, p))
                    continue
                value = p * delta * per_unit[e.var]
                if e.sanction:
                    self.sanction[k] += value
                else:
                    plain[k] += value
                if e.var == rules.tension:
                    self.d_tension[k] += p * delta
        if any(e.key in deltas for _, e, _, _ in changes):
            self.goal_effects = self._changes_per_world(changes, params.size)
        self.per_unit = per_unit
        habits = np.array(
            [
                terms.categories.get(o.category, 0.0)
                + sum(terms.tags.get(t, 0.0) for t in o.tags)
                + terms.options.get(o.id, 0.0)
                for o in opts
            ]
        )
        level = rules.level[idx]
        f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731  (scores are float32: half the memory traffic)
        self.level = f32(level)
        if wide:
            level, habits = level[:, None], habits[:, None]
        self.static = f32(plain + get("escalation") * level / rules.top_level + habits)
        self.sanction = f32(self.sanction)
        self.reciprocity = get("reciprocity")
        self.risk = get("risk_aversion")
        self.risky = bool(np.any(self.risk))  # (a world with none adds zeros)
        war = np.zeros(shape)
        for k, (i, o) in enumerate(zip(idx, opts)):
            war[k] = odds.get(i, o.success) if rules.ends_game[i] == rules.war else 0.0
        self.war_odds = f32(war)
        # hazard(T + dT) = max / (1 + exp(-k (T - mid)) exp(-k dT)) = max g / (g + exp(-k (T - mid)))
        # with g = exp(k dT) per option (bounded: beyond it the hazard is 0 or max to float precision)
        h = self.hazard
        g = np.exp(np.clip(h.steepness * self.d_tension, -60.0, 60.0))
        self.hazard_g = f32(g)
        self.hazard_num = f32(-self.risk * 100.0 * h.max * g)  # minus the risk weight times max g
        self.pass_score = get("pass_")
        self.top = rules.top_level
        # Where scores usually sit: subtracted instead of each world's highest score, it keeps the
        # exponentials in range without a pass over the scores to find that score.
        if wide:
            self.bound = np.maximum(self.static.max(axis=0, initial=0.0).astype(float), self.pass_score)
        else:
            self.bound = max(float(self.static.max(initial=0.0)), self.pass_score)
        # Scores the same in every world, as a rule's habits are: where the rule holds they are
        # added as a product of these scores and its mask, without an array of them first (`Doctrine._scores`).
        self.constant = (not wide and not isinstance(self.reciprocity, np.ndarray) and not self.reciprocity
                         and not self.sanction.any() and not self.sets and not self.goal_effects and not self.risky)

    def _changes_per_world(self, changes: list, size: int) -> dict[tuple, dict[int, np.ndarray]]:
        """`goal_effects` where some deltas differ per world. Changes equal in a world are one
        there (its gain found once, their probabilities summed in order), as in a batch of that
        world's values: each change is led by the first change equal to it in that world, and
        each leader's entry has, per column, the sum of the probabilities of the changes it
        leads there (adding zeros elsewhere, which changes no sum), in the order of the leaders.
        A leader's delta per world is in `goal_deltas`."""
        same = lambda a, b: a[1].var == b[1].var and a[1].set == b[1].set and a[1].sanction == b[1].sanction  # noqa: E731
        leader = []
        for n, change in enumerate(changes):
            lead = np.full(size, n)
            for m in range(n - 1, -1, -1):  # the earliest equal change wins
                if same(changes[m], change):  # (a `set` of the same value is the same change everywhere)
                    lead[np.broadcast_to(changes[m][2] == change[2], size) if change[1].set is None else slice(None)] = m
            leader.append(lead)
        out: dict[tuple, dict[int, np.ndarray]] = {}
        for n, (_, e, delta, _) in enumerate(changes):
            columns: dict[int, np.ndarray] = {}
            for m, (k, _, _, p) in enumerate(changes):
                if m >= n and (leader[m] == n).any():
                    columns[k] = columns.get(k, 0.0) + np.where(leader[m] == n, p, 0.0)
            if columns:
                key = ("per world", n)
                self.goal_deltas[key] = np.broadcast_to(delta, size) if e.set is None else None
                out[(e.var, key if e.set is None else None, e.set, e.sanction)] = columns
        return out

    def scores(self, rules: Rules, state, rows: np.ndarray, opponents_position: np.ndarray, scale, shift=0.0) -> np.ndarray:
        """[len(rows) + 1, W] scores of the given options less `shift`, options-major; the last
        row is passing. `scale()` gives the sanction scale per world (float32); it is called
        only if a score needs it.

        Built in place, float32: this is the engine's hot path.
        """
        n, W = len(rows), state.size
        out = np.empty((n + 1, W), dtype=np.float32)
        out[n] = self.pass_score - shift
        s = out[:n]
        static = _rows(self.static, rows) - np.float32(shift)
        # Softmax only sees differences between moves, so a term that is the same for every
        # option of a world is subtracted from passing instead: one row, not the whole array.
        if isinstance(self.reciprocity, np.ndarray):  # per world: each world adds or subtracts its own (0: nothing)
            c = np.float32(np.abs(self.reciprocity) / self.top)
            np.subtract(self.level[rows, None] * c, opponents_position.astype(np.float32) * c, out=s)
            np.abs(s, out=s)
            s *= np.sign(self.reciprocity).astype(np.float32)
            np.subtract(static, s, out=s)
            out[n] -= self.reciprocity.astype(np.float32)
        elif self.reciprocity:  # reciprocity * (1 - |level - opp| / L): |c level - c opp| is scaled before
            c = np.float32(abs(self.reciprocity) / self.top)
            np.subtract.outer(self.level[rows] * c, opponents_position.astype(np.float32) * c, out=s)
            np.abs(s, out=s)
            if self.reciprocity > 0:
                np.subtract(static, s, out=s)
            else:
                s += static
            out[n] -= self.reciprocity
        else:
            s[:] = static
        for r in _nonzero_rows(self.sanction[rows]):  # few options are sanctions: their rows only
            s[r] += self.sanction[rows[r]] * scale()
        position = {int(k): r for r, k in enumerate(rows)} if self.sets or self.goal_effects else {}
        for k, var, value, p in self.sets:
            if k in position:
                s[position[k]] += p * (value - state.column(var)) * self.per_unit[var]
        if self.goal_effects:
            self._goal_values(rules, state, s, position, scale)
        if self.risky:
            h = self.hazard
            e = (state.column(rules.tension) - h.midpoint).astype(np.float32)
            e *= np.float32(-h.steepness)
            np.exp(e, out=e)  # single precision: a vectorised exponential, several times faster
            weight = np.float32(self.risk * 100.0)  # per percentage point of hazard (as a Python float would be taken)
            later = _rows(self.hazard_g, rows) + e
            np.divide(_rows(self.hazard_num, rows), later, out=later)  # minus the hazard after the move
            s += later
            now = np.float32(h.max) / (1.0 + e)
            out[n] -= weight * now  # ...plus the hazard now, on every option: minus it on passing
            for r in _nonzero_rows(self.war_odds[rows]):  # strikes: war itself, if no miscalculation first
                s[r] -= weight * self.war_odds[rows[r]] * (1.0 - now)
        return out

    def _goal_values(self, rules: Rules, state, s: np.ndarray, position: dict, scale) -> None:
        """Adds sum_e p (u(x + d) - u(x)) to the rows of the options that change a goal's
        variable, per world: x is the variable now, x + d its value after the effect (within
        the variable's range), u the sum of the variable's goals in tenths of its range."""
        now: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # variable -> (x, u(x)), once per call
        for (v, delta, set_, sanction), columns in self.goal_effects.items():
            rows = [(position[k], p) for k, p in columns.items() if k in position]
            if not rows:
                continue
            if v not in now:
                x = state.column(v)
                now[v] = x, self._utility(rules, v, x)
            x, u = now[v]
            if set_ is not None:
                after = np.full_like(x, set_)
            elif isinstance(delta, tuple):  # per world (`goal_deltas`): a sanction's in single precision, as a number's is
                d = self.goal_deltas[delta]
                after = x + (d.astype(np.float32) * scale() if sanction else d)
            else:
                after = x + (delta * scale() if sanction else delta)
            np.clip(after, rules.vmin[v], rules.vmax[v], out=after)
            gain = self._utility(rules, v, after) - u
            for row, p in rows:
                s[row] += p * gain

    def _utility(self, rules: Rules, v: int, x: np.ndarray) -> np.ndarray:
        z = (x - rules.vmin[v]) / rules.span[v] * 10.0
        return sum(u(z) for u in self.goals[v])


def _rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The options' rows of a per-option array, [rows, 1] or, with a column per world, [rows, W]."""
    return a[rows, None] if a.ndim == 1 else a[rows]


def _nonzero_rows(a: np.ndarray) -> np.ndarray:
    """The rows of a per-option array that are not zero (in some world, with a column per world)."""
    return a.nonzero()[0] if a.ndim == 1 else a.any(axis=1).nonzero()[0]


@dataclass(frozen=True)
class _Rule:
    """Terms added where `holds(env)` (a mask over worlds); `temperature` replaces the doctrine's there."""

    holds: Callable[[dict], np.ndarray]
    terms: _Terms
    temperature: float | None


def _any_crossed(names: list[str], env: dict) -> np.ndarray:
    """after_red_line's condition: one of the actor's red lines crossed."""
    return np.logical_or.reduce([env[n] for n in names])


@dataclass
class _Situation:
    """What one decision reads, found once: the state, the opponents' position, the sanction
    scale (only if a score needs it), the rules that hold somewhere with their masks, and the
    temperature (a number, or one per world where a rule sets it)."""

    state: object
    opponents: np.ndarray
    scale: Callable[[], np.ndarray]
    holding: list[tuple[np.ndarray, _Terms]]
    temperature: float | np.ndarray


class Doctrine:
    """A doctrine preset bound to one actor of one scenario."""

    def __init__(self, rules: Rules, actor: int, name: str, spec: DoctrineSpec, params: Params | None = None):
        self.name, self.actor, self.spec = name, actor, spec
        own = params.terms.get(name, {}) if params else {}  # the preset's own terms per world
        weighs = lambda where: params.weights.get((name, where)) if params else None  # noqa: E731  (weights per world)
        self.base = _Terms(rules, actor, spec, params, own, weighs(None))
        self.temperature = own.get("temperature", spec.temperature)
        self.rules: list[_Rule] = []
        owned = [f"redline.{line.id}" for line, owner in zip(rules.red_lines, rules.red_line_owner) if owner == actor]
        if spec.after_red_line is not None and owned:  # first, as it was added before rules existed
            terms = _Terms(rules, actor, spec.after_red_line, params, weighs=weighs("after_red_line"))
            self.rules.append(_Rule(partial(_any_crossed, owned), terms, None))
        for n, rule in enumerate(spec.rules):
            terms = _Terms(rules, actor, rule, params, weighs=weighs(n))
            self.rules.append(_Rule(rules.rule_when[rule.when].mask, terms, rule.temperature))
        self.opponents = [rules.actor_index[a] for a in rules.scenario.actors[rules.actors[actor]].opponents]
        self.on_view = rules.knowledge.hidden_from(actor)  # else its view is the truth: it reads the state

    def choose(self, rules: Rules, state, available: np.ndarray, turn: int, round_: int = 0) -> np.ndarray:
        """Local option index per world (K means pass), sampled by softmax(score / temperature).

        `available` is [K + 1, W]; one uniform per world is compared with the cumulative weights.
        Weights are taken relative to the doctrine's bound on its scores; in a world where that
        makes them overflow or vanish, from its best open move instead. `round_` is the actor's
        decisions before this one in this turn: each draws with a key of its own.
        """
        rows = available[:-1].any(axis=1).nonzero()[0]  # options open in no world need no score
        keep = np.append(rows, len(available) - 1)
        open_ = available if len(keep) == len(available) else available[keep]
        situation = self._situation(rules, state, turn)
        with np.errstate(over="ignore", invalid="ignore"):  # such worlds are weighed again below
            cumulative = _cumulative(self._logits(rules, situation, rows), open_)
        total = cumulative[-1]
        odd = (~((total > 1e-20) & (total < np.inf))).nonzero()[0]  # NaN (inf times closed) fails both
        if len(odd):
            logits = np.where(open_[:, odd], self._logits(rules, situation, rows)[:, odd], -np.inf)
            logits -= logits.max(axis=0)
            cumulative[:, odd] = _cumulative(logits, open_[:, odd])
        # the first decision of a turn keeps the key it had when an actor decided once a turn
        keys = (turn, self.actor, round_) if round_ else (turn, self.actor)
        u = rng.uniform(state.stream, rng.key("choose"), *keys) * cumulative[-1]
        below = cumulative <= u.astype(np.float32)
        picked = np.minimum(below.view(np.uint8).sum(axis=0, dtype=np.uint8), len(rows))  # K < 255
        return keep.take(picked)  # take: a third of the time of keep[picked] with a uint8 index

    def _logits(self, rules: Rules, situation: _Situation, rows: np.ndarray) -> np.ndarray:
        logits = self._scores(rules, situation, rows, relative=True)
        t = situation.temperature
        if isinstance(t, np.ndarray):  # a rule's temperature in some worlds: each divides its own
            logits *= (1.0 / t).astype(np.float32)
        elif t != 1.0:
            logits *= np.float32(1.0 / t)
        return logits

    def reads(self, state, turn: int) -> tuple[object, dict]:
        """What the doctrine reads, and the only place it is read from: its actor's view of the
        state (`knowledge.View`; the state itself when nothing is hidden from it) and the names
        its rules' conditions read, as the actor sees them."""
        if not self.on_view:
            return state, state.names(turn)
        view = View(state, self.actor)
        return view, view.names(turn)

    def _situation(self, rules: Rules, state, turn: int) -> _Situation:
        view, env = self.reads(state, turn)
        opp = view.position[:, self.opponents[0]] if self.opponents else np.zeros(view.size)
        for j in self.opponents[1:]:  # column by column: each is contiguous
            opp = np.maximum(opp, view.position[:, j])
        scale = cache(lambda: view.sanction_scale(turn).astype(np.float32))  # only where some option is a sanction
        holding, temperature = [], self.temperature
        for rule in self.rules:
            mask = rule.holds(env)  # once per decision
            if not mask.any():  # a rule that holds nowhere costs nothing more
                continue
            holding.append((mask, rule.terms))
            if rule.temperature is not None:
                temperature = np.where(mask, rule.temperature, temperature)  # a later rule's wins
        return _Situation(view, opp, scale, holding, temperature)

    def scores(self, rules: Rules, state, turn: int, rows: np.ndarray | None = None, relative=False) -> np.ndarray:
        """[len(rows) + 1, W] scores of the actor's options `rows` (default: all) and of passing;
        `relative`: less the bounds of the terms (what softmax needs: the same in every row)."""
        return self._scores(rules, self._situation(rules, state, turn), rows, relative)

    def _scores(self, rules: Rules, sit: _Situation, rows: np.ndarray | None, relative: bool) -> np.ndarray:
        if rows is None:
            rows = np.arange(len(self.base.static))
        s = self.base.scores(rules, sit.state, rows, sit.opponents, sit.scale, self.base.bound if relative else 0.0)
        for mask, terms in sit.holding:
            shift = terms.bound if relative else 0.0
            holds = mask.astype(np.float32)  # as float32: a boolean factor is cast slowly, row by row
            if terms.constant:  # the same products as below, a pass fewer: [options] x [W], then passing
                s[:-1] += np.multiply.outer(terms.static[rows] - np.float32(shift), holds)
                s[-1] += np.float32(terms.pass_score - shift) * holds
                continue
            added = terms.scores(rules, sit.state, rows, sit.opponents, sit.scale, shift)
            added *= holds
            s += added
        return s


def _cumulative(logits: np.ndarray, open_: np.ndarray) -> np.ndarray:
    """Running sums down the options of exp(logit), closed options weighing nothing (in place).

    Masking after the exponential costs a pass less than shutting options out before it."""
    weights = np.exp(logits, out=logits)
    np.multiply(weights, open_, out=weights)
    for row in range(1, len(weights)):  # row by row: far faster than cumsum(axis=0) here
        weights[row] += weights[row - 1]
    return weights
