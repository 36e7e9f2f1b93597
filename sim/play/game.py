"""A game as people play it: one world, some actors played by people, a save after every turn.

A save records what is needed to play the same game again — the scenario (as given, with its
digest), the seed, the run, who played whom and every human move — not the state: the engine is
deterministic, so resuming replays the moves. The same replay serves stepping back through a game.

A save is untrusted input: it is read only up to MAX_SAVE_BYTES, checked against a strict typed
model (SaveFile) and sealed with a digest of each of its parts, so that an edited seed or move
list is named as such rather than played as another game.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..engine.knowledge import EXACT, Seen, seen_events
from ..engine.processes import END, Decision
from ..engine.rng import RUNS, SEEDS
from ..engine.rules import Rules
from ..engine.stepping import Engine
from ..format.catalog import SUFFIX, bundled
from ..format.errors import ScenarioError, UsageError, printable
from ..format.files import dump_json, write_file
from ..format.model import Id, Scenario, digest
from ..format.scenario import Loaded, open_scenario
from .narrative import with_answers

SAVE_FORMAT = "escalation-ladder-save"
SAVE_VERSION = 3  # 2: sealed (SEALED); 3: the moves undone. Versions 1 (before the seal) and 2 are still read
READS = (1, 2, 3)
MAX_SAVE_BYTES = 4 * 1024 * 1024  # a real save is a few kB: 520 turns x 5 actors of moves is under 200 kB
SEALED = ("scenario", "seed", "run", "humans", "doctrines", "moves", "undone")  # the parts of a save its seal covers


@dataclass(frozen=True)
class Move:
    turn: int
    actor: str
    option: str | None  # None: passed


@dataclass(frozen=True)
class Offer:
    """A proposal waiting for an actor's answer."""

    topic: str
    proposer: str
    option: str  # the proposing move
    order: int  # which proposal: the engine numbers them as they are made
    turns_left: int  # decisions left to answer it, this one included; then it is refused
    answers: tuple[str, ...]  # the actor's moves that answer it, accepting first


