"""`ladder explore` and `sim.explore`: the design, the games at each point, the indices, PRIM, the
folder and bad input."""
import json
import math

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import sim
from sim.cli import main
from sim.format.scenario import open_scenario
from sim.montecarlo.explore import Factor, design, factors, indices
from sim.montecarlo.prim import peel

from reliability.conftest import refuse  # noqa: F401  (the fault suite's guard: exit 2, one line, nothing read or run)

pytest.importorskip("SALib")

VARY = ["--vary", "mechanics.hazard.midpoint=60:90", "--vary", "mechanics.hazard.max=0.01:0.06"]


@pytest.mark.parametrize(("method", "points", "rows"), [("sobol", 8, 8 * (3 + 2)), ("morris", 4, 4 * (3 + 1)), ("lhs", 8, 8)])
def test_the_design_has_its_shape_and_stays_in_range(method, points, rows):
    model = open_scenario("tutorial").scenario
    fs = factors(model, [("mechanics.hazard.midpoint", 60, 90), ("mechanics.hazard.max", 0.01, 0.06)],
                 [("actors.Red.doctrine", ["hawk", "dove"])])
    unit = design(method, fs, points, seed=3)
    assert unit.shape == (rows, 3)
    assert ((unit >= 0) & (unit <= 1)).all()
    values = [[f.value(u) for f, u in zip(fs, row)] for row in unit]
    assert all(60 <= v[0] <= 90 for v in values)
    assert all(0.01 <= v[1] <= 0.06 for v in values)
    assert {v[2] for v in values} == {"hawk", "dove"}
    assert np.array_equal(unit, design(method, fs, points, seed=3))  # seeded


def test_each_point_plays_the_games_of_a_separate_batch(tmp_path):
    result = sim.explore("tutorial", {"mechanics.hazard.midpoint": (60, 90)}, method="lhs", points=4, runs_per_point=30,
                         seed=5, levers={"actors.Blue.doctrine": ["tit-for-tat", "hawk"]}, out=tmp_path / "x", workers=2)
    design_rows = result.design.to_pylist()
    for k in (1, 4):
        row = design_rows[k - 1]
        values = {"mechanics.hazard.midpoint": row["mechanics_hazard_midpoint"], "actors.Blue.doctrine": row["actors_Blue_doctrine"]}
        alone = sim.batch(sim.load("tutorial").with_values(values), runs=30, seed=5).runs
        runs = pq.read_table(tmp_path / "x" / "runs.parquet")  # every point's games, in one file
        played = runs.filter(pc.equal(runs.column("point"), k))
        assert played.drop_columns(["variant", "point"]).equals(alone.drop_columns(["variant"]))
        assert result.results.column("digest")[k - 1].as_py() == alone.column("digest")[0].as_py()


def test_sobol_indices_of_the_ishigami_function_come_out_right():
    from SALib.test_functions import Ishigami

    fs = [Factor(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3)]
    unit = design("sobol", fs, 1024, seed=1)
    y = Ishigami.evaluate(np.array([[f.value(u) for f, u in zip(fs, row)] for row in unit]))
    found = indices("sobol", fs, unit, y, seed=1)["factors"]
    known = {"x1": (0.3139, 0.5576), "x2": (0.4424, 0.4424), "x3": (0.0, 0.2437)}  # a=7, b=0.1 (Sobol' and Levitan 1999)
    for name, (s1, st) in known.items():
        v = found[name]
        assert abs(v["S1"] - s1) <= v["S1_conf"], (name, v)
        assert abs(v["ST"] - st) <= v["ST_conf"], (name, v)


def test_prim_finds_a_planted_box():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 3))
    planted = (x[:, 0] >= 0.2) & (x[:, 0] <= 0.6) & (x[:, 1] >= 0.5)
    y = planted ^ (rng.random(2000) < 0.03)  # a little noise
    result = peel(x, y, ["a", "b", "c"])
    box = result["boxes"][result["chosen"]]
    assert box["density"] >= 0.8 and box["coverage"] >= 0.8
    assert set(box["restricted"]) >= {"a", "b"}
    (a_lo, a_hi), (b_lo, _), (c_lo, c_hi) = box["limits"]["a"], box["limits"]["b"], box["limits"]["c"]
    # the chosen box is the widest at density 0.8, so it may stop a peel or two short of the planted edges
    assert abs(a_lo - 0.2) < 0.1 and abs(a_hi - 0.6) < 0.1 and abs(b_lo - 0.5) < 0.1
    assert c_hi - c_lo > 0.8  # the irrelevant parameter stays nearly whole
    coverage = [b["coverage"] for b in result["boxes"]]
    assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)


