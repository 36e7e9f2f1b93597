"""`ladder compare` and `ladder sweep`: variants and grid points played over the same runs.

Batches are small (400-600 runs, one worker): comparisons over common random numbers are tight
enough at that size for the effects checked here, which are large.
"""
import contextlib
import io
import json
import shlex

import pytest
import yaml
from conftest import one_error_line

from sim.cli import main
from sim.format.model import digest
from sim.format.words import percent
from sim.format.scenario import open_scenario
from sim.montecarlo.compare import parse_spec
from sim.montecarlo.sweep import locate, sweep_points

SMALL = ["--chunk", "200", "--workers", "1"]


def quiet(*argv) -> tuple[int, str]:
    """main() with its stdout captured (for module-scoped fixtures, where capsys is not available)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def itself(tmp_path_factory):
    """korea-2019 compared with itself; --json."""
    out = tmp_path_factory.mktemp("compare") / "self"
    code, printed = quiet("compare", "korea-2019", "korea-2019", "--runs", "400", "--seed", "3", "--out", str(out), "--json", *SMALL)
    assert code == 0
    return out, json.loads(printed)


def test_a_scenario_against_itself_differs_by_exactly_zero_with_an_honest_interval(itself):
    """Identical runs differ by zero, but the interval is about the chances, not these runs: it stays
    open (a normal interval on the per-run differences collapsed to [0, 0])."""
    _, c = itself
    first, second = (v["summary"]["outcomes"] for v in c["variants"])
    assert first == second
    for rows in c["differences"].values():
        ((d),) = rows
        assert d["diff"] == 0 and d["ci95"][0] < 0 < d["ci95"][1] and d["p"] == d["p_holm"] == 1.0
    assert c["multiplicity"] == {"method": "holm", "comparisons": len(c["differences"])}


def test_comparison_json_follows_the_contract_and_the_report_has_both_sections(itself):
    out, printed = itself
    c = json.loads((out / "comparison.json").read_text())
    assert c == printed
    assert {"seed", "runs", "variants", "differences", "multiplicity"} <= set(c) and (c["seed"], c["runs"]) == (3, 400)
    assert [set(v) for v in c["variants"]] == [{"name", "spec", "summary"}] * 2
    names = [v["name"] for v in c["variants"]]
    assert names[0] == "korea-2019" and len(set(names)) == 2  # a repeated spec is told apart
    assert list(c["differences"]) == list(c["variants"][0]["summary"]["outcomes"])
    assert all(set(d) == {"variant", "diff", "ci95", "p", "p_holm"} and d["variant"] == names[1] for rows in c["differences"].values() for d in rows)
    page = (out / "report.html").read_text()
    assert 'id="variant-probabilities"' in page and 'id="paired-differences"' in page
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "compare" and manifest["seed"] == 3 and manifest["runs"] == 400
    assert not manifest["partial"] and manifest["arguments"]["variants"] == ["korea-2019", "korea-2019"]
    assert [m["folder"] for m in manifest["members"]] == ["variant-1", "variant-2"]
    for k in (1, 2):  # each variant is an ordinary batch folder, but for its report: the comparison draws one for all
        assert (out / f"variant-{k}" / "runs.parquet").exists() and not (out / f"variant-{k}" / "report.html").exists()
        assert json.loads((out / f"variant-{k}" / "summary.json").read_text()) == c["variants"][k - 1]["summary"]


def no_strikes_file(tmp_path):
    """korea-2019 without the options that end the game, and without what named only them."""
    data = open_scenario("korea-2019").scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["options"] = [o for o in data["options"] if "ends_game" not in o]
    ids = {o["id"] for o in data["options"]}
    tags = {t for o in data["options"] for t in o.get("tags", [])}
    for d in data["doctrines"].values():
        for terms in (d, d.get("after_red_line") or {}):
            terms["options"] = {k: v for k, v in terms.get("options", {}).items() if k in ids}
            terms["tags"] = {k: v for k, v in terms.get("tags", {}).items() if k in tags}
    for line in data["mechanics"].get("red_lines", []):
        line["crossed_by"] = [o for o in line["crossed_by"] if o in ids]
    path = tmp_path / "no-strikes.scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def test_without_strike_options_war_is_less_likely_and_the_table_fits(tmp_path, capsys):
    hawks = "--doctrine US=hawk --doctrine DPRK=hawk"
    variant = f"{shlex.quote(str(no_strikes_file(tmp_path)))} {hawks}"
    code = main(["compare", f"korea-2019 {hawks}", variant, "--runs", "400", "--seed", "2", "--out", str(tmp_path / "out"), *SMALL])
    out, err = capsys.readouterr()
    assert code == 0, err
    c = json.loads((tmp_path / "out" / "comparison.json").read_text())
    (war,) = c["differences"]["war"]
    assert war["diff"] < 0 and war["ci95"][1] < 0
    assert c["variants"][1]["name"] == variant
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    war_rows = lines[lines.index("  War on the Korean Peninsula") + 1:][:2]
    assert war_rows[0].startswith("    [1] ") and war_rows[1].rstrip().endswith("*")  # Holm-adjusted p < 0.05
    assert war["p_holm"] < 0.05 and "Holm-adjusted over 4 comparisons" in out


def test_a_sweep_of_the_hazard_raises_war_and_the_table_fits(tmp_path, capsys):
    code = main(["sweep", "korea-2019", "--set", "mechanics.hazard.max=0.01,0.2", "--runs", "600", "--seed", "1",
                 "--out", str(tmp_path / "s"), *SMALL])
    out, err = capsys.readouterr()
    assert code == 0, err
    s = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert s["parameters"] == [{"path": "mechanics.hazard.max", "values": [0.01, 0.2]}]
    low, high = s["points"]
    assert low["values"] == {"mechanics.hazard.max": 0.01} and high["folder"] == "point-2"
    assert high["outcomes"]["war"]["p"] > low["outcomes"]["war"]["p"]
    assert all(o["ci95"][0] <= o["p"] <= o["ci95"][1] for pt in s["points"] for o in pt["outcomes"].values())
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit() and line.split()[0] in ("1", "2")]
    assert [r[1] for r in rows] == ["0.01", "0.2"]
    lines = out.splitlines()
    for pt in s["points"]:  # under each point's row, each outcome's interval
        (k,) = [i for i, line in enumerate(lines) if line.split()[:1] == [str(pt["point"])]]
        intervals = lines[k + 1].split()
        assert intervals == [f"{percent(o['ci95'][0])}-{percent(o['ci95'][1])}" for o in pt["outcomes"].values()]
    assert s["multiplicity"] == {"method": "holm", "comparisons": 4} and "Holm-adjusted over 4 comparisons" in out
    assert s["differences"]["war"][0]["p_holm"] < 0.05 and rows[1][2].endswith("%*")  # war differs at the high hazard
    page = (tmp_path / "s" / "sweep.html").read_text()
    assert page.count("data:image/svg+xml;base64,") == 1 and 'data-point="2"' in page and "<script" not in page
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["command"] == "sweep"
    assert not list((tmp_path / "s").glob("point-*/report.html"))  # one combined report: sweep.html


def test_a_sweep_point_at_the_scenarios_own_value_is_the_scenario():
    """The point is rebuilt from data and validated again; nothing else changes, actors keep their order."""
    loaded = open_scenario("korea-2019")
    (point,) = sweep_points(loaded, [("mechanics.hazard.max", [loaded.scenario.mechanics.hazard.max])], seed=0)
    assert digest(point.job.scenario) == digest(loaded.scenario)
    assert list(point.job.scenario.actors) == list(loaded.scenario.actors)


def test_paths_take_the_longest_key_and_list_items_by_id():
    data = open_scenario("korea-2019").scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    container, key = locate(data, "variables.China.enforcement.initial")
    assert container is data["variables"]["China.enforcement"] and key == "initial"
    container, key = locate(data, "options.dprk_icbm.success")
    assert container["id"] == "dprk_icbm" and key == "success"
    assert locate(data, "actors.China.doctrine") == (data["actors"]["China"], "doctrine")


def test_a_spec_is_a_scenario_and_doctrines():
    assert parse_spec("korea-2019") == ("korea-2019", [])
    assert parse_spec("'my file.yaml' --doctrine US=hawk --doctrine=DPRK=dove") == ("my file.yaml", ["US=hawk", "DPRK=dove"])


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["sweep", "korea-2019", "--set", "mechanics.hazrd.max=0.01,0.2", "--runs", "10"], "did you mean 'hazard'?"),
        (["sweep", "korea-2019", "--set", "options.dprk_icbm.success=0.5,1.5", "--runs", "10"],
         "sweep point 2 of 2 (options.dprk_icbm.success=1.5): options[13].success: input should be less than or equal to 1"),
        (["sweep", "korea-2019", "--set", "variables.China.enforcment.initial=1", "--runs", "10"], "did you mean 'China.enforcement'?"),
        (["sweep", "korea-2019", "--set", "options.dprk_icbm=1", "--runs", "10"], "names a whole mapping"),
        (["sweep", "korea-2019", "--set", "mechanics.hazard.max", "--runs", "10"], "expected PATH=V1,V2,..."),
        (["sweep", "korea-2019", "--set", "actors.US.doctrine=hawkk", "--runs", "10"], "unknown doctrine 'hawkk' (did you mean 'hawk'?)"),
        (["sweep", "korea-2019", "--set", "mechanics.hazard.max=0.1"], "required: --runs"),
        (["compare", "korea-2019", "korea-2019 --bogus", "--runs", "10"], "variant 'korea-2019 --bogus': unexpected '--bogus'"),
        (["compare", "korea-2019", "korea-2019 --doctrine US=hawkk", "--runs", "10"], "variant 'korea-2019 --doctrine US=hawkk'"),
        (["compare", "korea-2019", "korea-2019 --doctrine", "--runs", "10"], "--doctrine needs ACTOR=PRESET"),
        (["compare", "korea-2019", "korea-2019 'open", "--runs", "10"], "No closing quotation"),
        (["compare", "korea-2019", "korea-2091", "--runs", "10"], "unknown scenario 'korea-2091'"),
        (["compare", "korea-2019", "--runs", "10"], "at least two variants"),
        (["compare", "korea-2019", "tutorial", "--runs", "10"], "variants must share the scenario's outcomes"),
        (["compare", "korea-2019", "korea-2017", "--runs", "10", "--out", "/proc/nope"], "cannot write to /proc/nope"),
    ],
)
def test_bad_input_gets_one_clear_line(capsys, argv, expected):
    assert expected in one_error_line(capsys, *argv)


def test_an_output_folder_that_holds_results_is_refused(itself, capsys):
    out, _ = itself
    assert "already holds results" in one_error_line(capsys, "compare", "korea-2019", "korea-2017", "--runs", "10", "--out", str(out))
