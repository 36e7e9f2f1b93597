"""The bundled crises: sourced, complete, doctrines that do what their names say, sane mechanics.

Statistical checks play 2,000 games per variant; variants compared share their seeds (common
random numbers), so the margins below are many standard errors wide yet far from what a model
whose doctrines or mechanics did nothing would show.
"""
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.catalog import bundled
from sim.format.scenario import load, validate
from sim.format.source import parse_document
from sim.montecarlo.calibrate import calibrate, counts

SEEDS = Path(__file__).resolve().parents[2] / "shared"  # the project's source texts, beside the checkout
CRISES = ["korea-2017", "korea-2019", "korea-2022"]
PRESETS = {"hawk", "dove", "tit-for-tat", "maximum-pressure", "engagement", "strategic-patience"}
RUNS = 2000


@pytest.fixture(scope="module", params=CRISES)
def crisis(request) -> Rules:
    loaded = load(bundled()[request.param])
    return Rules(loaded.scenario, loaded.name)


def play(rules: Rules, runs: int = RUNS, seed: int = 11, **doctrines) -> Engine:
    return Engine(rules, seed=seed, runs=runs, record=False, doctrines=doctrines).run()


def variant(rules: Rules, edit) -> Rules:
    """The scenario with its data edited (a dict, as in the file), validated again."""
    data = rules.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    edit(data)
    scenario = validate(parse_document(yaml.safe_dump(data, sort_keys=False), "variant.yaml"))
    return Rules(scenario, rules.name)


def outcome_rate(engine: Engine, kind: str) -> float:
    kinds = np.array([o.kind for o in engine.rules.outcomes])
    return float((kinds[engine.state.outcome] == kind).mean())


def final(engine: Engine, var: str) -> np.ndarray:
    return engine.state.vars[:, engine.rules.var_index[var]]


def test_the_three_crises_are_bundled():
    assert set(CRISES) <= set(bundled())


def test_every_option_is_sourced_with_a_quote_from_its_text(crisis):
    if not (SEEDS / "seeds").is_dir():
        pytest.skip("the source texts (shared/seeds) are not beside this checkout")
    s = crisis.scenario
    texts = {}
    for ref, source in s.sources.items():
        if source.file and (SEEDS / "seeds" / source.file).exists():
            texts[ref] = (SEEDS / "seeds" / source.file).read_text()
        elif ref == "calibration" and (SEEDS / "data" / "calibration.md").exists():
            texts[ref] = (SEEDS / "data" / "calibration.md").read_text()
    for o in s.options:
        assert o.source.quote.strip(), o.id
        assert o.source.ref in texts, f"{o.id}: its source is neither a seed text nor calibration.md"
        assert " ".join(o.source.quote.split()) in " ".join(texts[o.source.ref].split()), o.id


def test_every_actor_has_a_way_up_and_a_way_down(crisis):
    for actor in crisis.actors:
        levels = [crisis.rung[o.rung].level for o in crisis.options if o.actor == actor]
        assert min(levels) < 0 < max(levels), actor


def test_the_named_doctrines_exist_and_say_what_they_do(crisis):
    assert PRESETS <= set(crisis.scenario.doctrines)
    for d in crisis.scenario.doctrines.values():
        assert d.description.strip()


def test_maximum_pressure_squeezes_the_economy_harder_than_engagement(crisis):
    pressure = final(play(crisis, US="maximum-pressure"), "DPRK.economy").mean()
    engagement = final(play(crisis, US="engagement"), "DPRK.economy").mean()
    assert pressure < engagement - 3


def test_engagement_reaches_a_deal_more_often_than_maximum_pressure(crisis):
    engage = outcome_rate(play(crisis, US="engagement", DPRK="engagement"), "deal")
    pressure = outcome_rate(play(crisis, US="maximum-pressure", DPRK="engagement"), "deal")
    assert engage > pressure + 0.05


@pytest.mark.parametrize("actor", ["DPRK", "US"])
def test_a_hawk_climbs_higher_than_a_dove(crisis, actor):
    a = crisis.actor_index[actor]
    hawk = play(crisis, **{actor: "hawk"}).state.peak[:, a].mean()
    dove = play(crisis, **{actor: "dove"}).state.peak[:, a].mean()
    assert hawk > dove + 1.0