def test_the_command_writes_every_file_and_its_manifest_reproduces_it(tmp_path, capsys):
    out = tmp_path / "explore"
    assert main(["explore", "tutorial", *VARY, "--method", "lhs", "--points", "8", "--runs-per-point", "50",
                 "--seed", "2", "--out", str(out)]) == 0
    assert "PRIM" in capsys.readouterr().out
    for name in ("design.parquet", "results.parquet", "indices.json", "prim.json", "report.html", "manifest.json"):
        assert (out / name).stat().st_size > 0, name
    results = pq.read_table(out / "results.parquet")
    assert results.num_rows == 8 and {"scenario", "variant", "digest", "seed", "point", "p_war", "peak_Red"} <= set(results.column_names)
    page = (out / "report.html").read_text()
    assert page.count("<img") == 3 and "http" not in page.replace("http://www.w3.org", "")  # self-contained
    prim = json.loads((out / "prim.json").read_text())
    assert prim["boxes"][0]["coverage"] == 1.0 and 0 <= prim["chosen"] < len(prim["boxes"])
    m = json.loads((out / "manifest.json").read_text())
    assert not m["partial"] and m["versions"]["SALib"] and len(m["digest"]) == 64
    again = sim.explore(m["scenario"], {v["path"]: (v["low"], v["high"]) for v in m["vary"]}, method=m["method"],
                        points=m["points"], runs_per_point=m["runs_per_point"], seed=m["seed"], outcome=m["outcome"],
                        levers={v["path"]: v["values"] for v in m["levers"]})
    assert again.results.equals(results)
    assert again.design.equals(pq.read_table(out / "design.parquet"))
    assert again.indices == json.loads((out / "indices.json").read_text())


@pytest.mark.parametrize(("argv", "expected"), [
    (["--vary", "mechanics.hazard.midpont=60:90"], "did you mean 'midpoint'"),
    (["--vary", "mechanics.tension=1:2"], "not a number"),
    (["--vary", "mechanics.hazard.midpoint=90:60"], "LO must be below HI"),
    (["--vary", "mechanics.hazard.midpoint=60"], "expected PATH=LO:HI"),
    (["--vary", "mechanics.hazard.max=0.01:7"], "--vary mechanics.hazard.max=7"),
    (["--vary", "mechanics.hazard.midpoint=60:90", "--lever", "actors.Red.doctrine=hawk,owl"], "--lever actors.Red.doctrine='owl'"),
    (["--vary", "mechanics.hazard.midpoint=60:90", "--points", "2"], "lhs needs at least 4"),
    (["--lever", "actors.Red.doctrine=hawk,dove,hawk"], "the value hawk is given twice"),
    (["--vary", "mechanics.hazard.midpoint=60:90", "--outcome", "peace"], "the scenario's outcomes are war, deal, stalemate"),
])
def test_bad_input_is_refused(refuse, tmp_path, argv, expected):
    base = ["explore", "tutorial", "--method", "lhs", "--points", "8", "--runs-per-point", "5", "--out", str(tmp_path / "x")]
    if "--points" in argv:
        base[base.index("--points") + 1] = argv[argv.index("--points") + 1]
        argv = [a for i, a in enumerate(argv) if a != "--points" and (i == 0 or argv[i - 1] != "--points")]
    line = refuse(*base, *argv, allowed=(tmp_path,))
    assert expected in line, line
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_the_api_raises_the_same_line():
    with pytest.raises(sim.UsageError) as exc:
        sim.explore("tutorial", {"mechanics.hazard.midpont": (60, 90)}, method="lhs", points=8, runs_per_point=5)
    assert "did you mean 'midpoint'" in str(exc.value) and str(exc.value).startswith("--vary mechanics.hazard.midpont")
    with pytest.raises(sim.UsageError, match="sobol needs a power of 2"):
        sim.explore("tutorial", {"mechanics.hazard.midpoint": (60, 90)}, method="sobol", points=12, runs_per_point=5)
