"""The scenario format, version 1: typed, immutable models of everything a scenario file holds.

Field descriptions double as documentation (they feed `ladder schema` and the authoring guide).
Cross-references between sections (an option's actor, a doctrine's tags, expressions) are
checked in `sim.format.scenario`, which loads a file into these models.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    StringConstraints,
    model_validator,
)


class LocatedError(ValueError):
    """A model's check that found its problem in one of its parts: `path` leads from the model
    to that part, so the loader locates the problem at the value, not at the whole model."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = tuple(path)


# Terminal control: C0 (NUL to US, ESC among them), DEL and C1 (which holds CSI, U+009B).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # newline and tab allowed


def _no_control(pattern: re.Pattern, what: str):
    def check(text: str) -> str:
        found = pattern.search(text)
        if found:
            code = ord(found.group())
            kind = "a line break or tab" if code in (0x09, 0x0A) else "a control character"
            raise ValueError(f"{kind} (U+{code:04X}, character {found.start() + 1}) is not allowed in {what}")
        return text
    return check


# Text that reaches the screen: one line (titles, labels, names), or several (descriptions,
# quotes, expressions), where only newline and tab are allowed among the control characters.
Line = Annotated[str, AfterValidator(_no_control(_CONTROL, "a one-line text"))]
Text = Annotated[str, AfterValidator(_no_control(_CONTROL_BUT_LINES, "text (only newline and tab are)"))]

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", max_length=64)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=80)]
Expr = Annotated[Text, StringConstraints(min_length=1, max_length=1000)]


def _on_the_calendar(date: str) -> str:
    dt.date.fromisoformat(date)  # its ValueError ("day is out of range for month") is the problem reported
    return date


# The years a game's dates may fall in: four digits, and a year after the last for the engine's
# "first turn of next year".
FIRST_YEAR, LAST_YEAR = 1000, 9998


Date = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_on_the_calendar)]
Turns = Annotated[int, Field(ge=0, le=520)]
Category = Literal["diplomatic", "informational", "military", "economic"]
MAX_MOVES_PER_TURN = 10


class Strict(BaseModel):
    # YAML reads .nan and .inf; strict: no `true` where a number goes, no 2.0 where a whole number does
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class SourceRef(Strict):
    """Where a move or event comes from: one of the scenario's sources and a short quote."""

    ref: Id = Field(description="Id of an entry in the scenario's `sources`.")
    quote: Text = Field(min_length=1, max_length=400, description="A short quote from that source.")


class Source(Strict):
    title: Line = Field(description="Title of the text.")
    file: Optional[Line] = Field(None, description="File name of the text among the project's seeds, if any.")
    author: Optional[Line] = Field(None, description="Author or publisher.")
    date: Optional[Line] = Field(None, description="Publication date (free form, e.g. 2019-12).")
    url: Optional[Line] = Field(None, description="Where the text can be found.")


class Clock(Strict):
    turn_days: int = Field(7, ge=1, le=365, description="Length of one turn in days.")
    start: Date = Field(description="Calendar date of turn 0 (YYYY-MM-DD).")
    horizon: int = Field(ge=1, le=520, description="Number of turns after which an unresolved game ends.")

    @model_validator(mode="after")
    def _years(self):
        start = dt.date.fromisoformat(self.start)
        if not FIRST_YEAR <= start.year <= LAST_YEAR:
            raise LocatedError(("start",), f"the start year must be between {FIRST_YEAR} and {LAST_YEAR} (got {start.year})")
        end = start + dt.timedelta(days=self.horizon * self.turn_days)
        if end.year > LAST_YEAR:
            raise LocatedError(("horizon",), f"the game would end in {end.year}: every date of a game must "
                               f"fall in the years {FIRST_YEAR} to {LAST_YEAR}")
        return self


