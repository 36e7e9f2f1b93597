"""The calendar: each turn's date as expressions read it (month, day of the year), and the
scenario's recurring windows laid on the game's turns.

The calendar is the same in every world, so all of it is worked out once from the scenario:
which turns each window is open, and in which turns it opens and closes.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

import numpy as np

from ..format.model import Window


class Calendar:
    """The windows of a scenario over the turns of its games, and the date names of each turn."""

    def __init__(self, rules, key: Iterator[int]):
        """`key` numbers the windows' effects after the scenario's other effects (their draws' keys)."""
        self.windows: list[Window] = list(rules.scenario.calendar)
        self.start_effects = [[rules._effect(e, next(key)) for e in w.effects_start] for w in self.windows]
        self.end_effects = [[rules._effect(e, next(key)) for e in w.effects_end] for w in self.windows]
        horizon = rules.horizon
        self.open = np.zeros((len(self.windows), horizon), dtype=bool)  # [window, turn]
        self.opening: dict[int, list[int]] = {}  # turn -> the windows that open in it
        self.closing: dict[int, list[int]] = {}  # turn -> the windows that close in it
        for i, window in enumerate(self.windows):
            for first, stop in _turns_open(window, rules):
                self.open[i, first:stop] = True
                self.opening.setdefault(first, []).append(i)
                if stop < horizon:
                    self.closing.setdefault(stop, []).append(i)
        self.turns = sorted(set(self.opening) | set(self.closing))  # the turns something happens
        # What expressions read of the calendar, per turn: the same in every world, so one number each.
        dates = [rules.date(t) for t in range(horizon)]
        self.names = [
            {"month": float(d.month), "day_of_year": float(d.timetuple().tm_yday)}
            | {f"window.{w.id}": float(self.open[i, t]) for i, w in enumerate(self.windows)}
            for t, d in enumerate(dates)
        ]


def _turns_open(window: Window, rules) -> Iterator[tuple[int, int]]:
    """(first turn, turn it closes) of each year's opening that falls in the game.

    A window opens in the turn containing its start and closes in the turn containing its end,
    and is open for at least the turn it opens in. One that opened before the game began and is
    still open at turn 0 opens then: the game starts in it."""
    month, day = (int(x) for x in window.start.split("-"))
    first_year = rules.date(0).year - 1  # last year's opening may span New Year into the game
    for year in range(first_year, rules.date(rules.horizon - 1).year + 1):
        if window.first_year is not None and year < window.first_year:
            continue
        if window.last_year is not None and year > window.last_year:
            continue
        start = dt.date(year, month, day)
        if window.duration is not None:
            end = start + dt.timedelta(days=window.duration)
        else:
            end_month, end_day = (int(x) for x in window.end.split("-"))
            end = dt.date(year, end_month, end_day)
            if end <= start:  # 12-15 to 01-10: it ends the next year
                end = dt.date(year + 1, end_month, end_day)
        first, stop = rules.turn_of(start.isoformat()), rules.turn_of(end.isoformat())
        stop = max(stop, first + 1)
        if stop <= 0 or first >= rules.horizon:
            continue
        yield max(first, 0), stop
