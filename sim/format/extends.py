"""Variants: a scenario that `extends:` bases is merged with them into one document whose every
value remembers the file that wrote it. Bases are confined to the folder tree of the file named
(and the bundled scenarios); each is read and merged once per load, and the graph is bounded."""
from __future__ import annotations

import os
from pathlib import Path

from .catalog import bundled, bundled_dir, is_path
from .errors import Problem, ScenarioError, did_you_mean, dotted, quoted
from .source import Document, read_document

MAX_CHAIN = 16  # files in a chain of `extends`; a longer one is surely a mistake
MAX_FILES = 32  # files in the whole graph of `extends` of one scenario
MAX_ENTRIES = 64  # entries of `extends` in that graph: each is a merge


class _Graph:
    """One load's graph of `extends`: where bases may be (the folder of the file the user named
    and below, and the bundled scenarios), each base read and merged once however many files
    extend it (a diamond of nine files, each extending the next four times, was 4^9 merges),
    and a bound on the files and merges in all."""

    def __init__(self, top: Path):

        self.top = top
        self.roots = (top.parent.resolve(), bundled_dir().resolve())
        self.done: dict[Path, tuple[Document, list[Problem]] | ScenarioError] = {}
        self.entries = 0


def with_bases(doc: Document, chain: tuple[str, ...] = (), graph: _Graph | None = None) -> tuple[Document, list[Problem]]:
    """doc written over the bases it `extends` (each with its own bases), merged left to right.

    Returns the merged document and the problems found merging; raises ScenarioError when a
    base cannot be read. `chain` holds the files extending this one, to catch cycles."""
    if "extends" not in doc.data:
        return doc, []
    graph = graph or _Graph(Path(doc.name))
    chain += (doc.name,)
    spec = doc.data["extends"]
    items = {("extends", i): s for i, s in enumerate(spec)} if isinstance(spec, list) and spec else {("extends",): spec}
    bases, problems, failed = [], [], []
    for path, item in items.items():
        try:
            base, found = _base(doc, path, item, chain, graph)
        except ScenarioError as exc:
            failed += exc.problems
            continue
        bases.append(base)
        problems += found
    if failed:
        raise ScenarioError(failed + problems)
    merged = bases[0]
    for top in bases[1:] + [doc]:
        merged, found = _merge(merged, top)
        problems += found
    return merged, problems


def _base(doc: Document, path: tuple, item, chain: tuple[str, ...], graph: _Graph) -> tuple[Document, list[Problem]]:
    """The base an entry of `extends` names, with its own bases merged in: read once per load."""
    file = _base_file(doc, path, item, chain, graph)
    key = file.resolve()
    if key not in graph.done:
        if len(graph.done) >= MAX_FILES:
            raise ScenarioError([doc.problem(path, f"{dotted(path)}: more than {MAX_FILES} files extended in all")])
        try:
            graph.done[key] = with_bases(read_document(file), chain, graph)
        except ScenarioError as exc:
            graph.done[key] = exc
    done = graph.done[key]
    if isinstance(done, ScenarioError):
        raise done
    return done


def _base_file(doc: Document, path: tuple, item, chain: tuple[str, ...], graph: _Graph | None = None) -> Path:
    """The file an entry of `extends` names; a ScenarioError located at the entry if none."""

    def fail(message: str):
        raise ScenarioError([doc.problem(path, f"{dotted(path)}: {message}")])

    if not isinstance(item, str) or not item:
        fail(f"expected a bundled scenario name or a file path, or a list of them (got {quoted(item)})")
    graph = graph or _Graph(Path(doc.name))
    graph.entries += 1
    if graph.entries > MAX_ENTRIES:
        fail(f"more than {MAX_ENTRIES} entries of extends in all")
    if is_path(item):
        file = Path(doc.name).parent / item
        # confined to the folder tree of the file the user named (and the bundled scenarios):
        # a scenario cannot make us read /etc/passwd or ../secrets and echo them in messages
        inside = not os.path.isabs(item) and not item.startswith("~") and "\0" not in item
        try:
            inside = inside and any(file.resolve().is_relative_to(root) for root in graph.roots)
        except (OSError, ValueError, RuntimeError):
            inside = False
        if not inside:
            fail(f"{quoted(item, 60)} is outside this scenario's folder: a base is a bundled name or a "
                 f"file in the folder of {quoted(graph.top.name, 60)} or below")
        if not os.path.isfile(file):  # not Path.is_file, which raises on a name too long
            fail(f"no such file {quoted(str(file), 120)}" if not os.path.exists(file) else f"{quoted(str(file), 120)} is not a file")
    else:
        found = bundled()
        if item not in found:
            fail(f"unknown scenario {quoted(item)}{did_you_mean(item, found)}")
        file = found[item]
    same = [i for i, name in enumerate(chain) if Path(name).resolve() == file.resolve()]
    if same:
        fail("a cycle: " + " -> ".join(Path(name).name for name in (*chain[same[0]:], file)))
    if len(chain) >= MAX_CHAIN:
        fail(f"more than {MAX_CHAIN} files in a chain of extends")
    return file


def _merge(base: Document, top: Document) -> tuple[Document, list[Problem]]:
    """top written over base: mappings merge key by key, anything else replaces, and `KEY: null`
    deletes the base's KEY. Every path keeps the position and file of the document that wrote it."""
    owner: dict[tuple, Document | None] = {("extends",): None}  # by subtree; None: gone; unmarked: top
    problems = []

    def merge(b, t, path: tuple):
        if not (isinstance(b, dict) and isinstance(t, dict)):
            return t
        out = {}
        for key, value in b.items():
            if key not in t:
                out[key], owner[path + (key,)] = value, base
            elif t[key] is None:
                owner[path + (key,)] = None
            else:
                out[key] = merge(value, t[key], path + (key,))
        for key, value in t.items():
            if key in b:
                continue
            if value is None:
                owner[path + (key,)] = None
                problems.append(top.problem(path + (key,), f"{dotted(path + (key,))}: nothing to delete, the base "
                                            f"has no such key{did_you_mean(key, b)}", key=True))
            else:
                out[key] = value
        return out

    def owns(doc: Document, path: tuple) -> bool:
        for end in range(len(path), -1, -1):
            if path[:end] in owner:
                return owner[path[:end]] is doc
        return doc is top

    data = merge(base.data, {k: v for k, v in top.data.items() if k != "extends"}, ())
    values, keys, files = {}, {}, {}
    for doc in (base, top):
        for table, out in ((doc.value_positions, values), (doc.key_positions, keys)):
            for path, position in table.items():
                if owns(doc, path):
                    out[path], files[path] = position, doc.file_of(path)
    quoted = frozenset(path for doc in (base, top) for path in doc.quoted if owns(doc, path))
    spans = {path: span for doc in (base, top) for path, span in doc.spans.items() if owns(doc, path)}
    return Document(top.name, data, values, keys, quoted, files, spans), problems
