"""`ladder bench`: the engine's speed as ratios against a floor measured in the same run.

The floor is a bare SimPy model with the scenario's actors and turns and no logic, run one
world at a time: what any per-world SimPy simulation pays before it does anything. The engine
advances many worlds per process step, so at large batches it should beat that floor.
"""
from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy

from .engine.rules import Rules
from .engine.stepping import Engine
from .format.errors import UsageError
from .format.scenario import open_scenario
from .format.values import with_values
from .format.words import plural
from .play.forecast import forecast

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
    # A variant made in Python (`Scenario.with_values`): what each point of a design costs to set up.
    first = loaded.scenario.options[0]
    change = {"mechanics.hazard.midpoint": loaded.scenario.mechanics.hazard.midpoint + 1,
              f"options.{first.id}.success": first.success / 2}
    variant_ms = min(_seconds(lambda: with_values(loaded.scenario, change)) for _ in range(3 if quick else 9)) * 1000
    top = str(max(int(k) for k in batch))
    return {
        "scenario": loaded.name,
        "actors": actors,
        "turns": turns,
        "floor_worlds_per_s": round(floor, 1),
        "batch_worlds_per_s": {k: round(v, 1) for k, v in batch.items()},
        f"ratio_{top}_vs_floor": round(batch[top] / floor, 2),
        "interactive_step_ms": round(step_ms, 3),
        "with_values_ms": round(variant_ms, 2),
    }


def _seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def report(f: dict) -> list[str]:
    lines = [f"Benchmark: {f['scenario']}, {plural(f['actors'], 'actor')}, {plural(f['turns'], 'turn')}", ""]
    lines.append(f"  floor (bare SimPy, one world at a time) {f['floor_worlds_per_s']:>12,.0f} worlds/s")
    for size, rate in f["batch_worlds_per_s"].items():
        lines.append(f"  engine, batch of {int(size):>6,}            {rate:>12,.0f} worlds/s")
    ratio = next(k for k in f if k.startswith("ratio_"))
    lines += ["", f"  {ratio}: {f[ratio]:.2f}  (target: at least 5)"]
    lines.append(f"  one interactive turn (batch of one): {f['interactive_step_ms']:.2f} ms  (target: under 20 ms)")
    lines.append(f"  a variant made with with_values:     {f['with_values_ms']:.2f} ms  (target: under 10 ms)")
    return lines


# --- playing: what the app makes a player wait for -------------------------------------------

PLAYER = "US"  # the side `bench_play` plays; in a scenario without it, the first actor
ROLLOUTS, WINDOW = 1000, 12  # the app's forecast


def bench_play(spec: str = "korea-2019", quick: bool = False) -> dict:
    """The app's figures at the player's first decision: a forecast, and its fork on the app's thread;
    the board drawn; a keypress to the detail pane updated.

    Each figure is timed best of several rounds: a `work` (another figure is one more entry), or,
    for the keypress, which is timed inside the app, a process of its own per round.
    """
    loaded = open_scenario(spec)
    rules = Rules(loaded.scenario, loaded.name)
    player = PLAYER if PLAYER in rules.actors else rules.actors[0]
    engine = Engine(rules, seed=1, humans=(player,))
    if engine.advance() is None:
        raise UsageError(f"{player} never decides in {loaded.name}: nothing to forecast")
    command = [sys.executable, "-c", f"from tui.app import board_drawn; board_drawn({spec!r}, {player!r})"]
    works = {
        "forecast": (lambda: forecast(engine, player, None, ROLLOUTS, WINDOW), 1),
        "fork": (lambda: engine.fork(ROLLOUTS, force={player: None}), 1),
        "python": (lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 1),
        "board": (lambda: subprocess.run(command, check=True, capture_output=True), 1),
    }
    rounds = 2 if quick else 5
    seconds = {name: 1 / rate for name, rate in _best_rates(works, rounds=rounds).items()}
    detail_ms = min(_detail_ms(spec, player) for _ in range(1 if quick else rounds))
    return {
        "scenario": loaded.name,
        "player": player,
        "forecast_rollouts": ROLLOUTS,
        "forecast_turns": WINDOW,
        "forecast_s": round(seconds["forecast"], 4),
        "fork_ms": round(seconds["fork"] * 1000, 2),
        "board_s": round(seconds["board"], 3),
        "python_s": round(seconds["python"], 3),
        "detail_ms": round(detail_ms, 1),
    }


