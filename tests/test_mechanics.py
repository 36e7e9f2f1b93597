"""The engine's mechanics, each driven by a script through the steppable API."""
import numpy as np
import pytest
from conftest import DATA, play, var

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import validate
from sim.format.source import parse_document

ALL = ("A", "B", "C")


def scripted(rules, moves, until_turn=None, seed=1):
    return play(Engine(rules, seed=seed, humans=ALL), moves, until_turn)


def variant(old: str, new: str) -> Rules:
    """The mechanics scenario with one piece of its text replaced."""
    text = (DATA / "mechanics.scenario.yaml").read_text()
    assert old in text
    return Rules(validate(parse_document(text.replace(old, new), "variant.yaml")), "variant")


AID = "effects: [{var: B.economy, delta: 8, over: 4}]"


def resolved(engine):
    return [e for e in engine.log.for_world(0) if e["kind"] == "resolved"]


def test_a_veto_blocks_a_resolution(mechanics):
    vetoed = scripted(mechanics, {(0, "A"): "a-resolution", (0, "C"): "c-veto"}, until_turn=3)
    passed = scripted(mechanics, {(0, "A"): "a-resolution", (0, "C"): "c-yes"}, until_turn=3)
    assert [e["passed"] for e in resolved(vetoed)] == [False]
    assert var(vetoed, "B.economy") == 60
    assert [e["passed"] for e in resolved(passed)] == [True]
    assert var(passed, "B.economy") == 40


def test_a_refused_proposal_opens_no_talks(mechanics):
    refused = scripted(mechanics, {(0, "A"): "a-offer", (0, "B"): "b-refuse"}, until_turn=4)
    ignored = scripted(mechanics, {(0, "A"): "a-offer"}, until_turn=4)
    accepted = scripted(mechanics, {(0, "A"): "a-offer", (1, "B"): "b-accept"}, until_turn=4)
    for engine in (refused, ignored):
        assert var(engine, "talks.open") == 0
        assert var(engine, "tension") == 45  # the refusal's cost, from the proposal's `when: failure` effect
        assert [e["passed"] for e in resolved(engine)] == [False]
    assert var(accepted, "talks.open") == 1
    assert var(accepted, "tension") == 40


def test_proposals_closing_together_resolve_in_the_order_they_were_made(mechanics):
    # talks (window 2) offered in turn 0 and a resolution (window 1) in turn 1 both close in turn 2
    engine = scripted(mechanics, {(0, "A"): "a-offer", (1, "A"): "a-resolution", (1, "B"): "b-accept"}, until_turn=3)
    assert [(e["turn"], e["subject"], e["passed"]) for e in resolved(engine)] == [(2, "a-offer", True), (2, "a-resolution", True)]


def test_a_pending_proposal_survives_a_fork(mechanics):
    engine = Engine(mechanics, seed=1, humans=ALL)
    play(engine, {(0, "A"): "a-offer"}, until_turn=1)
    rollouts = engine.fork(30, humans=ALL)
    play(rollouts, {(1, "B"): "b-accept"}, until_turn=4)
    assert (rollouts.state.vars[:, mechanics.var_index["talks.open"]] == 1).all()


def test_talks_open_only_what_requires_them(mechanics):
    engine = Engine(mechanics, seed=1, humans=ALL)
    assert engine.advance().actor == "A"
    assert dict(engine.why_not("A"))["a-meet"] == "requires talks.open"
    assert dict(engine.why_not("A"))["a-warn"] is None
    with pytest.raises(ValueError, match="requires talks.open"):
        engine.submit("A", "a-meet")


