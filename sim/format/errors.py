"""Located problems: every error a user can cause is reported as FILE:LINE:COL: message."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class LadderError(Exception):
    """Any error bad input causes, with the message the command line prints (`sim.LadderError`)."""


class ScenarioError(LadderError):
    """One or more located problems in a scenario (or other input) file."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(LadderError):
    """A bad command-line argument: reported on one line, exit code 2."""


class BatchError(LadderError):
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


def quoted(value, limit: int = 40) -> str:
    """A value from a file as a message quotes it: short, and with no control character."""
    if isinstance(value, str):
        return "'" + printable(value, limit) + "'"
    return printable(repr(value), limit)


def dotted(path: tuple) -> str:
    """A document path as a reader writes it: options[3].effects[0].var."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, candidates) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean {quoted(close[0])}?)" if close else ""


class DiskFull(BatchError, OSError):
    """A write failed for want of space: a batch stops, its folder partial and resumable; a game
    says so and plays on."""

    def __str__(self) -> str:
        return f"{self.filename}: the disk is full"
