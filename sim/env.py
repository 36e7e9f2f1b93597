"""A scenario as a PettingZoo AEC environment: a seat for learning agents.

Some actors are agents; the rest are played by their doctrines. The engine is stepped until an
agent must decide (`Engine.advance` returns a `Decision`), and that agent becomes
`agent_selection`; its action is the engine's `submit`. An actor with several moves a turn is
simply selected again in the same turn.

Needs the optional extra `rl` (`pip install "escalation-ladder[rl]"`): importing `sim` does not
import this module, so PettingZoo and Gymnasium are needed only by those who use it.

Observation of an agent, `{"observation": float32 vector, "action_mask": int8 vector}`. The
vector is the same layout for every actor, each field in [0, 1], in this order:

    variables    one per scenario variable, in the scenario's order: (value - min) / (max - min)
    positions    one per actor, in the scenario's order: the actor's ladder position, with
                 -top..+top (top: the highest rung's absolute level) mapped to 0..1 (0.5: level 0)
    turn         the turn under way / the horizon
    pending      one per proposal topic: 1 while a proposal on it awaits its resolution
    asked        one per proposal topic: 1 if this actor may still answer the pending proposal
    red lines    one per red line: 1 once crossed

It is the actor's view of the state (`Engine.view`), not the truth: a variable hidden from it
is what it believes (a private one: its value at the start; a noisy one: with this turn's
error; a late one: as it was), and others' positions are as it has seen them.

Actions: `Discrete(K + 1)`, the actor's K options in the scenario's order (`option_ids`), then
pass. The action mask is 1 where the engine allows the move now (`Engine.why_not` gives no
reason) and always 1 for pass. As in PettingZoo's classic games, `env(...)` is the environment
wrapped so that an illegal action ends the game with -1 for the agent that took it and 0 for
the others (and an action outside the space, or a step out of turn, is an error); the bare
`LadderEnv` (`raw_env`) raises ValueError for an illegal action and changes nothing.

Rewards: 0 on every step; at the game's end each agent gets the reward of the outcome's kind,
`rewards` (by default +1 a deal, -1 war, 0 the horizon or any other outcome). Every agent then
terminates; nothing truncates, for reaching the horizon is an outcome of the game.

Games are reproducible: `reset(seed=S)` plays run 0 of seed S, and each later `reset()` without
a seed the next run of the same seed (the engine's counter-based randomness makes run i of seed
S the same game whatever was played before, given the same actions).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

try:
    from gymnasium import spaces
    from pettingzoo import AECEnv
    from pettingzoo.utils import wrappers
except ImportError as exc:  # the extra is optional: say how to get it
    raise ImportError('sim.env needs PettingZoo and Gymnasium: pip install "escalation-ladder[rl]"') from exc

from .engine.rules import Rules
from .engine.stepping import Engine
from .format.model import Scenario
from .format.scenario import Loaded, open_scenario

REWARDS = {"deal": 1.0, "war": -1.0}  # by outcome kind; any other kind: 0


class LadderEnv(AECEnv):
    metadata = {"name": "escalation_ladder_v0", "render_modes": []}

    def __init__(
        self,
        scenario: str | Path | Loaded | Scenario,
        agents=("DPRK",),
        doctrines: dict[str, str] | None = None,
        seed: int = 0,
        rewards: dict[str, float] | None = None,
    ):
        super().__init__()
        if isinstance(scenario, (str, Path)):
            scenario = open_scenario(str(scenario))
        if isinstance(scenario, Loaded):
            self.rules = Rules(scenario.scenario, scenario.name)
        else:
            self.rules = Rules(scenario)
        rules = self.rules
        if not agents:
            raise ValueError("at least one actor must be an agent (the others play their doctrines)")
        unknown = [a for a in (*agents, *(doctrines or {})) if a not in rules.actor_index]
        if unknown:
            raise ValueError(f"no such actor: {', '.join(unknown)} (actors: {', '.join(rules.actors)})")
        unknown = [d for d in (doctrines or {}).values() if d not in rules.scenario.doctrines]
        if unknown:
            raise ValueError(f"no such doctrine: {', '.join(unknown)}")
        self.possible_agents = list(agents)
        self.agents = []
        self.doctrines = dict(doctrines or {})
        self.rewards_by_kind = REWARDS if rewards is None else dict(rewards)
        self._seed, self._run = seed, 0
        self.option_ids = {a: [rules.options[i].id for i in rules.by_actor[rules.actor_index[a]]] for a in agents}
        size = len(rules.var_names) + len(rules.actors) + 1 + 2 * len(rules.topics) + len(rules.red_lines)
        # Made once: PettingZoo requires the same space object on every call.
        self._action_spaces = {a: spaces.Discrete(len(self.option_ids[a]) + 1) for a in agents}
        self._observation_spaces = {
            a: spaces.Dict({
                "observation": spaces.Box(0.0, 1.0, (size,), np.float32),
                "action_mask": spaces.Box(0, 1, (len(self.option_ids[a]) + 1,), np.int8),
            })
            for a in agents
        }

    def observation_space(self, agent):
        return self._observation_spaces[agent]

    def action_space(self, agent):
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self._seed, self._run = seed, 0
        self.engine = Engine(self.rules, self._seed, runs=[self._run], humans=self.possible_agents,
                             doctrines=self.doctrines)
        self._run += 1
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self._play_on()

    def step(self, action) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        options = self.option_ids[agent]
        if not 0 <= action <= len(options):
            raise ValueError(f"action {action} is not in {agent}'s action space (0 to {len(options)})")
        self.engine.submit(agent, options[action] if action < len(options) else None)  # ValueError if illegal
        self._cumulative_rewards[agent] = 0.0  # `last()` gave it; what follows is new
        self._clear_rewards()
        self._play_on()
        self._accumulate_rewards()

    def _play_on(self) -> None:
        """Run the doctrines until an agent must decide (it is selected) or the game ends (every
        agent terminates with the outcome's reward)."""
        decision = self.engine.advance()
        if decision is not None:
            self.agent_selection = decision.actor
            return
        st, rules = self.engine.state, self.rules
        outcome = rules.outcomes[st.outcome[0]]
        reward = float(self.rewards_by_kind.get(outcome.kind, 0.0))
        for a in self.agents:
            self.rewards[a] = reward
            self.terminations[a] = True
            self.infos[a] = {"outcome": outcome.id, "kind": outcome.kind, "cause": rules.causes[st.cause[0]],
                             "end_turn": int(st.end_turn[0])}
        self.agent_selection = self.agents[0]

    def observe(self, agent):
        return {"observation": self.state_vector(agent), "action_mask": self.action_mask(agent)}

    def action_mask(self, agent) -> np.ndarray:
        """1 for each option the engine allows the agent now, then 1 for pass."""
        allowed = [why is None for _, why in self.engine.why_not(agent)]
        return np.array([*allowed, True], dtype=np.int8)

    def state_vector(self, agent) -> np.ndarray:
        """The observation vector (its fields are in the module's docstring)."""
        rules, st, turn = self.rules, self.engine.state, self.engine.turn
        a = rules.actor_index[agent]
        view = self.engine.view(agent)
        pending = st.pend_until[0] >= turn
        return np.concatenate([
            (view.vars[0] - rules.vmin) / rules.span,
            (view.position[0] / rules.top_level + 1) / 2,
            [turn / rules.horizon],
            pending,
            pending & st.awaiting[0, :, a],
            st.red_line[0],
        ]).astype(np.float32)


raw_env = LadderEnv  # PettingZoo's name for the environment without its wrappers


def env(scenario, **kwargs) -> AECEnv:
    """`LadderEnv(scenario, **kwargs)` wrapped as PettingZoo wraps its classic games: an illegal
    action loses (-1, the game ends), an action outside the space or a step before `reset` or
    out of turn is an error."""
    wrapped = wrappers.TerminateIllegalWrapper(LadderEnv(scenario, **kwargs), illegal_reward=-1)
    return wrappers.OrderEnforcingWrapper(wrappers.AssertOutOfBoundsWrapper(wrapped))
