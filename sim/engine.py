"""The engine: SimPy processes advancing a batch of worlds held in NumPy arrays.

A game is a batch of one. Every process acts on all worlds at once, so one set of rules serves
play, Monte Carlo batches, forecasts and replays. Within a turn the processes run in phases:

    turn + 0.05  injects (scheduled events of the scenario)
    turn + 0.10  preparations complete, lagged effects land, durations end
    turn + 0.20  proposal windows close (talks accepted or refused, resolutions vetoed or passed)
    turn + 0.30  actors decide, one after another in the scenario's order
    turn + 0.90  the world: rates and drift, cooling positions, the hazard of miscalculation, outcomes

Lagged effects and durations are `Flight` records, each carried by a small process; because
the record holds all the process needs, `fork` can restart it in a new environment for every
rollout. Preparations, proposals and changes spread over turns are state (the turn each
preparation completes or proposal resolves, what each turn's end adds to or takes from the
rates), carried out for all worlds at once.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
import simpy

from . import rng
from .doctrine import Doctrine
from .events import EventLog
from .rules import NO_LIMIT, CompiledEffect, Rules

INJECT, LAND, RESOLVE, DECIDE, END = 0.05, 0.10, 0.20, 0.30, 0.90


class State:
    """The world state: arrays with a leading axis of worlds."""

    def __init__(self, rules: Rules, streams: np.ndarray, runs: np.ndarray):
        W, A, O, T, R = len(runs), len(rules.actors), len(rules.options), len(rules.topics), len(rules.rates)
        self.rules = rules
        self.size = W
        self.run = np.asarray(runs, dtype=np.int64)
        self.stream = streams
        # Worlds lead, but memory is column-major: the engine works a variable, a position or an
        # option at a time across all worlds, and each such column is contiguous.
        def F(shape, fill=0, dtype=float):  # zeros come from calloc: memory is touched only when used
            return np.zeros(shape, dtype, order="F") if fill == 0 else np.full(shape, fill, dtype=dtype, order="F")
        self.vars = np.asfortranarray(np.tile(rules.initial, (W, 1)))
        self.position = F((W, A))
        self.peak = F((W, A))
        # Turns fit in int16 (horizon, cooldown and preparation are at most 520): the engine scans
        # these every turn, and half the bytes is half the memory traffic.
        self.blocked = np.zeros((O, W), dtype=np.int16)  # first turn each option may be taken again
        self.year_count = F((W, O), dtype=np.int16)  # with `ready`: why an option is blocked
        self.ready = np.full((O, W), -1, dtype=np.int16)  # turn an option in preparation is carried out
        self.counts = F((W, O), dtype=np.int32)
        self.pend_until = F((W, T), -1, int)  # turn a pending proposal resolves, -1 if none
        self.pend_option = F((W, T), -1, int)
        self.pend_order = F((W, T), -1, int)  # the order proposals were made in: they are resolved in it
        self.awaiting = F((W, T, A), dtype=bool)  # who may still answer a pending proposal
        self.pend_answer = F((W, T), dtype=np.int8)  # 1 accepted, -1 vetoed
        self.passed = F((W, T), dtype=np.int32)  # proposals adopted, per topic
        self.red_line = F((W, len(rules.red_lines)), dtype=bool)
        self.red_line_turn = F((W, len(rules.red_lines)), -1, int)
        self.threshold_turn = F((W, len(rules.threshold_levels)), -1, int)
        self.active = np.ones(W, dtype=bool)  # worlds still being played
        self.rate = F((W, R))  # per-turn changes by spread effects in force (sanctions: before scaling)
        # Per rate, [world, slot]: what joins it at the end of turn t, at slot t % rate_turns.
        self.rate_change = [F((W, rules.rate_turns)) for _ in range(R)]
        self.outcome = np.full(W, -1)
        self.end_turn = np.full(W, -1)
        # Histories are float32: they are only read, and fresh memory is slow to fault in.
        self.tension_history = np.full((rules.horizon, W), np.nan, dtype=np.float32)
        # Positions per actor, [world, turn]. Big arrays are split so that at batch sizes each
        # stays under 4 MB, from which NumPy asks the kernel for huge pages: assembling them for
        # memory used well under a second cost more than they saved (about 4 % of a batch).
        self.positions = [np.full((W, rules.horizon), np.nan, dtype=np.float32, order="F") for _ in range(A)]

    @property
    def position_history(self) -> np.ndarray:
        """[turn, world, actor]: each actor's position at the end of each turn, NaN once a game
        has ended (a copy, assembled from `positions`)."""
        return np.stack([p.T for p in self.positions], axis=2)

    def names(self, turn: int) -> dict:
        """What expressions read: the variables, the turn and the red lines."""
        if "_columns" not in vars(self):  # views, made once: the arrays change only in place
            self._columns = {name: self.vars[:, i] for i, name in enumerate(self.rules.var_names)}
            for j, line in enumerate(self.rules.red_lines):
                self._columns[f"redline.{line.id}"] = self.red_line[:, j]
        return {**self._columns, "turn": float(turn)}

    def sanction_scale(self, turn: int, worlds: np.ndarray | None = None) -> np.ndarray:
        """The multiplier of sanctions (mechanics.sanctions.scale) in every world, or in some."""
        expr = self.rules.sanction_scale
        env = self.names(turn)
        if worlds is not None:
            env = {name: np.asarray(env[name])[worlds] if np.ndim(env[name]) else env[name] for name in expr.names}
        size = self.size if worlds is None else len(worlds)
        return np.broadcast_to(np.asarray(expr.number(env), dtype=float), (size,))  # NaN: 0

    def take(self, index: np.ndarray) -> State:
        """A new state made of the given worlds (repeats allowed)."""
        new = object.__new__(State)
        for name, value in vars(self).items():
            if name == "_columns":  # views of this state's arrays
                continue
            if isinstance(value, list):  # arrays with a leading axis of worlds
                value = [np.asfortranarray(v[index]) for v in value]
            elif isinstance(value, np.ndarray):
                if name.endswith("_history"):
                    value = value[:, index]
                elif name in ("blocked", "ready"):
                    value = np.ascontiguousarray(value[:, index])
                else:
                    value = np.asfortranarray(value[index])
            setattr(new, name, value)
        new.size = len(index)
        return new


@dataclass
class Flight:
    """Something in flight: a lagged effect, a duration, or the news of a spread change."""

    kind: str  # "effect" | "rate" (news of a spread change starting, when recording) | "expire"
    turn: int  # when it lands
    worlds: np.ndarray
    option: int = -1
    actor: str | None = None
    subject: str | None = None
    effect: CompiledEffect | None = None
    deltas: np.ndarray | None = None  # per world (a rate: its whole change)
    reverts: list = field(default_factory=list)  # (var, worlds, deltas) undone when a duration ends

    def remap(self, copies: int) -> Flight:
        """The same flight for `copies` rollouts of every world."""
        worlds = (self.worlds[:, None] * copies + np.arange(copies)).ravel()
        rep = lambda a: None if a is None else np.repeat(a, copies)  # noqa: E731
        reverts = [(v, (w[:, None] * copies + np.arange(copies)).ravel(), rep(d)) for v, w, d in self.reverts]
        return replace(self, worlds=worlds, deltas=rep(self.deltas), reverts=reverts)


@dataclass
class Decision:
    """A human actor must choose: `Engine.submit(actor, option_id or None)` answers."""

    actor: str
    turn: int
    event: simpy.Event


class Engine:
    def __init__(
        self,
        rules: Rules,
        seed: int = 0,
        runs: int | np.ndarray = 1,
        humans=(),
        doctrines: dict[str, str] | None = None,
        record: bool = True,
    ):
        runs = np.arange(runs) if np.isscalar(runs) else np.asarray(runs)
        self._setup(rules, seed, State(rules, rng.streams(seed, runs), runs), humans, doctrines, record, 0.0)
        for i, turn in enumerate(rules.inject_turn):
            if turn < rules.horizon:
                self.env.process(self._inject(i, turn))
        self._start_actors(force=None)

    def _setup(self, rules, seed, state, humans, doctrines, record, now):
        self.rules, self.seed, self.state = rules, seed, state
        self.humans = {rules.actor_index[a] for a in humans}
        choice = {a: spec.doctrine for a, spec in rules.scenario.actors.items()} | dict(doctrines or {})
        self.doctrine_names = choice
        self.doctrines = [
            Doctrine(rules, i, choice[a], rules.scenario.doctrines[choice[a]]) for i, a in enumerate(rules.actors)
        ]
        self.record = record
        self.log = EventLog()
        self.env = simpy.Environment(initial_time=now)
        self.flights: dict[int, Flight] = {}
        self._ids = itertools.count()
        self.proposals_made = int(state.pend_order.max(initial=-1)) + 1  # numbers the next proposal
        self.waiting: Decision | None = None
        self.finished = not state.active.any()  # every game over; kept by `_end`, read every step
        self.env.process(self._world())
        self.env.process(self._preparations())
        self.env.process(self._proposals())

    def _start_actors(self, force):
        for a in range(len(self.rules.actors)):
            self.env.process(self._actor(a, force))

    # --- stepping -------------------------------------------------------------------------

    @property
    def turn(self) -> int:
        return min(int(self.env.now), self.rules.horizon - 1)

    def advance(self, until_turn: int | None = None) -> Decision | None:
        """Run until a human must decide (returned), the games end, or `until_turn` begins."""
        stop = np.inf if until_turn is None else until_turn
        while self.waiting is None and not self.finished and self.env.peek() < stop:
            self.env.step()
        return self.waiting

    def run(self) -> Engine:
        if self.advance() is not None:
            raise RuntimeError("a human actor must decide; use advance() and submit()")
        return self

    def submit(self, actor: str, option: str | None) -> None:
        """The waiting human's move (None passes). Raises ValueError for a move not available now."""
        if self.waiting is None or self.waiting.actor != actor:
            raise ValueError(f"it is not {actor}'s turn to decide")
        if option is not None:
            why = dict(self.why_not(actor)).get(option, "no such option for this actor")
            if why:
                raise ValueError(f"{option}: {why}")
        decision, self.waiting = self.waiting, None
        decision.event.succeed(option)

    def fork(self, copies: int, force: dict[str, str | None] | None = None, humans=(), record=False) -> Engine:
        """`copies` rollouts of every world from now on, each with its own luck.

        Rollout r of world w is world w * copies + r. A pending human decision is taken by
        `force[actor]` if given, else by the actor's doctrine.
        """
        new = object.__new__(Engine)
        index = np.repeat(np.arange(self.state.size), copies)
        state = self.state.take(index)
        state.stream = rng.fork_streams(self.state.stream, self.turn, copies)
        new._setup(self.rules, self.seed, state, humans, self.doctrine_names, record, self.env.now)
        for flight in self.flights.values():
            new._fly(flight.remap(copies))
        for i, turn in enumerate(self.rules.inject_turn):
            if turn + INJECT >= self.env.now and turn < self.rules.horizon:
                new.env.process(new._inject(i, turn))
        waiting = self.waiting
        new._start_actors(None if waiting is None else (waiting.actor, waiting.turn, (force or {}).get(waiting.actor)))
        return new

    # --- processes --------------------------------------------------------------------------

    def _first(self, phase: float) -> int:
        """The first turn whose `phase` has not passed yet."""
        return int(np.ceil(self.env.now - phase - 1e-9))

    def _world(self):
        env = self.env
        for turn in range(max(self._first(END), 0), self.rules.horizon):
            yield env.timeout(turn + END - env.now)
            self._end_of_turn(turn)
            if self.finished:
                return

    def _preparations(self):
        """Carries out the moves whose preparation completes, an actor at a time."""
        env, rules, st = self.env, self.rules, self.state
        prepared = [i[rules.prepare[i] > 0] for i in rules.by_actor]  # each actor's options that take preparing
        prepared = [i for i in prepared if len(i)]
        for turn in range(max(self._first(LAND), 0), rules.horizon):
            yield env.timeout(turn + LAND - env.now)
            if self.finished:
                return
            for options in prepared:
                k, worlds = (st.ready[options] == turn).nonzero()
                opts = options[k]
                st.ready[opts, worlds] = -1
                # A world may complete two preparations at once: they are carried out in turn.
                rank = _rank(worlds)
                for r in range(rank.max() + 1 if len(rank) else 0):
                    now = (rank == r) & st.active[worlds]
                    self._execute(opts[now], worlds[now], turn)

    def _proposals(self):
        """Resolves the proposals whose window closes, in the order they were made."""
        env, st = self.env, self.state
        for turn in range(max(self._first(RESOLVE), 0), self.rules.horizon):
            yield env.timeout(turn + RESOLVE - env.now)
            if self.finished:
                return
            worlds, topics = (st.pend_until == turn).nonzero()
            live = st.active[worlds]
            worlds, topics = worlds[live], topics[live]
            for _, rows in _cohorts(st.pend_order[worlds, topics]):  # one proposal made in many worlds
                self._resolve(int(st.pend_option[worlds[rows[0]], topics[rows[0]]]), int(topics[rows[0]]), worlds[rows], turn)

    def _actor(self, a: int, force):
        env, rules = self.env, self.rules
        phase = DECIDE + 0.5 * a / len(rules.actors)
        name = rules.actors[a]
        for turn in range(max(self._first(phase), 0), rules.horizon):
            yield env.timeout(turn + phase - env.now)
            if self.finished:
                return
            mask = self._due(a, turn)
            if not mask.any():
                continue
            if force is not None and force[:2] == (name, turn):
                self._choose(a, turn, mask, force[2])
            elif a in self.humans:
                self.waiting = Decision(name, turn, env.event())
                option = yield self.waiting.event
                self._choose(a, turn, mask, option)
            else:
                self._decide(a, turn, mask)

    def _inject(self, i: int, turn: int):
        yield self.env.timeout(turn + INJECT - self.env.now)
        worlds = self.state.active.nonzero()[0]
        cond = self.rules.inject_when[i]
        if cond is not None:
            worlds = worlds[cond.mask(self.state.names(turn))[worlds]]
        inject = self.rules.scenario.injects[i]
        mark = len(self.log.records)
        changes = self._effects(self.rules.inject_effects[i], worlds, np.ones(len(worlds), bool), turn, None, inject.id)
        self._log(turn, "inject", worlds, subject=inject.id, data={"changes": changes}, at=mark)

    def _fly(self, flight: Flight) -> None:
        fid = next(self._ids)
        self.flights[fid] = flight
        self.env.process(self._flight(fid, flight))

    def _flight(self, fid: int, f: Flight):
        yield self.env.timeout(f.turn + LAND - self.env.now)
        self._land(f)
        del self.flights[fid]

    # --- decisions --------------------------------------------------------------------------

    def _due(self, a: int, turn: int) -> np.ndarray:
        mask = self.state.active.copy()
        if turn % self.rules.scenario.actors[self.rules.actors[a]].decides_every:
            mask[:] = False
        cond = self.rules.acts_when[a]
        if cond is not None and mask.any():
            mask &= cond.mask(self.state.names(turn))
        return mask

    def _conditions(self, a: int, turn: int) -> list[tuple[str, int, np.ndarray]]:
        """(reason, local option index, allowed per world) for the state conditions of a's options."""
        st = self.state
        env = st.names(turn)
        masks: dict[tuple, np.ndarray] = {}  # options often share a condition: evaluate it once
        out = []
        for k, reason, condition in self.rules.conditions[a]:
            if condition not in masks:
                kind, arg = condition
                if kind == "requires":
                    masks[condition] = arg.mask(env)
                elif kind == "pending":
                    masks[condition] = st.pend_until[:, arg] < 0
                else:
                    masks[condition] = st.awaiting[:, arg, a]
            out.append((reason, k, masks[condition]))
        return out

    def _available(self, a: int, turn: int, mask: np.ndarray) -> np.ndarray:
        """[K + 1, W] moves open to actor a where it decides; the last row, passing, is always open."""
        sl = self.rules.actor_slice[a]
        K = sl.stop - sl.start
        ok = np.empty((K + 1, self.state.size), dtype=bool)
        np.less_equal(self.state.blocked[sl], turn, out=ok[:K])
        for _, k, allowed in self._conditions(a, turn):
            ok[k] &= allowed
        ok[:K] &= mask
        ok[K] = True
        return ok

    def why_not(self, actor: str, world: int = 0) -> list[tuple[str, str | None]]:
        """For each of the actor's options in one world: None if available now, else the reason."""
        rules, st, turn = self.rules, self.state, self.turn
        a = rules.actor_index[actor]
        idx = rules.by_actor[a]
        reasons: list[str | None] = [None] * len(idx)
        for why, k, allowed in self._conditions(a, turn):
            if not allowed[world] and reasons[k] is None:
                reasons[k] = why
        for k, i in enumerate(idx):
            if reasons[k] is None and st.blocked[i, world] > turn:
                if st.ready[i, world] >= 0:
                    reasons[k] = "in preparation"
                elif st.year_count[world, i] >= rules.max_per_year[i]:
                    reasons[k] = "yearly limit reached"
                else:
                    reasons[k] = f"cooling down ({st.blocked[i, world] - turn} more turns)"
        if not self._due(a, turn)[world]:
            reasons = [r or "does not decide this turn" for r in reasons]
        return [(rules.options[i].id, r) for i, r in zip(idx, reasons)]

    def _decide(self, a: int, turn: int, mask: np.ndarray) -> None:
        available = self._available(a, turn, mask)
        # Where the actor does not decide only passing is open, so the doctrine passes there.
        self._take_choices(a, turn, self.doctrines[a].choose(self.rules, self.state, available, turn))

    def _choose(self, a: int, turn: int, mask: np.ndarray, option: str | None) -> None:
        idx = self.rules.by_actor[a]
        K = len(idx)
        if option is None:
            return
        k = int(np.flatnonzero(idx == self.rules.option_index[option])[0])
        allowed = self._available(a, turn, mask)[k]
        self._take_choices(a, turn, np.where(allowed, k, K))

    def _take_choices(self, a: int, turn: int, choice: np.ndarray) -> None:
        K = len(self.rules.by_actor[a])
        chosen = (choice < K).nonzero()[0]
        if len(chosen):
            self._take(self.rules.actor_slice[a].start + choice[chosen], chosen, turn)

    # --- moves ------------------------------------------------------------------------------
    # A move is taken by one actor in many worlds at once, each world with its own option:
    # `opts[j]` is the option taken in world `worlds[j]`.

    def _take(self, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        rules, st = self.rules, self.state
        cell = opts * st.size + worlds  # flat indices: a 1-D fancy index costs half a 2-D one
        _flat(st.counts)[cell] += 1
        blocked = _flat(st.blocked.T)
        blocked[cell] = turn + rules.blocks[opts]
        limited = rules.max_per_year[opts] < NO_LIMIT
        if limited.any():
            cell, o = cell[limited], opts[limited]
            year_count = _flat(st.year_count)
            year_count[cell] += 1
            cell = cell[year_count[cell] >= rules.max_per_year[o]]
            blocked[cell] = np.maximum(blocked[cell], rules.next_year[turn])
        prepared = rules.prepare[opts] > 0
        if prepared.any():
            st.ready[opts[prepared], worlds[prepared]] = turn + rules.prepare[opts[prepared]]
            for i, rows in _cohorts(np.where(prepared, opts, -1)) if self.record else ():
                o = rules.options[i]
                self._log(turn, "prepare", worlds[rows], actor=o.actor, subject=o.id, data={"visible": o.visible, "ready": turn + o.prepare})
            opts, worlds = opts[~prepared], worlds[~prepared]
        if len(worlds):
            self._execute(opts, worlds, turn)

    def _execute(self, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        """The moves happen, in worlds still being played: success, position, effects; then what
        is particular to some options."""
        rules, st = self.rules, self.state
        if not len(worlds):
            return
        a = int(rules.option_actor[opts[0]])
        mark = len(self.log.records)  # the moves are logged here, before what they cause
        self._move_position(a, opts, worlds, turn)
        success = np.ones(len(worlds), dtype=bool)
        risky = (rules.success[opts] < 1).nonzero()[0]  # a draw only where the move may fail
        if len(risky):
            o = opts[risky]
            success[risky] = rng.uniform(st.stream[worlds[risky]], rng.key("success"), turn, rules.option_key[o]) < rules.success[o]
        changes = self._table_effects(a, opts, worlds, success, turn)
        # One option at a time only where needed: special options, or everything when recording.
        for i, rows in _cohorts(opts if self.record else np.where(rules.special[opts], opts, -1)):
            self._particular(i, worlds[rows], success[rows], turn, {v: c[rows] for v, c in changes.items()}, mark)
            mark += 1

    def _particular(self, i: int, worlds: np.ndarray, success: np.ndarray, turn: int, changes: dict, mark: int) -> None:
        rules, st = self.rules, self.state
        o = rules.options[i]
        if o.proposes:
            self._propose(i, worlds, turn, mark)
            return
        if o.answers:
            self._answer(rules.actor_index[o.actor], o.answers.topic, o.answers.accept, worlds, turn)
        reverts: list = []
        later = self._effects(rules.later_effects[i], worlds, success, turn, o.actor, o.id, reverts)
        for var, column in later.items():
            applied = ~np.isnan(column)
            _add(changes, var, len(worlds), applied, column[applied])
        self._log(turn, "move", worlds, actor=o.actor, subject=o.id, data={"success": success, "changes": changes}, at=mark)
        if o.duration and reverts:
            self._fly(Flight("expire", turn + o.duration, worlds, option=i, actor=o.actor, subject=o.id, reverts=reverts))
        for j in rules.crosses[i].nonzero()[0]:
            new = worlds[success & ~st.red_line[worlds, j]]
            st.red_line[new, j] = True
            st.red_line_turn[new, j] = turn
            self._log(turn, "red_line", new, actor=rules.red_lines[j].owner, subject=rules.red_lines[j].id, data={"by": o.id})
        if rules.ends_game[i] >= 0:
            self._end(worlds[success], rules.ends_game[i], turn, cause=o.id)

    def _table_effects(self, a: int, opts: np.ndarray, worlds: np.ndarray, success: np.ndarray, turn: int) -> dict:
        """The immediate, additive effects of one actor's moves, in all their worlds at once."""
        rules, st = self.rules, self.state
        table = rules.tables[a]
        if not len(table.cols):
            return {}
        k = opts - rules.actor_slice[a].start
        # np.take along the options: a third faster than indexing [:, k]
        delta = np.take(table.on_success, k, axis=1)
        failed = (~success).nonzero()[0]  # few moves fail: their columns are replaced
        if len(failed):
            delta[:, failed] = np.take(table.on_failure, k[failed], axis=1)
        if len(table.uncertain):  # one draw for all the uncertain cells of the moves taken (few)
            u, (sd_success, sd_failure) = table.uncertain, table.uncertain_sd
            sd = np.take(sd_success, k, axis=1)
            if len(failed):
                sd[:, failed] = np.take(sd_failure, k[failed], axis=1)
            row, move = sd.nonzero()
            z = rng.normal(st.stream[worlds[move]], rng.key("effect"), turn, table.keys[u[row], k[move]])
            delta[u[row], move] += sd[row, move] * z
        cells = np.add.outer(table.cols * st.size, worlds)  # [C, worlds], flat: see _flat
        values = _flat(st.vars)
        before = values[cells]
        after = np.add(before, delta, out=delta)
        np.minimum(after, rules.vmax[table.cols, None], out=after)
        np.maximum(after, rules.vmin[table.cols, None], out=after)
        values[cells] = after
        if not self.record:
            return {}
        applied = np.where(success, table.success[:, k], table.failure[:, k]) + table.always[:, k] != 0
        change = np.where(applied, after - before, np.nan)
        return {rules.var_names[v]: change[c] for c, v in enumerate(table.cols) if applied[c].any()}

    def _move_position(self, a: int, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        st, rules = self.state, self.rules
        position, peak = st.position[:, a], st.peak[:, a]  # contiguous columns: 1-D indexing
        pos = np.maximum(position[worlds], rules.climbs_to[opts])  # a move up raises a position to its level,
        np.minimum(pos, rules.falls_to[opts], out=pos)  # a move down lowers it to its level
        position[worlds] = pos
        before = peak[worlds]
        peak[worlds] = np.maximum(before, pos)
        up = pos > before
        climbers, climbed = worlds[up], pos[up]  # a threshold above 0 is first crossed at a new peak
        for j in (rules.threshold_levels <= rules.level[opts].max()).nonzero()[0]:
            level = rules.threshold_levels[j]
            w, p = (climbers, climbed) if level > 0 else (worlds, pos)
            crossed = st.threshold_turn[:, j]
            new = w[p >= level]
            new = new[crossed[new] < 0]
            if len(new):
                crossed[new] = turn
                self._log(turn, "threshold", new, actor=rules.actors[a], subject=rules.scenario.ladder.thresholds[j].id)

    def _effects(self, effects, worlds, success, turn, actor, subject, reverts=None) -> dict:
        """Apply what happens now and schedule the rest; returns the immediate changes (when recording)."""
        st, rules = self.state, self.rules
        changes: dict[str, np.ndarray] = {}
        chosen: dict[str, tuple] = {}  # (selection, worlds) of each `when`, found once
        for e in effects:
            if e.when not in chosen:
                sel = success if e.when == "success" else ~success if e.when == "failure" else slice(None)
                chosen[e.when] = sel, worlds[sel]
            sel, w = chosen[e.when]
            if not len(w):
                continue
            if e.set is not None:
                column = st.vars[:, e.var]
                before = column[w]
                column[w] = e.set
                if self.record:
                    _add(changes, rules.var_names[e.var], len(worlds), sel, e.set - before)
                continue
            deltas = e.delta  # the same in every world unless uncertain
            if e.uncertainty:
                deltas = deltas * (1.0 + e.uncertainty * rng.normal(st.stream[w], rng.key("effect"), turn, e.key))
            per_world = lambda d: np.full(len(w), d)  # noqa: E731  (what outlives this call)
            if e.revert and reverts is not None:
                reverts.append((e.var, w, per_world(-deltas)))
            if e.over > 1:
                self._spread(e, w, deltas / e.over, turn, actor, subject)
            elif e.lag:
                self._fly(Flight("effect", turn + e.lag, w, actor=actor, subject=subject, effect=e, deltas=per_world(deltas)))
            else:
                if e.sanction:
                    deltas = deltas * st.sanction_scale(turn, w)
                applied = self._apply(e.var, w, deltas)
                if self.record:
                    _add(changes, rules.var_names[e.var], len(worlds), sel, applied)
        return changes

    def _spread(self, e: CompiledEffect, worlds: np.ndarray, per_turn, turn: int, actor, subject) -> None:
        """A change spread over turns: `per_turn` joins its rate after the lag, for `over` turns.

        Booked in the state, so nothing is in flight; when recording, a flight brings the news
        when the change starts acting."""
        st, rules = self.state, self.rules
        r, ring = rules.rate_index[(e.sanction, e.var)], rules.rate_turns
        st.rate_change[r][:, (turn + e.lag) % ring][worlds] += per_turn
        st.rate_change[r][:, (turn + e.lag + e.over) % ring][worlds] -= per_turn
        if self.record:
            news = Flight("rate", turn + e.lag, worlds, actor=actor, subject=subject, effect=e, deltas=np.full(len(worlds), per_turn * e.over))
            if e.lag:
                self._fly(news)
            else:
                self._land(news)

    def _apply(self, var: int, worlds: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        st, rules = self.state, self.rules
        column = st.vars[:, var]
        before = column[worlds]
        after = before + deltas
        np.maximum(after, rules.vmin[var], out=after)  # np.clip's own overhead is larger than its work here
        np.minimum(after, rules.vmax[var], out=after)
        column[worlds] = after
        return after - before if self.record else None

    def _land(self, f: Flight) -> None:
        """Carry out what a flight brings."""
        st, rules = self.state, self.rules
        live = st.active[f.worlds]
        worlds = f.worlds[live]
        if f.kind == "effect":
            deltas = f.deltas[live] * (st.sanction_scale(f.turn, worlds) if f.effect.sanction else 1.0)
            applied = self._apply(f.effect.var, worlds, deltas)
            if self.record:
                data = {"var": rules.var_names[f.effect.var], "delta": applied, "turns": 1}
                self._log(f.turn, "effect", worlds, actor=f.actor, subject=f.subject, data=data)
        elif f.kind == "rate":  # news only: the rate itself is booked in the state (`_spread`)
            data = {"var": rules.var_names[f.effect.var], "delta": f.deltas[live], "turns": f.effect.over}
            self._log(f.turn, "effect", worlds, actor=f.actor, subject=f.subject, data=data)
        elif f.kind == "expire":
            changes: dict = {}
            for var, w, d in f.reverts:
                keep = st.active[w]
                applied = self._apply(var, w[keep], d[keep])
                if self.record:
                    _add(changes, rules.var_names[var], len(worlds), np.isin(worlds, w[keep]), applied)
            self._log(f.turn, "expire", worlds, actor=f.actor, subject=f.subject, data={"changes": changes})

    # --- proposals ----------------------------------------------------------------------------

    def _propose(self, i: int, worlds: np.ndarray, turn: int, mark: int) -> None:
        rules, st = self.rules, self.state
        o = rules.options[i]
        j = rules.topic_index[o.proposes.topic]
        topic = rules.scenario.mechanics.proposals[o.proposes.topic]
        window = topic.window
        st.pend_until[worlds, j] = turn + window
        st.pend_option[worlds, j] = i
        st.pend_order[worlds, j] = self.proposals_made
        self.proposals_made += 1
        st.pend_answer[worlds, j] = 0
        st.awaiting[worlds, j, :] = False
        if topic.rule == "consent":
            addressees = [rules.actor_index[t] for t in o.proposes.to]
        else:
            addressees = [m for m in rules.veto_actors if m != rules.actor_index[o.actor]]
        for m in addressees:
            st.awaiting[worlds, j, m] = True
        to = [rules.actors[m] for m in addressees]
        self._log(turn, "proposal", worlds, actor=o.actor, subject=o.id, data={"topic": o.proposes.topic, "to": to}, at=mark)

    def _answer(self, a: int, topic: str, accept: bool, worlds: np.ndarray, turn: int) -> None:
        st = self.state
        j = self.rules.topic_index[topic]
        st.awaiting[worlds, j, a] = False
        if accept:
            st.pend_answer[worlds, j] = np.where(st.pend_answer[worlds, j] < 0, -1, 1)
        elif self.rules.scenario.mechanics.proposals[topic].rule == "veto":
            st.pend_answer[worlds, j] = -1
        self._log(turn, "answer", worlds, actor=self.rules.actors[a], subject=topic, data={"accept": accept})

    def _resolve(self, i: int, j: int, worlds: np.ndarray, turn: int) -> None:
        """Option i's proposal on topic j, made in these worlds, passes or fails."""
        rules, st = self.rules, self.state
        o = rules.options[i]
        topic = rules.topics[j]
        rule = rules.scenario.mechanics.proposals[topic].rule
        answer = st.pend_answer[worlds, j]
        passed = answer > 0 if rule == "consent" else answer >= 0
        by = np.where(passed, "", "refused" if rule == "consent" else "vetoed by an actor") if self.record else None
        for member, odds in rules.veto_odds.items() if rule == "veto" else ():
            veto = passed & (rng.uniform(st.stream[worlds], rng.key("veto"), turn, rng.key(member)) < odds)
            if self.record:
                by = np.where(veto, f"vetoed by {member}", by)
            passed &= ~veto
        st.pend_until[worlds, j] = -1
        st.pend_option[worlds, j] = -1
        st.pend_order[worlds, j] = -1
        st.awaiting[worlds, j, :] = False
        st.passed[worlds, j] += passed
        mark = len(self.log.records)
        changes = self._effects(rules.effects[i], worlds, passed, turn, o.actor, o.id)
        data = {"topic": topic, "passed": passed, "why": by, "changes": changes}
        self._log(turn, "resolved", worlds, actor=o.actor, subject=o.id, data=data, at=mark)

    # --- the world ----------------------------------------------------------------------------

    def _end_of_turn(self, turn: int) -> None:
        rules, st = self.rules, self.state
        alive = st.active
        ended = (~alive).nonzero()[0]
        final_vars, final_pos = st.vars[ended], st.position[ended]  # a finished game keeps its final state
        v = st.vars
        scale = cache(lambda: st.sanction_scale(turn))
        for r, (sanction, var) in enumerate(rules.rates):
            change = st.rate_change[r][:, turn % rules.rate_turns]  # what starts and stops now
            st.rate[:, r] += change
            change[:] = 0.0
            v[:, var] += st.rate[:, r] * scale() if sanction else st.rate[:, r]
        for var, baseline, drift, low, high in rules.moving:  # only these can change now; each column is contiguous
            column = v[:, var]
            if drift:
                step = baseline - column
                step *= drift
                column += step
            np.minimum(column, high, out=column)
            np.maximum(column, low, out=column)
        v[ended] = final_vars
        pos = st.position
        cooling = rules.scenario.ladder.cooling
        step = np.maximum(pos, -cooling)  # toward 0 by `cooling`, stopping there (np.clip costs more)
        np.minimum(step, cooling, out=step)
        pos -= step
        pos[ended] = final_pos
        tension = st.vars[:, rules.tension]
        st.tension_history[turn] = tension
        st.tension_history[turn, ended] = np.nan
        for a, history in enumerate(st.positions):
            column = history[:, turn]
            column[:] = pos[:, a]
            column[ended] = np.nan
        war = alive & (rng.uniform(st.stream, rng.key("miscalculation"), turn) < rules.hazard(tension))
        self._end(war.nonzero()[0], rules.war, turn, cause="miscalculation")
        env = st.names(turn)
        for k, cond in enumerate(rules.outcome_when):
            if cond is not None:
                self._end((cond.mask(env) & st.active).nonzero()[0], k, turn, cause="condition")
        if turn == rules.horizon - 1:
            self._end(st.active.nonzero()[0], rules.horizon_outcome, turn, cause="horizon")
        if rules.year(turn + 1) != rules.year(turn):
            st.year_count[:] = 0

    def _end(self, worlds: np.ndarray, outcome: int, turn: int, cause: str) -> None:
        st = self.state
        worlds = worlds[st.active[worlds]]
        if not len(worlds):
            return
        st.active[worlds] = False
        self.finished = not st.active.any()
        st.outcome[worlds] = outcome
        st.end_turn[worlds] = turn
        self._log(turn, "outcome", worlds, subject=self.rules.outcomes[outcome].id, data={"cause": cause})

    def _log(self, turn: int, kind: str, worlds: np.ndarray, **kw) -> None:
        if self.record:
            self.log.add(turn, kind, worlds, **kw)


def _add(changes: dict, name: str, size: int, where: np.ndarray, values: np.ndarray) -> None:
    """Accumulate per-world changes of a variable; NaN marks worlds where it did not change."""
    column = changes.setdefault(name, np.full(size, np.nan))
    column[where] = np.nan_to_num(column[where]) + values


def _cohorts(keys: np.ndarray):
    """(key, row indices) for each distinct non-negative key, rows ascending within each."""
    rows = (keys >= 0).nonzero()[0]
    present = keys[rows]
    if len(rows) and present.max() < 2**15:
        present = present.astype(np.int16)  # a stable sort of small integers is a radix sort: 8x faster
    order = rows[np.argsort(present, kind="stable")]
    ordered = keys[order]
    cuts = ((ordered[1:] != ordered[:-1]).nonzero()[0] + 1).tolist()
    for lo, hi in zip([0, *cuts], [*cuts, len(order)]):
        if hi > lo:
            yield int(ordered[lo]), order[lo:hi]


def _rank(keys: np.ndarray) -> np.ndarray:
    """For each element, how many equal keys come before it."""
    if not len(keys) or np.bincount(keys).max() < 2:  # the common case: no key repeats
        return np.zeros(len(keys), dtype=int)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.r_[0, (ordered[1:] != ordered[:-1]).nonzero()[0] + 1]
    rank = np.empty(len(keys), dtype=int)
    rank[order] = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    return rank


def _flat(a: np.ndarray) -> np.ndarray:
    """A flat view of a column-major [world, x] array, where (w, x) is at x * worlds + w."""
    return a.T.reshape(-1, copy=False)
