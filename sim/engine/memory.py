"""Memory: the record of moves that expressions read, per world.

`count(KEY, N)` is how many moves matching KEY happened in the last N turns (this turn and the
N - 1 before); `since(KEY)` is the number of turns since the last one (NEVER if none). A KEY is
an option id, a tag (any actor's moves carrying it) or ACTOR.TAG (that actor's only). A move
counts when it happens: when taken, or for a prepared move when its preparation completes.

Only the keys some expression reads are recorded, so a scenario that reads none keeps nothing.
Everything an actor's expressions read of the record goes through `Memory.value`: the one place
to change should an actor come to remember only what it saw.
"""
from __future__ import annotations

import numpy as np

from ..format.expr import call_name, read_call

NEVER = 9999  # since(KEY) of a key never used: more turns than any game has


class Recall:
    """What to remember, from the names the scenario's expressions read: the keys, which options
    each matches, and the reads (name, function, key index, turns)."""

    def __init__(self, rules, reads: set[str]):
        calls = sorted(c for c in map(read_call, reads) if c is not None and c[0] in ("count", "since"))
        self.keys = sorted({key for _, key, _ in calls})
        index = {key: k for k, key in enumerate(self.keys)}
        self.match = np.zeros((len(self.keys), len(rules.options)), dtype=bool)  # [key, option]
        for k, key in enumerate(self.keys):
            self.match[k] = [_matches(key, o) for o in rules.options]
        self.by_name = {call_name(f, key, n): (f, index[key], n) for f, key, n in calls}  # name -> (function, key, turns)
        # count(KEY, N) reads N turns back: a ring of that many turns' counts (at least one)
        self.span = max((n for _, _, n in calls if n is not None), default=1)


def _matches(key: str, option) -> bool:
    actor, _, name = key.rpartition(".")
    return (not actor or option.actor == actor) and (option.id == name or name in option.tags)


class Memory:
    """The record of every world: per key, the turn of its last use and its uses per turn over
    the last `span` turns (a ring of turns shared by all worlds: the clock is the same in each)."""

    def __init__(self, recall: Recall, worlds: int):
        self.recall = recall
        K = len(recall.keys)
        self.last = np.full((K, worlds), -1, dtype=np.int32)  # turn of the last use, -1 if never
        self.uses = np.zeros((K, recall.span, worlds), dtype=np.int16)  # [key, turn % span, world]
        self.written = -1  # the last turn whose uses are in the ring: later turns' slots are stale

    def record(self, opts: np.ndarray, worlds: np.ndarray, turn: int) -> None:
        """Moves `opts` happened in `worlds` in this turn, one move per world (`Moves._execute`)."""
        recall = self.recall
        if not recall.keys:
            return
        span = recall.span
        for t in range(max(self.written + 1, turn - span + 1), turn + 1):  # slots of turns now past their span
            self.uses[:, t % span] = 0
        self.written = max(self.written, turn)
        for k, matches in enumerate(recall.match):  # key by key: a few 1-D steps each, no [keys, moves] array
            w = worlds[matches[opts]]
            self.last[k][w] = turn
            self.uses[k, turn % span][w] += 1  # (each world once: its worlds are distinct)

    def value(self, name: str, turn: int) -> np.ndarray:
        """The value of one call the scenario reads (`count(...)` or `since(...)`), over all worlds."""
        func, k, turns = self.recall.by_name[name]
        if func == "since":
            last = self.last[k]
            return np.where(last < 0, NEVER, turn - last).astype(float)
        span = self.recall.span  # turns turn - N + 1 .. turn; those after `written` saw no move
        recorded = range(max(turn - turns + 1, 0), min(turn, self.written) + 1)
        return self.uses[k][[t % span for t in recorded]].sum(axis=0, dtype=float)

    def take(self, index: np.ndarray) -> Memory:
        """The record of the given worlds (repeats allowed), for a new state."""
        new = object.__new__(Memory)
        new.recall, new.written = self.recall, self.written
        new.last, new.uses = self.last[:, index], self.uses[:, :, index]
        return new