def test_tit_for_tat_follows_its_opponent(crisis):
    """The US's position next turn moves with the DPRK's position this turn."""
    engine = play(crisis, runs=1000, US="tit-for-tat")
    history = engine.state.position_history  # [turn, world, actor]
    them = history[:-1, :, crisis.actor_index["DPRK"]].ravel()
    us = history[1:, :, crisis.actor_index["US"]].ravel()
    ok = ~(np.isnan(them) | np.isnan(us))
    assert np.corrcoef(them[ok], us[ok])[0, 1] > 0.2


def test_stricter_chinese_enforcement_hurts_the_dprk_economy(crisis):
    def strict(data):
        data["variables"]["China.enforcement"]["initial"] = data["variables"]["China.enforcement"]["max"]
        data["variables"]["China.enforcement"]["baseline"] = data["variables"]["China.enforcement"]["max"]

    lax = final(play(crisis), "DPRK.economy").mean()
    assert final(play(variant(crisis, strict)), "DPRK.economy").mean() < lax - 1


def test_a_higher_hazard_makes_war_more_likely(crisis):
    def riskier(data):
        data["mechanics"]["hazard"]["max"] = min(1.0, data["mechanics"]["hazard"]["max"] * 4)
        data["mechanics"]["hazard"]["midpoint"] -= 15

    assert outcome_rate(play(variant(crisis, riskier)), "war") > outcome_rate(play(crisis), "war") + 0.05


def test_without_strike_options_war_comes_only_from_miscalculation(crisis):
    def no_strikes(data):
        data["options"] = [o for o in data["options"] if "ends_game" not in o]
        ids = {o["id"] for o in data["options"]}
        tags = {t for o in data["options"] for t in o.get("tags", [])}
        for event in data.get("chance", []):  # an incident may escalate to war by itself: not here
            event.pop("ends_game", None)
        for d in data["doctrines"].values():  # drop what named the strikes alone
            for terms in (d, d.get("after_red_line") or {}, *d.get("rules", [])):
                terms["options"] = {k: v for k, v in terms.get("options", {}).items() if k in ids}
                terms["tags"] = {k: v for k, v in terms.get("tags", {}).items() if k in tags}
        for line in data["mechanics"].get("red_lines", []):
            line["crossed_by"] = [o for o in line["crossed_by"] if o in ids]

    engine = Engine(variant(crisis, no_strikes), seed=11, runs=RUNS, doctrines={"US": "hawk", "DPRK": "hawk"}).run()
    causes = {e.data["cause"] for e in engine.log.records if e.kind == "outcome" and e.subject == "war"}
    assert causes <= {"miscalculation"}
    with_strikes = Engine(crisis, seed=11, runs=RUNS, doctrines={"US": "hawk", "DPRK": "hawk"}).run()
    assert any(e.data["cause"] != "miscalculation" for e in with_strikes.log.records if e.kind == "outcome" and e.subject == "war")


def test_each_crisis_hides_the_dprks_economy_and_resolve_and_prepares_its_nuclear_test_covertly(crisis):
    k, us = crisis.knowledge, crisis.actor_index["US"]
    seen = {v: k.seen(us, crisis.var_index[v]).how for v in ("DPRK.economy", "DPRK.resolve", "China.enforcement")}
    assert seen["DPRK.economy"] in ("noisy", "late")  # late in korea-2019, the benchmark's crisis (README)
    assert (seen["DPRK.resolve"], seen["China.enforcement"]) == ("private", "late")
    test = crisis.option_index["dprk_nuclear_test"]
    assert test in k.covert
    assert us in [b for b, _ in k.detect[k.covert_index[test]]]