def test_sanctions_act_after_their_lag_and_scale_with_enforcement(mechanics):
    lax = {(0, "A"): "a-sanction"}
    strict = {(0, "A"): "a-sanction", (0, "C"): "c-enforce"}
    economy = {}
    for name, moves in (("lax", lax), ("strict", strict)):
        engine = Engine(mechanics, seed=1, humans=ALL)
        series = []
        for turn in range(1, 6):
            play(engine, moves, until_turn=turn)
            series.append(var(engine, "B.economy"))
        economy[name] = series
    # lag 3: nothing in turns 0-2, the whole effect lands in turn 3
    assert economy["lax"] == [60, 60, 60, 50, 50]
    # scale C.enforcement / 50: 50 -> x1, 90 after enforcing -> x1.8
    assert economy["strict"][:3] == [60, 60, 60]
    assert economy["strict"][3] == pytest.approx(60 - 18)


def test_a_strike_ends_the_game_in_war(mechanics):
    engine = scripted(mechanics, {(2, "A"): "a-strike"})
    assert engine.finished
    assert mechanics.outcomes[engine.state.outcome[0]].kind == "war"
    assert engine.state.end_turn[0] == 2
    assert max(e["turn"] for e in engine.log.for_world(0)) == 2


def test_talks_reaching_the_threshold_end_in_a_deal(mechanics):
    moves = {(0, "A"): "a-offer", (0, "B"): "b-accept", (2, "A"): "a-meet", (3, "A"): "a-meet"}
    engine = scripted(mechanics, moves)
    assert mechanics.outcomes[engine.state.outcome[0]].id == "deal"
    assert engine.state.end_turn[0] == 3


def test_the_horizon_ends_it_otherwise(mechanics):
    engine = scripted(mechanics, {})
    assert mechanics.outcomes[engine.state.outcome[0]].kind == "horizon"
    assert engine.state.end_turn[0] == mechanics.horizon - 1


def test_crossing_a_red_line_changes_the_responding_doctrine(mechanics):
    """A's doctrine is calm until B tests (its red line), then climbs: compare over 400 worlds."""
    peaks = {}
    for b_move in ("b-test", "b-calm"):
        engine = Engine(mechanics, seed=5, runs=400, humans=("B", "C"), doctrines={"A": "redline-responder"})
        play(engine, {(0, "B"): b_move}, until_turn=4)
        a = mechanics.actor_index["A"]
        peaks[b_move] = engine.state.peak[:, a].mean()
        crossed = engine.state.red_line[:, 0]
        tested = engine.state.counts[:, mechanics.option_index["b-test"]] > 0
        assert np.array_equal(crossed, tested)
        assert tested.mean() > 0.8 if b_move == "b-test" else not tested.any()
    assert peaks["b-test"] > peaks["b-calm"] + 3


def test_thresholds_are_dated_when_first_crossed(mechanics):
    engine = scripted(mechanics, {(1, "B"): "b-test", (3, "B"): "b-test"}, until_turn=6)
    crossings = [e for e in engine.log.for_world(0) if e["kind"] == "threshold"]
    assert [(e["turn"], e["subject"], e["actor"]) for e in crossings] == [(1, "intense", "B")]
    assert engine.state.threshold_turn[0, 0] == 1


def test_positions_cool_toward_zero(mechanics):
    engine = scripted(mechanics, {(0, "B"): "b-test"}, until_turn=3)
    b = mechanics.actor_index["B"]
    assert engine.state.peak[0, b] == 6
    assert engine.state.position[0, b] == 6 - 3 * mechanics.scenario.ladder.cooling


def test_a_human_cannot_take_an_unavailable_move_or_act_out_of_turn(mechanics):
    engine = Engine(mechanics, seed=1, humans=ALL)
    decision = engine.advance()
    assert decision.actor == "A"
    with pytest.raises(ValueError, match="not B's turn"):
        engine.submit("B", "b-test")
    with pytest.raises(ValueError, match="no such option"):
        engine.submit("A", "b-test")


