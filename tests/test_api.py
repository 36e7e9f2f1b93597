"""`import sim`: the same games and batches as the command line, variants by dotted path, and
batch outputs a researcher can stack and query (tidy names, provenance, events, trajectories)."""
import json
import re
import sqlite3
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest
from conftest import DATA, ladder, one_error_line

import sim
from sim.cli import main

RUNS, CHUNK, SEED = 120, 50, 4


@pytest.fixture(scope="module")
def korea():
    return sim.load("korea-2019")


@pytest.fixture(scope="module")
def full(tmp_path_factory, korea):
    """A batch with every output, by the command line."""
    out = tmp_path_factory.mktemp("full") / "batch"
    code = main(["batch", "korea-2019", "--runs", str(RUNS), "--seed", str(SEED), "--chunk", str(CHUNK),
                         "--workers", "1", "--out", str(out), "--events", "--trajectories", "tension,DPRK.economy", "--json"])
    assert code == 0
    return out


def test_importing_sim_stays_light():
    done = subprocess.run([sys.executable, "-c", "import sim, sys; print(sorted({'numpy', 'pyarrow', 'matplotlib', 'simpy'} & set(sys.modules)))"],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_run_is_ladder_run(capsys, korea):
    code, out, _ = ladder(capsys, "run", "korea-2019", "--seed", "3", "--run", "2", "--doctrine", "US=engagement", "--json")
    game = sim.run(korea, seed=3, run=2, doctrines={"US": "engagement"})
    assert code == 0 and json.loads(out) == json.loads(json.dumps(game.record))
    assert (game.outcome, game.cause, game.end_turn) == (game.record["outcome"], game.record["cause"], game.record["end_turn"])
    assert game.events[-1]["kind"] == "outcome" and "DPRK.economy" in game.final_state


def test_batch_is_ladder_batch_and_leaves_nothing_on_disk(full, korea, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where a stray file would be left
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    result = sim.batch(korea, runs=RUNS, seed=SEED, chunk=CHUNK, events=True, trajectories=["tension", "DPRK.economy"])
    assert list(tmp_path.iterdir()) == []
    assert result.runs.equals(pq.read_table(full / "runs.parquet"))
    assert result.turns.equals(pq.read_table(full / "turns.parquet"))
    assert result.events.equals(pq.read_table(full / "events.parquet"))
    assert result.trajectories.equals(pq.read_table(full / "trajectories.parquet"))
    assert result.summary == json.loads((full / "summary.json").read_text()) and result.folder is None


def test_batch_into_a_folder_without_a_report(tmp_path, korea):
    result = sim.batch(korea, runs=60, seed=1, chunk=30, out=tmp_path / "b", report=False)
    assert result.folder == tmp_path / "b" and result.runs.num_rows == 60
    assert not (tmp_path / "b" / "report.html").exists() and (tmp_path / "b" / "summary.json").exists()


def test_no_report_writes_no_report(capsys, tmp_path):
    code, _, _ = ladder(capsys, "batch", "tutorial", "--runs", "40", "--workers", "1", "--out", str(tmp_path / "b"), "--no-report")
    assert code == 0 and not (tmp_path / "b" / "report.html").exists() and (tmp_path / "b" / "runs.parquet").exists()


def test_compare_takes_scenarios_made_in_python(tmp_path):
    """A with_values variant, and one with doctrines, compare as the same variants written as files."""
    tutorial = sim.load("tutorial")
    hot = tutorial.with_values({"mechanics.hazard.midpoint": 60})
    (tmp_path / "hot.scenario.yaml").write_text("extends: tutorial\nmechanics: {hazard: {midpoint: 60}}\n")
    made = sim.compare([tutorial, hot, (tutorial, {"Red": "dove"})], runs=300, seed=4)
    written = sim.compare(["tutorial", str(tmp_path / "hot.scenario.yaml"), "tutorial --doctrine Red=dove"], runs=300, seed=4)
    numbers = lambda c: {o: [{k: v for k, v in d.items() if k != "variant"} for d in ds] for o, ds in c["differences"].items()}  # noqa: E731
    assert numbers(made) == numbers(written) and made["differences"]
    assert [v["name"] for v in made["variants"]] == ["tutorial", "tutorial mechanics.hazard.midpoint=60",
                                                       "tutorial --doctrine Red=dove"]
    with pytest.raises(sim.UsageError, match="a spec, a Scenario"):
        sim.compare([tutorial, 3], runs=10)


def test_compare_is_ladder_compare(capsys, tmp_path):
    variants = ["korea-2019", "korea-2019 --doctrine US=engagement"]
    code, out, _ = ladder(capsys, "compare", *variants, "--runs", "60", "--seed", "2", "--workers", "1", "--out", str(tmp_path / "c"), "--json")
    assert code == 0 and sim.compare(variants, runs=60, seed=2) == json.loads(out)
    runs = pq.read_table(tmp_path / "c" / "variant-2" / "runs.parquet")
    assert set(runs.column("variant").to_pylist()) == {"korea-2019 --doctrine US=engagement"}


def test_with_values_equals_an_extends_variant(tmp_path, korea):
    variant = tmp_path / "v.scenario.yaml"
    variant.write_text("extends: korea-2019\n"
                       "mechanics: {hazard: {midpoint: 80}}\n"
                       "actors: {DPRK: {values: {DPRK.capability: {weight: 2}}}}\n")
    changed = korea.with_values({"mechanics.hazard.midpoint": 80, "actors.DPRK.values.DPRK.capability.weight": 2})
    assert changed.model == sim.load(variant).model and changed.digest == sim.load(variant).digest != korea.digest
    assert changed.label == "korea-2019 mechanics.hazard.midpoint=80 actors.DPRK.values.DPRK.capability.weight=2"
    assert sim.with_values("korea-2019", {"options.dprk_icbm.success": 0.5}).model.options != korea.model.options


@pytest.mark.parametrize("values, message", [
    ({"mechanics.hazard.midpont": 80}, "unknown key 'midpont' under 'mechanics.hazard' (did you mean 'midpoint'?)"),
    ({"options.dprk_icmb.success": 0.5}, "unknown id 'dprk_icmb' under 'options' (did you mean 'dprk_icbm'?)"),
    ({"mechanics.hazard.midpoint.x": 1}, "mechanics.hazard.midpoint is a single value"),
    ({"mechanics.hazard.midpoint": "high"}, "input should be a valid number"),
    ({"options.dprk_icbm.id": "x"}, "an id cannot be changed"),
])
def test_bad_values_are_refused_with_one_line(korea, values, message):
    with pytest.raises(sim.UsageError) as caught:
        korea.with_values(values)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_bad_arguments_are_one_clear_error(korea):
    with pytest.raises(sim.LadderError, match="unknown doctrine 'engagment'.*did you mean 'engagement'"):
        sim.run(korea, doctrines={"US": "engagment"})
    with pytest.raises(sim.UsageError, match="seed: expected a whole number"):
        sim.run(korea, seed=-1)
    with pytest.raises(sim.UsageError, match="unknown variable 'tenson'"):
        sim.batch(korea, runs=10, trajectories=["tenson"])
    with pytest.raises(sim.ScenarioError, match="no such file"):
        sim.load("nowhere/x.scenario.yaml")


def test_column_names_need_no_quotes_in_sql(full):
    for name in ("runs", "turns", "events", "trajectories"):
        table = pq.read_table(full / f"{name}.parquet")
        assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c) for c in table.column_names), name
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE TABLE t ({', '.join(table.column_names)})")  # unquoted: fails on a dot or a hyphen
        db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * table.num_columns)})", zip(*table.to_pydict().values()))
        assert db.execute(f"SELECT count(*) FROM t WHERE {table.column_names[-1]} IS NOT NULL OR 1").fetchone()[0] == table.num_rows
    runs = pq.read_table(full / "runs.parquet")
    names = json.loads(runs.schema.metadata[b"ladder_names"])
    assert names["final_DPRK_economy"] == "final_DPRK.economy" and "final_DPRK_economy" in runs.column_names
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE runs (outcome, final_DPRK_economy)")
    db.executemany("INSERT INTO runs VALUES (?, ?)", zip(runs.column("outcome").to_pylist(), runs.column("final_DPRK_economy").to_pylist()))
    assert db.execute("SELECT count(*) FROM runs WHERE final_DPRK_economy >= 0").fetchone()[0] == RUNS


