"""The engine: SimPy processes advancing a batch of worlds held in NumPy arrays.

A game is a batch of one. Every process acts on all worlds at once, so one set of rules serves
play, Monte Carlo batches, forecasts and replays. Within a turn the processes run in phases:

    turn + 0.04  calendar windows close and open (their effects and news)
    turn + 0.05  injects (scheduled events of the scenario)
    turn + 0.07  chance events, drawn in every world (after the injects: a scheduled event can make one likelier)
    turn + 0.08  covert preparations under way may be detected by each other actor (before they complete)
    turn + 0.10  preparations complete, lagged effects land, durations end
    turn + 0.20  proposal windows close (talks accepted or refused, resolutions vetoed or passed)
    turn + 0.30  actors decide, one after another in the scenario's order; an actor with several
                 moves a turn (or a free answer) decides again at once, on the state its move left
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

from . import rng
from .moves import Flight, _cohorts, _nonzero, _rank

CALENDAR, INJECT, CHANCE, DETECT, LAND, RESOLVE, DECIDE, END = 0.04, 0.05, 0.07, 0.08, 0.10, 0.20, 0.30, 0.90


@dataclass
class Decision:
    """A human actor must choose: `Engine.submit(actor, option_id or None)` answers."""

    actor: str
    turn: int
    event: simpy.Event
    round: int = 0  # the actor's decisions before this one in this turn


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
                k, worlds = _nonzero(st.ready[options] == turn)
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
            # Topic by topic (the transpose is C-contiguous): a cohort below is one proposal, of one
            # topic, so it holds the same worlds in the same order as world by world would.
            topics, worlds = _nonzero(st.pend_until.T == turn)
            live = st.active[worlds]
            worlds, topics = worlds[live], topics[live]
            for _, rows in _cohorts(st.pend_order[worlds, topics]):  # one proposal made in many worlds
                self._resolve(int(st.pend_option[worlds[rows[0]], topics[rows[0]]]), int(topics[rows[0]]), worlds[rows], turn)

    def _actor(self, a: int, force):
        """Actor a's decisions, turn after turn. `force` (actor, turn, option, round) takes the
        decision a fork was made at; its round resumes the actor's turn where it was."""
        env, rules, st = self.env, self.rules, self.state
        phase = DECIDE + 0.5 * a / len(rules.actors)
        name = rules.actors[a]
        again = rules.decides_again[a]
        for turn in range(max(self._first(phase), 0), rules.horizon):
            yield env.timeout(turn + phase - env.now)
            if self.finished:
                return
            forced = force is not None and force[:2] == (name, turn)
            round_ = force[3] if forced else 0
            if round_:  # a fork within the actor's turn: the worlds still deciding are in the state
                mask = (st.moves_left[:, a] > 0) & st.active
            else:
                mask = self._due(a, turn)
                if again and mask.any():
                    self._start_turn(a, mask)
            while mask.any():
                if forced:
                    choice = self._choose(a, turn, mask, force[2], round_)
                    forced = False
                elif a in self.humans:
                    self.waiting = Decision(name, turn, env.event(), round_)
                    option = yield self.waiting.event
                    choice = self._choose(a, turn, mask, option, round_)
                else:
                    choice = self._decide(a, turn, mask, round_)
                if not again or self.finished:  # one decision a turn: the common case costs this check
                    break
                mask = self._decided(a, mask, choice)
                round_ += 1

    def _start_turn(self, a: int, mask: np.ndarray) -> None:
        st, rules = self.state, self.rules
        st.moves_left[:, a] = np.where(mask, rules.moves_per_turn[a], 0)
        several = [i for _, i in rules.several_by_actor[a]]
        if several:
            st.turn_uses[several] = 0

    def _decided(self, a: int, mask: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """After one of actor a's decisions, the worlds where it decides again: it moved, the game
        goes on and it has moves left. A pass ends its turn; a free answer uses no move."""
        st = self.state
        free = self.rules.free_answer[a]
        K = len(free) - 1
        left = st.moves_left[:, a]
        left[mask & (choice == K)] = 0
        left[mask & (choice < K) & ~free[choice]] -= 1
        return (left > 0) & st.active

    def _chance(self):
        """Draws the chance events of every turn in the worlds still being played, in the scenario's order."""
        env, rules, st = self.env, self.rules, self.state
        for turn in range(max(self._first(CHANCE), 0), rules.horizon):
            yield env.timeout(turn + CHANCE - env.now)
            if self.finished:
                return
            names = st.names(turn)
            for c, event in enumerate(rules.chance):
                worlds = (st.active & (st.chance_blocked[:, c] <= turn)).nonzero()[0]
                p = np.broadcast_to(rules.chance_probability[c].number(names), (st.size,))[worlds]
                u = rng.uniform(st.stream[worlds], rng.key("chance"), turn, rules.chance_key[c])
                worlds = worlds[u < np.clip(p, 0.0, 1.0)]
                if not len(worlds):
                    continue
                count = st.chance_count[:, c]
                count[worlds] += 1
                blocked = st.chance_blocked[:, c]
                blocked[worlds] = turn + event.cooldown + 1
                if event.limit is not None:
                    spent = worlds[count[worlds] >= event.limit]
                    blocked[spent] = rules.horizon
                self._happen("chance", rules.chance_effects[c], worlds, turn, event.id, news=event.news)
                if rules.chance_ends[c] >= 0:
                    self._end(worlds, rules.chance_ends[c], turn, cause=event.id)

    def _detection(self):
        """Each turn, before preparations complete: each actor may detect each covert preparation
        under way that it has not detected yet (a detection is news for the detector alone)."""
        env, rules, st = self.env, self.rules, self.state
        k = rules.knowledge
        for turn in range(max(self._first(DETECT), 0), rules.horizon):
            yield env.timeout(turn + DETECT - env.now)
            if self.finished:
                return
            names = None
            for c, i in enumerate(k.covert):
                worlds = ((st.ready[i] >= turn) & st.active).nonzero()[0]
                for b, chance in k.detect[c] if len(worlds) else ():
                    w = worlds[~st.detected[worlds, c, b]]
                    if isinstance(chance, float):
                        p = chance
                    else:
                        names = st.names(turn) if names is None else names
                        p = np.clip(np.broadcast_to(chance.number(names), (st.size,))[w], 0.0, 1.0)
                    u = rng.uniform(st.stream[w], rng.key("detect"), turn, rules.option_key[i], b)
                    hit = w[u < p]
                    if not len(hit):
                        continue
                    st.detected[hit, c, b] = True
                    o = rules.options[i]
                    self._log(turn, "detected", hit, actor=rules.actors[b], subject=o.id,
                              data={"by": o.actor, "ready": st.ready[i, hit].astype(int)}, seen_by={rules.actors[b]: True})
                    self._learned(i, rules.actors[b], hit, turn)

    def _learned(self, i: int, actor: str, worlds: np.ndarray, turn: int) -> None:
        """`actor` detected option i's preparation in these worlds: the record of that preparation
        notes when (the preparations under way, each matched by the turn it completes)."""
        st = self.state
        for event in self.covert_records.get(i, ()):
            if event.data["ready"] < turn:
                continue
            hit = np.isin(event.worlds, worlds[st.ready[i, worlds] == event.data["ready"]])
            if hit.any():
                learned = event.learned.setdefault(actor, np.full(len(event.worlds), -1))
                learned[hit] = turn

    def _inject(self, i: int, turn: int):
        yield self.env.timeout(turn + INJECT - self.env.now)
        worlds = self.state.active.nonzero()[0]
        cond = self.rules.inject_when[i]
        if cond is not None:
            worlds = worlds[cond.mask(self.state.names(turn))[worlds]]
        self._happen("inject", self.rules.inject_effects[i], worlds, turn, self.rules.scenario.injects[i].id)

    def _happen(self, kind: str, effects, worlds: np.ndarray, turn: int, subject: str, **data) -> None:
        """An event no actor takes (an inject, a calendar window, chance) happens in these worlds:
        its effects, logged before what they cause."""
        mark = len(self.log.records)
        changes = self._effects(effects, worlds, np.ones(len(worlds), bool), turn, None, subject)
        self._log(turn, kind, worlds, subject=subject, data={**data, "changes": changes}, at=mark)

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
        if opens:
            self._happen("window_open", calendar.start_effects[i], worlds, turn, window.id, news=window.news or window.label)
        else:
            self._happen("window_close", calendar.end_effects[i], worlds, turn, window.id, news=window.news_end or f"{window.label} ends")

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

    def _available(self, a: int, turn: int, mask: np.ndarray, round_: int = 0) -> np.ndarray:
        """[K + 1, W] moves open to actor a where it decides; the last row, passing, is always open."""
        sl = self.rules.actor_slice[a]
        K = sl.stop - sl.start
        ok = np.empty((K + 1, self.state.size), dtype=bool)
        np.less_equal(self.state.blocked[sl], turn, out=ok[:K])
        for k, i in self.rules.several_by_actor[a] if round_ else ():
            ok[k] |= self._open_again(i, turn)
        for _, k, allowed in self._conditions(a, turn):
            ok[k] &= allowed
        ok[:K] &= mask
        ok[K] = True
        return ok

    def _open_again(self, i: int, turn: int) -> np.ndarray:
        """Per world, whether option i (max_per_turn > 1), taken this turn, may be taken again:
        under its cap for the turn, and closed only by this turn's use (not by its yearly limit)."""
        st, rules = self.state, self.rules
        uses = st.turn_uses[i]
        return (uses > 0) & (uses < rules.max_per_turn[i]) & (st.blocked[i] == turn + rules.blocks[i]) & (
            st.year_count[:, i] < rules.max_per_year[i])

    def _decide(self, a: int, turn: int, mask: np.ndarray, round_: int = 0) -> np.ndarray:
        available = self._available(a, turn, mask, round_)
        # Where the actor does not decide only passing is open, so the doctrine passes there.
        return self._take_choices(a, turn, self.doctrines[a].choose(self.rules, self.state, available, turn, round_))

    def _choose(self, a: int, turn: int, mask: np.ndarray, option: str | None, round_: int = 0) -> np.ndarray:
        idx = self.rules.by_actor[a]
        K = len(idx)
        if option is None:
            return np.full(self.state.size, K)
        k = int(np.flatnonzero(idx == self.rules.option_index[option])[0])
        allowed = self._available(a, turn, mask, round_)[k]
        return self._take_choices(a, turn, np.where(allowed, k, K))

    def _take_choices(self, a: int, turn: int, choice: np.ndarray) -> np.ndarray:
        """Takes the chosen moves (local option index per world, K: pass); returns `choice`."""
        K = len(self.rules.by_actor[a])
        chosen = (choice < K).nonzero()[0]
        if len(chosen):
            self._take(self.rules.actor_slice[a].start + choice[chosen], chosen, turn)
        return choice
