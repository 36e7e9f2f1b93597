"""`ladder bench`: the engine's speed as ratios against a floor measured in the same run.

The floor is a bare SimPy model with the scenario's actors and turns and no logic, run one
world at a time: what any per-world SimPy simulation pays before it does anything. The engine
advances many worlds per process step, so at large batches it should beat that floor.
"""
from __future__ import annotations

import time

import simpy

from .catalog import open_scenario
from .engine import Engine
from .rules import Rules

BATCHES = (1, 1_000, 10_000)


def _floor_world(actors: int, turns: int) -> None:
    env = simpy.Environment()

    def clock(env):
        for _ in range(turns):
            yield env.timeout(1)

    for _ in range(actors + 1):  # the actors and the world
        env.process(clock(env))
    env.run()


def _best_rates(works: dict, rounds: int) -> dict:
    """Units per second of each `work()` (which does `units`): the best of `rounds` timings.

    The works take turns, round after round, so a busy spell on a shared machine slows all of
    them alike instead of skewing one; the best round is the least disturbed.
    """
    best = {name: 0.0 for name in works}
    for _ in range(rounds):
        for name, (work, units) in works.items():
            start = time.perf_counter()
            work()
            best[name] = max(best[name], units / (time.perf_counter() - start))
    return best


def bench(spec: str = "korea-2019", quick: bool = False) -> dict:
    loaded = open_scenario(spec)
    rules = Rules(loaded.scenario, loaded.name)
    actors, turns = len(rules.actors), rules.horizon
    floor_worlds = 20 if quick else 200

    def floor_work():
        for _ in range(floor_worlds):
            _floor_world(actors, turns)

    works = {"floor": (floor_work, floor_worlds)}
    for size in BATCHES if not quick else BATCHES[:2]:
        works[str(size)] = (lambda n=size: Engine(rules, seed=1, runs=n, record=False).run(), size)
    rates = _best_rates(works, rounds=2 if quick else 5)
    floor = rates.pop("floor")
    batch = rates
    budget = 0.2 if quick else 1.5
    # One interactive step: a turn of a recorded batch of one, as the app plays it.
    games = 0
    start = time.perf_counter()
    played_turns = 0
    while time.perf_counter() - start < budget:
        engine = Engine(rules, seed=games, runs=1).run()
        played_turns += int(engine.state.end_turn[0]) + 1
        games += 1
    step_ms = (time.perf_counter() - start) / played_turns * 1000
    top = str(max(int(k) for k in batch))
    return {
        "scenario": loaded.name,
        "actors": actors,
        "turns": turns,
        "floor_worlds_per_s": round(floor, 1),
        "batch_worlds_per_s": {k: round(v, 1) for k, v in batch.items()},
        f"ratio_{top}_vs_floor": round(batch[top] / floor, 2),
        "interactive_step_ms": round(step_ms, 3),
    }


def report(f: dict) -> list[str]:
    lines = [f"Benchmark: {f['scenario']}, {f['actors']} actors, {f['turns']} turns", ""]
    lines.append(f"  floor (bare SimPy, one world at a time) {f['floor_worlds_per_s']:>12,.0f} worlds/s")
    for size, rate in f["batch_worlds_per_s"].items():
        lines.append(f"  engine, batch of {int(size):>6,}            {rate:>12,.0f} worlds/s")
    ratio = next(k for k in f if k.startswith("ratio_"))
    lines += ["", f"  {ratio}: {f[ratio]:.2f}  (target: at least 5)"]
    lines.append(f"  one interactive turn (batch of one): {f['interactive_step_ms']:.2f} ms  (target: under 20 ms)")
    return lines