class Goal(Strict):
    """A value with a goal: what a change of the variable is worth depends on where it stands.

    In tenths of the variable's range (z), the actor's utility is, with w the weight:
    saturate, w > 0: w min(z, target), w < 0: w max(z, target) (past the target, more is
    worth nothing); distance: -w (z - target)^2 / 2 (the weight grows with the distance);
    band: -w times the distance outside [low, high] (nothing inside).
    """

    weight: float = Field(description="Weight per tenth of the variable's range (at a distance of one tenth, for `distance`).")
    target: Optional[float] = Field(None, description="The value aimed at (with `shape`).")
    shape: Optional[Literal["saturate", "distance"]] = Field(
        None, description="With `target`: `saturate` (worth nothing past it) or `distance` (weight grows with distance from it)."
    )
    band: Optional[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        None, description="[low, high]: worth nothing inside, costly in proportion to the distance outside."
    )

    @model_validator(mode="after")
    def _form(self):
        if (self.target is None) == (self.band is None):
            raise ValueError("a goal needs exactly one of 'target' (with 'shape') or 'band'")
        if self.target is not None and self.shape is None:
            raise ValueError("a target needs 'shape: saturate' or 'shape: distance'")
        if self.band is not None and self.shape is not None:
            raise LocatedError(("shape",), "a band takes no 'shape'")
        if self.band is not None and self.band[0] > self.band[1]:
            raise LocatedError(("band",), f"the band's low {self.band[0]:g} is above its high {self.band[1]:g}")
        return self


# A plain weight, or a goal: a mapping is read as a goal, anything else as a weight (one error,
# not one per alternative).
Value = Annotated[
    Union[Annotated[float, Tag("weight")], Annotated[Goal, Tag("goal")]],
    Discriminator(lambda v: "goal" if isinstance(v, (dict, Goal)) else "weight"),
]


class Actor(Strict):
    name: Line = Field(description="Display name.")
    doctrine: Id = Field(description="Default doctrine preset of this actor's bot.")
    values: dict[Name, Value] = Field(
        default_factory=dict,
        description="What the actor values: weight on the expected change of each variable "
        "(per tenth of its range), or a goal (`{weight, target, shape}` or `{weight, band}`). "
        "Doctrines add to these.",
    )
    opponents: list[Id] = Field(
        default_factory=list, description="Actors whose ladder position reciprocating doctrines answer."
    )
    decides_every: int = Field(1, ge=1, le=52, description="The actor decides every this many turns.")
    acts_when: Optional[Expr] = Field(
        None, description="Condition for the actor to decide at all (e.g. the Security Council when convened)."
    )
    moves_per_turn: int = Field(
        1, ge=1, le=MAX_MOVES_PER_TURN,
        description="Most moves the actor takes in one turn: it decides again after each move until it passes or reaches this.",
    )


class Variable(Strict):
    label: Optional[Line] = Field(None, description="Display name.")
    owner: Optional[Id] = Field(
        None, description="Owning actor; omitted for a global variable. Must match the name's prefix."
    )
    min: float = Field(0.0, description="Lowest value.")
    max: float = Field(100.0, description="Highest value.")
    initial: float = Field(description="Value at turn 0.")
    baseline: Optional[float] = Field(None, description="Value the variable drifts toward; default: initial.")
    drift: float = Field(0.0, ge=0, le=1, description="Share of the gap to the baseline closed each turn.")

    @model_validator(mode="after")
    def _range(self):
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        for label, v in (("initial", self.initial), ("baseline", self.baseline)):
            if v is not None and not self.min <= v <= self.max:
                raise ValueError(f"{label} {v} is outside the range [{self.min}, {self.max}]")
        return self


class Rung(Strict):
    id: Id = Field(description="Name options use to sit on this rung.")
    level: int = Field(ge=-20, le=40, description="Height on the ladder; negative rungs de-escalate.")
    label: Line = Field(description="Display name.")
    group: Line = Field(description="Kahn-style group, e.g. 'subcrisis manoeuvring' or 'de-escalation'.")


class Threshold(Strict):
    id: Id = Field(description="Name of the threshold (its crossing is an event).")
    label: Line = Field(description="Display name, e.g. 'Red line: strategic tests'.")
    level: int = Field(ge=-20, le=40, description="Crossed when any actor's position first reaches this level.")


