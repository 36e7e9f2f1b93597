"""Per-world parameters: numbers an experiment varies, different in each world of one batch, so
that a whole experimental design is one batch (DESIGN §4, "Batch-first").

A parameter is named by the dotted path `with_values` takes and given as an array with a value
per world. The engine varies per world the numbers it reads as numbers while it plays:

- `mechanics.hazard.midpoint`, `.steepness`, `.max` (the hazard of miscalculation, and what
  risk-averse doctrines weigh of it);
- `variables.V.initial` and `variables.V.baseline` (where a drifting variable drifts to: its
  initial value if it has no baseline, so that initial value is per world in both roles);
- `options.O.success` (the draw, and what doctrines expect of the move);
- a doctrine preset's `temperature`, `escalation`, `reciprocity`, `risk_aversion`, `values` and
  `pass` (its own terms, not its rules');
- a doctrine's plain weights: `doctrines.D.weights.V`, its `after_red_line.weights.V` and its
  rules' `rules.N.weights.V` (N the rule's position, from 0), not goals;
- `actors.A.values.V`, an actor's plain value weight of a variable (not a goal);
- an effect's `delta`: `options.O.effects.N.delta` (N its position in the option's list, from
  0), `injects.I.effects.N.delta`, `chance.C.effects.N.delta`, `calendar.W.effects_start.N.delta`
  and `.effects_end.N.delta`. Every kind: immediate (the effect tables' cells, `Cells`, their
  uncertainty a share of the world's delta), lagged, spread over turns, a sanction, one that
  reverts; and what doctrines expect of it (its value, a sanction's, the tension it adds for
  the hazard, a goal's gain: changes equal in a world are one change there, as in a batch).

Everything else shapes the compiled rules or their structure (sanction lags, an effect's lag,
`over`, `uncertainty` or `set`, goals, a rule's other terms and conditions, habits, ranges,
levers), so a design varying it is played as batches grouped by those values (`is_per_world`).
A world given the values of a scenario plays exactly as in a batch of that scenario: the same
arithmetic, element by element, in the same precision. Without parameters nothing is per world:
the engine takes its scalar path, unchanged.
"""
from __future__ import annotations

import numpy as np

from ..format.values import locate
from .rules import Rules

HAZARD = ("midpoint", "steepness", "max")
TERMS = {"temperature": "temperature", "escalation": "escalation", "reciprocity": "reciprocity",
         "risk_aversion": "risk_aversion", "values": "values", "pass": "pass_"}  # as the file names them -> the model's field


EFFECTS = (("options", "effects"), ("injects", "effects"), ("chance", "effects"),
           ("calendar", "effects_start"), ("calendar", "effects_end"))  # where effects are listed, in `Rules`' order