def test_fork_carries_moves_in_flight_into_every_rollout(mechanics):
    engine = Engine(mechanics, seed=2, humans=ALL)
    play(engine, {(0, "A"): "a-sanction"}, until_turn=1)
    decision = engine.advance()
    assert (decision.actor, decision.turn) == ("A", 1)
    rollouts = engine.fork(50, force={"A": "a-warn"})
    play(rollouts, {}, until_turn=4)
    economy = rollouts.state.vars[:, mechanics.var_index["B.economy"]]
    assert rollouts.state.size == 50
    assert (rollouts.state.counts[:, mechanics.option_index["a-warn"]] >= 1).all()
    # the sanction taken before the fork landed in turn 3 in every rollout (scaled by each one's enforcement)
    assert (economy < 60).all()


def test_a_prepared_move_happens_when_ready_and_survives_a_fork(mechanics):
    # the launch takes two turns to prepare, the drill one: both are ready in turn 2, in one world
    engine = Engine(mechanics, seed=2, humans=ALL)
    play(engine, {(0, "B"): "b-launch"}, until_turn=1)
    assert var(engine, "tension") == 40
    assert engine.advance().turn == 1
    assert dict(engine.why_not("B"))["b-launch"] == "in preparation"
    rollouts = engine.fork(20, force={"A": None}, humans=ALL)
    for game in (engine, rollouts):
        play(game, {(1, "B"): "b-drill"}, until_turn=2)
        assert game.state.vars[:, mechanics.var_index["tension"]] == pytest.approx(40)
        play(game, {}, until_turn=3)
        assert game.state.vars[:, mechanics.var_index["tension"]] == pytest.approx(48)
    launched = [e["turn"] for e in engine.log.for_world(0) if (e["kind"], e["subject"]) == ("move", "b-launch")]
    assert launched == [2]


def test_forks_are_reproducible_and_their_rollouts_differ(mechanics):
    engine = Engine(mechanics, seed=2, runs=1)
    engine.advance(until_turn=3)
    first = engine.fork(200).run()
    second = engine.fork(200).run()
    assert np.array_equal(first.state.outcome, second.state.outcome)
    assert np.array_equal(first.state.vars, second.state.vars)
    assert len({tuple(row) for row in first.state.counts}) > 20


def test_doctrine_scores_follow_the_documented_formula():
    """Score differences (all a softmax sees) match a plain per-world reading of the formula."""
    from sim.engine.doctrine import Doctrine

    mechanics = variant("hazard: {max: 0.0, midpoint: 90, steepness: 0.2}", "hazard: {max: 0.3, midpoint: 45, steepness: 0.2}")
    engine = Engine(mechanics, seed=4, runs=50)
    engine.advance(until_turn=5)  # varied states: tension, positions, economy differ by world
    st, a = engine.state, mechanics.actor_index["A"]
    for name in ("hawk", "dove", "tit-for-tat"):
        spec = mechanics.scenario.doctrines[name]
        got = Doctrine(mechanics, a, name, spec).scores(mechanics, st, turn=5).astype(float)
        h = mechanics.scenario.mechanics.hazard
        hazard = lambda t: h.max / (1 + np.exp(-h.steepness * (t - h.midpoint)))  # noqa: E731
        values = mechanics.scenario.actors["A"].values
        for w in range(st.size):
            tension = st.vars[w, mechanics.tension]
            opp = st.position[w, mechanics.actor_index["B"]]
            expected = []
            for i in mechanics.by_actor[a]:
                o = mechanics.options[i]
                value = 0.0
                for e, p in mechanics.expected_effects(i):
                    var = mechanics.var_names[e.var]
                    weight = spec.values * values.get(var, 0.0) + spec.weights.get(var, 0.0)
                    change = (e.set - st.vars[w, e.var]) if e.set is not None else e.delta
                    if e.sanction:
                        change *= st.sanction_scale(5)[w]
                    value += weight * p * change / mechanics.span[e.var] * 10
                level = mechanics.level[i]
                d_tension = sum(p * e.delta for e, p in mechanics.expected_effects(i) if e.var == mechanics.tension and e.delta)
                added = hazard(tension + d_tension) - hazard(tension)
                if o.ends_game == "war":
                    added += o.success * (1 - hazard(tension))
                expected.append(
                    value
                    + spec.escalation * level / mechanics.top_level
                    + spec.reciprocity * (1 - abs(level - opp) / mechanics.top_level)
                    - spec.risk_aversion * 100 * added
                    + spec.categories.get(o.category, 0) + sum(spec.tags.get(t, 0) for t in o.tags)
                    + spec.options.get(o.id, 0)
                )
            expected.append(spec.pass_)
            expected = np.array(expected)
            assert np.allclose(got[:, w] - got[-1, w], expected - expected[-1], atol=2e-3), (name, w)


