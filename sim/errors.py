"""Located problems: every error a user can cause is reported as FILE:LINE:COL: message."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ScenarioError(Exception):
    """One or more located problems in a scenario (or other input) file."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """A bad command-line argument: reported on one line, exit code 2."""


class BatchError(Exception):
    """A batch that could not finish (a worker that keeps crashing, a cluster out of reach): exit 1."""


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: object, limit: int | None = None) -> str:
    """Text from a file made safe to print: control characters (terminal escapes, newlines)
    shown as \\xNN, and, with `limit`, cut to that many characters so a message never echoes
    much of what it quotes."""
    text = str(text).translate(_CONTROL)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
