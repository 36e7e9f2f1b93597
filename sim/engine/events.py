"""The event log: everything that happens, as structured records shared by many worlds.

One record says what happened (turn, kind, actor, subject) in which worlds, with per-world
data (a success flag, the changes it caused). A game is a batch of one; the news feed, the
narrative, replays and batch statistics all read this log.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = (
    "inject",  # a scheduled event of the scenario
    "window_open",  # a calendar window opened (with its news line)
    "window_close",  # a calendar window closed
    "chance",  # an event of chance happened
    "detected",  # an actor detected a covert preparation (news for it alone)
    "prepare",  # a move's preparation began (visible or covert)
    "move",  # a move happened (with its success and immediate changes)
    "effect",  # a lagged change landed
    "expire",  # a move's duration ended and its temporary changes were undone
    "proposal",  # a proposal was put to others
    "answer",  # an addressee accepted, refused or vetoed
    "resolved",  # a proposal passed, was refused or was vetoed
    "red_line",  # an actor's red line was crossed
    "threshold",  # a threshold of the ladder was first crossed
    "outcome",  # the game ended
)


@dataclass
class Event:
    turn: int
    kind: str
    worlds: np.ndarray
    actor: str | None = None
    subject: str | None = None
    data: dict = field(default_factory=dict)  # name -> value for all worlds, or array over `worlds`
    # Who saw it, as it happened: None, every actor; else actor -> True or a flag per world of `worlds`.
    seen_by: dict | None = None
    # Who learned of it later (a covert preparation detected): actor -> the turn, per world (-1: not yet).
    learned: dict = field(default_factory=dict)

    def view(self, position: int, actors: list[str] = ()) -> dict:
        """The record as seen in one of its worlds (position within `worlds`); `seen_by` lists
        the actors (of `actors`) who know of it, and `seen_at` the turn each learned of it."""
        out = {"turn": self.turn, "kind": self.kind, "actor": self.actor, "subject": self.subject}
        for name, value in self.data.items():
            out[name] = _scalar(value, position)
        seen_at = {a: t for a in actors if (t := self.seen_at(a, position)) >= 0}
        out["seen_by"], out["seen_at"] = list(seen_at), seen_at
        return out

    def seen_at(self, actor: str, position: int) -> int:
        """The turn `actor` learned of this event in the world at `position` within `worlds`: the
        event's own if it saw it happen, a later one if it learned of it since, -1 if neither."""
        seen = True if self.seen_by is None else self.seen_by.get(actor, False)
        if seen if np.ndim(seen) == 0 else seen[position]:
            return self.turn
        return int(self.learned[actor][position]) if actor in self.learned else -1


def _scalar(value, position: int):
    if isinstance(value, dict):  # changes per variable: NaN where this world had none
        items = ((k, _scalar(v, position)) for k, v in value.items())
        return {k: v for k, v in items if not (isinstance(v, float) and v != v)}
    if isinstance(value, np.ndarray):
        value = value[position]
    if isinstance(value, np.generic):
        return value.item()
    return value


class EventLog:
    def __init__(self, actors: list[str] = ()):
        self.records: list[Event] = []
        self.actors = list(actors)  # whom `seen_by` can name

    def add(self, turn: int, kind: str, worlds: np.ndarray, at: int | None = None, **kw) -> Event | None:
        """Record an event (returned); `at` puts it before later records (a cause before its consequences)."""
        if not len(worlds):
            return None
        event = Event(turn, kind, worlds, **kw)
        self.records.insert(len(self.records) if at is None else at, event)
        return event

    def for_world(self, world: int) -> list[dict]:
        out = []
        for ev in self.records:
            hit = np.flatnonzero(ev.worlds == world)
            if len(hit):
                out.append(ev.view(int(hit[0]), self.actors))
        return out