def test_a_parquet_glob_of_the_folder_counts_each_run_once(full):
    found = sorted(str(p.relative_to(full)) for p in full.glob("**/*.parquet"))
    assert found == ["events.parquet", "runs.parquet", "trajectories.parquet", "turns.parquet"]
    per_run = [p for p in full.glob("**/*.parquet") if "outcome" in pq.read_schema(p).names]
    assert [pq.read_metadata(p).num_rows for p in per_run] == [RUNS]


def test_provenance_columns_say_where_each_row_came_from(full):
    manifest = json.loads((full / "manifest.json").read_text())
    for name in ("runs", "turns", "events", "trajectories"):
        table = pq.read_table(full / f"{name}.parquet")
        assert table.column_names[:4] == ["scenario", "variant", "digest", "seed"], name
        for column, value in (("scenario", "korea-2019"), ("variant", "korea-2019"), ("digest", manifest["digest"]), ("seed", SEED)):
            assert set(table.column(column).to_pylist()) == {value}, (name, column)


def test_events_and_trajectories_are_those_of_the_single_games(full, korea):
    events = pq.read_table(full / "events.parquet").to_pydict()
    paths = pq.read_table(full / "trajectories.parquet").to_pydict()
    assert events["run"] == sorted(events["run"]) and set(events["run"]) == set(range(RUNS))
    for run in (0, CHUNK - 1, CHUNK, RUNS - 1):  # either side of a chunk's edge
        game = sim.run(korea, seed=SEED, run=run)
        rows = [k for k, r in enumerate(events["run"]) if r == run]
        assert len(rows) == len(game.events)
        for k, ev in zip(rows, game.events):
            for key in ("turn", "kind", "actor", "subject", "success", "cause", "var", "delta", "topic", "passed"):
                assert events[key][k] == ev.get(key), (run, key, ev)
        turns = [k for k, r in enumerate(paths["run"]) if r == run]
        assert [paths["turn"][k] for k in turns] == list(range(game.end_turn + 1))
        last = turns[-1]
        assert paths["tension"][last] == pytest.approx(game.final_state["tension"], abs=5e-4)
        assert paths["DPRK_economy"][last] == pytest.approx(game.final_state["DPRK.economy"], abs=5e-4)