class Ladder(Strict):
    rungs: list[Rung] = Field(min_length=1, description="The rungs, in ascending level.")
    thresholds: list[Threshold] = Field(default_factory=list, description="Named thresholds between rungs.")
    cooling: float = Field(
        0.5, ge=0, le=40, description="Levels per turn an actor's position falls back toward 0 without new moves."
    )


class Effect(Strict):
    """A change to one variable, applied after a lag and spread over some turns."""

    var: Name = Field(description="Variable changed.")
    delta: Optional[float] = Field(None, description="Change in the variable's units (total, over `over` turns).")
    set: Optional[float] = Field(None, description="Set the variable to this value instead of changing it.")
    lag: Optional[Turns] = Field(
        None, description="Turns before the change starts (default 0; for sanctions, mechanics.sanctions.lag)."
    )
    over: int = Field(1, ge=1, le=104, description="Turns over which the change is spread evenly.")
    uncertainty: float = Field(
        0.0, ge=0, le=2, description="Standard deviation of the change, as a share of `delta` (drawn per world)."
    )
    when: Literal["success", "failure", "always"] = Field(
        "success", description="Apply when the move succeeds (or its proposal passes), fails, or always."
    )
    revert: bool = Field(False, description="Undo the change when the move's duration ends.")
    sanction: bool = Field(False, description="A sanction: lagged and scaled by mechanics.sanctions.scale.")

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.delta is None) == (self.set is None):
            raise ValueError("an effect needs exactly one of 'delta' or 'set'")
        if self.set is not None and (self.sanction or self.revert or self.over != 1):
            raise ValueError("a 'set' effect cannot be a sanction, revert or be spread 'over' turns")
        if self.set is not None and (self.lag is not None or self.uncertainty):
            raise ValueError("a 'set' effect takes effect at once and exactly: it cannot have 'lag' or 'uncertainty'")
        if self.sanction and self.revert:
            raise ValueError("a sanction cannot revert: it fades through the variable's drift")
        return self


class Proposal(Strict):
    topic: Id = Field(description="Proposal topic declared under mechanics.proposals.")
    to: list[Id] = Field(default_factory=list, description="Actors asked to answer (consent topics).")


class Answer(Strict):
    topic: Id = Field(description="Topic of the pending proposal this option answers.")
    accept: bool = Field(description="True accepts (or votes for), false refuses (or vetoes).")


# A chance: a probability, or an expression (text) computing one per world; one error, not one per alternative.
Chance = Annotated[
    Union[Annotated[float, Field(ge=0, le=1), Tag("number")], Annotated[Expr, Tag("expression")]],
    Discriminator(lambda v: "expression" if isinstance(v, str) else "number"),
]
Detection = Annotated[
    Union[Annotated[Chance, Tag("chance")], Annotated[dict[Id, Chance], Tag("by actor")]],
    Discriminator(lambda v: "by actor" if isinstance(v, dict) else "chance"),
]


class Noisy(Strict):
    noisy: float = Field(gt=0, description="Standard deviation of the error others see the variable with, in its units.")


class Late(Strict):
    late: int = Field(ge=1, le=520, description="Turns behind the truth others see the variable.")


def _visibility_kind(v) -> str:
    if isinstance(v, dict):
        return "late" if "late" in v else "noisy"
    return "late" if isinstance(v, Late) else "noisy" if isinstance(v, Noisy) else "level"


Visibility = Annotated[
    Union[Annotated[Literal["public", "private"], Tag("level")], Annotated[Noisy, Tag("noisy")], Annotated[Late, Tag("late")]],
    Discriminator(_visibility_kind),
]