def _detail_ms(spec: str, player: str) -> float:
    """A keypress to the detail pane updated and drawn: the median of ten ↓ presses in a game
    of the app's, run in a process of its own (see `tui.app.detail_updates`)."""
    code = f"from tui.app import detail_updates; detail_updates({spec!r}, {player!r})"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return statistics.median(json.loads(done.stdout.strip().splitlines()[-1])["ms"])


def report_play(f: dict) -> list[str]:
    label = f"forecast, {f['forecast_rollouts']:,} rollouts x {f['forecast_turns']} turns"
    return [
        f"Play benchmark: {f['scenario']} as {f['player']}, at its first decision",
        "",
        f"  {label:<40} {f['forecast_s'] * 1000:>8.0f} ms  (target: under 500 ms)",
        f"  {'  of which the fork, on the app thread':<40} {f['fork_ms']:>8.1f} ms",
        f"  {'ladder play --as: start to board drawn':<40} {f['board_s'] * 1000:>8.0f} ms  (target: under 1,500 ms)",
        f"  {'  baseline: python starting and ending':<40} {f['python_s'] * 1000:>8.0f} ms  "
        f"(board: {f['board_s'] / f['python_s']:.1f}x)",
        f"  {'a keypress to the detail pane updated':<40} {f['detail_ms']:>8.1f} ms  (target: under 50 ms)",
    ]


# --- batches: workers, backends and memory ---------------------------------------------------


def measure_batch(spec: str, runs: int, workers: int, dask: str | None, out: str) -> None:
    """Run one batch in this process (with its workers) and print seconds and peak memory as JSON."""
    from .montecarlo.backends import DaskBackend, LocalBackend
    from .montecarlo.batch import run_batch
    from .montecarlo.chunks import Job, Plan
    from .montecarlo.folder import Folder

    loaded = open_scenario(spec)
    job = Job(loaded.scenario, loaded.name, seed=1)
    backend = DaskBackend(dask, workers) if dask else LocalBackend(workers)
    start = time.perf_counter()
    run_batch(job, Plan(runs, 5000, workers), Folder(out), backend, {"bench": True})
    seconds = time.perf_counter() - start
    kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"seconds": seconds, "peak_rss_mib": kib / 1024}))


def _batch_once(spec: str, runs: int, workers: int, dask: str | None = None) -> dict:
    """A fresh process per measurement, so peak memory is this batch's alone."""
    with tempfile.TemporaryDirectory() as tmp:
        code = f"from sim.bench import measure_batch; measure_batch({spec!r}, {runs}, {workers}, {dask!r}, {tmp + '/out'!r})"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


# The design: fourteen numbers of korea-2019 that the engine varies per world, each over
# 20 % either side of the scenario's value (`ladder explore --method lhs`): the first ten, then
# two effects' deltas (an immediate one the DPRK often takes, a spread sanction), a doctrine's
# weight and a drifting variable's baseline
EXPLORED = ("mechanics.hazard.midpoint", "mechanics.hazard.steepness", "mechanics.hazard.max",
            "doctrines.brinkmanship.temperature", "doctrines.brinkmanship.escalation", "doctrines.brinkmanship.risk_aversion",
            "doctrines.strategic-patience.pass", "actors.US.values.US.credibility", "variables.tension.initial",
            "options.dprk_icbm.success", "options.dprk_srbm.effects.0.delta", "options.us_push_resolution.effects.0.delta",
            "doctrines.engagement.weights.talks.progress", "variables.DPRK.economy.baseline")


