"""sim.env: a scenario as a PettingZoo AEC environment, checked by PettingZoo's own tests and
by playing it with random legal agents."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
from pettingzoo.test import api_test, seed_test  # noqa: E402

from sim.env import REWARDS, LadderEnv, env  # noqa: E402


def play(env, rng, seed=None, watch=None):
    """One game with a random legal agent in every seat; `watch(agent, observation)` sees each
    observation an agent acts on. Returns (info, reward) at the end: every agent gets the same."""
    env.reset(seed=seed)
    final = None
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            final = final or (info, reward)
            env.step(None)
            continue
        if watch:
            watch(agent, obs)
        env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    return final


@pytest.mark.parametrize("make, agents", [(LadderEnv, ("DPRK",)), (env, ("DPRK",)), (env, ("DPRK", "US"))])
def test_api_test(make, agents):
    api_test(make("korea-2019", agents=agents), num_cycles=200)


def test_seed_test():
    seed_test(lambda: env("korea-2022", agents=("DPRK", "US")), num_cycles=200)


def test_a_random_agent_plays_100_games_to_the_end_with_legal_actions_and_observations_in_space():
    # korea-2022: the DPRK may take several moves a turn, so it is asked again within a turn.
    env = LadderEnv("korea-2022", seed=7)
    space = env.observation_space("DPRK")
    asked = []  # (game, turn) of every decision

    def watch(agent, obs):
        assert space.contains(obs), obs
        asked.append((game, env.engine.turn))

    rng = np.random.default_rng(0)
    outcomes = set()
    for game in range(100):
        info, reward = play(env, rng, watch=watch)  # an illegal action would raise
        assert reward == REWARDS.get(info["kind"], 0.0)
        outcomes.add(info["outcome"])
    assert len(set(asked)) < len(asked)  # asked more than once in some turn of some game
    assert len(outcomes) > 1


def test_the_action_mask_is_the_engines_why_not():
    env = LadderEnv("korea-2019", agents=("DPRK", "US"), seed=3)
    checked = []

    def watch(agent, obs):
        allowed = [why is None for _, why in env.engine.why_not(agent)]
        assert obs["action_mask"].tolist() == [*allowed, True]
        checked.append(agent)

    rng = np.random.default_rng(1)
    for _ in range(5):
        play(env, rng, watch=watch)
    assert checked


def test_two_agents_both_get_turns():
    env = LadderEnv("korea-2019", agents=("DPRK", "US"), seed=0)
    turns = {"DPRK": 0, "US": 0}

    def watch(agent, obs):
        turns[agent] += 1

    play(env, np.random.default_rng(2), watch=watch)
    assert turns["DPRK"] > 0 and turns["US"] > 0


def test_the_same_seed_gives_the_same_games():
    def observations(seed):
        env = LadderEnv("korea-2019", agents=("DPRK", "US"), seed=seed)
        rng = np.random.default_rng(3)
        seen = []
        for _ in range(2):  # run 0, then the next run of the same seed
            play(env, rng, watch=lambda agent, obs: seen.append((agent, obs["observation"].tobytes())))
        return seen

    assert observations(11) == observations(11)
    assert observations(11) != observations(12)


def test_reset_with_a_seed_starts_its_games_again():
    env = LadderEnv("korea-2019", seed=4)
    first = play(env, np.random.default_rng(5))
    play(env, np.random.default_rng(6))
    assert play(env, np.random.default_rng(5), seed=4) == first


def test_an_illegal_action_is_refused():
    raw = LadderEnv("korea-2019", agents=("DPRK", "US"))
    raw.reset()
    before = raw.observe("DPRK")
    illegal = int(np.flatnonzero(before["action_mask"] == 0)[0])
    with pytest.raises(ValueError):
        raw.step(illegal)
    assert raw.agent_selection == "DPRK" and np.array_equal(raw.observe("DPRK")["observation"], before["observation"])
    wrapped = env("korea-2019", agents=("DPRK", "US"))
    wrapped.reset()
    wrapped.step(illegal)  # PettingZoo logs a warning
    assert all(wrapped.terminations.values()) and wrapped.rewards == {"DPRK": -1, "US": 0}


def test_unknown_actors_and_doctrines_are_named():
    with pytest.raises(ValueError, match="at least one"):
        LadderEnv("korea-2019", agents=())
    with pytest.raises(ValueError, match="Kim"):
        LadderEnv("korea-2019", agents=("Kim",))
    with pytest.raises(ValueError, match="reckless"):
        LadderEnv("korea-2019", doctrines={"US": "reckless"})


def test_importing_sim_does_not_import_pettingzoo():
    code = "import sys, sim, sim.engine, sim.play.game; sys.exit('pettingzoo' in sys.modules or 'gymnasium' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_an_agent_observes_its_view_not_the_truth():
    # knowledge fixture: B's resolve is private to B; B (an agent) builds it up, A (an agent) never sees it move
    from conftest import DATA

    env = LadderEnv(str(DATA / "knowledge.scenario.yaml"), agents=("A", "B"), seed=1)
    rules = env.rules
    v = rules.var_index["B.resolve"]
    seen = {"A": [], "B": []}
    env.reset(seed=1)
    build = rules.by_actor[rules.actor_index["B"]].tolist().index(rules.option_index["b-build"])
    for agent in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        truth = env.engine.state.vars[0, v]
        seen[agent].append((obs["observation"][v] * rules.span[v] + rules.vmin[v], truth))
        env.step(build if agent == "B" and obs["action_mask"][build] else len(obs["action_mask"]) - 1)
    assert max(t for _, t in seen["A"]) > 50  # the truth moved...
    assert {round(float(o), 4) for o, _ in seen["A"]} == {50.0}  # ...A saw what it was at the start
    assert all(abs(o - t) < 1e-4 for o, t in seen["B"])  # the owner sees it exactly
