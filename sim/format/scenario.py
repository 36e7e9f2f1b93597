"""Loading a scenario: safe YAML with positions, typed validation, then the cross-references.

Every problem found is reported in one pass as FILE:LINE:COL: message (`ScenarioError`).
A variant (`extends: BASE`) is first merged with its bases into one document whose every
value remembers the file that wrote it, so a problem is located where its value was written.
Structural problems come from pydantic over the whole document; cross-references and
expressions are then checked on every part that is structurally sound, so one bad option
does not hide a dangling reference elsewhere.
"""
from __future__ import annotations

import datetime as dt
import functools
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, TypeAdapter, ValidationError

from .catalog import resolve, scenario_name
from .errors import Problem, ScenarioError, UsageError, did_you_mean, dotted, quoted
from .expr import ExpressionError, compile_expression
from .extends import _Graph, with_bases
from .model import Goal, LocatedError, Scenario
from .source import Document, read_document


@dataclass(frozen=True)
class Loaded:
    name: str
    path: Path
    scenario: Scenario
    document: Document  # the file with its bases merged in: where each value was written


def load(path: Path | str) -> Loaded:
    path = Path(path)
    doc, problems = with_bases(read_document(path), graph=_Graph(path))
    return Loaded(scenario_name(path), path, validate(doc, problems), doc)


def open_scenario(spec: str) -> Loaded:
    """A SCENARIO argument, a bundled name or a path, loaded."""
    return load(resolve(spec))


def parse_doctrines(specs: list[str], scenario: Scenario) -> dict[str, str]:
    """`--doctrine ACTOR=PRESET` overrides, checked against the scenario."""
    out = {}
    for spec in specs:
        actor, sep, preset = spec.partition("=")
        if not sep or not actor or not preset:
            raise UsageError(f"--doctrine {spec!r}: expected ACTOR=PRESET, e.g. US=dove")
        if actor not in scenario.actors:
            raise UsageError(f"--doctrine {spec!r}: unknown actor '{actor}'{_hint(actor, scenario.actors)}")
        if preset not in scenario.doctrines:
            raise UsageError(f"--doctrine {spec!r}: unknown doctrine '{preset}'{_hint(preset, scenario.doctrines)}")
        out[actor] = preset
    return out


def check_actor(flag: str, actor: str, scenario: Scenario) -> str:
    """An actor a flag names (`--view US`), checked against the scenario."""
    if actor not in scenario.actors:
        raise UsageError(f"{flag} {quoted(actor)}: unknown actor{_hint(actor, scenario.actors)}")
    return actor


def _hint(word, pool) -> str:
    return did_you_mean(word, pool) or f" (one of: {', '.join(pool)})"


def validate(doc: Document, problems: Sequence[Problem] = ()) -> Scenario:
    """The scenario of a document whose bases are merged in (`with_bases`); raises ScenarioError
    with every problem, those given (found while merging) included."""
    data = doc.data
    problems = list(problems)
    version = data.get("schema_version")
    if type(version) is not int or version != 1:
        where = ("schema_version",) if "schema_version" in data else ()
        raise ScenarioError([*problems, doc.problem(where, f"unsupported schema_version {quoted(version)}; this version reads 1")])
    scenario = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems += _structural(doc, exc)
    parts = _sound_parts(data) if scenario is None else dict(scenario)
    problems += _Checker(doc, parts).run()
    if problems:
        raise ScenarioError(problems)
    return scenario


# --- structural problems (pydantic) -------------------------------------------------------


def _structural(doc: Document, exc: ValidationError) -> list[Problem]:
    seen: set[tuple] = set()
    out = []
    for err in exc.errors():
        loc = err["loc"]
        found = (err.get("ctx") or {}).get("error")
        if isinstance(found, LocatedError):  # a model's check that names the part at fault
            loc = (*loc, *found.path)
        kind = err["type"]
        path = _data_path(doc.data, loc, missing=kind == "missing")
        if kind == "extra_forbidden":
            key = path[-1]
            hint = _unknown_key_hint(key, tuple(0 if isinstance(p, int) else p for p in path[:-1]))
            out.append(doc.problem(path, f"unknown key {quoted(key)}{hint}", key=True))
            continue
        if path in seen:  # one line per place: a union reports each of its alternatives
            continue
        seen.add(path)
        if kind == "missing":
            field = err["loc"][-1]
            out.append(doc.problem(path[:-1], f"{dotted(path[:-1]) or 'document'}: missing required key '{field}'"))
            continue
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        msg = msg[0].lower() + msg[1:]
        value = err.get("input")
        if isinstance(value, (int, float, str)) and kind != "value_error":
            msg += f" (got {quoted(value)})"
        out.append(doc.problem(path, f"{dotted(path)}: {msg}"))
    return out


