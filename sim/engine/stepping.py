"""The engine's interface: made from a scenario's rules, stepped until a person must decide,
given that decision, forked into rollouts. Its work is done by the mixins it is made of: the
processes (`processes`), carrying out moves (`moves`), proposals (`proposals`) and the end of
each turn (`turn_end`)."""
from __future__ import annotations

import itertools

import numpy as np
import simpy

from . import rng
from .doctrine import Doctrine
from .events import EventLog
from .knowledge import View
from .moves import Flight, Moves
from .params import Cells, Hazard, Params
from .processes import INJECT, Decision, Processes
from .proposals import Proposals
from .rules import Rules
from .state import State
from .turn_end import TurnEnd


class Engine(Processes, Moves, Proposals, TurnEnd):
    def __init__(
        self,
        rules: Rules,
        seed: int = 0,
        runs: int | np.ndarray = 1,
        humans=(),
        doctrines: dict[str, str] | None = None,
        record: bool = True,
        params: dict[str, np.ndarray] | None = None,
    ):
        """`runs`: how many worlds (runs 0 to N-1), or their run indices (repeats allowed: a world's
        luck is its run's). `params`: numbers that differ per world, by path (see `params`)."""
        runs = np.arange(runs) if np.isscalar(runs) else np.asarray(runs)
        state = State(rules, rng.streams(seed, runs), runs)
        given = Params(rules, params) if params else None
        if given and given.size != state.size:
            raise ValueError(f"params: {given.size} values per path for {state.size} worlds")
        for v, column in given.initial.items() if given else ():
            state.vars[:, v] = column
        if rules.knowledge.hides_variables:  # what others believe at the start (per-world initial values in)
            rules.knowledge.start(state)
        self._setup(rules, seed, state, humans, doctrines, record, 0.0, given)
        for i, turn in enumerate(rules.inject_turn):
            if turn < rules.horizon:
                self.env.process(self._inject(i, turn))
        self._start_actors(force=None)

    def _setup(self, rules, seed, state, humans, doctrines, record, now, params=None):
        self.rules, self.seed, self.state = rules, seed, state
        self.params = params
        self.hazard = Hazard(rules, params) if params and params.hazard else None  # None: the scenario's
        self.baselines = params.baseline if params else {}  # variable -> where it drifts to, per world
        self.deltas = params.deltas if params else {}  # effect key -> its delta per world (few effects: most have none)
        self.cells = [Cells(rules, a, self.deltas, state.size) for a in range(len(rules.actors))] if self.deltas else None
        self.humans = {rules.actor_index[a] for a in humans}
        choice = {a: spec.doctrine for a, spec in rules.scenario.actors.items()} | dict(doctrines or {})
        self.doctrine_names = choice
        self.doctrines = [
            Doctrine(rules, i, choice[a], rules.scenario.doctrines[choice[a]], params) for i, a in enumerate(rules.actors)
        ]
        self.record = record
        self.log = EventLog(rules.actors)
        self.covert_records: dict[int, list] = {}  # option -> the log's records of its covert preparations
        self.env = simpy.Environment(initial_time=now)
        self.flights: dict[int, Flight] = {}
        self._ids = itertools.count()
        self.proposals_made = int(state.pend_order.max(initial=-1)) + 1  # numbers the next proposal
        self.waiting: Decision | None = None
        self.finished = not state.active.any()  # every game over; kept by `_end`, read every step
        self.env.process(self._world())
        self.env.process(self._preparations())
        self.env.process(self._proposals())
        if rules.calendar.turns:
            self.env.process(self._calendar())
        if rules.chance:
            self.env.process(self._chance())
        if rules.knowledge.covert:
            self.env.process(self._detection())

    def _start_actors(self, force):
        for a in range(len(self.rules.actors)):
            self.env.process(self._actor(a, force))

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

    def fork(self, copies: int, force: dict[str, str | None] | None = None, humans=(), record=False,
             as_seen_by: str | None = None) -> Engine:
        """`copies` rollouts of every world from now on, each with its own luck.

        Rollout r of world w is world w * copies + r. A pending human decision is taken by
        `force[actor]` if given, else by the actor's doctrine. `as_seen_by`: rollouts consistent
        with what that actor knows (`knowledge.consistent`), not with the truth.
        """
        new = object.__new__(Engine)
        index = np.repeat(np.arange(self.state.size), copies)
        state = self.state.take(index)
        state.stream = rng.fork_streams(self.state.stream, self.turn, copies)
        if as_seen_by is not None:
            self.rules.knowledge.consistent(state, self.rules.actor_index[as_seen_by], self.turn)
        params = self.params.take(index) if self.params else None
        new._setup(self.rules, self.seed, state, humans, self.doctrine_names, record, self.env.now, params)
        for flight in self.flights.values():
            new._fly(flight.remap(copies))
        for i, turn in enumerate(self.rules.inject_turn):
            if turn + INJECT >= self.env.now and turn < self.rules.horizon:
                new.env.process(new._inject(i, turn))
        waiting = self.waiting
        new._start_actors(None if waiting is None else
                          (waiting.actor, waiting.turn, (force or {}).get(waiting.actor), waiting.round))
        return new

    def view(self, actor: str):
        """What `actor` sees of the state (`knowledge.View`): `column(v)`, `vars`, `position`, `names(turn)`."""
        return View(self.state, self.rules.actor_index[actor])

    def why_not(self, actor: str, world: int = 0) -> list[tuple[str, str | None]]:
        """For each of the actor's options in one world: None if available now, else the reason."""
        rules, st, turn = self.rules, self.state, self.turn
        a = rules.actor_index[actor]
        idx = rules.by_actor[a]
        reasons: list[str | None] = [None] * len(idx)
        for why, k, allowed in self._conditions(a, turn):
            if not allowed[world] and reasons[k] is None:
                reasons[k] = why
        again = self.waiting is not None and self.waiting.actor == actor and self.waiting.round > 0
        for k, i in enumerate(idx):
            if reasons[k] is None and st.blocked[i, world] > turn:
                if again and rules.several[i] and self._open_again(i, turn)[world]:
                    continue  # taken this turn, and open again until its max_per_turn
                if again and rules.several[i] and st.turn_uses[i, world] >= rules.max_per_turn[i]:
                    reasons[k] = f"taken {rules.max_per_turn[i]} times this turn, the most"
                elif st.ready[i, world] >= 0:
                    reasons[k] = "in preparation"
                elif st.year_count[world, i] >= rules.max_per_year[i]:
                    reasons[k] = "yearly limit reached"
                elif again and st.blocked[i, world] - turn == rules.blocks[i]:  # blocked from this turn's use
                    cooling = f", then cooling down {rules.cooldown[i]} turns" if rules.cooldown[i] else ""
                    reasons[k] = f"taken this turn{cooling}"
                else:
                    reasons[k] = f"cooling down ({st.blocked[i, world] - turn} more turns)"
        if not self._due(a, turn)[world]:
            reasons = [r or "does not decide this turn" for r in reasons]
        return [(rules.options[i].id, r) for i, r in zip(idx, reasons)]

    def _log(self, turn: int, kind: str, worlds: np.ndarray, **kw):
        if self.record:
            return self.log.add(turn, kind, worlds, **kw)
