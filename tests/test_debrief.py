"""The after-action report: every move, threshold and the outcome of a game, and the game set
against bot-only games of its scenario."""
import pytest

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario
from sim.montecarlo.chunks import Job, run_chunk
from sim.play.debrief import debrief

SEED = 5
HUMANS = ("US", "ROK")


def section(report: str, title: str) -> str:
    return report.split(f"\n## {title}")[1].split("\n## ")[0]


@pytest.fixture(scope="module")
def game():
    """korea-2019 played to the end by two people taking the first open move, and its report."""
    loaded = open_scenario("korea-2019")
    engine = Engine(Rules(loaded.scenario, loaded.name), seed=SEED, humans=HUMANS)
    submitted = []
    while (decision := engine.advance()) is not None:
        move = next((o for o, why in engine.why_not(decision.actor) if why is None), None)
        engine.submit(decision.actor, move)
        if move is not None:
            submitted.append((decision.turn, decision.actor, move))
    return engine, submitted, debrief(engine, "korea-2019", HUMANS)


def test_the_timeline_has_every_move_with_its_date_rung_and_source(game):
    engine, submitted, report = game
    rules = engine.rules
    rows = [line for line in section(report, "Timeline").splitlines() if line.startswith("| 2")]
    move_rows = [row for row in rows if "| succeeded |" in row or "| failed |" in row]
    moves = [ev for ev in engine.log.for_world(0) if ev["kind"] == "move"]
    assert len(move_rows) == len(moves) > 50
    for ev, row in zip(moves, move_rows):
        o = rules.options[rules.option_index[ev["subject"]]]
        assert row.startswith(f"| {rules.date(ev['turn'])} | {o.actor} | {o.label}")
        assert f"| {rules.rung[o.rung].level} {rules.rung[o.rung].label} |" in row
        assert f'| {o.source.ref}: "{o.source.quote}" |' in row
    told = [row.split(" | ")[:3] for row in rows]
    for turn, actor, move in submitted:  # what the people chose (a move prepared first: its preparation)
        label = rules.options[rules.option_index[move]].label
        what = (label, f"prepares: {label}")
        assert any(t[:2] == [f"| {rules.date(turn)}", actor] and t[2].startswith(what) for t in told), (turn, move)
    injects = [ev for ev in engine.log.for_world(0) if ev["kind"] == "inject"]
    assert len(injects) == sum("| EVENT: " in row for row in rows) > 0


def test_players_thresholds_red_lines_and_the_outcome(game):
    engine, _, report = game
    rules, st = engine.rules, engine.state
    players = section(report, "Players")
    assert "| US | United States | human |" in players and "| DPRK | North Korea | bot | brinkmanship |" in players
    thresholds = section(report, "Thresholds")
    crossed = 0
    for j, t in enumerate(rules.scenario.ladder.thresholds):
        turn = int(st.threshold_turn[0, j])
        when = str(rules.date(turn)) if turn >= 0 else "not crossed"
        assert f"| {t.label} | {t.level} | {when} |" in thresholds
        crossed += turn >= 0
    assert crossed >= 2
    for j, line in enumerate(rules.red_lines):
        turn = int(st.red_line_turn[0, j])
        assert f"| {line.label} | {line.owner} | {rules.date(turn) if turn >= 0 else 'not crossed'} |" in report
    outcome = rules.outcomes[st.outcome[0]]
    assert f"**{outcome.label}** in the week of {rules.date(int(st.end_turn[0]))}" in section(report, "Outcome")


def test_the_comparison_agrees_with_a_batch_of_bot_only_games(game):
    engine, _, report = game
    rules = engine.rules
    rows = run_chunk(Job(rules.scenario, "korea-2019", SEED, engine.doctrine_names), 0, 1000)["rows"]
    comparison = section(report, "Against 1,000 bot-only games")
    for o in rules.outcomes:
        count = int((rows["outcome"] == o.id).sum())
        assert f"| {o.label} | {count} | {count / 10:.1f}% |" in comparison
    mine = rules.outcomes[engine.state.outcome[0]]
    share = (rows["outcome"] == mine.id).mean()
    assert f"ended in **{mine.label}**, which happened in {share:.1%} of the bot-only games" in comparison
    for a, actor in enumerate(rules.actors):
        peaks, peak = rows[f"peak_{actor}"], engine.state.peak[0, a]
        row = next(line for line in comparison.splitlines() if line.startswith(f"| {actor} | {peak:g}"))
        assert row.endswith(f"| {(peaks < peak).mean():.1%} | {(peaks == peak).mean():.1%} |")
    earlier = (rows["end_turn"] < engine.state.end_turn[0]).mean()
    assert f"{earlier:.1%} of them ended earlier" in comparison


def test_the_report_is_the_same_for_the_same_game(game):
    engine, _, report = game
    assert debrief(engine, "korea-2019", HUMANS) == report


def test_only_a_finished_game_is_reported():
    loaded = open_scenario("tutorial")
    engine = Engine(Rules(loaded.scenario, loaded.name), humans=("Red",))
    engine.advance()
    with pytest.raises(ValueError, match="not over"):
        debrief(engine, "tutorial", ("Red",))