class Option(Strict):
    id: Id = Field(description="Unique name of the move, e.g. dprk_icbm.")
    actor: Id = Field(description="Actor who can take this move.")
    label: Line = Field(description="Short name shown in the move picker and news feed.")
    description: Optional[Text] = Field(None, description="One or two sentences explaining the move.")
    rung: Id = Field(description="Rung of the ladder the move sits on.")
    category: Category = Field(description="diplomatic, informational, military or economic.")
    tags: list[Id] = Field(default_factory=list, description="Free labels doctrines and statistics refer to.")
    source: SourceRef = Field(description="The text the move comes from, with a short quote.")
    prepare: Turns = Field(0, description="Turns of preparation before the move happens.")
    visible: bool = Field(
        True, description="Whether others see indicators during preparation; false: a covert preparation, "
        "unseen by others until they detect it (`detection`).",
    )
    detection: Optional[Detection] = Field(
        None,
        description="Chance per turn that each other actor detects the covert preparation: a probability, an "
        "expression on the state (clipped to [0, 1]), or a mapping ACTOR -> either (actors not named never detect it).",
    )
    attributed: bool = Field(
        True, description="Whether others see the move when it is carried out; false: only its actor (and those "
        "who detected its preparation) know it happened, though its effects act on the state.",
    )
    duration: Turns = Field(0, description="Turns the move stays in force (an exercise, a deployment).")
    success: float = Field(1.0, ge=0, le=1, description="Probability the move succeeds (tests can fail).")
    requires: Optional[Expr] = Field(None, description="Condition on the state for the move to be available.")
    cooldown: Turns = Field(0, description="Turns before the move can be taken again.")
    max_per_year: Optional[int] = Field(None, ge=1, le=365, description="Most uses per calendar year.")
    max_per_turn: int = Field(
        1, ge=1, le=MAX_MOVES_PER_TURN,
        description="Most uses in one turn, by an actor that takes several moves a turn (moves_per_turn).",
    )
    targets: list[Id] = Field(default_factory=list, description="Actors the move is aimed at.")
    effects: list[Effect] = Field(default_factory=list, description="What the move changes.")
    proposes: Optional[Proposal] = Field(None, description="The move is a proposal others answer.")
    answers: Optional[Answer] = Field(None, description="The move answers a pending proposal.")
    ends_game: Optional[Id] = Field(None, description="Outcome the move causes when it succeeds (a strike: war).")

    @model_validator(mode="after")
    def _kind(self):
        if self.proposes and self.answers:
            raise ValueError("an option cannot both propose and answer")
        if self.max_per_turn > 1 and self.prepare:
            # the state holds one preparation per option: a second would overwrite the first
            raise LocatedError(("max_per_turn",), "an option that takes preparing is prepared once at a time: "
                               "it cannot have max_per_turn above 1")
        return self


class DoctrineTerms(Strict):
    """Terms of a doctrine's score. In `after_red_line` and in rules, a term left out adds nothing."""

    escalation: Optional[float] = Field(None, description="Preference for high rungs (negative: for low rungs). Default 0.")
    reciprocity: Optional[float] = Field(None, description="Preference for matching the opponents' current rung. Default 0.")
    risk_aversion: Optional[float] = Field(None, description="Penalty per percentage point of added weekly war hazard. Default 1.")
    values: Optional[float] = Field(None, description="Weight on the actor's values. Default 1.")
    weights: dict[Name, Value] = Field(
        default_factory=dict, description="Extra value weights (or goals) on variables."
    )
    categories: dict[Category, float] = Field(default_factory=dict, description="Habits: bias per category.")
    tags: dict[Id, float] = Field(default_factory=dict, description="Habits: bias per option tag.")
    options: dict[Id, float] = Field(default_factory=dict, description="Habits: bias per option id.")
    pass_: Optional[float] = Field(None, alias="pass", description="Score of doing nothing this turn. Default 0.")


DOCTRINE_DEFAULTS = {"escalation": 0.0, "reciprocity": 0.0, "risk_aversion": 1.0, "values": 1.0, "pass": 0.0}


