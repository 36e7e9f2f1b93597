"""The bundled scenarios, scenario files' names, and how a SCENARIO argument (a bundled name or
a path) is found."""
from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from .errors import UsageError

SUFFIX = ".scenario.yaml"


def bundled_dir() -> Path:
    """Where the bundled scenario files are: inside the installed package, or the checkout."""
    packaged = Path(str(resources.files("sim") / "scenarios"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "scenarios"


def scenario_name(path: Path) -> str:
    name = path.name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else path.stem


def bundled() -> dict[str, Path]:
    return {scenario_name(p): p for p in sorted(bundled_dir().glob(f"*{SUFFIX}"))}


def is_path(spec: str) -> bool:
    """Whether a scenario's name is written as a file path rather than a bundled name."""
    return "/" in spec or "\\" in spec or spec.endswith((".yaml", ".yml"))


def resolve(spec: str) -> Path:
    """A bundled name (`korea-2019`) or a path to a scenario file."""
    found = bundled()
    if spec in found:
        return found[spec]
    if is_path(spec) or Path(spec).exists():
        return Path(spec)
    close = difflib.get_close_matches(spec, list(found), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise UsageError(f"unknown scenario '{spec}'{hint}; `ladder list` shows the bundled ones")