def test_a_move_is_logged_before_what_it_causes(mechanics):
    engine = scripted(mechanics, {(1, "B"): "b-test", (2, "A"): "a-sanction"}, until_turn=6)
    kinds = [(e["kind"], e["subject"]) for e in engine.log.for_world(0)]
    assert kinds.index(("move", "b-test")) < kinds.index(("threshold", "intense"))
    assert kinds.index(("move", "b-test")) < kinds.index(("red_line", "test_line"))


def test_a_spread_effect_acts_turn_by_turn_and_survives_a_fork(mechanics):
    engine = Engine(mechanics, seed=2, humans=ALL)
    play(engine, {(0, "A"): "a-aid"}, until_turn=2)
    assert var(engine, "B.economy") == pytest.approx(64)  # +2 at the end of turns 0 and 1
    assert engine.advance().turn == 2
    rollouts = engine.fork(20, humans=ALL)  # everyone passes: only the aid moves the economy
    play(rollouts, {}, until_turn=6)
    play(engine, {}, until_turn=6)
    assert var(engine, "B.economy") == pytest.approx(68)  # 4 turns of +2, then it stops
    assert rollouts.state.vars[:, mechanics.var_index["B.economy"]] == pytest.approx(np.full(20, 68.0))


def test_a_lagged_spread_effect_booked_before_a_fork_acts_in_every_rollout():
    lagged = variant(AID, AID.replace("}]", ", lag: 2}]"))
    engine = Engine(lagged, seed=2, humans=ALL)
    play(engine, {(0, "A"): "a-aid"}, until_turn=2)
    assert var(engine, "B.economy") == 60  # booked in turn 0, acting from the end of turn 2
    assert engine.advance().turn == 2
    rollouts = engine.fork(20, humans=ALL)
    play(rollouts, {}, until_turn=7)
    play(engine, {}, until_turn=7)
    assert var(engine, "B.economy") == pytest.approx(68)  # +2 at the ends of turns 2 to 5
    assert rollouts.state.vars[:, lagged.var_index["B.economy"]] == pytest.approx(np.full(20, 68.0))
    news = [e for e in engine.log.for_world(0) if e["kind"] == "effect"]
    assert [(e["turn"], e["subject"], e["delta"], e["turns"]) for e in news] == [(2, "a-aid", 8.0, 4)]


def test_an_uncertain_spread_effect_draws_its_whole_change_once_per_world():
    unsure = variant(AID, AID.replace("}]", ", uncertainty: 0.5}]"))
    engine = Engine(unsure, seed=3, runs=4000, humans=ALL)
    economy = unsure.var_index["B.economy"]
    play(engine, {(0, "A"): "a-aid"}, until_turn=2)
    half = engine.state.vars[:, economy] - 60  # two of its four turns
    play(engine, {}, until_turn=6)
    whole = engine.state.vars[:, economy] - 60
    assert whole == pytest.approx(2 * half)  # one draw per world, spread evenly
    assert abs(whole.mean() - 8) < 0.25  # 8 on average, about 4 sd of the mean at 4,000 worlds
    assert abs(whole.std() - 4) < 0.3  # sd: 8 x 0.5