class Rule(DoctrineTerms):
    """Terms a doctrine adds in the worlds where a condition holds."""

    when: Expr = Field(description="Condition on the state; the rule's terms are added in the worlds where it holds.")
    temperature: Optional[float] = Field(
        None, gt=0, le=100, description="Replaces the doctrine's temperature where the rule holds (a later rule's wins)."
    )


class Doctrine(DoctrineTerms):
    description: Text = Field(description="One sentence: what this doctrine does.")
    temperature: float = Field(1.0, gt=0, le=100, description="Softmax temperature: higher is less predictable.")
    after_red_line: Optional[DoctrineTerms] = Field(
        None,
        description="Terms added once a red line the actor owns has been crossed "
        "(only those written; they may be negative, e.g. to lower risk aversion).",
    )
    rules: list[Rule] = Field(
        default_factory=list,
        # left out of dumps when empty: a scenario without rules keeps the digest it had before
        # rules existed, so its saves and batch folders still resume
        exclude_if=lambda rules: not rules,
        description="Situational terms: each adds its terms in the worlds where its `when` holds.",
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data):
        """A doctrine's own terms are never missing: the defaults are written in."""
        if isinstance(data, dict):
            data = {**DOCTRINE_DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
        return data

    @model_validator(mode="after")
    def _signs(self):
        for name in ("reciprocity", "risk_aversion", "values"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0 (only after_red_line and rules may lower it)")
        return self


class Inject(Strict):
    id: Id = Field(description="Name of the scheduled event.")
    label: Line = Field(description="What happens, as the news feed says it.")
    turn: Optional[Turns] = Field(None, description="Turn the event happens.")
    date: Optional[Date] = Field(None, description="Date the event happens (the turn containing it).")
    when: Optional[Expr] = Field(None, description="Condition checked on that turn; the event is skipped if false.")
    source: Optional[SourceRef] = Field(None, description="Where the event comes from, with a short quote.")
    effects: list[Effect] = Field(default_factory=list, description="What the event changes.")

    @model_validator(mode="after")
    def _when(self):
        if (self.turn is None) == (self.date is None):
            raise ValueError("an inject needs exactly one of 'turn' or 'date'")
        return self


def _month_day(text: str) -> str:
    """A day of every year: '03-04'. 02-29 is refused: three years in four lack it."""
    month, day = int(text[:2]), int(text[3:])
    if not 1 <= month <= 12:
        raise ValueError(f"{text} is not a day of the year: the month must be 01 to 12")
    if (month, day) == (2, 29):
        raise ValueError("02-29 is not a day of every year: write 02-28 or 03-01")
    try:
        dt.date(2021, month, day)  # a year that is not a leap year
    except ValueError:
        raise ValueError(f"{text} is not a day of the year: day {day} is out of range for month {month}") from None
    return text


MonthDay = Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{2}$"), AfterValidator(_month_day)]
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]


class Window(Strict):
    """A recurring window of the calendar (an exercise season, an anniversary), declared once: it
    opens in the turn containing its start date and closes in the turn containing its end date,
    every year of the game."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)] = Field(
        description="Name; expressions read window.<id> (1 while the window is open)."
    )
    label: Line = Field(description="Display name, e.g. 'Spring exercise season'.")
    every: Literal["year"] = Field("year", description="How often the window recurs: every year.")
    start: MonthDay = Field(description="Month and day it opens, MM-DD (e.g. '03-04').")
    end: Optional[MonthDay] = Field(
        None, description="Month and day it closes, MM-DD (the first day it is no longer open); "
        "a day before the start falls in the next year."
    )
    duration: Optional[int] = Field(None, ge=1, le=365, description="Days it stays open, instead of `end`.")
    first_year: Optional[Year] = Field(None, description="First year it opens (default: every year of the game).")
    last_year: Optional[Year] = Field(None, description="Last year it opens.")
    news: Optional[Line] = Field(None, description="The news line when it opens (default: the label).")
    news_end: Optional[Line] = Field(None, description="The news line when it closes (default: '<label> ends').")
    source: Optional[SourceRef] = Field(None, description="Where the window comes from, with a short quote.")
    effects_start: list[Effect] = Field(default_factory=list, description="What changes when it opens.")
    effects_end: list[Effect] = Field(default_factory=list, description="What changes when it closes.")

    @model_validator(mode="after")
    def _span(self):
        if (self.end is None) == (self.duration is None):
            raise ValueError("a calendar window needs exactly one of 'end' or 'duration'")
        if self.first_year is not None and self.last_year is not None and self.first_year > self.last_year:
            raise LocatedError(("last_year",), f"last_year {self.last_year} is before first_year {self.first_year}")
        return self


class Outcome(Strict):
    id: Id = Field(description="Name of the outcome, e.g. war, deal, horizon.")
    label: Line = Field(description="Display name.")
    kind: Literal["war", "deal", "horizon", "condition"] = Field(
        "condition", description="war: ended by strikes and miscalculation; horizon: unresolved at the end."
    )
    when: Optional[Expr] = Field(None, description="Condition that ends the game with this outcome.")
    description: Optional[Text] = Field(None, description="A sentence for the end screen.")


class Chance(Strict):
    """An event of chance ("nature"): drawn every turn in every world with its probability."""

    id: Id = Field(description="Name of the event (its count per run is the batch column chance_ID).")
    label: Line = Field(description="Short name of the event.")
    probability: Expr = Field(description="Probability per turn, an expression on the state (clipped to [0, 1]).")
    news: Line = Field(description="The line the news feed shows when the event happens.")
    source: SourceRef = Field(description="The text the event comes from, with a short quote.")
    effects: list[Effect] = Field(default_factory=list, description="What the event changes.")
    cooldown: Turns = Field(0, description="Turns after the event before it can happen again.")
    limit: Optional[int] = Field(None, ge=1, le=520, description="Most times the event happens in a game.")
    ends_game: Optional[Id] = Field(None, description="Outcome the event causes (an incident that escalates: war).")


class Hazard(Strict):
    """Weekly probability of war by miscalculation: max / (1 + exp(-steepness * (tension - midpoint))).
    The engine scales it to the turn's length: 1 - (1 - weekly)^(turn_days / 7) per turn."""

    max: float = Field(0.05, ge=0, le=1, description="Weekly hazard as tension tends to its maximum.")
    midpoint: float = Field(85.0, description="Tension at which the hazard is half its maximum.")
    steepness: float = Field(0.12, gt=0, le=10, description="How sharply the hazard rises around the midpoint.")


class Drafting(Strict):
    """How many turns drafting or bargaining takes: a triangular distribution, drawn per world
    when the proposal is made and rounded to whole turns."""

    min: float = Field(ge=1, le=52, description="Fewest turns.")
    mode: float = Field(ge=1, le=52, description="Most likely number of turns.")
    max: float = Field(ge=1, le=52, description="Most turns.")

    @model_validator(mode="after")
    def _order(self):
        if self.min > self.max:
            raise LocatedError(("min",), f"min ({self.min:g}) must not exceed max ({self.max:g})")
        if not self.min <= self.mode <= self.max:
            raise LocatedError(("mode",), f"mode ({self.mode:g}) must lie between min ({self.min:g}) and max ({self.max:g})")
        return self


class Topic(Strict):
    rule: Literal["consent", "veto"] = Field(
        description="consent: passes if the addressees accept (see `consent`); veto: passes unless a veto member refuses."
    )
    consent: Literal["any", "all"] = Field(
        "any", description="For a consent topic: any: one acceptance passes it; all: every addressee must accept "
        "(one refusal, or a missing answer, fails it)."
    )
    window: int = Field(1, ge=1, le=52, description="Turns the addressees have to answer (unless `drafting` is given).")
    drafting: Optional[Drafting] = Field(
        None, description="Turns drafting or bargaining takes, drawn per world when the proposal is made; replaces `window`."
    )
    free_answer: bool = Field(
        False, description="Answering does not use the addressee's move: it decides again after answering, and the "
        "answer does not count toward its moves_per_turn."
    )
    label: Optional[Line] = Field(None, description="Display name of the topic.")

    @model_validator(mode="after")
    def _consent(self):
        if self.consent == "all" and self.rule != "consent":
            raise LocatedError(("consent",), "consent: all applies to consent topics; a veto topic fails on one veto already")
        return self


class Sanctions(Strict):
    lag: Turns = Field(4, description="Default lag of sanction effects.")
    scale: Expr = Field("1", description="Multiplier of sanction effects, e.g. '0.3 + 0.014 * China.enforcement'.")


class RedLine(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="Name; expressions read redline.<id> (1 once crossed)."
    )
    owner: Id = Field(description="Actor who drew the line; its doctrine's after_red_line applies once crossed.")
    label: Line = Field(description="Display name.")
    crossed_by: list[Id] = Field(min_length=1, description="Options whose success crosses the line.")
    source: Optional[SourceRef] = Field(None, description="Where the line was drawn, with a short quote.")


class Mechanics(Strict):
    tension: Name = Field("tension", description="The variable that is the crisis temperature.")
    hazard: Hazard = Field(default_factory=Hazard, description="The weekly hazard of war by miscalculation (scaled to the turn's length).")
    veto_members: dict[Id, Union[Literal["actor"], Annotated[float, Field(ge=0, le=1)]]] = Field(
        default_factory=dict,
        description="Permanent members: 'actor' when played (they answer by their options), "
        "else the probability they veto.",
    )
    proposals: dict[Id, Topic] = Field(default_factory=dict, description="Proposal topics.")
    sanctions: Sanctions = Field(default_factory=Sanctions, description="How sanctions bite.")
    red_lines: list[RedLine] = Field(default_factory=list, description="Lines whose crossing changes the owner's doctrine.")

    @model_validator(mode="after")
    def _vetoes(self):
        for name, topic in self.proposals.items():
            if topic.rule == "veto" and not self.veto_members:
                raise LocatedError(("proposals", name, "rule"), f"topic '{name}' is vetoable but mechanics.veto_members "
                                   "is empty: it would always pass (declare the members, or use rule: consent)")
        return self


class Measure(Strict):
    """A figure of the real year a scenario represents, and how to count it in a game."""

    id: Id = Field(description="Name of the measure, e.g. launch_days.")
    label: Line = Field(description="Display name.")
    real: float = Field(ge=0, description="The real-world figure for the year.")
    tags: list[Id] = Field(default_factory=list, description="Count moves carrying any of these tags...")
    actor: Optional[Id] = Field(None, description="...taken by this actor only (default: any actor).")
    passed: Optional[Id] = Field(None, description="Or count proposals of this topic that passed.")
    source: Optional[SourceRef] = Field(None, description="Where the real figure comes from, with a short quote.")
    start: Optional[Date] = Field(None, description="Count only from this date (default: the game's start)...")
    end: Optional[Date] = Field(None, description="...to this date, inclusive (default: the horizon).")

    @model_validator(mode="after")
    def _what(self):
        if bool(self.tags) == (self.passed is not None):
            raise ValueError("a measure counts either 'tags' (moves) or 'passed' (a proposal topic)")
        if self.start and self.end and self.end < self.start:
            raise LocatedError(("end",), f"the end {self.end} is before the start {self.start}")
        return self


class Calibration(Strict):
    year: int = Field(ge=1900, le=2100, description="The real year the scenario is compared with.")
    measures: list[Measure] = Field(min_length=1, description="The figures compared.")


BaseName = Annotated[Line, StringConstraints(min_length=1)]
MAX_OPTIONS_PER_ACTOR = 254  # with passing, 255 choices: a bot's pick is counted in one byte (sim/doctrine.py)


class Scenario(Strict):
    extends: Union[BaseName, Annotated[list[BaseName], Field(min_length=1)]] = Field(
        None,
        exclude=True,  # resolved by the loader: a loaded scenario is whole, and dumps without it
        description="Make this file a variant of a base scenario: a bundled name or a path relative to this "
        "file, or a list of them merged in order. Mappings merge key by key, lists and other values replace, "
        "and `KEY: null` deletes the base's KEY.",
    )
    schema_version: Literal[1] = Field(description="Version of this format: 1.")
    title: Line = Field(description="Display name of the scenario.")
    description: Text = Field(description="The moment it represents, in a few sentences.")
    sources: dict[Id, Source] = Field(min_length=1, description="The texts options and events cite, by id.")
    clock: Clock = Field(description="Turn length, start date and horizon.")
    actors: dict[Id, Actor] = Field(min_length=1, description="The actors, in the order they decide each turn.")
    variables: dict[Name, Variable] = Field(
        min_length=1, description="The state: 'name' (global) or 'ACTOR.name' (owned), with range, start and drift."
    )
    ladder: Ladder = Field(description="The rungs and the named thresholds.")
    options: list[Option] = Field(min_length=1, description="Every move of every actor.")
    doctrines: dict[Id, Doctrine] = Field(min_length=1, description="Named presets of the bots' behaviour.")
    injects: list[Inject] = Field(default_factory=list, description="Events scheduled by turn or date.")
    calendar: list[Window] = Field(default_factory=list, description="Windows that open and close on the same dates every year.")
    chance: list[Chance] = Field(default_factory=list, description="Events of chance, drawn every turn.")
    visibility: dict[Name, Visibility] = Field(
        default_factory=dict,
        description="How actors other than a variable's owner see it: public (the default), private (not at all: "
        "they keep what it was at the start), {noisy: SD} (with a fresh error each turn) or {late: TURNS}.",
    )
    outcomes: list[Outcome] = Field(min_length=1, description="How a game can end, checked in this order.")
    mechanics: Mechanics = Field(default_factory=Mechanics, description="Hazard, vetoes, proposals, sanctions, red lines.")
    calibration: Optional[Calibration] = Field(None, description="Real figures `ladder calibrate` compares with.")

    @model_validator(mode="after")
    def _options_per_actor(self):
        count: dict[str, int] = {}
        for i, option in enumerate(self.options):
            count[option.actor] = count.get(option.actor, 0) + 1
            if count[option.actor] > MAX_OPTIONS_PER_ACTOR:
                raise LocatedError(("options", i, "actor"), f"actor '{option.actor}' has more than "
                                   f"{MAX_OPTIONS_PER_ACTOR} options, the most one actor may have")
        return self


def json_schema() -> dict:
    """The JSON Schema of format version 1, for editors and `ladder schema`."""
    schema = Scenario.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "scenario.schema.json", **schema}


