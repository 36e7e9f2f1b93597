"""The fault-injection suite's shared guard: a command fed bad input must refuse it as the
README promises — exit 2, one plain line, no traceback, no terminal control sequence — within a
bounded amount of work, having read no file outside the places it was given and run nothing."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.format.catalog import bundled_dir

# CPU seconds, not wall-clock: a bound on work that the pathological cases (46 s scans, hangs,
# exponential merges) exceed by far, and that a busy shared machine does not.
WORK_BOUND = 5.0

_watch: dict = {"on": False, "opened": [], "ran": []}


def _audit(event: str, args) -> None:
    if not _watch["on"]:
        return
    if event == "open" and isinstance(args[0], (str, bytes, Path)):
        _watch["opened"].append(Path(str(args[0], "utf-8") if isinstance(args[0], bytes) else args[0]))
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        _watch["ran"].append(args)


sys.addaudithook(_audit)


def _outside(path: Path, allowed: tuple[Path, ...]) -> bool:
    """A data file read from none of the allowed places (Python's own modules are not data)."""
    if path.suffix in (".py", ".pyc", ".so") or str(path).startswith(("/proc/", "/dev/", "/sys/")):
        return False
    try:
        resolved = path.resolve()
    except OSError:
        return False
    if str(resolved).startswith((sys.prefix, sys.base_prefix)):
        return False
    return not any(resolved.is_relative_to(a.resolve()) for a in allowed)


@pytest.fixture
def refuse(capsys):
    """refuse(*argv, allowed=(folders...)) -> the one error line; asserts everything above."""

    def check(*argv, allowed: tuple = ()) -> str:
        allowed = (*map(Path, allowed), bundled_dir())
        _watch.update(on=True, opened=[], ran=[])
        start = time.process_time()
        try:
            code = main([str(a) for a in argv])
        finally:
            _watch["on"] = False
        spent = time.process_time() - start
        out, err = capsys.readouterr()
        assert code == 2, (code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert not any(ch in err for ch in "\x1b\x07\r\x9b"), repr(err)
        assert spent < WORK_BOUND, f"{spent:.1f} CPU s to refuse {argv}"
        strays = [p for p in _watch["opened"] if _outside(p, allowed)]
        assert not strays, f"read outside what it was given: {strays}"
        assert not _watch["ran"], f"ran a program: {_watch['ran']}"
        return lines[0]

    return check