def moves_while_known(engine: Engine, actor: str, option: str, tags: set) -> tuple[int, int]:
    """The moves of `actor` tagged with any of `tags` in the turns it knew of `option`'s covert
    preparation (from the turn it detected it to the turn before it happened), and those turns."""
    rules = engine.rules
    knows = np.zeros((engine.state.size, rules.horizon + 1), dtype=bool)
    ids = {o.id for o in rules.options if o.actor == actor and set(o.tags) & tags}
    moves = []
    for ev in engine.log.records:
        if ev.kind == "detected" and ev.actor == actor and ev.subject == option:
            for w, ready in zip(ev.worlds, ev.data["ready"]):
                knows[w, ev.turn:ready] = True
        elif ev.kind == "move" and ev.actor == actor and ev.subject in ids:
            moves.append((ev.turn, ev.worlds))
    return sum(int(knows[worlds, turn].sum()) for turn, worlds in moves), int(knows.sum())


@pytest.mark.parametrize("name, actor, doctrine, tags, others", [
    ("korea-2017", "US", "maximum-pressure", {"threat", "show-of-force"}, {}),
    ("korea-2017", "ROK", "tit-for-tat", {"alliance"}, {}),
    ("korea-2019", "US", "strategic-patience", {"un"}, {"DPRK": "hawk"}),  # the default DPRK hardly ever tests
])
def test_a_detected_nuclear_test_preparation_moves_the_side_that_saw_it(name, actor, doctrine, tags, others):
    """Its rule on `prepared(dprk_nuclear_test)`, read on its own view, makes the actor's warnings
    likelier in the weeks it knows of the preparation: against the same doctrine without its
    rules, on the same seeds (the same detections), about twice the moves (2017 US: 426 against
    253 in about 1,900 such weeks), where doing nothing would give the same count."""
    loaded = load(bundled()[name])
    rules = Rules(loaded.scenario, loaded.name)
    blind = variant(rules, lambda data: data["doctrines"][doctrine].pop("rules"))
    (seeing, weeks), (not_reading, same_weeks) = (
        moves_while_known(Engine(r, seed=11, runs=RUNS, doctrines=others).run(), actor, "dprk_nuclear_test", tags)
        for r in (rules, blind))
    assert weeks > 300 and abs(weeks - same_weeks) < 0.1 * weeks
    assert seeing > 1.3 * not_reading


def test_calibrate_reports_every_measure_beside_the_real_figure(crisis):
    result = calibrate(crisis, runs=500, seed=3)
    measures = {m["id"]: m for m in result["measures"]}
    assert {"launch_days", "icbm_tests", "nuclear_tests", "resolutions"} <= set(measures)
    for m in measures.values():
        assert m["p10"] <= m["median"] <= m["p90"]
        assert m["real"] == next(x.real for x in crisis.scenario.calibration.measures if x.id == m["id"])


def test_a_measure_with_dates_counts_only_between_them(crisis):
    """Launches counted before a date and from it add up to the launches of the whole game, game
    by game (one engine plays them: the split must not change the games)."""
    split = crisis.date(crisis.horizon // 2)
    last = crisis.date(crisis.horizon // 2 - 1)

    def edit(data):
        whole = next(m for m in data["calibration"]["measures"] if m["id"] == "launch_days")
        data["calibration"]["measures"] = [
            whole,
            {**whole, "id": "early", "end": last.isoformat()},
            {**whole, "id": "late", "start": split.isoformat()},
        ]

    engine = Engine(variant(crisis, edit), seed=5, runs=500, record=False)
    counted = counts(engine)
    assert np.array_equal(counted["early"] + counted["late"], counted["launch_days"])
    assert counted["early"].sum() > 0 and counted["late"].sum() > 0
    assert np.array_equal(counted["launch_days"], calibrate_counts_of_a_whole_game(crisis, seed=5))


def calibrate_counts_of_a_whole_game(rules: Rules, seed: int) -> np.ndarray:
    engine = play(rules, runs=500, seed=seed)
    columns = [i for i, o in enumerate(rules.options) if "launch" in o.tags and o.actor == "DPRK"]
    return engine.state.counts[:, columns].sum(axis=1).astype(float)


def test_every_real_figure_lies_within_the_simulated_10_to_90_band(crisis):
    """The README's calibration table: 2,000 games of each crisis with its default doctrines."""
    result = calibrate(crisis, runs=RUNS, seed=0)
    outside = [(m["label"], m["real"], m["p10"], m["p90"]) for m in result["measures"] if not m["within_p10_p90"]]
    assert not outside
