"""A validated scenario compiled into the index tables and arrays the engine works with."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..format.expr import Expression, call_name, compile_expression
from ..format.model import Effect, Option, Scenario
from . import rng
from .calendar import Calendar
from .knowledge import Knowledge
from .memory import Recall

NO_LIMIT = 10**6  # max_per_year of an option without a yearly limit


@dataclass(frozen=True)
class EffectTable:
    """One actor's immediate, additive effects as arrays: a row per variable, a column per option.

    The engine applies them to every world that moved in one vectorised step, as [C, worlds]
    arrays (the state's layout). An option's changes of one variable add up in one cell, with
    at most one uncertain change among them (a cell has one key to draw with). Effects with a
    lag, a spread over turns, a sanction scale, a `set` or a revert stay per option
    (`Rules.later_effects`).
    """

    cols: np.ndarray  # variable index of each row
    success: np.ndarray  # [C, K] change when the move succeeds
    failure: np.ndarray  # [C, K] ... when it fails
    always: np.ndarray  # [C, K] ... in both cases
    sd_success: np.ndarray  # [C, K] standard deviation of the change when the move succeeds
    sd_failure: np.ndarray  # [C, K] ... when it fails
    keys: np.ndarray  # [C, K] uint64 keys of the uncertainty draws

    @cached_property
    def on_success(self) -> np.ndarray:
        return self.success + self.always

    @cached_property
    def on_failure(self) -> np.ndarray:
        return self.failure + self.always

    @cached_property
    def uncertain(self) -> np.ndarray:
        """The rows (variables) with an uncertain change for some option."""
        return np.flatnonzero((self.sd_success != 0).any(axis=1) | (self.sd_failure != 0).any(axis=1))

    @cached_property
    def uncertain_sd(self) -> tuple[np.ndarray, np.ndarray]:
        """The standard deviations of the uncertain rows: (when the move succeeds, when it fails)."""
        return self.sd_success[self.uncertain], self.sd_failure[self.uncertain]


@dataclass(frozen=True)
class CompiledEffect:
    var: int
    delta: float | None
    set: float | None
    lag: int
    over: int
    uncertainty: float
    when: str
    revert: bool
    sanction: bool
    key: int  # index of the effect within its scenario, for counter-based draws


class Rules:
    """Everything the engine needs to know about a scenario, as indices and arrays."""

    def __init__(self, scenario: Scenario, name: str = "scenario"):
        s = self.scenario = scenario
        self.name = name
        self.reads: set[str] = set()  # every name the compiled expressions read (see `compile`)
        self.actors = list(s.actors)
        self.actor_index = {a: i for i, a in enumerate(self.actors)}
        self.var_names = list(s.variables)
        self.var_index = {v: i for i, v in enumerate(self.var_names)}
        vs = list(s.variables.values())
        self.vmin = np.array([v.min for v in vs])
        self.vmax = np.array([v.max for v in vs])
        self.span = self.vmax - self.vmin
        self.initial = np.array([v.initial for v in vs])
        self.baseline = np.array([v.initial if v.baseline is None else v.baseline for v in vs])
        self.drift = np.array([v.drift for v in vs])
        self.drifting = np.flatnonzero(self.drift)
        self.tension = self.var_index[s.mechanics.tension]

        self.rungs = sorted(s.ladder.rungs, key=lambda r: r.level)
        self.rung = {r.id: r for r in self.rungs}
        self.top_level = max(abs(r.level) for r in self.rungs) or 1
        self.threshold_levels = np.array([t.level for t in s.ladder.thresholds], dtype=float)

        self.red_lines = list(s.mechanics.red_lines)
        # Each actor's options are contiguous, so the engine reads them as one slice of the state.
        self.options: list[Option] = sorted(s.options, key=lambda o: self.actor_index[o.actor])
        self.option_index = {o.id: i for i, o in enumerate(self.options)}
        self.option_actor = np.array([self.actor_index[o.actor] for o in self.options])
        self.level = np.array([self.rung[o.rung].level for o in self.options], dtype=float)
        self.by_actor = [np.flatnonzero(self.option_actor == a) for a in range(len(self.actors))]
        self.actor_slice = [slice(int(i[0]), int(i[-1]) + 1) if len(i) else slice(0, 0) for i in self.by_actor]
        self.cooldown = np.array([o.cooldown for o in self.options])
        self.climbs_to = np.where(self.level >= 0, self.level, -np.inf)  # a position after the move: at least this
        self.falls_to = np.where(self.level < 0, self.level, np.inf)  # ...and at most this
        self.max_per_year = np.array([o.max_per_year or NO_LIMIT for o in self.options])
        self.requires: list[Expression | None] = [self.compile(o.requires) for o in self.options]
        self.acts_when = [self.compile(a.acts_when) for a in s.actors.values()]
        counter = iter(range(10**6))
        self.effects = [[self._effect(e, next(counter)) for e in o.effects] for o in self.options]
        self.inject_effects = [[self._effect(e, next(counter)) for e in i.effects] for i in s.injects]
        self.calendar = Calendar(self, counter)
        self.chance = list(s.chance)
        self.chance_effects = [[self._effect(e, next(counter)) for e in c.effects] for c in self.chance]
        self.prepare = np.array([o.prepare for o in self.options])
        self.blocks = self.prepare + self.cooldown + 1  # turns a move keeps its option closed
        self.success = np.array([o.success for o in self.options])
        self.option_key = np.array([rng.key(o.id) for o in self.options], dtype=np.uint64)
        self.tables: list[EffectTable] = []
        self.cells: list[dict[tuple[int, int], list[CompiledEffect]]] = []  # per actor: (row, column) -> its effects, in order
        self.later_effects: list[list[CompiledEffect]] = [[] for _ in self.options]
        for a in range(len(self.actors)):
            self.tables.append(self._table(self.by_actor[a]))
        # Spread effects act through rates, one per (is a sanction, variable): State.rate's columns.
        windows = (*self.calendar.start_effects, *self.calendar.end_effects)
        spread = [e for effects in (*self.effects, *self.inject_effects, *windows, *self.chance_effects) for e in effects if e.over > 1]
        self.rates = sorted({(e.sanction, e.var) for e in spread})
        self.rate_index = {r: i for i, r in enumerate(self.rates)}
        self.rate_turns = max((e.lag + e.over for e in spread), default=1) + 1  # how far ahead a rate changes
        # The variables that change at every turn's end (drift or rates): (var, baseline, drift, min, max)
        self.moving = [
            (int(v), float(self.baseline[v]), float(self.drift[v]), float(self.vmin[v]), float(self.vmax[v]))
            for v in np.union1d(self.drifting, [var for _, var in self.rates]).astype(int)
        ]
        self.inject_turn = [self.turn_of(i.date) if i.date else i.turn for i in s.injects]
        self.inject_when = [self.compile(i.when) for i in s.injects]
        self.sanction_scale = self.compile(s.mechanics.sanctions.scale)
        # Every preset's situational rules, whichever the actors end up playing: compiled now, so
        # that the record keeps what their conditions read (`compile`).
        self.rule_when = {r.when: self.compile(r.when) for d in s.doctrines.values() for r in d.rules}
        self.knowledge = Knowledge(self)  # who sees what (its detection chances are expressions too)

        self.topics = list(s.mechanics.proposals)
        self.topic_index = {t: i for i, t in enumerate(self.topics)}
        self.red_line_owner = np.array([self.actor_index[r.owner] for r in self.red_lines], dtype=int)
        crossing = np.zeros((len(self.options), len(self.red_lines)), dtype=bool)
        for j, r in enumerate(self.red_lines):
            for oid in r.crossed_by:
                crossing[self.option_index[oid], j] = True
        self.crosses = crossing

        self.outcomes = list(s.outcomes)
        self.outcome_index = {o.id: i for i, o in enumerate(self.outcomes)}
        self.outcome_when = [self.compile(o.when) for o in self.outcomes]
        self.war = next(i for i, o in enumerate(self.outcomes) if o.kind == "war")
        self.horizon_outcome = next(i for i, o in enumerate(self.outcomes) if o.kind == "horizon")
        self.ends_game = np.array(
            [-1 if o.ends_game is None else self.outcome_index[o.ends_game] for o in self.options]
        )
        self.chance_probability = [self.compile(c.probability) for c in self.chance]
        self.chance_key = [rng.key(c.id) for c in self.chance]
        self.chance_ends = [-1 if c.ends_game is None else self.outcome_index[c.ends_game] for c in self.chance]
        # What ends a game, per world (State.cause): the three the engine knows, then every option
        # and chance event that can end one (a chance event named like such an option shares its cause).
        causes = ["miscalculation", "condition", "horizon"]
        causes += [o.id for o in self.options if o.ends_game] + [c.id for c in self.chance if c.ends_game]
        self.causes = list(dict.fromkeys(causes))
        self.cause_index = {c: k for k, c in enumerate(self.causes)}

        # Several decisions a turn: an actor decides again after a move while it has moves left,
        # and after a free answer (the topic's free_answer) in any case.
        topics = s.mechanics.proposals
        self.moves_per_turn = [a.moves_per_turn for a in s.actors.values()]
        self.max_per_turn = np.array([o.max_per_turn for o in self.options])
        free = np.array([bool(o.answers and topics[o.answers.topic].free_answer) for o in self.options])
        self.free_answer = [np.append(free[i], False) for i in self.by_actor]  # per actor, by local choice (K: pass)
        self.decides_again = [m > 1 or bool(f.any()) for m, f in zip(self.moves_per_turn, self.free_answer)]
        self.several = self.max_per_turn > 1  # options that may be taken more than once a turn
        self.takes_several = bool(self.several.any())
        self.several_by_actor = [[(k, int(i)) for k, i in enumerate(idx) if self.several[i]] for idx in self.by_actor]
        self.veto_actors = [
            self.actor_index[m] for m, stance in s.mechanics.veto_members.items() if stance == "actor"
        ]
        self.veto_odds = {m: p for m, p in s.mechanics.veto_members.items() if p != "actor"}

    def _table(self, idx: np.ndarray) -> EffectTable:
        rows: list[dict[int, list[CompiledEffect]]] = []
        for i in idx:
            immediate: dict[int, list[CompiledEffect]] = {}
            for e in self.effects[i]:
                simple = e.delta is not None and not (e.lag or e.over > 1 or e.revert or e.sanction)
                cell = immediate.get(e.var, [])
                fits = simple and not (e.uncertainty and any(c.uncertainty for c in cell))
                if self.options[i].proposes or not fits:
                    if not self.options[i].proposes:  # a proposal's effects wait for its answer
                        self.later_effects[i].append(e)
                else:
                    immediate[e.var] = [*cell, e]
            rows.append(immediate)
        cols = sorted({v for row in rows for v in row})
        shape = (len(cols), len(idx))
        t = EffectTable(np.array(cols, dtype=int), *(np.zeros(shape) for _ in range(5)), np.zeros(shape, np.uint64))
        cells = {}
        self.cells.append(cells)
        for k, (i, row) in enumerate(zip(idx, rows)):
            for c, v in enumerate(cols):
                if v in row:
                    cells[(c, k)] = row[v]
                for e in row.get(v, ()):  # what `params.Cells` repeats per world
                    getattr(t, e.when)[c, k] += e.delta
                    sd = abs(e.uncertainty * e.delta)
                    if e.when != "failure":
                        t.sd_success[c, k] = sd
                    if e.when != "success":
                        t.sd_failure[c, k] = sd
                    t.keys[c, k] = rng.key(f"{self.options[i].id}/{self.var_names[v]}")
        return t

    def expected_effects(self, i: int, success=None) -> list[tuple[CompiledEffect, float]]:
        """What taking option i brings, as (effect, probability): what a doctrine weighs.

        A proposal's effects depend on the answer (even odds assumed); answering a consent
        proposal brings the proposal's effects on acceptance, or on refusal (averaged over the
        options that can make such a proposal to this actor). `success`: the option's chance of
        success if not the scenario's (an array: one per world, `Params`).
        """
        o = self.options[i]
        p = o.success if success is None else success
        odds = {"success": p, "failure": 1.0 - p, "always": 1.0}
        if o.proposes:
            odds = {"success": 0.5, "failure": 0.5, "always": 1.0}
        out = [(e, odds[e.when]) for e in self.effects[i]]
        topic = o.answers and self.scenario.mechanics.proposals.get(o.answers.topic)
        if topic and topic.rule == "consent":
            asked = [j for j, p in enumerate(self.options)
                     if p.proposes and p.proposes.topic == o.answers.topic and o.actor in p.proposes.to]
            when = "success" if o.answers.accept else "failure"
            out += [(e, 1.0 / len(asked)) for j in asked for e in self.effects[j] if e.when in (when, "always")]
        return out

    @cached_property
    def special(self) -> np.ndarray:
        """Options whose execution needs more than the effect tables: handled one option at a time."""
        return np.array(
            [
                bool(o.proposes or o.answers or o.duration or o.ends_game or self.later_effects[i] or self.crosses[i].any())
                for i, o in enumerate(self.options)
            ]
        )

    @cached_property
    def conditions(self) -> list[list[tuple[int, str, tuple]]]:
        """Per actor: (local option index, reason, condition) for each state condition of its
        options; a condition is ("requires", expression) or ("pending" | "to answer", topic)."""
        out = []
        shared: dict[str, Expression] = {}  # one expression per text: the engine evaluates each once
        for idx in self.by_actor:
            conds = []
            for k, i in enumerate(idx):
                o = self.options[i]
                if self.requires[i] is not None:
                    req = shared.setdefault(self.requires[i].text, self.requires[i])
                    conds.append((k, f"requires {req.text}", ("requires", req)))
                if o.proposes:
                    topic = o.proposes.topic
                    conds.append((k, f"a {topic} proposal is already pending", ("pending", self.topic_index[topic])))
                if o.answers:
                    topic = o.answers.topic
                    conds.append((k, f"no {topic} proposal to answer", ("to answer", self.topic_index[topic])))
            out.append(conds)
        return out

    @cached_property
    def next_year(self) -> np.ndarray:
        """For each turn, the first turn of the next calendar year."""
        return np.array([self.next_year_turn(t) for t in range(self.horizon)])

    @cached_property
    def names(self) -> list[str]:
        """Names expressions may read."""
        return (self.var_names + ["turn"] + [f"redline.{r.id}" for r in self.red_lines]
                + [f"{a}.{what}" for a in self.actors for what in ("position", "peak")]
                + ["month", "day_of_year"] + [f"window.{w.id}" for w in self.scenario.calendar])

    @cached_property
    def calls(self) -> dict[str, set[str]]:
        """What each call of the expression language may be given: count and since an option, a
        tag or ACTOR.TAG; crossed a threshold; prepared an option that takes preparing."""
        keys = {o.id for o in self.options} | {t for o in self.options for t in o.tags}
        keys |= {f"{o.actor}.{t}" for o in self.options for t in o.tags}
        return {"count": keys, "since": keys, "crossed": {t.id for t in self.scenario.ladder.thresholds},
                "prepared": {o.id for o in self.options if o.prepare}}

    def compile(self, text: str | None) -> Expression | None:
        """An expression of the scenario. Compile them all here, as the rules are made: the state
        keeps the record (`recall`) only of what the expressions compiled by then read."""
        if text is None:
            return None
        expr = compile_expression(text, self.names, self.calls)
        late = {name for name in expr.names - self.reads if "(" in name}  # calls: count(...), since(...), crossed(...)
        if late and ("recall" in vars(self) or "crossed" in vars(self)):
            raise RuntimeError(f"{text!r} reads {', '.join(sorted(late))}, which no state records: "
                               "compile expressions as the Rules are made, before any State")
        self.reads |= expr.names
        return expr

    @cached_property
    def recall(self) -> Recall:
        """The moves to remember: those that count(...) and since(...) read."""
        return Recall(self, self.reads)

    @cached_property
    def crossed(self) -> dict[str, int]:
        """The threshold index of each crossed(...) the expressions read, by name."""
        ids = [t.id for t in self.scenario.ladder.thresholds]
        return {call_name("crossed", ids[j]): j for j in range(len(ids)) if call_name("crossed", ids[j]) in self.reads}

    def _effect(self, e: Effect, key: int) -> CompiledEffect:
        lag = e.lag
        if lag is None:
            lag = self.scenario.mechanics.sanctions.lag if e.sanction else 0
        return CompiledEffect(
            self.var_index[e.var], e.delta, e.set, lag, e.over, e.uncertainty, e.when, e.revert, e.sanction, key
        )

    def hazard(self, tension: np.ndarray, h=None) -> np.ndarray:
        """The chance of war by miscalculation in a turn, in single precision (a vectorised exponential).

        The scenario's figure is weekly: a turn of d days has 1 - (1 - weekly)^(d / 7), computed
        as -expm1(log1p(-weekly) d / 7); weekly turns use the weekly figure as it is. `h`: the
        hazard's numbers if not the scenario's (arrays per world: `params.Hazard`)."""
        h = h or self.scenario.mechanics.hazard
        # max in single precision, as a Python float would be taken: an array of maxima per world then gives the same numbers
        weekly = np.float32(h.max) / (1.0 + np.exp(np.asarray(-h.steepness * (tension - h.midpoint), dtype=np.float32)))
        days = self.scenario.clock.turn_days
        if days == 7:
            return weekly
        return -np.expm1(np.log1p(-weekly) * np.float32(days / 7))

    @property
    def horizon(self) -> int:
        return self.scenario.clock.horizon

    @cached_property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.scenario.clock.start)

    def date(self, turn: int) -> dt.date:
        return self.start + dt.timedelta(days=turn * self.scenario.clock.turn_days)

    def turn_of(self, date: str) -> int:
        return (dt.date.fromisoformat(date) - self.start).days // self.scenario.clock.turn_days

    def year(self, turn: int) -> int:
        return self.date(turn).year

    def next_year_turn(self, turn: int) -> int:
        """The first turn of the calendar year after the one `turn` falls in."""
        first = self.turn_of(f"{self.year(turn) + 1}-01-01")
        return first if self.year(first) > self.year(turn) else first + 1