def digest(scenario: Scenario) -> str:
    """The scenario's fingerprint: the same for the same content, however it was written."""
    return digest_of(digested(scenario))


def digested(scenario: Scenario) -> dict:
    """What the digest is of: the scenario's dump (a fresh copy, to change for `digests_with`)."""
    return _without_added_defaults(scenario.model_dump(mode="json", by_alias=True))


def digest_of(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _without_added_defaults(data: dict) -> dict:
    """The dump less the fields added to version 1 since its release (issue 16) where they hold
    their defaults: a scenario that uses none of them keeps the digest its saves and batch folders
    were made with, so they still resume."""
    def drop(part: dict, name: str, default) -> None:
        if part.get(name, default) == default:
            part.pop(name, None)

    for actor in data["actors"].values():
        drop(actor, "moves_per_turn", 1)
    for option in data["options"]:
        drop(option, "max_per_turn", 1)
    for topic in data["mechanics"]["proposals"].values():
        drop(topic, "consent", "any")
        drop(topic, "drafting", None)
        drop(topic, "free_answer", False)
    drop(data, "calendar", [])
    for measure in (data.get("calibration") or {}).get("measures", []):
        drop(measure, "start", None)
        drop(measure, "end", None)
    drop(data, "chance", [])
    drop(data, "visibility", {})
    for option in data["options"]:
        drop(option, "detection", None)
        drop(option, "attributed", True)
    return data
