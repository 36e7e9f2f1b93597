"""Proposals and resolutions: talks offered and answered, resolutions put to a vote and vetoed or passed."""
from __future__ import annotations

import numpy as np

from . import rng


class Proposals:
    """How the engine makes, answers and resolves proposals."""

    def _propose(self, i: int, worlds: np.ndarray, turn: int, mark: int) -> None:
        rules, st = self.rules, self.state
        o = rules.options[i]
        j = rules.topic_index[o.proposes.topic]
        topic = rules.scenario.mechanics.proposals[o.proposes.topic]
        window = topic.window
        st.pend_until[worlds, j] = turn + window
        st.pend_option[worlds, j] = i
        st.pend_order[worlds, j] = self.proposals_made
        self.proposals_made += 1
        st.pend_answer[worlds, j] = 0
        st.awaiting[worlds, j, :] = False
        if topic.rule == "consent":
            addressees = [rules.actor_index[t] for t in o.proposes.to]
        else:
            addressees = [m for m in rules.veto_actors if m != rules.actor_index[o.actor]]
        for m in addressees:
            st.awaiting[worlds, j, m] = True
        to = [rules.actors[m] for m in addressees]
        self._log(turn, "proposal", worlds, actor=o.actor, subject=o.id, data={"topic": o.proposes.topic, "to": to}, at=mark)

    def _answer(self, a: int, topic: str, accept: bool, worlds: np.ndarray, turn: int) -> None:
        st = self.state
        j = self.rules.topic_index[topic]
        st.awaiting[worlds, j, a] = False
        if accept:
            st.pend_answer[worlds, j] = np.where(st.pend_answer[worlds, j] < 0, -1, 1)
        elif self.rules.scenario.mechanics.proposals[topic].rule == "veto":
            st.pend_answer[worlds, j] = -1
        self._log(turn, "answer", worlds, actor=self.rules.actors[a], subject=topic, data={"accept": accept})

    def _resolve(self, i: int, j: int, worlds: np.ndarray, turn: int) -> None:
        """Option i's proposal on topic j, made in these worlds, passes or fails."""
        rules, st = self.rules, self.state
        o = rules.options[i]
        topic = rules.topics[j]
        rule = rules.scenario.mechanics.proposals[topic].rule
        answer = st.pend_answer[worlds, j]
        passed = answer > 0 if rule == "consent" else answer >= 0
        by = np.where(passed, "", "refused" if rule == "consent" else "vetoed by an actor") if self.record else None
        for member, odds in rules.veto_odds.items() if rule == "veto" else ():
            veto = passed & (rng.uniform(st.stream[worlds], rng.key("veto"), turn, rng.key(member)) < odds)
            if self.record:
                by = np.where(veto, f"vetoed by {member}", by)
            passed &= ~veto
        st.pend_until[worlds, j] = -1
        st.pend_option[worlds, j] = -1
        st.pend_order[worlds, j] = -1
        st.awaiting[worlds, j, :] = False
        st.passed[worlds, j] += passed
        mark = len(self.log.records)
        changes = self._effects(rules.effects[i], worlds, passed, turn, o.actor, o.id)
        data = {"topic": topic, "passed": passed, "why": by, "changes": changes}
        self._log(turn, "resolved", worlds, actor=o.actor, subject=o.id, data=data, at=mark)