def test_events_and_trajectories_do_not_depend_on_workers_or_chunks(full, tmp_path):
    other = tmp_path / "k2"
    assert main(["batch", "korea-2019", "--runs", str(RUNS), "--seed", str(SEED), "--chunk", "70", "--workers", "2",
                         "--out", str(other), "--events", "--trajectories", "tension,DPRK.economy", "--no-report", "--json"]) == 0
    for name in ("runs", "turns", "events", "trajectories"):
        assert (other / f"{name}.parquet").read_bytes() == (full / f"{name}.parquet").read_bytes(), name


def test_a_folder_written_before_resumes(full, tmp_path):
    """Chunk files named .parquet, a manifest without the new keys: read, renamed, the same results."""
    old = tmp_path / "old"
    assert main(["batch", "korea-2019", "--runs", str(RUNS), "--seed", str(SEED), "--chunk", str(CHUNK),
                         "--workers", "1", "--out", str(old), "--json"]) == 0
    for p in (old / "chunks").glob("runs-*.chunk"):
        p.rename(p.with_suffix(".parquet"))
    manifest = json.loads((old / "manifest.json").read_text())
    for key in ("variant", "events", "trajectories"):
        del manifest[key]
    (old / "manifest.json").write_text(json.dumps(manifest | {"partial": True}))
    (old / "chunks" / f"agg-{CHUNK:012d}.npz").unlink()  # one chunk to play again
    for name in ("runs.parquet", "turns.parquet", "summary.json", "report.html"):
        (old / name).unlink()
    assert main(["batch", "--resume", str(old), "--workers", "1", "--json"]) == 0
    assert (old / "runs.parquet").read_bytes() == (full / "runs.parquet").read_bytes()
    assert not list(old.glob("chunks/*.parquet"))


def test_new_flags_take_bad_input_in_one_line(capsys, tmp_path):
    line = one_error_line(capsys, "batch", "korea-2019", "--runs", "5", "--out", str(tmp_path / "x"), "--trajectories", "tenson")
    assert "--trajectories: unknown variable 'tenson' (did you mean 'tension'?)" in line
    line = one_error_line(capsys, "batch", "korea-2019", "--runs", "5", "--trajectories", ",")
    assert "expected variables separated by commas" in line
    line = one_error_line(capsys, "batch", "--resume", str(tmp_path), "--events")
    assert "--resume DIR takes no --events" in line


def test_the_results_of_several_commands_are_one_partitioned_dataset(tmp_path):
    # a comparison and a batch of another scenario (other columns: their union), in one folder
    sim.compare(["tutorial", "tutorial --doctrine Red=hawk"], runs=60, seed=2, out=tmp_path / "compare")
    sim.batch(str(DATA / "mechanics.scenario.yaml"), runs=40, seed=5, out=tmp_path / "batch", report=False)
    table = sim.dataset(tmp_path).to_table()
    rows = list(zip(*(table.column(c).to_pylist() for c in ("member", "variant", "seed"))))
    assert sorted(set(rows)) == [("batch", "mechanics", 5), ("compare", "tutorial", 2), ("compare", "tutorial --doctrine Red=hawk", 2)]
    assert sorted(rows.count(key) for key in set(rows)) == [40, 60, 60]
    mechanics = table.filter(pa.compute.equal(table.column("variant"), "mechanics"))
    assert mechanics.column("moves_a_strike").null_count == 0  # a column the tutorial lacks, kept for the rows that have it
    assert table.column("moves_a_strike").null_count == 120
    assert sim.dataset(tmp_path / "batch").to_table().column("member").null_count == 40  # a batch folder's own file: no member
    with pytest.raises(sim.UsageError, match="no events.parquet"):
        sim.dataset(tmp_path, "events")
    with pytest.raises(sim.UsageError, match="no such folder"):
        sim.dataset(tmp_path / "nowhere")