def bench_explore(spec: str = "korea-2019", quick: bool = False) -> dict:
    """An exploration of 1,000 points of 100 games varying fourteen numbers (quick: 100 points)
    against a plain batch of as many games, all cores each, in the same run: the design is one
    batch of worlds with parameters per world, and should keep at least half the plain speed."""
    from .format.values import locate
    from .montecarlo.explore import explore

    points, per = (100, 100) if quick else (1000, 100)
    cores = os.cpu_count() or 1
    loaded = open_scenario(spec)
    data = loaded.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    varies = []
    for path in EXPLORED:
        container, key = locate(data, path, "bench")
        value = container[key]
        low, high = sorted((0.8 * value, 1.2 * value))  # (a negative value: 1.2 times it is the lower end)
        varies.append((path, low, min(high, 1.0) if path.endswith(".success") else high))
    plain = _batch_once(spec, points * per, cores)["seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        explore(loaded.scenario, loaded.name, str(loaded.path), varies, [], "lhs", points, per, 1, "war", Path(tmp) / "out",
                cores, None, {"bench": True})
        design = time.perf_counter() - start
    return {
        "scenario": spec, "points": points, "runs_per_point": per, "games": points * per, "cores": cores, "varied": list(EXPLORED),
        "plain_runs_per_s": round(points * per / plain, 1), "explore_runs_per_s": round(points * per / design, 1),
        "explore_over_plain": round(plain / design, 2),
    }


def report_explore(f: dict) -> list[str]:
    return [
        f"Explore benchmark: {f['scenario']}, {f['points']:,} points x {f['runs_per_point']} games ({len(f['varied'])} numbers "
        f"varied per world) against one batch of {f['games']:,}, {f['cores']} cores",
        "",
        f"  plain batch         {f['plain_runs_per_s']:>10,.0f} runs/s",
        f"  explore (lhs)       {f['explore_runs_per_s']:>10,.0f} runs/s",
        f"  ratio, explore to plain  {f['explore_over_plain']:.2f}   (target: at least 0.5)",
    ]


REPORT_RUNS = 20_000  # the report's target: a batch of this many runs, its first report in a fresh process
REPORT_TARGET_S = 1.0  # (reading the batch, importing matplotlib) drawn in under this


def measure_report(folder: str) -> None:
    """Draw the report of the batch in `folder` in this process, which has not drawn one yet: print
    the seconds to the first report (reading the batch and importing matplotlib on the way) and the
    best of three draws after it, as JSON. turns.parquet is one small file, read as one: read_table
    would go through pyarrow.dataset, whose import brings pandas (some 0.2 s the report never uses)."""
    start = time.perf_counter()
    import pyarrow.parquet as pq

    from .montecarlo.report import batch_report

    summary = json.loads(Path(folder, "summary.json").read_text())
    turns = pq.ParquetFile(Path(folder, "turns.parquet")).read()
    batch_report(summary, turns)
    first = time.perf_counter() - start
    draws = []
    for _ in range(3):
        start = time.perf_counter()
        batch_report(summary, turns)
        draws.append(time.perf_counter() - start)
    print(json.dumps({"first_s": first, "draw_s": min(draws)}))


REPORT_PROCESSES = 3  # fresh processes drawing the report; the best of them counts, as a busy spell slows one


def _report_once(spec: str) -> dict:
    """A batch of REPORT_RUNS, then its report drawn again in fresh processes (so matplotlib's import
    counts), the best of REPORT_PROCESSES."""
    with tempfile.TemporaryDirectory() as tmp:
        out = tmp + "/out"
        code = f"from sim.bench import measure_batch; measure_batch({spec!r}, {REPORT_RUNS}, {os.cpu_count() or 1}, None, {out!r})"
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        found = []
        for _ in range(REPORT_PROCESSES):
            done = subprocess.run([sys.executable, "-c", f"from sim.bench import measure_report; measure_report({out!r})"],
                                  capture_output=True, text=True, check=True)
            found.append(json.loads(done.stdout.strip().splitlines()[-1]))
        return {key: min(f[key] for f in found) for key in ("first_s", "draw_s")}


