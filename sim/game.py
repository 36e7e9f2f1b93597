"""A game as people play it: one world, some actors played by people, a save after every turn.

A save records what is needed to play the same game again — the scenario (as given, with its
digest), the seed, the run, who played whom and every human move — not the state: the engine is
deterministic, so resuming replays the moves. The same replay serves stepping back through a game.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .batch import atomic_write, digest, dump_json
from .catalog import bundled, open_scenario
from .engine import END, Decision, Engine
from .errors import UsageError
from .model import Scenario
from .rules import Rules
from .scenario import Loaded

SAVE_FORMAT = "escalation-ladder-save"
SAVE_VERSION = 1


@dataclass(frozen=True)
class Move:
    turn: int
    actor: str
    option: str | None  # None: passed


@dataclass
class Setup:
    """Everything that decides a game before its first move."""

    scenario: str  # a bundled name or a path, as the player gave it
    seed: int
    humans: tuple[str, ...] = ()
    doctrines: dict[str, str] = field(default_factory=dict)  # bots whose doctrine was changed
    run: int = 0  # a batch run replayed: its index


class Game:
    def __init__(self, setup: Setup, scenario: Scenario, name: str):
        self.setup = setup
        self.scenario = scenario
        self.name = name
        self.rules = Rules(scenario, name)
        self.moves: list[Move] = []
        self.engine = self._fresh()
        self.before = self.engine.state.vars[0].copy()  # the variables when the turn under way began

    @classmethod
    def start(cls, setup: Setup, loaded: Loaded | None = None) -> Game:
        """A new game; `loaded` is the scenario when the caller has already opened it."""
        loaded = loaded or open_scenario(setup.scenario)
        unknown = [a for a in (*setup.humans, *setup.doctrines) if a not in loaded.scenario.actors]
        if unknown:
            raise UsageError(f"{loaded.name} has no actor {unknown[0]!r}; its actors: {', '.join(loaded.scenario.actors)}")
        return cls(setup, loaded.scenario, loaded.name)

    def _fresh(self) -> Engine:
        s = self.setup
        return Engine(self.rules, s.seed, runs=[s.run], humans=s.humans, doctrines=s.doctrines)

    # --- playing ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.engine.finished

    @property
    def waiting(self) -> Decision | None:
        return self.engine.waiting

    @property
    def completed(self) -> int:
        """Turns whose end has passed."""
        return math.floor(self.engine.env.now - END + 1e-9) + 1

    def advance(self, until_turn: int | None = None) -> Decision | None:
        """Play on until a person must decide, the game ends, or `until_turn` begins."""
        stop = self.rules.horizon if until_turn is None else until_turn
        while not self.finished and self.completed < stop:
            turn = self.completed
            if self.engine.env.now < turn:
                self.before = self.engine.state.vars[0].copy()  # not resuming within the turn
            if self.engine.advance(until_turn=turn + 1) is not None:
                return self.engine.waiting
        return None

    def submit(self, option: str | None) -> None:
        """The waiting person's move (None passes)."""
        decision = self.engine.waiting
        self.engine.submit(decision.actor, option)
        self.moves.append(Move(decision.turn, decision.actor, option))

    def goto(self, turn: int) -> None:
        """Play to the end of `turn` (a game without people), replaying from the start to go back."""
        if self.setup.humans:
            raise ValueError("only a game without people can be stepped to a turn")
        if turn < self.completed:
            self.engine = self._fresh()
            self.before = self.engine.state.vars[0].copy()
        self.advance(until_turn=turn + 1)

    def _replay(self, moves: list[Move], where: str) -> None:
        for n, move in enumerate(moves, 1):
            decision = self.advance()
            if decision is None or (move.turn, move.actor) != (decision.turn, decision.actor):
                raise UsageError(f"{where}move {n} ({move.actor} at turn {move.turn}) does not fit this game")
            try:
                self.submit(move.option)
            except ValueError as exc:
                raise UsageError(f"{where}move {n} cannot be played again: {exc}") from None

    # --- saves --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        spec = self.setup.scenario
        if spec not in bundled():
            spec = str(Path(spec).resolve())
        data = {
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "saved": dt.datetime.now().isoformat(timespec="seconds"),
            "setup": asdict(self.setup) | {"scenario": spec, "humans": list(self.setup.humans)},
            "digest": digest(self.scenario),
            "moves": [asdict(m) for m in self.moves],
            "finished": self.finished,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(dump_json(data).encode()))

    @classmethod
    def resume(cls, path: Path) -> Game:
        """The saved game, replayed to where it was saved. Bad files are a one-line UsageError."""
        data = _read_save(path)
        try:
            setup = Setup(**{**data["setup"], "humans": tuple(data["setup"]["humans"])})
            moves = [Move(**m) for m in data["moves"]]
            saved_digest = data["digest"]
        except (KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a complete save ({exc})") from None
        game = cls.start(setup)
        if digest(game.scenario) != saved_digest:
            raise UsageError(f"{path}: the scenario {setup.scenario} has changed since this game was saved; "
                             "it cannot be resumed with this version of the scenario")
        game._replay(moves, f"{path}: ")
        return game


def _read_save(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such save file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the save: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: corrupt save: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("format") != SAVE_FORMAT:
        raise UsageError(f"{path}: not an Escalation Ladder save")
    if data.get("version") != SAVE_VERSION:
        raise UsageError(f"{path}: save format version {data.get('version')!r}; this version of ladder reads {SAVE_VERSION}")
    return data
