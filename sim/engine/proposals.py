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
        # Topic j's columns, each contiguous: indexing them by worlds costs half of [worlds, j].
        if topic.drafting is None:
            st.pend_until[:, j][worlds] = turn + topic.window
        else:  # drawn only where the topic declares it: other games keep their draws
            u = rng.uniform(st.stream[worlds], rng.key("drafting"), turn, rules.option_key[i])
            st.pend_until[:, j][worlds] = turn + _turns(u, topic.drafting)
        st.pend_option[:, j][worlds] = i
        st.pend_order[:, j][worlds] = self.proposals_made
        self.proposals_made += 1
        st.pend_answer[:, j][worlds] = 0
        if topic.rule == "consent":
            addressees = [rules.actor_index[t] for t in o.proposes.to]
        else:
            addressees = [m for m in rules.veto_actors if m != rules.actor_index[o.actor]]
        for m in range(len(rules.actors)):  # actor by actor, a column each: [worlds, j, :] costs several times more
            st.awaiting[:, j, m][worlds] = m in addressees
        to = [rules.actors[m] for m in addressees]
        self._log(turn, "proposal", worlds, actor=o.actor, subject=o.id, data={"topic": o.proposes.topic, "to": to}, at=mark)

    def _answer(self, a: int, topic: str, accept: bool, worlds: np.ndarray, turn: int) -> None:
        st = self.state
        j = self.rules.topic_index[topic]
        st.awaiting[:, j, a][worlds] = False
        spec = self.rules.scenario.mechanics.proposals[topic]
        answer = st.pend_answer[:, j]
        if accept:
            answer[worlds] = np.where(answer[worlds] < 0, -1, 1)
        elif spec.rule == "veto" or spec.consent == "all":  # one refusal fails it
            answer[worlds] = -1
        self._log(turn, "answer", worlds, actor=self.rules.actors[a], subject=topic, data={"accept": accept})

    def _resolve(self, i: int, j: int, worlds: np.ndarray, turn: int) -> None:
        """Option i's proposal on topic j, made in these worlds, passes or fails."""
        rules, st = self.rules, self.state
        o = rules.options[i]
        topic = rules.topics[j]
        spec = rules.scenario.mechanics.proposals[topic]
        rule = spec.rule
        answer = st.pend_answer[:, j][worlds]
        passed = answer > 0 if rule == "consent" else answer >= 0
        if spec.consent == "all":  # an addressee that has not answered refuses
            passed &= ~st.awaiting[worlds, j].any(axis=1)
        by = np.where(passed, "", "refused" if rule == "consent" else "vetoed by an actor") if self.record else None
        streams = st.stream[worlds] if rule == "veto" else None  # gathered once for every member's draw
        for member, odds in rules.veto_odds.items() if rule == "veto" else ():
            veto = passed & (rng.uniform(streams, rng.key("veto"), turn, rng.key(member)) < odds)
            if self.record:
                by = np.where(veto, f"vetoed by {member}", by)
            passed &= ~veto
        # Topic j's columns, each contiguous: indexing them by worlds costs half of [worlds, j].
        st.pend_until[:, j][worlds] = -1
        st.pend_option[:, j][worlds] = -1
        st.pend_order[:, j][worlds] = -1
        for m in range(len(rules.actors)):  # actor by actor, a column each: [worlds, j, :] costs several times more
            st.awaiting[:, j, m][worlds] = False
        st.passed[:, j][worlds] += passed
        mark = len(self.log.records)
        changes = self._effects(rules.effects[i], worlds, passed, turn, o.actor, o.id)
        data = {"topic": topic, "passed": passed, "why": by, "changes": changes}
        self._log(turn, "resolved", worlds, actor=o.actor, subject=o.id, data=data, at=mark)


def _turns(u: np.ndarray, d) -> np.ndarray:
    """Whole turns from uniform draws u: the triangular distribution (min, mode, max) by its
    inverse distribution function, rounded half up."""
    lo, mode, hi = d.min, d.mode, d.max
    span = hi - lo
    if span == 0:
        return np.full(len(u), int(np.floor(lo + 0.5)))
    below = u < (mode - lo) / span
    x = np.where(below, lo + np.sqrt(u * span * (mode - lo)), hi - np.sqrt((1 - u) * span * (hi - mode)))
    return np.floor(x + 0.5).astype(int)