def kind(data: dict, path: str) -> tuple | None:
    """What `path` names in the scenario data (its dump by alias) if the engine can vary it per
    world: ("hazard", name), ("initial" | "baseline", variable), ("success", option id), ("term",
    doctrine, field), ("weight", doctrine, None | "after_red_line" | rule position, variable),
    ("value", actor, variable) or ("delta", where, item id, effect position); None if only a
    batch of its own can vary it."""
    container, key = locate(data, path)
    value = container[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if key == "delta":
        for section, field in EFFECTS:
            for item in data[section]:
                for n, effect in enumerate(item.get(field, ())):
                    if container is effect:
                        return ("delta", f"{section}.{field}", item["id"], n)
    if container is data["mechanics"]["hazard"] and key in HAZARD:
        return ("hazard", key)
    for name, spec in data["variables"].items():
        if container is spec and key in ("initial", "baseline"):
            return (key, name)
    for spec in data["options"]:
        if container is spec and key == "success":
            return ("success", spec["id"])
    for name, spec in data["doctrines"].items():
        if container is spec and key in TERMS:
            return ("term", name, TERMS[key])
        terms = [(None, spec), ("after_red_line", spec.get("after_red_line") or {}), *enumerate(spec.get("rules", ()))]
        for where, part in terms:  # the preset's weights, its after_red_line's, its rules' (by position)
            if container is part.get("weights"):
                return ("weight", name, where, key)
    for name, spec in data["actors"].items():
        if container is spec.get("values"):
            return ("value", name, key)
    return None


def is_per_world(data: dict, path: str) -> bool:
    return kind(data, path) is not None


class Params:
    """Per-world values of one batch, found by what they are: what the engine's parts read."""

    def __init__(self, rules: Rules, values: dict[str, np.ndarray]):
        data = rules.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
        self.hazard: dict[str, np.ndarray] = {}  # midpoint, steepness, max
        self.initial: dict[int, np.ndarray] = {}  # variable index ->
        self.success: dict[int, np.ndarray] = {}  # option index ->
        self.terms: dict[str, dict[str, np.ndarray]] = {}  # doctrine -> field ->
        self.values: dict[str, dict[str, np.ndarray]] = {}  # actor -> variable ->
        self.baseline: dict[int, np.ndarray] = {}  # variable index -> (where it drifts to)
        self.weights: dict[tuple, dict[str, np.ndarray]] = {}  # (doctrine, None | "after_red_line" | rule) -> variable ->
        self.deltas: dict[int, np.ndarray] = {}  # an effect's key (`CompiledEffect.key`) ->
        self.size = len(next(iter(values.values()))) if values else 0
        for path, array in values.items():
            found = kind(data, path)
            if found is None:
                raise ValueError(f"{path}: the engine cannot vary it per world; play a batch per value")
            array = np.asarray(array, dtype=float)
            if array.shape != (self.size,):
                raise ValueError(f"{path}: expected one value per world ({self.size}), got an array of shape {array.shape}")
            if found[0] == "hazard":
                self.hazard[found[1]] = array
            elif found[0] == "initial":
                v = rules.var_index[found[1]]
                self.initial[v] = array
                if rules.scenario.variables[found[1]].baseline is None:  # the initial value is the baseline too
                    self.baseline.setdefault(v, array)
            elif found[0] == "baseline":
                self.baseline[rules.var_index[found[1]]] = array
            elif found[0] == "weight":
                self.weights.setdefault(found[1:3], {})[found[3]] = array
            elif found[0] == "success":
                self.success[rules.option_index[found[1]]] = array
            elif found[0] == "delta":
                self.deltas[_effect(rules, *found[1:]).key] = array
            elif found[0] == "term":
                self.terms.setdefault(found[1], {})[found[2]] = array
            else:
                self.values.setdefault(found[1], {})[found[2]] = array

    def take(self, index: np.ndarray) -> Params:
        """The values of the given worlds (repeats allowed), as `State.take` takes them."""
        new = object.__new__(Params)
        new.size = len(index)
        pick = lambda d: {k: v[index] for k, v in d.items()}  # noqa: E731
        new.hazard, new.initial, new.success = pick(self.hazard), pick(self.initial), pick(self.success)
        new.deltas, new.baseline = pick(self.deltas), pick(self.baseline)
        new.weights = {k: pick(v) for k, v in self.weights.items()}
        new.terms = {k: pick(v) for k, v in self.terms.items()}
        new.values = {k: pick(v) for k, v in self.values.items()}
        return new


def _effect(rules: Rules, where: str, item: str, n: int):
    """The compiled effect at position n of an item's list of effects (`kind`'s "delta")."""
    if where == "options.effects":
        return rules.effects[rules.option_index[item]][n]
    if where == "injects.effects":
        return rules.inject_effects[[i.id for i in rules.scenario.injects].index(item)][n]
    if where == "chance.effects":
        return rules.chance_effects[[c.id for c in rules.chance].index(item)][n]
    w = [w.id for w in rules.calendar.windows].index(item)
    return (rules.calendar.start_effects if where == "calendar.effects_start" else rules.calendar.end_effects)[w][n]


class Cells:
    """The cells of one actor's effect table (`rules.EffectTable`) that hold an effect whose delta
    varies per world, each worked out per world as the table works it out from the scenario's
    deltas: the same sums in the same order, so a world's cell is its batch's, bit for bit.

    Each is (row, column, success, failure, always, sd on success, sd on failure), [W] arrays."""

    def __init__(self, rules: Rules, actor: int, deltas: dict[int, np.ndarray], size: int):
        self.cells = []
        for (c, k), effects in rules.cells[actor].items():
            if not any(e.key in deltas for e in effects):
                continue
            sums = {"success": np.zeros(size), "failure": np.zeros(size), "always": np.zeros(size)}
            sd_success, sd_failure = np.zeros(size), np.zeros(size)
            for e in effects:
                delta = deltas.get(e.key, e.delta)
                sums[e.when] += delta
                sd = np.abs(e.uncertainty * delta)
                if e.when != "failure":
                    sd_success[:] = sd
                if e.when != "success":
                    sd_failure[:] = sd
            self.cells.append((c, k, sums["success"], sums["failure"], sums["always"], sd_success, sd_failure))

    def __bool__(self) -> bool:
        return bool(self.cells)


class Hazard:
    """The hazard's three numbers, each a scalar or an array per world."""

    def __init__(self, rules: Rules, params: Params | None):
        h = rules.scenario.mechanics.hazard
        given = params.hazard if params else {}
        self.midpoint = given.get("midpoint", h.midpoint)
        self.steepness = given.get("steepness", h.steepness)
        self.max = given.get("max", h.max)
        self.per_world = bool(given)
