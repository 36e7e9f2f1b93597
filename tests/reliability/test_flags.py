"""Numbers on the command line are range-checked against what the engine takes: a seed the random
streams would take modulo 2**64 (another seed's game), a run index beyond int64, a count of
games, workers or runs per chunk of billions -- one line, exit 2, before any work."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sim.cli import COUNTS, RUNS, SEEDS, main
from sim.engine import rng

BAD_SEEDS = [str(2**64), str(2**70), "-1", "9" * 5000, "+-5", "1e3", "1_000", "٣", "0x10", "", "\x1b[2J"]


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("command", [
    ["run", "tutorial"], ["play", "tutorial", "--watch"], ["calibrate", "korea-2019"],
    ["batch", "tutorial", "--runs", "10"], ["compare", "tutorial", "--runs", "10"],
    ["sweep", "tutorial", "--set", "clock.horizon=10", "--runs", "10"],
])
def test_a_seed_out_of_range_is_refused(refuse, tmp_path, command, seed):
    line = refuse(*command, "--seed", seed, allowed=(tmp_path,))
    assert "--seed" in line and ("from 0 to 18,446,744,073,709,551,615" in line or "whole number" in line), line


@pytest.mark.parametrize("run", [str(2**63), str(2**70), "-1", "1.5"])
@pytest.mark.parametrize("command", [["run", "tutorial"], ["play", "--replay", "."], ["replay", "."]])
def test_a_run_out_of_range_is_refused(refuse, tmp_path, command, run):
    line = refuse(*command, "--run", run, allowed=(tmp_path,))
    assert "--run" in line and ("from 0 to 9,223,372,036,854,775,807" in line or "whole number" in line), line


@pytest.mark.parametrize("value", ["0", "-3", str(COUNTS + 1), str(2**70), "many"])
@pytest.mark.parametrize("flag", [["calibrate", "korea-2019", "--runs"], ["compare", "tutorial", "--runs"],
                                  ["sweep", "tutorial", "--set", "clock.horizon=10", "--runs"],
                                  ["batch", "tutorial", "--runs", "10", "--workers"],
                                  ["batch", "tutorial", "--runs", "10", "--chunk"]])
def test_a_count_out_of_range_is_refused(refuse, tmp_path, flag, value):
    line = refuse(*flag, value, allowed=(tmp_path,))
    assert flag[-1] in line and ("expected a positive number, 1 to 1,000,000,000" in line or "whole number" in line), line


def test_the_ranges_are_the_engines():
    assert (SEEDS, RUNS) == (rng.SEEDS, rng.RUNS)
    from sim.montecarlo.chunks import MAX_RUNS

    assert COUNTS == MAX_RUNS
    with pytest.raises(ValueError, match="2\\*\\*64"):
        rng.streams(2**64, np.arange(1))  # not silently seed 0's game


def test_the_largest_seed_and_run_play(capsys):
    """The ends of the ranges are games of their own: the largest seed is not seed 0's game, and
    the largest run index is recorded as itself."""
    games = {}
    for seed, run in [(0, 0), (2**64 - 1, 0), (0, 2**63 - 1)]:
        assert main(["run", "tutorial", "--seed", str(seed), "--run", str(run), "--json"]) == 0
        games[seed, run] = json.loads(capsys.readouterr().out)
    assert games[0, 0]["events"] != games[2**64 - 1, 0]["events"]
    assert games[0, 2**63 - 1]["run"] == 2**63 - 1
