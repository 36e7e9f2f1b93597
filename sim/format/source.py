"""A safe YAML reader that remembers where every value came from.

PyYAML's parser turns the text into events, each with a start mark; we build plain
Python data from those events ourselves, with an explicit stack (no recursion), so we
can refuse what a scenario file has no business containing -- Python tags, duplicate
keys, merge keys, alias bombs, absurd nesting -- and report each problem as
FILE:LINE:COL: message.

(Why events rather than ``yaml.compose``: libyaml's C composer recurses once per
nesting level and crashes the interpreter with a segmentation fault on a file of
100,000 ``[`` -- a file of the largest size allowed can hold half a million.  The event stream is flat.)
"""
from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor

from sim.format.errors import Problem, ScenarioError, printable

__all__ = ["Document", "read_document", "parse_document"]

MAX_BYTES = 1024 * 1024  # 17 times the largest bundled crisis; validated in well under a second
MAX_DEPTH = 64
# Nodes aliases may add. Each can carry a problem to report (~30 us each), so 100,000 let a
# 25 KB file take seconds to reject; a whole bundled scenario is fewer nodes than this.
MAX_EXPANDED = 10_000

_Loader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_Y = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE, _TIMESTAMP = (_Y + t for t in ("str", "map", "seq", "merge", "timestamp"))
_CONSTRUCT = {  # the core scalar tags and how to read them; timestamps stay strings
    _Y + "null": SafeConstructor.construct_yaml_null,
    _Y + "bool": SafeConstructor.construct_yaml_bool,
    _Y + "int": SafeConstructor.construct_yaml_int,
    _Y + "float": SafeConstructor.construct_yaml_float,
}
_constructor = SafeConstructor()


