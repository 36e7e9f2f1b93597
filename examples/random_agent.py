"""A random legal agent plays the DPRK in korea-2019 against the other actors' doctrines, 100
games, and prints how they ended. It trains nothing: it shows the loop a learning agent sits in.

    pip install ".[rl]" && python examples/random_agent.py
"""
import time
from collections import Counter

import numpy as np

from sim.env import LadderEnv

env = LadderEnv("korea-2019", agents=("DPRK",), seed=0)
rng = np.random.default_rng(0)
outcomes = Counter()
start = time.perf_counter()
for game in range(100):
    env.reset()  # the next game of seed 0
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            outcomes[info["outcome"]] += 1
            env.step(None)  # PettingZoo's way for a finished agent to leave
        else:
            env.step(int(rng.choice(np.flatnonzero(observation["action_mask"]))))
print(dict(outcomes.most_common()), f"{time.perf_counter() - start:.1f} s")