def _data_path(data, loc, missing: bool = False) -> tuple:
    """The part of a pydantic location that exists in the document (drops union tags and the like);
    `missing`: the location ends with a key the document lacks."""
    path, node = [], data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and missing and part == loc[-1]:
            path.append(part)  # a missing key: located at its mapping
            break
        elif isinstance(node, dict) and isinstance(part, str):
            continue  # a union's tag (a goal among values): the parts after it are in this mapping
        else:
            break
        path.append(part)
    return tuple(path)


@functools.lru_cache(maxsize=1024)
def _unknown_key_hint(key: str, path: tuple) -> str:
    """Did-you-mean for an unknown key at path (list indices as 0: items share a model). Cached:
    a few aliases of one bad mapping can repeat its keys tens of thousands of times."""
    return did_you_mean(key, _fields_at(path))


def _fields_at(path: tuple) -> list[str]:
    """Names the model at `path` accepts, for did-you-mean suggestions."""
    model: typing.Any = Scenario
    for part in path:
        model = _item_type(model, part)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _item_type(model, part):
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return _unwrap(field.annotation)
        return None
    origin = typing.get_origin(model)
    if origin is dict:
        return _unwrap(typing.get_args(model)[1])
    if origin is list:
        return _unwrap(typing.get_args(model)[0])
    return None


def _unwrap(tp):
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return tp


def _sound_parts(data: dict) -> dict:
    """Each section's items that validate on their own (the rest were reported already)."""
    parts: dict = {}
    for name, field in Scenario.model_fields.items():
        tp = _unwrap(field.annotation)
        raw = data.get(name)
        origin = typing.get_origin(tp)
        if origin is dict and isinstance(raw, dict):
            item = TypeAdapter(typing.get_args(tp)[1])
            parts[name] = {k: v for k, v in ((k, _try(item, v)) for k, v in raw.items()) if v is not None}
        elif origin is list and isinstance(raw, list):
            item = TypeAdapter(typing.get_args(tp)[0])
            parts[name] = [v for v in (_try(item, v) for v in raw) if v is not None]
        elif raw is not None and (value := _try(TypeAdapter(tp), raw)) is not None:
            parts[name] = value  # a section of the wrong type (`variables: false`) is left out
    return parts


def _try(adapter: TypeAdapter, value):
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


# --- cross-references and expressions -----------------------------------------------------