@dataclass(frozen=True)
class Sight:
    """What the board shows of the game (world 0) to `viewer`: an actor's view, or the truth
    (the umpire's, `viewer` None)."""

    viewer: str | None
    vars: np.ndarray  # every variable as the viewer believes it
    position: np.ndarray  # every actor's position as the viewer has seen it
    events: list[dict]  # the events the viewer saw (`with_answers` applied), without changes hidden from it
    seen: Callable[[int], Seen]  # how the viewer sees a variable (by index)


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
        self.undone: list[Move] = []  # moves taken back, in the order they were undone
        self.engine = self._fresh()
        self.before = self.engine.state.vars[0].copy()  # the variables when the turn under way began

    @classmethod
    def start(cls, setup: Setup, loaded: Loaded | None = None) -> Game:
        """A new game; `loaded` is the scenario when the caller has already opened it. A setup
        the scenario cannot play (an unknown actor or doctrine, a seed out of range) is a UsageError."""
        loaded = loaded or open_scenario(setup.scenario)
        check_setup(setup, loaded.scenario, loaded.name)
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

    def sight(self, viewer: str | None) -> Sight:
        """The game as `viewer` sees it (None: the umpire, who sees the truth). In a scenario that
        hides nothing every actor sees the truth."""
        rules, engine = self.rules, self.engine
        known = rules.knowledge
        events = engine.log.for_world(0)
        if viewer is None or not (known.hides_variables or known.hides_moves):
            st = engine.state
            return Sight(viewer, st.vars[0], st.position[0], with_answers(events), lambda v: EXACT)
        view, a = engine.view(viewer), rules.actor_index[viewer]
        return Sight(viewer, view.vars[0], view.position[0], with_answers(seen_events(events, viewer, rules)),
                     lambda v: known.seen(a, v))

    def offers(self, actor: str) -> list[Offer]:
        """The proposals put to `actor` that it has not answered yet, the first to close first."""
        rules, st, turn = self.rules, self.engine.state, self.engine.turn
        a = rules.actor_index[actor]
        out = []
        for j in st.awaiting[0, :, a].nonzero()[0]:
            if st.pend_until[0, j] < turn:
                continue
            topic, option = rules.topics[j], rules.options[int(st.pend_option[0, j])]
            answers = sorted((o for o in rules.options if o.actor == actor and o.answers and o.answers.topic == topic),
                             key=lambda o: not o.answers.accept)
            if not answers:  # asked, but with no move to answer by (a veto member without vote options): silence
                continue
            out.append(Offer(topic, option.actor, option.id, int(st.pend_order[0, j]), int(st.pend_until[0, j]) - turn,
                             tuple(o.id for o in answers)))
        return sorted(out, key=lambda o: (o.turns_left, o.order))

    def is_force(self, option: str | None) -> bool:
        """Whether taking `option` is a use of force, which the app asks the player to confirm:
        see `force_level`; a move that ends the game (a strike: war) always is."""
        if option is None:
            return False
        i = self.rules.option_index[option]
        level = force_level(self.scenario)
        return self.rules.options[i].ends_game is not None or (level is not None and self.rules.level[i] >= level)

    def submit(self, option: str | None) -> None:
        """The waiting person's move (None passes)."""
        decision = self.engine.waiting
        self.engine.submit(decision.actor, option)
        self.moves.append(Move(decision.turn, decision.actor, option))

    def can_undo(self) -> bool:
        """Whether the last human move can be taken back now: a person is deciding and made it
        (in hot seat, a player cannot take back another's move)."""
        decision = self.engine.waiting
        return decision is not None and bool(self.moves) and self.moves[-1].actor == decision.actor

    def undo(self) -> Move:
        """Take back the last human move: the game is replayed from the start without it (the
        engine is deterministic) to the decision that move answered. The move undone."""
        if not self.can_undo():
            raise ValueError("no move of the player deciding now to undo")
        last, keep = self.moves[-1], self.moves[:-1]
        self.engine, self.moves = self._fresh(), []
        self.before = self.engine.state.vars[0].copy()
        self._replay(keep, "undo: ")
        decision = self.advance()
        assert decision is not None and (decision.turn, decision.actor) == (last.turn, last.actor)
        self.undone.append(last)
        return last

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

    def save(self, path: Path, new: bool = False) -> None:
        """Write the save whole or not at all. `new`: never over an existing file (FileExistsError);
        otherwise the file is replaced (it is this game's own save)."""
        spec = self.setup.scenario
        if spec not in bundled():
            spec = str(Path(spec).resolve())
        setup = asdict(self.setup) | {"scenario": spec, "humans": list(self.setup.humans)}
        moves = [asdict(m) for m in self.moves]
        undone = [asdict(m) for m in self.undone]
        data = {
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "saved": dt.datetime.now().isoformat(timespec="seconds"),
            "setup": setup,
            "digest": digest(self.scenario),
            "moves": moves,
            "undone": undone,
            "finished": self.finished,
            "seal": _seal(setup, digest(self.scenario), moves, undone),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, dump_json(data).encode(), new=new)

    @classmethod
    def resume(cls, path: Path) -> Game:
        """The saved game, replayed to where it was saved. Bad files are a one-line UsageError."""
        where = f"{printable(path, 200)}: "
        save = _read_save(path)
        setup = Setup(save.setup.scenario, save.setup.seed, tuple(save.setup.humans), dict(save.setup.doctrines),
                      save.setup.run)
        moves = [Move(m.turn, m.actor, m.option) for m in save.moves]
        undone = [Move(m.turn, m.actor, m.option) for m in save.undone or ()]
        if save.seal is not None:  # version 2 on; the moves undone from version 3 on
            setup_json = save.setup.model_dump()
            undone_json = None if save.undone is None else [m.model_dump() for m in save.undone]
            seal = _seal(setup_json, save.digest, [m.model_dump() for m in save.moves], undone_json)
            edited = [part for part in SEALED if seal.get(part) != getattr(save.seal, part)]
            if edited:
                raise UsageError(f"{where}{_edited(edited)} edited since the game saved it; it cannot be resumed")
        loaded = _saved_scenario(setup.scenario, where)
        try:
            check_setup(setup, loaded.scenario, loaded.name)
        except UsageError as exc:
            raise UsageError(f"{where}{exc}") from None
        if digest(loaded.scenario) != save.digest:
            raise UsageError(f"{where}the scenario {printable(setup.scenario, 200)} has changed since this game was saved; "
                             "it cannot be resumed with this version of the scenario")
        game = cls(setup, loaded.scenario, loaded.name)
        rules = game.rules
        # a player decides up to moves_per_turn times a turn, and once more for each free answer
        per_turn = sum(rules.moves_per_turn[a] + int(rules.free_answer[a].sum())
                       for a in map(rules.actor_index.get, setup.humans))
        most = rules.horizon * per_turn
        if len(moves) > most:
            raise UsageError(f"{where}{len(moves)} moves, more than this game can have ({most}: "
                             f"{rules.horizon} turns, {per_turn} decisions a turn by {len(setup.humans)} players)")
        game._replay(moves, where)
        game.undone = undone
        return game


