"""The state of a batch of worlds: every variable, position, clock and pending thing as
NumPy arrays with a leading axis of worlds (or, for per-turn records, [world, turn])."""
from __future__ import annotations

import numpy as np

from .memory import Memory
from .rules import Rules


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
        # The turn under way, for actors that decide more than once a turn (Rules.decides_again).
        self.moves_left = F((W, A), dtype=np.int8)  # moves each actor may still take this turn; 0: done
        self.turn_uses = np.zeros((O, W), dtype=np.int8)  # times each option was taken this turn (max_per_turn > 1)
        self.chance_count = F((W, len(rules.chance)), dtype=np.int32)  # times each chance event happened
        self.chance_blocked = F((W, len(rules.chance)), dtype=np.int16)  # first turn it can happen again
        self.pend_until = F((W, T), -1, int)  # turn a pending proposal resolves, -1 if none
        self.pend_option = F((W, T), -1, int)
        self.pend_order = F((W, T), -1, int)  # the order proposals were made in: they are resolved in it
        self.awaiting = F((W, T, A), dtype=bool)  # who may still answer a pending proposal
        self.pend_answer = F((W, T), dtype=np.int8)  # 1 accepted, -1 vetoed
        self.passed = F((W, T), dtype=np.int32)  # proposals adopted, per topic
        self.red_line = F((W, len(rules.red_lines)), dtype=bool)
        self.red_line_turn = F((W, len(rules.red_lines)), -1, int)
        self.threshold_turn = F((W, len(rules.threshold_levels)), -1, int)
        self.memory = Memory(rules.recall, W)  # the record of moves that expressions read
        known = rules.knowledge
        if known.hides_variables:  # what each actor believes of the variables hidden from it (`Knowledge.start`)
            self.belief = [F((W, len(cols))) for cols in known.hidden]
            self.late = [F((W, known.kind[v].amount)) for v in known.late]
        if known.covert:  # which actor has detected each covert option's preparation under way
            self.detected = F((W, len(known.covert), A), dtype=bool)
        if known.unattributed.any():  # positions as others see them: moves not attributed do not count
            self.seen_position = F((W, A))
        self.active = np.ones(W, dtype=bool)  # worlds still being played
        self.rate = F((W, R))  # per-turn changes by spread effects in force (sanctions: before scaling)
        # Per rate, [world, slot]: what joins it at the end of turn t, at slot t % rate_turns.
        self.rate_change = [F((W, rules.rate_turns)) for _ in range(R)]
        self.outcome = np.full(W, -1)
        self.end_turn = np.full(W, -1)
        self.cause = np.full(W, -1, dtype=np.int16)  # what ended each game: an index of Rules.causes
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
        """What expressions read: the variables, the turn, the red lines, the ladder (positions,
        peaks, thresholds crossed), the calendar and the record of moves (`Memory`)."""
        rules = self.rules
        if "_columns" not in vars(self):  # views, made once: the arrays change only in place
            self._columns = {name: self.vars[:, i] for i, name in enumerate(rules.var_names)}
            for j, line in enumerate(rules.red_lines):
                self._columns[f"redline.{line.id}"] = self.red_line[:, j]
            for a, actor in enumerate(rules.actors):
                self._columns[f"{actor}.position"] = self.position[:, a]
                self._columns[f"{actor}.peak"] = self.peak[:, a]
        return _Names({**self._columns, "turn": float(turn), **rules.calendar.names[turn]}, self, turn)

    def computed(self, name: str, turn: int) -> np.ndarray:
        """A name read from the record rather than a column: a threshold crossed, an option in
        preparation, or a call of the record of moves (`Memory.value`)."""
        rules = self.rules
        if name.startswith("prepared("):  # the truth: every preparation under way
            return rules.knowledge.prepared(self, rules.option_index[name[len("prepared("):-1]])
        j = rules.crossed.get(name)
        return self.memory.value(name, turn) if j is None else self.threshold_turn[:, j] >= 0

    def column(self, v: int) -> np.ndarray:
        """Variable v in every world (what a doctrine reads: `knowledge.View` has the same)."""
        return self.vars[:, v]

    def sanction_scale(self, turn: int, worlds: np.ndarray | None = None, env: dict | None = None) -> np.ndarray:
        """The multiplier of sanctions (mechanics.sanctions.scale) in every world, or in some
        (as the names `env` have it: an actor's view; by default, the truth)."""
        expr = self.rules.sanction_scale
        env = self.names(turn) if env is None else env
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
            elif isinstance(value, Memory):
                value = value.take(index)
            elif isinstance(value, np.ndarray):
                if name.endswith("_history"):
                    value = value[:, index]
                elif name in ("blocked", "ready", "turn_uses"):
                    value = np.ascontiguousarray(value[:, index])
                else:
                    value = np.asfortranarray(value[index])
            setattr(new, name, value)
        new.size = len(index)
        return new


class _Names(dict):
    """What expressions read. The columns are views, there from the start; a threshold crossed
    or a count of the record costs a pass over the worlds, and most expressions read neither,
    so each is computed when first read (then kept, for the state does not change meanwhile:
    a fresh `State.names` is asked for after every change)."""

    def __init__(self, columns: dict, state: State, turn: int):
        super().__init__(columns)
        self.state, self.turn = state, turn

    def __missing__(self, name: str) -> np.ndarray:
        value = self[name] = self.state.computed(name, self.turn)
        return value