def test_an_open_move_keeps_its_odds_when_a_closed_one_scores_far_above_it(mechanics):
    """Softmax weights are taken relative to the doctrine's bound on its scores; where a closed
    move scores so far above the rest that every open move's weight vanishes, the world is
    weighed again from its best open move."""
    from sim.engine.doctrine import Doctrine

    a, W = mechanics.actor_index["A"], 2000
    spec = mechanics.scenario.doctrines["dove"].model_copy(update={"options": {"a-meet": 500.0}})
    doctrine = Doctrine(mechanics, a, "dove", spec)
    st = Engine(mechanics, seed=3, runs=W).state
    K = len(mechanics.by_actor[a])
    meet = list(mechanics.by_actor[a]).index(mechanics.option_index["a-meet"])
    available = np.ones((K + 1, W), dtype=bool)
    available[meet, : W // 2] = False  # closed in the first half of the worlds
    choice = doctrine.choose(mechanics, st, available, turn=0)
    assert (choice[W // 2 :] == meet).all()  # 500 above every other move: certain where open
    # Where it is closed, the other moves (passing included) are drawn by their own softmax.
    logits = doctrine.scores(mechanics, st, turn=0)[:, : W // 2].astype(float)
    logits[meet] = -np.inf
    odds = np.exp(logits - logits.max(axis=0))
    expected = (odds / odds.sum(axis=0)).mean(axis=1)
    observed = np.bincount(choice[: W // 2], minlength=K + 1) / (W // 2)
    assert observed[meet] == 0
    assert np.abs(observed - expected).max() < 0.05, (observed, expected)  # about 3.5 sd at 1,000 worlds


@pytest.mark.parametrize("bound", [-1000.0, 1000.0])
def test_choices_follow_the_softmax_however_far_scores_are_from_the_doctrines_bound(mechanics, bound):
    """Weights are exp(score - bound); scores far above it would overflow and far below it
    vanish. Either way each world is weighed again from its best open move."""
    from sim.engine.doctrine import Doctrine

    a, W = mechanics.actor_index["A"], 2000
    doctrine = Doctrine(mechanics, a, "dove", mechanics.scenario.doctrines["dove"])
    doctrine.base.bound = bound
    st = Engine(mechanics, seed=5, runs=W).state
    K = len(mechanics.by_actor[a])
    choice = doctrine.choose(mechanics, st, np.ones((K + 1, W), dtype=bool), turn=0)
    logits = doctrine.scores(mechanics, st, turn=0).astype(float)
    odds = np.exp(logits - logits.max(axis=0))
    expected = (odds / odds.sum(axis=0)).mean(axis=1)
    assert expected.max() < 0.8  # a spread of moves, which a broken weighing would not reproduce
    observed = np.bincount(choice, minlength=K + 1) / W
    assert np.abs(observed - expected).max() < 0.05, (observed, expected)


# --- the hazard is weekly, scaled to the turn (issue 14, item 11) ----------------------------


def test_the_hazard_is_weekly_and_scaled_to_the_length_of_a_turn():
    tension = np.array([40.0, 85.0, 99.0])
    clock = "clock: {turn_days: 7, "
    hazard = "hazard: {max: 0.0, midpoint: 90, steepness: 0.2}"
    weekly_rules = variant(hazard, "hazard: {max: 0.3, midpoint: 90, steepness: 0.2}")
    h = weekly_rules.scenario.mechanics.hazard
    old = h.max / (1.0 + np.exp(np.asarray(-h.steepness * (tension - h.midpoint), dtype=np.float32)))
    assert weekly_rules.hazard(tension).tobytes() == old.tobytes()  # weekly turns: the very same numbers
    for days in (1, 14, 28):
        rules = variant(clock + hazard[:0], f"clock: {{turn_days: {days}, ").scenario
        rules = Rules(rules.model_copy(update={"mechanics": weekly_rules.scenario.mechanics}), "v")
        expected = 1 - (1 - old.astype(float)) ** (days / 7)
        assert np.allclose(rules.hazard(tension), expected, rtol=1e-5)
