"""The authoring guide, scenarios/README.md, documents every field of the format, and no other.

The guide's Reference chapter has a section per model of `sim.format.model` (`### Option — ...`), and
in it a line per field: ``- `name` — type; range; required.`` or ``...; default `X`.``, followed
by its meaning and ``Example: `name: value```. These tests read that structure, not loose
mentions in the prose, so a field added to the format without its line, or a line left behind
for a field that is gone, fails them.
"""
from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel, TypeAdapter, ValidationError

from sim.format.errors import ScenarioError
from sim.format.model import Scenario
from sim.format.scenario import load
from sim.format.source import parse_document

GUIDE = Path(__file__).resolve().parent.parent / "scenarios" / "README.md"


def format_fields(root: type[BaseModel] = Scenario) -> dict[str, dict]:
    """{model: {field as written in a file: FieldInfo}} for every model reachable from `root`.

    A field belongs to the model that declares it: the terms a Doctrine inherits are
    DoctrineTerms' fields, documented once.
    """
    found: dict[str, dict] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            continue
        bases = [b for b in model.__mro__[1:] if issubclass(b, BaseModel) and b is not BaseModel]
        inherited = {name for b in bases for name in b.model_fields}
        fields = model.model_fields.items()
        found[model.__name__] = {f.alias or name: f for name, f in fields if name not in inherited}
        todo += bases + [m for _, f in fields for m in _models_in(f.annotation)]
    return found


def _models_in(annotation) -> list[type[BaseModel]]:
    """The models inside a type: itself, or those in its Optional, Union, list, dict, Annotated."""
    if typing.get_origin(annotation) is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def guide_fields(text: str) -> dict[str, dict[str, str]]:
    """{model: {field: its entry}} from the Reference chapter; an entry is the field's line
    (`- `name` — ...`) and the indented lines after it."""
    _, found, rest = text.partition("\n## Reference\n")
    assert found, f"{GUIDE}: no '## Reference' chapter"
    reference = rest.split("\n## ", 1)[0]
    sections: dict[str, dict[str, str]] = {}
    for section in re.split(r"^### ", reference, flags=re.M)[1:]:
        model = re.match(r"\w+", section)[0]
        sections[model] = dict(re.findall(r"^- `([^`]+)` — (.*(?:\n  .*)*)", section, flags=re.M))
    return sections


def missing(documented: dict) -> list[str]:
    return sorted(f"{m}.{f}" for m, fields in FORMAT.items() for f in fields if f not in documented.get(m, {}))


def stale(documented: dict) -> list[str]:
    return sorted(f"{m}.{f}" for m, entries in documented.items() for f in entries if f not in FORMAT.get(m, {}))


def _yaml(text: str, name: str):
    return parse_document(text, name).data


FORMAT = format_fields()
TEXT = GUIDE.read_text(encoding="utf-8")
DOCUMENTED = guide_fields(TEXT)


def _entries():
    """(model, field, FieldInfo, entry) for every field the guide documents."""
    for model, fields in FORMAT.items():
        for name, info in fields.items():
            if name in DOCUMENTED.get(model, {}):
                yield model, name, info, DOCUMENTED[model][name]


def test_every_field_of_the_format_has_a_line_in_the_guide():
    gaps = missing(DOCUMENTED)
    assert not gaps, f"fields without a line in the Reference of {GUIDE}: {', '.join(gaps)}"


def test_the_guide_documents_no_field_the_format_lacks():
    extra = stale(DOCUMENTED)
    assert not extra, f"{GUIDE} documents fields the format does not have: {', '.join(extra)}"


def test_a_field_mentioned_only_in_prose_counts_as_missing():
    # `turn_days` stays in the walk-through's prose: only its Reference line is taken out.
    text = TEXT.replace("- `turn_days` — ", "- turn_days — ", 1)
    assert set(missing(guide_fields(text))) - set(missing(DOCUMENTED)) == {"Clock.turn_days"}


def test_each_field_line_states_required_or_its_default_as_the_format_has_it():
    wrong = []
    for model, name, info, entry in _entries():
        claim = entry.splitlines()[0].rsplit("; ", 1)[-1]
        where = f"{model}.{name}"
        if not claim.startswith(("required", "default")):
            wrong.append(f"{where}: the line should end with '; required.' or '; default ...' (got {claim!r})")
        elif info.is_required() != claim.startswith("required"):
            wrong.append(f"{where}: the format has it {'required' if info.is_required() else 'optional'}")
        elif isinstance(info.default, (bool, int, float, str)):
            literal = re.match(r"default `([^`]*)`", claim)
            if literal is None or _yaml(f"default: {literal[1]}", where)["default"] != info.default:
                wrong.append(f"{where}: the format's default is {info.default!r}; the guide says {claim!r}")
    assert not wrong, "\n".join(wrong)


def test_each_field_example_is_valid_for_the_format():
    wrong = []
    for model, name, info, entry in _entries():
        where = f"{model}.{name}"
        example = re.search(r"Example:\s+`([^`]+)`", entry)
        if example is None:
            wrong.append(f"{where}: no 'Example: `{name}: ...`'")
            continue
        try:
            data = _yaml(" ".join(example[1].split()), where)
        except ScenarioError as exc:
            wrong.append(f"{where}: example is not YAML: {exc}")
            continue
        if list(data) != [name]:
            wrong.append(f"{where}: example should be `{name}: VALUE`, got {example[1]!r}")
            continue
        constrained = typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        try:
            TypeAdapter(constrained).validate_python(data[name])
        except ValidationError as exc:
            wrong.append(f"{where}: example {example[1]!r}: {exc.errors()[0]['msg']}")
    assert not wrong, "\n".join(wrong)


def test_the_scenarios_and_variants_the_guide_shows_are_valid(tmp_path):
    blocks = re.findall(r"^```yaml\n(.*?)^```", TEXT, flags=re.M | re.S)
    files = [b for b in blocks if re.match(r"(#.*\n)*(schema_version|extends):", b)]
    assert len(files) >= 2, "the guide should show a whole scenario and a variant"
    for i, block in enumerate(files):
        path = tmp_path / f"guide-{i}.scenario.yaml"
        path.write_text(block, encoding="utf-8")
        load(path)  # raises ScenarioError, listing every problem, if the example is wrong
