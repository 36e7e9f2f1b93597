"""What `ladder new` writes: a commented skeleton scenario, or a variant of an existing one.

The skeleton is the template `skeleton.yaml` beside this module, behind a first line naming the
JSON Schema for editors. A variant is `extends: BASE` followed by the base's most often changed
values, commented out, read from the base itself.
"""
from __future__ import annotations

import os
import textwrap
from importlib import resources
from pathlib import Path

import yaml

from ..engine.rules import Rules
from ..format.catalog import SUFFIX, bundled, bundled_dir
from ..format.errors import UsageError
from ..format.scenario import open_scenario
from ..format.words import plural

__all__ = ["new_scenario"]

DOCTRINE_TERMS = ("temperature", "escalation", "reciprocity", "risk_aversion")  # listed in a variant


def new_scenario(name: str, base: str | None = None) -> Path:
    """Write NAME.scenario.yaml, a skeleton or a variant of `base`, and return its path.
    Never overwrites a file and never creates a folder."""
    stem = name.removesuffix(SUFFIX)
    if os.path.basename(stem) in ("", ".", ".."):
        raise UsageError(f"{name!r} does not name a file; give a name such as crises/my-crisis")
    target = Path(stem + SUFFIX)
    text = skeleton(target) if base is None else variant(target, base)
    try:
        with open(target, "x", encoding="utf-8") as handle:  # "x": fails rather than overwrite
            handle.write(text)
    except FileExistsError:
        raise UsageError(f"{target}: already exists; choose another NAME or remove the file") from None
    except FileNotFoundError:
        raise UsageError(f"{target}: the folder {target.parent} does not exist; create it first") from None
    except OSError as exc:
        raise UsageError(f"{target}: {(exc.strerror or str(exc)).lower()}") from None
    return target


def skeleton(target: Path) -> str:
    template = resources.files("sim.authoring").joinpath("skeleton.yaml").read_text(encoding="utf-8")
    # The schema this installation ships, by a path relative to the new file, as the
    # yaml-language-server reads it: the same file that `ladder schema` prints.
    schema = _relative(bundled_dir() / "scenario.schema.json", target.parent)
    return f"# yaml-language-server: $schema={schema}\n{template}"


def variant(target: Path, spec: str) -> str:
    """A file that extends `spec` (a bundled name, or a path written relative to the new file)."""
    loaded = open_scenario(spec)
    s = loaded.scenario
    if spec in bundled():
        ref = spec
    elif not loaded.path.resolve().is_relative_to(target.parent.resolve()):
        # `extends` reads no file outside the folder of the file named (see the guide's Variants)
        raise UsageError(f"{target}: a variant must be in the folder of its base {loaded.path} or above it, "
                         "since a base outside a scenario's folder is refused")
    else:
        ref = _relative(loaded.path, target.parent)
    m = s.mechanics
    read_by_scale = [v for v in s.variables if v in Rules(s, loaded.name).sanction_scale.names]
    defaults = list(dict.fromkeys(a.doctrine for a in s.actors.values()))
    sections = [
        ("Its name, as `ladder show` and the app give it.", {"title": s.title}),
        (f"How long a game lasts: turns of {plural(s.clock.turn_days, 'day')}.", {"clock": {"horizon": s.clock.horizon}}),
        (f"Each actor's default doctrine, one of: {', '.join(s.doctrines)}.",
         {"actors": {name: {"doctrine": a.doctrine} for name, a in s.actors.items()}}),
        ("The main terms of those doctrines (`ladder show` describes every preset).",
         {"doctrines": {d: {t: getattr(s.doctrines[d], t) for t in DOCTRINE_TERMS} for d in defaults}}),
        ("Where the crisis starts: tension, and what the bite of sanctions depends on.",
         {"variables": {v: {"initial": s.variables[v].initial} for v in dict.fromkeys([m.tension, *read_by_scale])}}),
        ("The weekly hazard of war by miscalculation, and how sanctions bite.",
         {"mechanics": {"hazard": m.hazard.model_dump(), "sanctions": m.sanctions.model_dump()}}),
    ]
    about = (
        f"A variant of {loaded.name} ({s.title}), written by `ladder new`. It plays as {loaded.name} "
        "with the changes written here: a mapping merges into the base key by key, a list replaces "
        "the base's list, and `KEY: null` deletes a key. The values most often changed are listed "
        f"below, commented out, at their values in {loaded.name}: uncomment a line together with the "
        "keys above it, then change it. `ladder show FILE --json` prints the result."
    )
    lines = [*_comment(about), "", f"extends: {yaml.safe_dump(ref).splitlines()[0]}"]
    for comment, data in sections:
        dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
        lines += ["", *_comment(comment)]
        lines += [f"# {line}" for line in dumped.splitlines()]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, 95, initial_indent="# ", subsequent_indent="# ")


def _relative(path: Path, folder: Path) -> str:
    """`path` as seen from `folder`, with forward slashes and at least one (so that `extends`
    reads it as a path, not a bundled name); absolute where no relative path exists."""
    try:
        relative = Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive, on Windows
        return Path(path).resolve().as_posix()
    return relative if "/" in relative else f"./{relative}"
