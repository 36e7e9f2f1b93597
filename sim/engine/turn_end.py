"""The end of a turn: rates and drift, cooling positions, the hazard of miscalculation, outcomes."""
from __future__ import annotations

from functools import cache

import numpy as np

from . import rng


class TurnEnd:
    """What the world does at the end of every turn, and how a game ends."""

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
                if self.baselines and var in self.baselines:  # per world (`params`)
                    baseline = self.baselines[var]
                step = baseline - column
                step *= drift
                column += step
            np.clip(column, low, high, out=column)  # one call: half the time of np.minimum and np.maximum over all worlds
        v[ended] = final_vars
        pos = st.position
        cooling = rules.scenario.ladder.cooling
        pos -= np.clip(pos, -cooling, cooling)  # toward 0 by `cooling`, stopping there
        pos[ended] = final_pos
        if "seen_position" in vars(st):  # cools as the position itself does
            seen = st.seen_position
            seen -= np.clip(seen, -cooling, cooling)
        tension = st.vars[:, rules.tension]
        st.tension_history[turn] = tension
        st.tension_history[turn, ended] = np.nan
        for a, history in enumerate(st.positions):
            column = history[:, turn]
            column[:] = pos[:, a]
            column[ended] = np.nan
        war = alive & (rng.uniform(st.stream, rng.key("miscalculation"), turn) < rules.hazard(tension, self.hazard))
        self._end(war.nonzero()[0], rules.war, turn, cause="miscalculation")
        env = st.names(turn)
        for k, cond in enumerate(rules.outcome_when):
            if cond is not None:
                self._end((cond.mask(env) & st.active).nonzero()[0], k, turn, cause="condition")
        if turn == rules.horizon - 1:
            self._end(st.active.nonzero()[0], rules.horizon_outcome, turn, cause="horizon")
        if rules.year(turn + 1) != rules.year(turn):
            st.year_count[:] = 0
        if rules.knowledge.hides_variables:
            rules.knowledge.observe(st, turn)

    def _end(self, worlds: np.ndarray, outcome: int, turn: int, cause: str) -> None:
        st = self.state
        worlds = worlds[st.active[worlds]]
        if not len(worlds):
            return
        st.active[worlds] = False
        self.finished = not st.active.any()
        st.outcome[worlds] = outcome
        st.end_turn[worlds] = turn
        st.cause[worlds] = self.rules.cause_index[cause]
        self._log(turn, "outcome", worlds, subject=self.rules.outcomes[outcome].id, data={"cause": cause})
