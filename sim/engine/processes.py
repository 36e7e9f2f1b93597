"""The engine: SimPy processes advancing a batch of worlds held in NumPy arrays.

A game is a batch of one. Every process acts on all worlds at once, so one set of rules serves
play, Monte Carlo batches, forecasts and replays. Within a turn the processes run in phases:

    turn + 0.04  calendar windows close and open (their effects and news)
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

from dataclasses import dataclass

import numpy as np
import simpy

from .moves import Flight, _cohorts, _rank

CALENDAR, INJECT, LAND, RESOLVE, DECIDE, END = 0.04, 0.05, 0.10, 0.20, 0.30, 0.90


@dataclass
class Decision:
    """A human actor must choose: `Engine.submit(actor, option_id or None)` answers."""

    actor: str
    turn: int
    event: simpy.Event


class Processes:
    """The SimPy processes of the engine, and how an actor decides."""

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

    def _calendar(self):
        """Closes and opens the calendar's windows on their turns, in every world still played
        (closing first: a window that reopens in the turn it closes ends, then begins again)."""
        env, calendar = self.env, self.rules.calendar
        for turn in calendar.turns:
            if turn < self._first(CALENDAR):
                continue
            yield env.timeout(turn + CALENDAR - env.now)
            if self.finished:
                return
            for i in calendar.closing.get(turn, ()):
                self._window(i, turn, opens=False)
            for i in calendar.opening.get(turn, ()):
                self._window(i, turn, opens=True)

    def _window(self, i: int, turn: int, opens: bool) -> None:
        calendar = self.rules.calendar
        window = calendar.windows[i]
        worlds = self.state.active.nonzero()[0]
        effects = calendar.start_effects[i] if opens else calendar.end_effects[i]
        mark = len(self.log.records)
        changes = self._effects(effects, worlds, np.ones(len(worlds), bool), turn, None, window.id)
        if opens:
            kind, news = "window_open", window.news or window.label
        else:
            kind, news = "window_close", window.news_end or f"{window.label} ends"
        self._log(turn, kind, worlds, subject=window.id, data={"news": news, "changes": changes}, at=mark)

    def _fly(self, flight: Flight) -> None:
        fid = next(self._ids)
        self.flights[fid] = flight
        self.env.process(self._flight(fid, flight))

    def _flight(self, fid: int, f: Flight):
        yield self.env.timeout(f.turn + LAND - self.env.now)
        self._land(f)
        del self.flights[fid]

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
