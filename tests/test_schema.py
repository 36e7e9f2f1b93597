"""The JSON Schema editors use: complete, described, and never out of date."""
import json

from sim.format.catalog import bundled, bundled_dir
from sim.format.model import json_schema


def test_the_committed_schema_is_the_one_the_models_give():
    committed = json.loads((bundled_dir() / "scenario.schema.json").read_text())
    assert committed == json_schema(), "run: ladder schema > scenarios/scenario.schema.json"


def test_every_field_of_the_format_has_a_description():
    schema = json_schema()
    models = {"Scenario": schema, **schema["$defs"]}
    missing = [f"{name}.{field}" for name, model in models.items()
               for field, spec in model.get("properties", {}).items() if not spec.get("description")]
    assert missing == []


def test_bundled_scenarios_point_editors_at_the_schema():
    for path in bundled().values():
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=scenario.schema.json"


def test_an_editor_checking_against_the_schema_accepts_the_bundled_scenarios():
    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(json_schema())
    for name, path in bundled().items():
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], name
