"""Several batches on the same seed and runs (common random numbers): the machinery that
`ladder compare` and `ladder sweep` share. Every member is an ordinary batch in a folder of
its own, so run i of each has the same luck and differences are measured on paired runs.
"""
from __future__ import annotations

import datetime as dt
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ..version import __version__
from ..format.files import atomic_write
from .backends import LocalBackend
from .batch import run_batch
from .chunks import Job, Plan
from .folder import Folder


@dataclass(frozen=True)
class Member:
    """One batch of a comparison or a sweep: what to play, and the sub-folder it goes to."""

    name: str  # as shown: the variant's spec, or the point's values
    spec: str
    job: Job
    folder: str  # relative to the output folder
    source: str  # where the scenario came from


@contextmanager
def claimed(out: Path):
    """The output folder, new or empty, held by this command alone while it writes."""
    folder = Folder(out)
    with folder.locked(create=True):
        folder.claim()
        yield


def play_all(members: list[Member], out: Path, runs: int, chunk: int, workers: int, arguments: dict) -> list[dict]:
    """Each member as a normal batch into its own folder, same seed and runs; their summaries."""
    summaries = []
    for k, m in enumerate(members, 1):
        if sys.stderr.isatty():
            print(f"[{k}/{len(members)}] {m.name}", file=sys.stderr)
        folder = Folder(out / m.folder)
        plan = Plan(runs, chunk, workers)
        job = replace(m.job, variant=m.name)  # each member's rows labelled, so the members' results stack
        # no report per member: the group draws one combined report of them all
        summaries.append(run_batch(job, plan, folder, LocalBackend(workers), arguments | {"member": m.spec}, report=False))
    return summaries


def group_manifest(command: str, members: list[Member], seed: int, runs: int, chunk: int, arguments: dict, **extra) -> dict:
    return {
        "command": command, "version": __version__, "seed": seed, "runs": runs, "chunk": chunk, **extra,
        "members": [
            {"name": m.name, "spec": m.spec, "folder": m.folder, "scenario": m.job.name, "source": m.source,
             "digest": m.job.digest, "doctrines": m.job.doctrines}
            for m in members
        ],
        "arguments": arguments, "partial": True,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def fit(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