@dataclass(frozen=True)
class Document:
    """A parsed scenario file. Positions are 1-based (line, col), col counted in characters.
    A value's position is where its node starts (a quoted string: at the quote); a value
    copied from an anchor is located at its alias, and paths inside it fall back to it.
    A variant merged with its bases spans several files: `files` names, for every located
    path, the file its key and value were written in."""

    name: str
    data: object
    value_positions: dict[tuple, tuple[int, int]]
    key_positions: dict[tuple, tuple[int, int]]
    quoted: frozenset = frozenset()  # paths of quoted scalars, whose text starts one column in
    files: dict[tuple, str] = field(default_factory=dict)  # empty: every value is from `name`
    # multi-line scalars (block `|` and `>`, and plain ones): each line's (line, col, text) in
    # the file, so an offset into the value can be located on its line
    spans: dict[tuple, tuple] = field(default_factory=dict)

    def where(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """Position of path (its key if key=True and known, else its value); falls back
        to the nearest ancestor with a known position, then (1, 1)."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        for end in range(len(path), -1, -1):
            pos = self.value_positions.get(path[:end])
            if pos is not None:
                return pos
        return (1, 1)

    def text_start(self, path: tuple) -> tuple[int, int]:
        """Where a scalar's text begins (past its opening quote), for offsets into it."""
        line, col = self.where(path)
        return (line, col + 1) if tuple(path) in self.quoted else (line, col)

    def locate(self, path: tuple, offset: int) -> tuple[int, int]:
        """The file position of character `offset` of the text at path (a scalar)."""
        path = tuple(path)
        value, lines = _get(self.data, path), self.spans.get(path)
        if lines and isinstance(value, str):
            at = 0
            for number, col, content in lines:
                found = value.find(content, at) if content else -1
                if found < 0:
                    continue
                if offset <= found + len(content):
                    return number, col + max(offset - found, 0)
                at = found + len(content)
            number, col, content = lines[-1]
            return number, col + len(content)
        line, col = self.text_start(path)
        return line, col + offset

    def file_of(self, path: tuple) -> str:
        """The file that wrote path (or its nearest located ancestor, as `where` falls back)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            file = self.files.get(path[:end])
            if file is not None:
                return file
        return self.name

    def problem(self, path: tuple, message: str, key: bool = False) -> Problem:
        line, col = self.where(path, key)
        return Problem(self.file_of(path), line, col, message)


def _get(data, path: tuple):
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def read_document(path) -> Document:
    """Read and parse a scenario file; every failure is a ScenarioError with one located line."""
    name = os.fspath(path)
    name = name.decode(errors="replace") if isinstance(name, bytes) else name

    def fail(message: str, line: int = 1, col: int = 1):
        raise ScenarioError([Problem(name, line, col, message)])

    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            fail("is a directory, not a scenario file")
        if info.st_size > MAX_BYTES:
            fail(f"file too large ({info.st_size} bytes; the limit is {MAX_BYTES // 2**20} MiB)")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # a pipe or device has no size to stat
    except (FileNotFoundError, NotADirectoryError):
        fail("no such file")
    except IsADirectoryError:
        fail("is a directory, not a scenario file")
    except PermissionError:
        fail("permission denied")
    except OSError as exc:
        fail((exc.strerror or str(exc)).lower())
    if len(raw) > MAX_BYTES:
        fail(f"file too large (more than {MAX_BYTES} bytes; the limit is {MAX_BYTES // 2**20} MiB)")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        fail("not valid UTF-8", raw.count(b"\n", 0, exc.start) + 1, col)
    return parse_document(text, name)


def parse_document(text: str, name: str) -> Document:
    """Parse one YAML document whose root is a mapping; raises ScenarioError."""
    if text.startswith("\ufeff"):
        text = text[1:]
    builder, loader = _Builder(name, text), None
    try:
        loader = _Loader(text)
        root, root_mark = builder.build(loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        if message == "exceeded maximum nesting depth":  # libyaml's own limit, below ours in flow style
            message = f"nesting too deep (more than {MAX_DEPTH} levels)"
        if "tab" in message or builder.char_at(line, col) == "\t":
            message = "a tab character where YAML does not allow one: YAML indents with spaces only"
        builder.problems.append(Problem(name, line, col, message))
        raise ScenarioError(builder.problems) from None
    except yaml.reader.ReaderError as exc:
        position = exc.position
        if _Loader is not yaml.SafeLoader:  # libyaml counts bytes, not characters
            position = len(text.encode("utf-8")[:position].decode("utf-8", errors="ignore"))
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        what = f" (#x{exc.character:04x})" if isinstance(exc.character, int) else ""
        raise ScenarioError([Problem(name, line, col, f"{exc.reason}{what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(name, 1, 1, str(exc).splitlines()[0])]) from None
    except RecursionError:
        raise ScenarioError([Problem(name, 1, 1, f"nesting too deep (more than {MAX_DEPTH} levels)")]) from None
    except _Fatal:
        raise ScenarioError(builder.problems) from None
    finally:
        if loader is not None:
            loader.dispose()
    if builder.problems:
        raise ScenarioError(builder.problems)
    if root_mark is None or builder.empty_root:
        raise ScenarioError([Problem(name, 1, 1, "empty document")])
    if not isinstance(root, dict):
        raise ScenarioError([Problem(name, *root_mark, "the document must be a mapping of keys to values")])
    return Document(name, root, builder.values, builder.keys, frozenset(builder.quoted), spans=builder.spans)


class _Fatal(Exception):
    """Stop building: the problem that made us stop is already in the builder's list."""


class _Frame:
    """An open mapping or sequence. ``path`` is None where we record no positions (in a key)."""

    __slots__ = ("value", "is_map", "path", "mark", "anchor", "nodes_before", "height",
                 "want_key", "key", "first_line")

    def __init__(self, is_map, path, mark, anchor, nodes_before):
        self.value = {} if is_map else []
        self.is_map, self.path, self.mark, self.anchor = is_map, path, mark, anchor
        self.nodes_before, self.height = nodes_before, 0
        self.want_key, self.key, self.first_line = True, _SKIP, {}


_SKIP = object()  # the key of a mapping entry we will not store (its problem is reported)


class _Builder:
    def __init__(self, name: str, text: str = ""):
        self.name, self.text = name, text
        self.lines: list[str] | None = None  # the text's lines, split when first needed
        self.spans: dict[tuple, tuple] = {}
        self.problems: list[Problem] = []
        self.values: dict[tuple, tuple[int, int]] = {}
        self.keys: dict[tuple, tuple[int, int]] = {}
        self.quoted: set[tuple] = set()
        self.anchors: dict[str, tuple] = {}  # name -> (value, node count, height)
        self.open_anchors: set[str] = set()  # anchored collections not yet closed
        self.nodes = 0      # nodes built, alias expansions included
        self.expanded = 0   # nodes produced by aliases
        self.empty_root = False
        self.resolved: dict[tuple, str] = {}  # (plain scalar, implicit) -> its tag

    def report(self, mark, message: str, fatal: bool = False) -> None:
        self.problems.append(Problem(self.name, mark.line + 1, mark.column + 1, message))
        if fatal:
            raise _Fatal

    def build(self, loader):
        """Return (root value, root (line, col)), or (None, None) for an empty stream."""
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None, None
        loader.get_event()  # DocumentStart
        stack: list[_Frame] = []
        top = None
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                value, height, mark = frame.value, frame.height + 1, frame.mark
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self.anchors[frame.anchor] = (value, self.nodes - frame.nodes_before, height)
                top = stack[-1] if stack else None
            else:
                mark = event.start_mark
                in_key = top is not None and top.is_map and top.want_key
                if top is None:
                    path = ()
                elif top.path is None or in_key or (top.is_map and top.key is _SKIP):
                    path = None
                else:
                    path = top.path + ((top.key,) if top.is_map else (len(top.value),))
                if path is not None:
                    self.values[path] = (mark.line + 1, mark.column + 1)
                if kind is yaml.ScalarEvent:
                    if path is not None and event.style in ("'", '"'):
                        self.quoted.add(path)
                    if path is not None and event.end_mark.line > mark.line and event.style not in ("'", '"'):
                        self.spans[path] = self._span(event)
                    value, height = self._scalar(event, loader, in_key), 0
                    self.nodes += 1
                    if event.anchor is not None:
                        self.anchors[event.anchor] = (value, 1, 0)
                    if top is None:
                        self.empty_root = value is None and event.value == "" and event.tag is None
                elif kind is yaml.AliasEvent:
                    value, height = self._alias(event, len(stack))
                else:  # a mapping or a sequence starts
                    if len(stack) >= MAX_DEPTH:
                        self.report(mark, f"nesting too deep (more than {MAX_DEPTH} levels)", fatal=True)
                    is_map = kind is yaml.MappingStartEvent
                    if event.tag not in (None, "!", _MAP if is_map else _SEQ):
                        self.report(mark, f"unsupported YAML tag '{printable(_show(event.tag), 60)}'")
                    if event.anchor is not None:
                        self.open_anchors.add(event.anchor)
                    top = _Frame(is_map, path, mark, event.anchor, self.nodes)
                    stack.append(top)
                    self.nodes += 1
                    continue
            if top is None:
                break
            if height > top.height:
                top.height = height
            if not top.is_map:
                top.value.append(value)
            elif not top.want_key:
                if top.key is not _SKIP:
                    top.value[top.key] = value
                top.want_key = True
            else:
                top.want_key = False
                top.key = self._key(top, value, mark)
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            self.report(loader.peek_event().start_mark,
                        "more than one YAML document in the file (a scenario is exactly one)")
        return value, (mark.line + 1, mark.column + 1)

    def char_at(self, line: int, col: int) -> str:
        """The character at a 1-based position of the text ('' if none)."""
        if self.lines is None:
            self.lines = self.text.split("\n")
        row = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return row[col - 1] if 0 < col <= len(row) else ""

    def _span(self, event) -> tuple:
        """(line, col, text) of each line of a multi-line plain or block scalar: a block's text
        starts on the line after its indicator; a plain one's on its first line."""
        if self.lines is None:
            self.lines = self.text.split("\n")
        start, end = event.start_mark, event.end_mark
        out = []
        for number in range(start.line, min(end.line, len(self.lines) - 1) + 1):
            row = self.lines[number]
            if number == start.line:
                if event.style in ("|", ">"):
                    continue
                row = " " * start.column + row[start.column:]
            content = row.lstrip(" \t")
            out.append((number + 1, len(row) - len(content) + 1, content.rstrip()))
        return tuple(out)

    def _key(self, top: _Frame, key, mark):
        """Check a mapping key; return it, or _SKIP after reporting why not."""
        if key is _SKIP:
            return _SKIP
        if not isinstance(key, str):
            self.report(mark, "mapping keys must be strings")
            return _SKIP
        first = top.first_line.get(key)
        if first is not None:
            self.report(mark, f"duplicate key '{printable(key, 40)}' (first defined at line {first})")
            return _SKIP
        top.first_line[key] = mark.line + 1
        if top.path is not None:
            self.keys[top.path + (key,)] = (mark.line + 1, mark.column + 1)
        return key

    def _scalar(self, event, loader, in_key: bool):
        """The plain value of a scalar event (_SKIP for a reported merge key)."""
        tag, text = event.tag, event.value
        if tag is None:
            if not event.implicit[0]:  # quoted
                return text
            key = (text, event.implicit)
            tag = self.resolved.get(key)
            if tag is None:  # a file repeats its words: resolving each once saves a fifth of the parse
                tag = self.resolved[key] = loader.resolve(yaml.ScalarNode, text, event.implicit)
        if tag == _STR or tag == "!" or tag == _TIMESTAMP:
            return text
        if tag == _MERGE:
            if in_key:
                self.report(event.start_mark, "merge keys ('<<') are not supported; write the entries out")
                return _SKIP
            return text
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            self.report(event.start_mark, f"unsupported YAML tag '{printable(_show(tag), 60)}'")
            return text
        try:
            return construct(_constructor, yaml.ScalarNode(tag, text))
        except Exception:  # e.g. `!!int abc`: the constructor's own errors are unhelpful
            self.report(event.start_mark, f"cannot read '{printable(text, 40)}' as {printable(_show(tag), 40)}")
            return text

    def _alias(self, event, depth: int):
        mark, anchor = event.start_mark, event.anchor
        if anchor in self.open_anchors:
            self.report(mark, f"recursive alias '*{printable(anchor, 40)}' (a value cannot contain itself)", fatal=True)
        if anchor not in self.anchors:
            self.report(mark, f"unknown alias '*{printable(anchor, 40)}' (no anchor '&{printable(anchor, 40)}' before it)", fatal=True)
        value, count, height = self.anchors[anchor]
        self.expanded += count
        self.nodes += count
        if self.expanded > MAX_EXPANDED:
            self.report(mark, "document expands to too many nodes (alias bomb?)", fatal=True)
        if depth + height > MAX_DEPTH:
            self.report(mark, f"nesting too deep (more than {MAX_DEPTH} levels)", fatal=True)
        return _copy(value), height


def _copy(value):
    """A fresh copy of an anchored value, so no two places share a mutable object."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _show(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag
