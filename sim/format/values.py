"""Values of a scenario set by dotted path, as a validated variant with no YAML round trip:
what `sim.with_values` and an experiment's design need (DESIGN §5, "a Python API")."""
from __future__ import annotations

import difflib
import hashlib
import json
import re

from .errors import ScenarioError, UsageError, quoted
from .model import Scenario, digest_of, digested
from .scenario import validate
from .source import Document


def with_values(scenario: Scenario, values: dict[str, object], what: str = "with_values") -> Scenario:
    """`scenario` with each dotted path in `values` set to its value, validated as a file is.

    A path runs through mappings by key (a key may hold dots, as variable names do: the longest
    key that matches is taken) and through lists by item id, or by position from 0 for an item
    without one (an effect): `mechanics.hazard.midpoint`, `actors.DPRK.values.DPRK.capability`,
    `options.dprk_icbm.success`, `options.dprk_icbm.effects.0.delta`. The value replaces what the
    path names, a mapping or a list whole (a goal by a plain weight, say); unlike `extends:`, it
    is not merged into it. A path that names nothing, or a value the scenario cannot take,
    raises UsageError with one line starting `what PATH`.
    """
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)  # a fresh copy to change
    for path, value in values.items():
        container, key = locate(data, path, what)
        container[key] = value
    try:
        return validate(Document(what, data, {}, {}))
    except ScenarioError as exc:
        first = exc.problems[0].message
        more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
        shown = ", ".join(f"{p}={quoted(v)}" for p, v in values.items())
        raise UsageError(f"{what} {shown}: {first}{more}") from None


def digests_with(scenario: Scenario, paths: list[str], rows) -> list[str]:
    """`digest(with_values(scenario, dict(zip(paths, row))))` for each row of numbers, where each
    path names a number the scenario holds as a float (what `engine.params` varies per world):
    the dump is written once with a marker at each path and each row's numbers put in its place,
    a thousand points in a fraction of what a thousand validations cost. Checked against
    `digest` for the first row."""
    data = digested(scenario)
    for j, path in enumerate(paths):
        container, key = locate(data, path)
        container[key] = f"\x00{j}"  # dumped as "\u0000j": no scenario text holds a NUL
    pieces = re.split(r'"\\u0000(\d+)"', json.dumps(data, sort_keys=True))
    texts, slots = pieces[::2], [int(j) for j in pieces[1::2]]
    out = []
    for row in rows:
        numbers = [json.dumps(float(row[j])) for j in slots]
        text = "".join(t + n for t, n in zip(texts, numbers)) + texts[-1]
        out.append(hashlib.sha256(text.encode()).hexdigest())
    if out and out[0] != digest_of(digested(with_values(scenario, {p: float(v) for p, v in zip(paths, rows[0])}))):
        raise RuntimeError("digests_with: a path names a number the scenario does not hold as a float")
    return out


def locate(data: dict, path: str, what: str = "with_values"):
    """The container and key a dotted path names in the scenario data (see `with_values`)."""
    parts = path.split(".") if isinstance(path, str) else [""]
    if not all(parts):
        raise UsageError(f"{what} {quoted(path)}: expected a dotted path such as mechanics.hazard.midpoint")
    node, i, trail = data, 0, []
    container = key = None
    while i < len(parts):
        if isinstance(node, dict):
            names = [k for k in node if isinstance(k, str)]
        elif isinstance(node, list):  # an item by its id, or by its position if it has none (ids start with a letter)
            names = [item["id"] if isinstance(item, dict) and isinstance(item.get("id"), str) else str(j)
                     for j, item in enumerate(node)]
        else:
            raise UsageError(f"{what} {path}: {'.'.join(trail)} is a single value ({quoted(node)}); it has no '{parts[i]}'")
        found = next((j for j in range(len(parts), i, -1) if ".".join(parts[i:j]) in names), None)
        if found is None:
            kind = "key" if isinstance(node, dict) else "id" if any(not n.isdigit() for n in names) else "item"
            _unknown(path, parts, i, trail, names, kind, what)
        name = ".".join(parts[i:found])
        container, key = node, (name if isinstance(node, dict) else names.index(name))
        trail.append(name)
        node, i = container[key], found
    if key == "id":
        raise UsageError(f"{what} {path}: an id cannot be changed (items are named by it)")
    return container, key


def _unknown(path: str, parts: list[str], i: int, trail: list[str], pool: list[str], kind: str, what: str):
    best, word = None, parts[i]
    where = f" under '{'.'.join(trail)}'" if trail else ""
    if kind == "item":  # a list whose items have no ids: they are numbered
        numbered = f"its {len(pool)} items are numbered 0 to {len(pool) - 1}" if pool else "it is empty"
        raise UsageError(f"{what} {path}: no item '{word}'{where} ({numbered})")
    for cand in pool:  # a candidate with dots is compared with as many components
        piece = ".".join(parts[i: i + cand.count(".") + 1])
        score = difflib.SequenceMatcher(None, piece, cand).ratio()
        if score >= 0.6 and (best is None or score > best[0]):
            best = (score, cand, piece)
    if best:
        raise UsageError(f"{what} {path}: unknown {kind} '{best[2]}'{where} (did you mean '{best[1]}'?)")
    shown = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
    raise UsageError(f"{what} {path}: unknown {kind} '{word}'{where} (one of: {shown})")