def force_level(scenario: Scenario) -> int | None:
    """The ladder level from which a move is a use of force: that of the ladder's threshold whose
    id names force (`use_of_force` in every bundled scenario; the lowest if several do), else that
    of its highest threshold; None for a ladder without thresholds."""
    thresholds = scenario.ladder.thresholds
    forces = [t.level for t in thresholds if "force" in t.id.lower()]
    if forces:
        return min(forces)
    return max((t.level for t in thresholds), default=None)


def check_setup(setup: Setup, scenario: Scenario, name: str) -> None:
    """What a scenario can play: known actors, each played once, known doctrines for bots; the
    seed and run in the engine's ranges. A UsageError naming the first problem."""
    actors = ", ".join(scenario.actors)
    for actor in (*setup.humans, *setup.doctrines):
        if actor not in scenario.actors:
            raise UsageError(f"{name} has no actor {printable(actor, 40)!r}; its actors: {actors}")
    if len(set(setup.humans)) != len(setup.humans):
        raise UsageError(f"an actor is played twice: {', '.join(setup.humans)}")
    for actor, preset in setup.doctrines.items():
        if actor in setup.humans:
            raise UsageError(f"{actor} is played by a person and has a doctrine ({printable(preset, 40)})")
        if preset not in scenario.doctrines:
            raise UsageError(f"{name} has no doctrine {printable(preset, 40)!r} (for {actor}); "
                             f"its doctrines: {', '.join(scenario.doctrines)}")
    if not (isinstance(setup.seed, int) and 0 <= setup.seed < SEEDS):
        raise UsageError(f"the seed is a whole number from 0 to 2**64 - 1, not {printable(setup.seed, 40)}")
    if not (isinstance(setup.run, int) and 0 <= setup.run < RUNS):
        raise UsageError(f"the run is a whole number from 0 to 2**63 - 1, not {printable(setup.run, 40)}")


# --- the save file ------------------------------------------------------------------------

Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SavedMove(_Strict):
    turn: int = Field(ge=0, le=10_000)
    actor: Id
    option: Id | None


class SavedSetup(_Strict):
    scenario: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    seed: int = Field(ge=0, lt=SEEDS)
    humans: list[Id] = Field(max_length=100)
    doctrines: dict[Id, Id] = Field(max_length=100)
    run: int = Field(ge=0, lt=RUNS)


class Seal(_Strict):
    scenario: Hex
    seed: Hex
    run: Hex
    humans: Hex
    doctrines: Hex
    moves: Hex
    undone: Hex | None = None  # required from version 3 on


class SaveFile(_Strict):
    """A save as written: every field typed, every number in the range the engine takes."""

    format: Literal["escalation-ladder-save"]
    version: Literal[1, 2, 3]
    saved: Annotated[str, StringConstraints(max_length=64)]
    setup: SavedSetup
    digest: Hex  # the scenario's, when the game began
    moves: list[SavedMove] = Field(max_length=100_000)
    undone: list[SavedMove] | None = Field(None, max_length=100_000)  # required from version 3 on
    finished: bool
    seal: Seal | None = None  # required from version 2 on


