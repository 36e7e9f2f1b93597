"""What each actor knows: how others see a variable (public, private, noisy, late), covert
preparations and their detection, and an actor's view of the state.

The state is the truth (the umpire's). An actor's view is the truth with what it cannot see
replaced by what it believes: `State.belief[a]`, one column per variable hidden from it, updated
at the end of every turn; a variable's owner always sees it exactly. A scenario that hides nothing
has no beliefs, and its doctrines read the state itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format.expr import call_name
from . import rng


@dataclass(frozen=True)
class Seen:
    """How one actor sees one variable: `exact`, `private` (what it was at the start), `noisy`
    (with an error of standard deviation `amount`) or `late` (`amount` turns behind)."""

    how: str
    amount: float = 0.0


EXACT = Seen("exact")


class Knowledge:
    """Who sees what, compiled from the scenario's `visibility` and its covert options."""

    def __init__(self, rules):
        s = rules.scenario
        A = len(rules.actors)
        owner = [rules.actor_index.get(v.owner, -1) for v in s.variables.values()]
        self.kind: dict[int, Seen] = {}  # variable -> how others than its owner see it
        for name, how in s.visibility.items():
            if how == "public":
                continue
            v = rules.var_index[name]
            if how == "private":
                self.kind[v] = Seen("private")
            elif hasattr(how, "noisy"):
                self.kind[v] = Seen("noisy", float(how.noisy))
            else:
                self.kind[v] = Seen("late", int(how.late))
        hidden = sorted(self.kind)
        self.hidden = [np.array([v for v in hidden if owner[v] != a], dtype=int) for a in range(A)]
        self.late = [v for v in hidden if self.kind[v].how == "late"]  # each has a ring of its past values
        self.late_index = {v: j for j, v in enumerate(self.late)}
        self.covert = [i for i, o in enumerate(rules.options) if not o.visible and o.prepare > 0]
        self.covert_index = {i: c for c, i in enumerate(self.covert)}
        # Per covert option: (detecting actor, chance: a number or an expression) for each actor that may detect it.
        self.detect: list[list[tuple[int, object]]] = []
        for i in self.covert:
            o = rules.options[i]
            chance = o.detection if o.detection is not None else 0.0
            by = chance if isinstance(chance, dict) else {a: chance for a in rules.actors if a != o.actor}
            self.detect.append([(rules.actor_index[a], rules.compile(p) if isinstance(p, str) else float(p))
                                for a, p in by.items() if p != 0.0])
        self.unattributed = np.array([not o.attributed for o in rules.options], dtype=bool)
        self.hides_variables = bool(hidden)
        self.hides_moves = bool(self.covert) or bool(self.unattributed.any())
        self._rules = rules

    def hidden_from(self, actor: int) -> bool:
        """Whether anything the doctrines read may differ on `actor`'s view from the truth."""
        rules = self._rules
        reads_covert = any(call_name("prepared", rules.options[i].id) in rules.reads for i in self.covert)
        return bool(len(self.hidden[actor])) or bool(self.unattributed.any()) or reads_covert

    def seen(self, actor: int, var: int) -> Seen:
        """How `actor` sees variable `var`."""
        return self.kind[var] if var in self.kind and var in self.hidden[actor] else EXACT

    def start(self, st) -> None:
        """The beliefs at the start of a game: what each variable is at turn 0 (a private one is
        never seen again), noisy ones with a first error."""
        for a, cols in enumerate(self.hidden):
            st.belief[a][:] = st.vars[:, cols]
        for v, j in self.late_index.items():
            st.late[j][:] = st.vars[:, v, None]
        self.observe(st, -1)

    def observe(self, st, turn: int) -> None:
        """The end of a turn: each actor's beliefs of what is hidden from it, from the truth now
        (a fresh error for noisy variables, the value `late` turns ago for late ones)."""
        rules = self._rules
        lagged = {v: st.late[j][:, turn % self.kind[v].amount].copy() for v, j in self.late_index.items()}
        for a, cols in enumerate(self.hidden):
            belief = st.belief[a]
            for c, v in enumerate(cols):
                seen = self.kind[v]
                if seen.how == "noisy":
                    error = rng.normal(st.stream, rng.key("noise"), turn, a, v) * seen.amount
                    np.clip(st.vars[:, v] + error, rules.vmin[v], rules.vmax[v], out=belief[:, c])
                elif seen.how == "late":
                    belief[:, c] = lagged[v]
        for v, j in self.late_index.items():  # the ring holds the values at the end of the last `late` turns
            st.late[j][:, turn % self.kind[v].amount] = st.vars[:, v]

    def prepared(self, st, i: int, actor: int | None = None) -> np.ndarray:
        """Per world, whether option i is in preparation: the truth, or what `actor` knows of it
        (its own, a visible preparation, or a covert one it has detected)."""
        preparing = st.ready[i] >= 0
        c = self.covert_index.get(i)
        if actor is None or c is None or self._rules.option_actor[i] == actor:
            return preparing
        return preparing & st.detected[:, c, actor]

    def consistent(self, st, actor: int, turn: int) -> None:
        """Make forked worlds consistent with what `actor` knows, not with the truth (the
        forecast of a person who cannot see everything): a variable hidden from it is what it
        believes (a noisy one drawn again around its belief, with the same spread), a covert
        preparation of another actor that it has not detected is called off, and others'
        positions are those it has seen."""
        rules = self._rules
        for c, v in enumerate(self.hidden[actor] if self.hides_variables else ()):
            seen = self.kind[v]
            guess = st.belief[actor][:, c]
            if seen.how == "noisy":
                guess = np.clip(guess + seen.amount * rng.normal(st.stream, rng.key("consistent"), turn, v), rules.vmin[v], rules.vmax[v])
            st.vars[:, v] = guess
        for c, i in enumerate(self.covert):
            if rules.option_actor[i] == actor:
                continue
            unknown = (st.ready[i] >= 0) & ~st.detected[:, c, actor]
            st.ready[i, unknown] = -1
            st.blocked[i, unknown] = np.minimum(st.blocked[i, unknown], turn)
        if "seen_position" in vars(st):
            others = [a for a in range(len(rules.actors)) if a != actor]
            st.position[:, others] = st.seen_position[:, others]