def _api_and_cli(spec: str, runs: int, workers: int) -> dict:
    """Seconds of the same batch (no report) through `ladder batch` and through `sim.batch`, each a
    whole fresh process (start-up and imports included), the best of two taken in turn."""
    cli = [sys.executable, "-m", "sim.cli", "batch", spec, "--runs", str(runs), "--seed", "1", "--workers", str(workers),
           "--no-report"]
    api = [sys.executable, "-c", f"import sim; sim.batch({spec!r}, runs={runs}, seed=1, workers={workers})"]
    best = {"cli": math.inf, "api": math.inf}
    for _ in range(2):
        for name, command in (("cli", cli), ("api", api)):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                subprocess.run(command + (["--out", tmp + "/out"] if name == "cli" else []), capture_output=True, check=True)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_batch(spec: str = "korea-2019", quick: bool = False) -> dict:
    runs = 20_000 if quick else 100_000
    cores = os.cpu_count() or 1
    one = _batch_once(spec, runs, 1)
    all_ = _batch_once(spec, runs, cores)
    dask = _batch_once(spec, runs, cores, "local")
    big = _batch_once(spec, runs * 10, cores)
    report = _report_once(spec)
    through = _api_and_cli(spec, runs, cores)
    return {
        "scenario": spec, "runs": runs, "cores": cores,
        "one_worker_runs_per_s": round(runs / one["seconds"], 1),
        "all_cores_runs_per_s": round(runs / all_["seconds"], 1),
        "speedup_all_cores": round(one["seconds"] / all_["seconds"], 2),
        "dask_runs_per_s": round(runs / dask["seconds"], 1),
        "dask_overhead": round(dask["seconds"] / all_["seconds"], 2),
        "peak_rss_mib": {str(runs): round(all_["peak_rss_mib"], 1), str(runs * 10): round(big["peak_rss_mib"], 1)},
        "memory_ratio_10x_runs": round(big["peak_rss_mib"] / all_["peak_rss_mib"], 2),
        "report_runs": REPORT_RUNS,
        "report_first_ms": round(report["first_s"] * 1000, 1),
        "report_draw_ms": round(report["draw_s"] * 1000, 1),
        "report_target_ms": REPORT_TARGET_S * 1000,
        "cli_s": round(through["cli"], 2), "api_s": round(through["api"], 2),
        "api_over_cli": round(through["api"] / through["cli"], 3),
    }


def report_batch(f: dict) -> list[str]:
    n, big = f["runs"], f["runs"] * 10
    return [
        f"Batch benchmark: {f['scenario']}, {n:,} runs, {f['cores']} cores",
        "",
        f"  one worker          {f['one_worker_runs_per_s']:>10,.0f} runs/s",
        f"  all cores           {f['all_cores_runs_per_s']:>10,.0f} runs/s   speed-up {f['speedup_all_cores']:.2f} (target: 1.7 on 2 cores)",
        f"  Dask, all cores     {f['dask_runs_per_s']:>10,.0f} runs/s   time vs local: {f['dask_overhead']:.2f}",
        f"  peak memory         {f['peak_rss_mib'][str(n)]:>10,.0f} MiB at {n:,} runs, {f['peak_rss_mib'][str(big)]:,.0f} MiB at {big:,}"
        f" (ratio {f['memory_ratio_10x_runs']:.2f}; target: at most 1.5)",
        f"  report, {f['report_runs']:,} runs {f['report_first_ms']:>7,.0f} ms the first in a fresh process, reading the batch and "
        f"importing matplotlib (best of {REPORT_PROCESSES}; target: under {f['report_target_ms']:,.0f} ms: "
        f"{'met' if f['report_first_ms'] < f['report_target_ms'] else 'MISSED'})",
        f"  {'':<19} {f['report_draw_ms']:>7,.0f} ms each one drawn after it",
        f"  sim.batch           {f['api_s']:>10.2f} s against `ladder batch` {f['cli_s']:.2f} s, the same batch: "
        f"{(f['api_over_cli'] - 1) * 100:+.1f} % (target: under +5 %)",
    ]