class _Checker:
    """Checks what the types alone cannot: references between sections, expressions, dates."""

    def __init__(self, doc: Document, parts: dict):
        self.doc, self.p = doc, parts
        self.problems: list[Problem] = []
        raw = doc.data
        self.actors = set(_keys(raw.get("actors")))
        self.variables = set(_keys(raw.get("variables")))
        self.sources = set(_keys(raw.get("sources")))
        self.doctrines = set(_keys(raw.get("doctrines")))
        self.rungs = set(_ids(_get(raw, "ladder", "rungs")))
        self.option_ids = set(_ids(raw.get("options")))
        self.outcomes = set(_ids(raw.get("outcomes")))
        mech = raw.get("mechanics") if isinstance(raw.get("mechanics"), dict) else {}
        self.topics = set(_keys(mech.get("proposals")))
        self.red_lines = set(_ids(mech.get("red_lines")))
        # every tag written, in sound options or not: one bad field in an option must not make every
        # doctrine naming its tags fail too
        self.tags = {t for o in _items(raw.get("options")) if isinstance(o.get("tags"), list)
                     for t in o["tags"] if isinstance(t, str)}
        self.first_index: dict[str, dict] = {}  # section -> id -> its first position in the raw list
        self.windows = set(_ids(raw.get("calendar")))
        # besides variables, turn and red lines, expressions read the ladder and the calendar
        self.read_too = ({f"{a}.{what}" for a in self.actors for what in ("position", "peak")}
                         | {"month", "day_of_year"} | {f"window.{w}" for w in self.windows})
        self.names = self.variables | {"turn"} | {f"redline.{r}" for r in self.red_lines} | self.read_too
        # the calls' keys: options and tags of any actor, and tags of one actor (ACTOR.TAG)
        keys = self.option_ids | self.tags | {f"{o['actor']}.{t}" for o in _items(raw.get("options"))
                                               if isinstance(o.get("actor"), str) and isinstance(o.get("tags"), list)
                                               for t in o["tags"] if isinstance(t, str)}
        # prepared(OPTION): whether it is in preparation (on an actor's view: as far as it knows)
        prepared = {o["id"] for o in _items(raw.get("options"))
                    if isinstance(o.get("id"), str) and isinstance(o.get("prepare"), int) and o["prepare"] > 0}
        self.calls = {"count": keys, "since": keys, "crossed": set(_ids(_get(raw, "ladder", "thresholds"))), "prepared": prepared}

    def run(self) -> list[Problem]:
        for section in ("actors", "variables", "visibility", "options", "doctrines", "injects", "calendar", "chance", "outcomes",
                        "mechanics", "calibration"):
            getattr(self, f"_{section}")()
        self._unique(("options",))
        self._unique(("injects",), ("calendar",), ("chance",))
        self._unique(("outcomes",))
        self._unique(("ladder", "rungs"))
        self._unique(("ladder", "thresholds"))
        return self.problems

    def err(self, path: tuple, msg: str, key: bool = False):
        self.problems.append(self.doc.problem(path, msg, key=key))

    def ref(self, path: tuple, value: str, pool: set, what: str, key: bool = False):
        if value not in pool:
            where = dotted(path[:-1] if key else path)
            self.err(path, f"{where}: unknown {what} '{value}'{did_you_mean(value, pool)}", key=key)

    def expr(self, path: tuple, text: str | None):
        if text is None:
            return
        try:
            compile_expression(text, self.names, self.calls)
        except ExpressionError as exc:
            line, col = self.doc.locate(path, exc.offset)
            self.problems.append(Problem(self.doc.file_of(path), line, col, f"{dotted(path)}: {exc.message}"))

    def effects(self, path: tuple, effects):
        for i, e in enumerate(effects):
            self.ref(path + (i, "var"), e.var, self.variables, "variable")
            var = self.p.get("variables", {}).get(e.var)
            if var and e.set is not None and not var.min <= e.set <= var.max:
                self.err(path + (i, "set"), f"{dotted(path + (i, 'set'))}: {e.set} is outside [{var.min}, {var.max}]")

    def source(self, path: tuple, src):
        if src is not None:
            self.ref(path + ("ref",), src.ref, self.sources, "source")

    def _actors(self):
        for name, a in (self.p.get("actors") or {}).items():
            self.ref(("actors", name, "doctrine"), a.doctrine, self.doctrines, "doctrine")
            for i, opp in enumerate(a.opponents):
                if opp == name:
                    self.err(("actors", name, "opponents", i), f"actors.{name}.opponents: an actor cannot be its own opponent")
                    continue
                self.ref(("actors", name, "opponents", i), opp, self.actors - {name}, "actor")
            self.values(("actors", name, "values"), a.values)
            self.expr(("actors", name, "acts_when"), a.acts_when)

    def _variables(self):
        for name, v in (self.p.get("variables") or {}).items():
            prefix = name.split(".")[0]
            path = ("variables", name)
            if v.owner is not None:
                self.ref(path + ("owner",), v.owner, self.actors, "actor")
                if v.owner in self.actors and prefix != v.owner:
                    self.err(path, f"variable '{name}' is owned by {v.owner}: name it '{v.owner}.…'", key=True)
            elif prefix in self.actors and "." in name:
                self.err(path, f"variable '{name}' starts with actor {prefix}: add 'owner: {prefix}'", key=True)
            if name in self.read_too or name.startswith("window."):
                self.err(path, f"variable '{name}' has the name of a value expressions read already: rename it", key=True)

    def _visibility(self):
        for name in self.p.get("visibility") or {}:
            self.ref(("visibility", name), name, self.variables, "variable", key=True)

    def _options(self):
        for i, o in enumerate(self.p.get("options") or []):
            path = ("options", self._index("options", o.id, i))
            self.ref(path + ("actor",), o.actor, self.actors, "actor")
            self.ref(path + ("rung",), o.rung, self.rungs, "rung")
            self.source(path + ("source",), o.source)
            for j, t in enumerate(o.targets):
                self.ref(path + ("targets", j), t, self.actors, "actor")
            self.expr(path + ("requires",), o.requires)
            self.effects(path + ("effects",), o.effects)
            if o.proposes:
                self.ref(path + ("proposes", "topic"), o.proposes.topic, self.topics, "proposal topic")
                for j, t in enumerate(o.proposes.to):
                    if t == o.actor:
                        self.err(path + ("proposes", "to", j), f"{dotted(path + ('proposes', 'to'))}: '{t}' proposes "
                                 "this: an actor cannot address a proposal to itself")
                        continue
                    self.ref(path + ("proposes", "to", j), t, self.actors - {o.actor}, "actor")
                topic = (self.p.get("mechanics") or _NoMech).proposals.get(o.proposes.topic)
                if topic and topic.rule == "consent" and not o.proposes.to:
                    self.err(path + ("proposes",), f"{dotted(path)}: a consent proposal needs 'to: [ACTOR, ...]'")
            if o.answers:
                self.ref(path + ("answers", "topic"), o.answers.topic, self.topics, "proposal topic")
            if o.ends_game is not None:
                self.ref(path + ("ends_game",), o.ends_game, self.outcomes, "outcome")
            self._detection(path, o)

    def _detection(self, path: tuple, o):
        """A detection chance belongs to a covert preparation; its expressions read known names,
        and those it names to detect are other actors."""
        if o.detection is None:
            return
        if o.visible or not o.prepare:
            self.err(path + ("detection",), f"{dotted(path + ('detection',))}: only a covert preparation is detected: "
                     "the option needs 'prepare' above 0 and 'visible: false'")
        by = o.detection if isinstance(o.detection, dict) else {None: o.detection}
        for actor, chance in by.items():
            at = path + ("detection",) + (() if actor is None else (actor,))
            if actor is not None:
                if actor == o.actor:
                    self.err(at, f"{dotted(at)}: an actor does not detect its own preparation", key=True)
                else:
                    self.ref(at, actor, self.actors, "actor", key=True)
            if isinstance(chance, str):
                self.expr(at, chance)

    def values(self, path: tuple, values: dict):
        """Weights or goals per variable: the variable exists, a goal lies within its range."""
        for var, value in values.items():
            self.ref(path + (var,), var, self.variables, "variable", key=True)
            v = self.p.get("variables", {}).get(var)
            if v is None or not isinstance(value, Goal):
                continue
            for where, x in ((("target",), value.target), *((("band", i), b) for i, b in enumerate(value.band or ()))):
                if x is not None and not v.min <= x <= v.max:
                    at = path + (var, *where)
                    self.err(at, f"{dotted(at)}: {x:g} is outside {var}'s range [{v.min:g}, {v.max:g}]")

    def _doctrines(self):
        for name, d in (self.p.get("doctrines") or {}).items():
            rules = [(r, ("doctrines", name, "rules", i)) for i, r in enumerate(d.rules)]
            for terms, path in ((d, ("doctrines", name)), (d.after_red_line, ("doctrines", name, "after_red_line")), *rules):
                if terms is None:
                    continue
                self.expr(path + ("when",), getattr(terms, "when", None))
                self.values(path + ("weights",), terms.weights)
                for tag in terms.tags:
                    self.ref(path + ("tags", tag), tag, self.tags, "option tag", key=True)
                for oid in terms.options:
                    self.ref(path + ("options", oid), oid, self.option_ids, "option", key=True)

    def _injects(self):
        clock = self.p.get("clock")
        for i, inj in enumerate(self.p.get("injects") or []):
            path = ("injects", self._index("injects", inj.id, i))
            self.effects(path + ("effects",), inj.effects)
            self.expr(path + ("when",), inj.when)
            self.source(path + ("source",), inj.source)
            if inj.date and clock:  # both are calendar dates (the model checks them)
                days = (dt.date.fromisoformat(inj.date) - dt.date.fromisoformat(clock.start)).days
                if days < 0:
                    self.err(path + ("date",), f"{dotted(path)}: date {inj.date} is before the start {clock.start}")

    def _calendar(self):
        for i, window in enumerate(self.p.get("calendar") or []):
            path = ("calendar", self._index("calendar", window.id, i))
            self.effects(path + ("effects_start",), window.effects_start)
            self.effects(path + ("effects_end",), window.effects_end)
            self.source(path + ("source",), window.source)

    def _chance(self):
        for i, event in enumerate(self.p.get("chance") or []):
            path = ("chance", self._index("chance", event.id, i))
            self.expr(path + ("probability",), event.probability)
            self.effects(path + ("effects",), event.effects)
            self.source(path + ("source",), event.source)
            if event.ends_game is not None:
                self.ref(path + ("ends_game",), event.ends_game, self.outcomes, "outcome")

    def _outcomes(self):
        kinds = []
        for i, out in enumerate(self.p.get("outcomes") or []):
            path = ("outcomes", self._index("outcomes", out.id, i))
            kinds.append(out.kind)
            self.expr(path + ("when",), out.when)
            if out.kind in ("condition", "deal") and out.when is None:
                self.err(path, f"{dotted(path)}: a '{out.kind}' outcome needs 'when: CONDITION'")
        for kind in ("war", "horizon"):
            if self.p.get("outcomes") and kinds.count(kind) != 1:
                self.err(("outcomes",), f"outcomes: declare exactly one outcome of kind '{kind}'")

    def _mechanics(self):
        mech = self.p.get("mechanics")
        if mech is None:
            return
        self.ref(("mechanics", "tension"), mech.tension, self.variables, "variable")
        for member, stance in mech.veto_members.items():
            if stance == "actor":
                self.ref(("mechanics", "veto_members", member), member, self.actors, "actor", key=True)
        self.expr(("mechanics", "sanctions", "scale"), mech.sanctions.scale)
        for i, rl in enumerate(mech.red_lines):
            path = ("mechanics", "red_lines", i)
            self.ref(path + ("owner",), rl.owner, self.actors, "actor")
            for j, oid in enumerate(rl.crossed_by):
                self.ref(path + ("crossed_by", j), oid, self.option_ids, "option")
            self.source(path + ("source",), rl.source)

    def _calibration(self):
        cal = self.p.get("calibration")
        for i, m in enumerate(cal.measures if cal else []):
            path = ("calibration", "measures", i)
            for j, tag in enumerate(m.tags):
                self.ref(path + ("tags", j), tag, self.tags, "option tag")
            if m.actor is not None:
                self.ref(path + ("actor",), m.actor, self.actors, "actor")
            if m.passed is not None:
                self.ref(path + ("passed",), m.passed, self.topics, "proposal topic")
            self.source(path + ("source",), m.source)
            clock = self.p.get("clock")
            for field in ("start", "end") if clock else ():
                date = getattr(m, field)
                first = dt.date.fromisoformat(clock.start)
                last = first + dt.timedelta(days=clock.horizon * clock.turn_days - 1)
                if date and not first <= dt.date.fromisoformat(date) <= last:
                    self.err(path + (field,), f"{dotted(path + (field,))}: {date} is outside the game ({first} to {last})")

    def _index(self, section: str, item_id: str, fallback: int) -> int:
        """Position of an item in the raw list (sound parts may have dropped earlier items).
        The positions are found once per section: a scan per item made a file of thousands of
        options take a minute to validate."""
        first = self.first_index.get(section)
        if first is None:
            first = self.first_index[section] = {}
            raw = self.doc.data.get(section)
            for i, item in enumerate(raw if isinstance(raw, list) else []):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    first.setdefault(item["id"], i)
        return first.get(item_id, fallback)

    def _unique(self, *sections: tuple):
        """Ids unique within these sections taken together (scheduled events, windows and events
        of chance share one: the news and the record name them by id)."""
        seen: dict = {}
        for section in sections:
            items = _get(self.doc.data, *section)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    if item["id"] in seen:
                        first = self.doc.where(seen[item["id"]] + ("id",))[0]
                        self.err(section + (i, "id"), f"duplicate id '{item['id']}' (first defined at line {first})")
                    seen.setdefault(item["id"], section + (i,))


class _NoMech:
    proposals: dict = {}


def _items(x) -> list[dict]:
    """The mappings of a raw list (anything else in it was reported already)."""
    return [i for i in x if isinstance(i, dict)] if isinstance(x, list) else []


def _keys(x) -> list:
    return list(x) if isinstance(x, dict) else []


def _ids(x) -> list:
    return [i["id"] for i in x if isinstance(i, dict) and isinstance(i.get("id"), str)] if isinstance(x, list) else []


def _get(data, *path):
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data