class View:
    """One actor's view of the state, shaped like the state where doctrines read it: `size`,
    `column(v)`, `position`, `names(turn)` and `sanction_scale(turn)`."""

    def __init__(self, state, actor: int):
        self.state, self.actor = state, actor
        self.size = state.size
        rules = state.rules
        k = rules.knowledge
        hidden = k.hidden[actor] if k.hides_variables else ()
        self._columns = {int(v): state.belief[actor][:, c] for c, v in enumerate(hidden)}
        self._names: tuple[int, dict] | None = None

    def column(self, v: int) -> np.ndarray:
        """What the actor believes variable v is, per world."""
        column = self._columns.get(v)
        return self.state.vars[:, v] if column is None else column

    @property
    def vars(self) -> np.ndarray:
        """[world, variable]: every variable as the actor believes it (a copy)."""
        out = self.state.vars.copy(order="F")
        for v, column in self._columns.items():
            out[:, v] = column
        return out

    @property
    def position(self) -> np.ndarray:
        """[world, actor]: positions as the actor has seen them (moves not attributed to their
        actor do not count in others' positions), its own as it is."""
        st = self.state
        if "seen_position" not in vars(st):
            return st.position
        out = st.seen_position.copy(order="F")
        out[:, self.actor] = st.position[:, self.actor]
        return out

    def names(self, turn: int) -> dict:
        """What expressions read, as the actor sees it (made once per turn: a view lives for one decision)."""
        if self._names is not None and self._names[0] == turn:
            return self._names[1]
        rules, st = self.state.rules, self.state
        env = st.names(turn)
        for v, column in self._columns.items():
            env[rules.var_names[v]] = column
        if "seen_position" in vars(st):
            for a, actor in enumerate(rules.actors):
                if a != self.actor:
                    env[f"{actor}.position"] = st.seen_position[:, a]
        for i in rules.knowledge.covert:
            name = call_name("prepared", rules.options[i].id)
            if name in rules.reads:
                env[name] = rules.knowledge.prepared(st, i, self.actor)
        self._names = turn, env
        return env

    def sanction_scale(self, turn: int) -> np.ndarray:
        return self.state.sanction_scale(turn, env=self.names(turn))


def seen_events(events: list[dict], actor: str, rules, now: int | None = None) -> list[dict]:
    """The events of one world (`EventLog.for_world`) as `actor` saw them: those it knew of by
    turn `now` (default: by the end of the log; a covert preparation it detected counts from
    its detection), less what they changed in variables hidden from it (an event that only
    changed such a variable, a lagged effect, is left out). Of an event not everyone saw, it knows
    only that it saw it: `seen_by` names it alone."""
    a = rules.actor_index[actor]
    hidden = {rules.var_names[v] for v in rules.knowledge.hidden[a]}
    out = []
    for ev in events:
        learned = ev["seen_at"].get(actor)
        if learned is None or (now is not None and learned > now) or ev.get("var") in hidden:
            continue
        if hidden and ev.get("changes"):
            ev = {**ev, "changes": {k: d for k, d in ev["changes"].items() if k not in hidden}}
        public = len(ev["seen_by"]) == len(rules.actors) and all(t == ev["turn"] for t in ev["seen_at"].values())
        if not public:
            ev = {**ev, "seen_by": [actor], "seen_at": {actor: learned}}
        out.append(ev)
    return out
