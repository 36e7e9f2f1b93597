"""The forecast of a move: what follows it, from rollouts of the game with the bots playing on.

The app forecasts the highlighted move while a human decides. `prepare` forks the live engine
at once (cheap; do it on the app's thread), and `Rollouts.run` advances the fork on a worker
thread, turn by turn so that a stale forecast can be cancelled; the worker never touches the
live engine. The rollouts' luck derives from the game's state, so forecasting the same move
twice gives the same figures, and the moves open at one decision are forecast on the same
luck (common random numbers), which makes their differences sharper than their intervals.

The rollouts start from what the deciding actor knows, not from the truth
(`Engine.fork(as_seen_by=actor)`): a variable hidden from it is what it believes (a noisy one
drawn again around its belief for each rollout), the others stand where it has seen them, and a
covert preparation of another actor it has not detected is called off. A forecast computed from
the truth would tell a player what it cannot know (that war is near because of a test prepared
in secret); in a scenario that hides nothing the two are the same.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..engine.stats import Z95, wilson
from ..engine.stepping import Engine


@dataclass(frozen=True)
class Forecast:
    """What follows a move within the next `turns` turns, over `rollouts` games.

    A game ended by an outcome of kind war counts as war, of kind deal as a deal, by any other
    outcome (a scenario's condition, the horizon) as `other`; a game still running at the end of
    the window as none of them. `tension` is the expected tension at the end of the window (a
    game that ended earlier counts with its tension when it ended). Intervals are 95 %: Wilson's
    for the shares, mean ± 1.96 standard errors for tension.
    """

    rollouts: int
    turns: int  # the window: the decision's turn and those after it, up to the horizon
    war: float
    war_ci: tuple[float, float]
    deal: float
    deal_ci: tuple[float, float]
    other: float
    tension: float
    tension_ci: tuple[float, float]


class Rollouts:
    """Rollouts forked from a decision, to be advanced (on any thread) by `run`."""

    def __init__(self, engine: Engine, turn: int, turns: int):
        self.engine = engine
        self.end = min(turn + turns, engine.rules.horizon)  # the first turn after the window
        self.turns = self.end - turn

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> Forecast | None:
        """Advance to the end of the window and sum up; None if `cancelled()` turns true first.

        `cancelled` is asked before each turn. A cancelled run can be run again: it goes on
        from where it stopped, to the same figures.
        """
        engine = self.engine
        while engine.env.peek() < self.end and not engine.finished:
            if cancelled():
                return None
            engine.advance(until_turn=int(engine.env.peek()) + 1)
        return _summarise(engine, self.turns)


def prepare(engine: Engine, actor: str, option: str | None, rollouts: int = 1000, turns: int = 12) -> Rollouts:
    """Fork `rollouts` games from `actor`'s pending decision, taken as `option` (None passes),
    from what `actor` knows of the game.

    Raises ValueError if it is not `actor`'s turn or the option is not open to it now.
    """
    decision = engine.waiting
    if decision is None or decision.actor != actor:
        raise ValueError(f"it is not {actor}'s turn to decide")
    if option is not None:
        why = dict(engine.why_not(actor)).get(option, "no such option for this actor")
        if why:
            raise ValueError(f"{option}: {why}")
    return Rollouts(engine.fork(rollouts, force={actor: option}, as_seen_by=actor), decision.turn, turns)


def forecast(engine: Engine, actor: str, option: str | None, rollouts: int = 1000, turns: int = 12) -> Forecast:
    """`prepare(...).run()`: the forecast computed here and now."""
    return prepare(engine, actor, option, rollouts, turns).run()


def _summarise(engine: Engine, turns: int) -> Forecast:
    """The forecast read from rollouts advanced to the end of a window of `turns` turns."""
    st, rules = engine.state, engine.rules
    n = st.size
    kinds = np.array([o.kind for o in rules.outcomes] + ["running"])
    ended = kinds[st.outcome]  # outcome -1 (still running) reads the last entry
    war, deal = int((ended == "war").sum()), int((ended == "deal").sum())
    other = int((ended != "running").sum()) - war - deal
    tension = st.vars[:, rules.tension]
    mean = float(tension.mean())
    half = Z95 * float(tension.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return Forecast(
        rollouts=n, turns=turns,
        war=war / n, war_ci=wilson(war, n),
        deal=deal / n, deal_ci=wilson(deal, n),
        other=other / n,
        tension=mean, tension_ci=(mean - half, mean + half),
    )


MEASURES = ("war", "deal", "tension")  # what a forecast compares, the outcome most players weigh first


def differences(forecast: Forecast, other: Forecast) -> dict[str, int]:
    """How `forecast` differs from `other`, measure by measure: +1 higher, -1 lower, 0 when the
    two 95 % intervals overlap (no clear difference: the rollouts cannot tell them apart).

    Overlapping intervals are a cautious test: the moves of one decision share their luck, so
    a difference within the intervals may still be real, but the forecast does not claim it.
    """
    out = {}
    for name in MEASURES:
        (lo, hi), (other_lo, other_hi) = getattr(forecast, f"{name}_ci"), getattr(other, f"{name}_ci")
        out[name] = 1 if lo > other_hi else -1 if hi < other_lo else 0
    return out