def _seal(setup: dict, scenario_digest: str, moves: list[dict], undone: list[dict] | None) -> dict[str, str]:
    """A digest of each part of a save: what was edited can be named. `undone`: None before version 3."""
    parts = {
        "scenario": [setup["scenario"], scenario_digest],
        "seed": setup["seed"],
        "run": setup["run"],
        "humans": list(setup["humans"]),
        "doctrines": dict(setup["doctrines"]),
        "moves": [[m["turn"], m["actor"], m["option"]] for m in moves],
    }
    if undone is not None:
        parts["undone"] = [[m["turn"], m["actor"], m["option"]] for m in undone]
    return {part: hashlib.sha256(json.dumps([SAVE_FORMAT, part, value], sort_keys=True).encode()).hexdigest()
            for part, value in parts.items()}


def _edited(parts: list[str]) -> str:
    """'the seed was', 'the seed and the moves were'."""
    names = {"scenario": "the scenario's name or digest", "seed": "the seed", "run": "the run",
             "humans": "the players", "doctrines": "the doctrines", "moves": "the moves",
             "undone": "the moves undone"}
    said = [names[p] for p in parts]
    listed = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
    plural = len(said) > 1 or parts[0] in ("humans", "doctrines", "moves", "undone")
    return f"{listed} {'were' if plural else 'was'}"


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a save can hold")


def _read_save(path: Path) -> SaveFile:
    """The save at `path`, read up to MAX_SAVE_BYTES and validated; every failure a one-line UsageError."""
    where = printable(path, 200)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SAVE_BYTES + 1)  # a pipe or a device has no size to check first
    except FileNotFoundError:
        raise UsageError(f"{where}: no such save file") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the save: {printable(exc.strerror or exc, 80)}") from None
    if len(raw) > MAX_SAVE_BYTES:
        raise UsageError(f"{where}: too large for a save (more than {MAX_SAVE_BYTES // 2**20} MiB); not read")
    if not raw.strip():
        raise UsageError(f"{where}: empty file, not a save")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not a save (not UTF-8 text at byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}:{exc.lineno}:{exc.colno}: corrupt save: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{where}: corrupt save: nested too deep") from None
    except ValueError as exc:  # NaN, Infinity, a number of thousands of digits
        raise UsageError(f"{where}: corrupt save: {printable(exc, 100)}") from None
    if not isinstance(data, dict) or data.get("format") != SAVE_FORMAT:
        raise UsageError(f"{where}: not an Escalation Ladder save")
    version = data.get("version")
    if version not in READS:
        raise UsageError(f"{where}: save format version {printable(repr(version), 20)}; "
                         f"this version of ladder reads {', '.join(map(str, READS))}")
    try:
        save = SaveFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        at = ".".join(str(part) for part in error["loc"]) or "the save"
        raise UsageError(f"{where}: not a valid save: {printable(at, 60)}: {printable(error['msg'], 120)}") from None
    if version >= 2 and save.seal is None:
        raise UsageError(f"{where}: not a valid save: seal: missing (a version {version} save is sealed)")
    if version >= 3 and (save.undone is None or save.seal.undone is None):
        raise UsageError(f"{where}: not a valid save: undone: missing (a version {version} save lists the moves undone)")
    if version < 3 and (save.undone is not None or (save.seal is not None and save.seal.undone is not None)):
        raise UsageError(f"{where}: not a valid save: undone: not in a version {version} save")
    return save


def _saved_scenario(spec: str, where: str) -> Loaded:
    """The scenario a save names: a bundled name, or an absolute path to a scenario file (which is
    what the player opened; anything else is refused unread)."""
    if spec in bundled():
        try:
            return open_scenario(spec)
        except ScenarioError as exc:
            raise UsageError(f"{where}its scenario: {_first(exc)}") from None
    path = Path(spec)
    if not path.is_absolute() or not path.name.endswith(SUFFIX):
        raise UsageError(f"{where}its scenario {printable(spec, 80)!r} is neither a bundled scenario "
                         f"nor the path of a {SUFFIX} file; not read")
    if not path.is_file():
        raise UsageError(f"{where}its scenario file {printable(spec, 200)} no longer exists")
    try:
        return open_scenario(spec)
    except ScenarioError as exc:
        raise UsageError(f"{where}its scenario is not valid: {_first(exc)}") from None


def _first(exc: ScenarioError) -> str:
    more = len(exc.problems) - 1
    return printable(exc.problems[0], 300) + (f" (and {more} more problems)" if more else "")
