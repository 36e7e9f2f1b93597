"""Batch folders someone else wrote, or edited: `batch --resume`, `replay` and `play --replay`
refuse each with one located line and exit 2, read nothing outside the folder, and leave the folder as it was."""
from __future__ import annotations

import json
import shutil

import pytest

from sim.format.scenario import open_scenario
from sim.format.source import MAX_BYTES
from sim.montecarlo.backends import LocalBackend
from sim.montecarlo.batch import run_batch
from sim.montecarlo.chunks import Job, Plan
from sim.montecarlo.folder import Folder


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    """A real batch folder, interrupted after its first chunk."""
    loaded = open_scenario("tutorial")
    path = tmp_path_factory.mktemp("made") / "batch"
    run_batch(Job(loaded.scenario, loaded.name, 3), Plan(40, 20, 1), Folder(path), LocalBackend(1), {})
    manifest = json.loads((path / "manifest.json").read_text()) | {"partial": True, "runs_done": 20}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name in ("runs.parquet", "turns.parquet", "summary.json", "report.html"):
        (path / name).unlink()
    for p in (path / "chunks").glob("*000000000020*"):
        p.unlink()
    return path


def _manifest(**changes):
    def edit(path):
        m = json.loads((path / "manifest.json").read_text())
        for key, value in changes.items():
            if value is _DROP:
                del m[key]
            else:
                m[key] = value
        (path / "manifest.json").write_text(json.dumps(m, indent=2))
    return edit


def _scenario(change):
    def edit(path):
        s = json.loads((path / "scenario.json").read_text())
        change(s)
        (path / "scenario.json").write_text(json.dumps(s, indent=2))
    return edit


def _write(name, text):
    return lambda path: (path / name).write_bytes(text if isinstance(text, bytes) else text.encode())


def _truncate(name, keep):
    return lambda path: (path / name).write_bytes((path / name).read_bytes()[:keep])


_DROP = object()
_OTHER_DIGEST = "0" * 64

CASES = {
    # manifest.json: missing, unreadable, mistyped, out of range
    "no manifest": (lambda p: (p / "manifest.json").unlink(), "not a batch folder (no manifest.json)"),
    "truncated manifest": (_truncate("manifest.json", 40), "manifest.json:"),
    "manifest a list": (_write("manifest.json", "[1, 2]"), "manifest.json:1:1:"),
    "manifest empty": (_write("manifest.json", ""), "manifest.json:1:1:"),
    "manifest binary": (_write("manifest.json", b"\x89PNG\x00\xff\xfe"), "manifest.json:1:"),
    "manifest python tag": (_write("manifest.json", '!!python/object/apply:os.system ["echo pwned"]\n'), "manifest.json:1:1:"),
    "manifest of 3 MiB": (_write("manifest.json", '{"pad": "' + "x" * (3 * 2**20) + '"}'), "too large"),
    "manifest deeply nested": (_write("manifest.json", "[" * 100_000), "manifest.json:1:"),
    "seed a string": (_manifest(seed="5"), "manifest.json:"),
    "seed negative": (_manifest(seed=-1), "seed: input should be greater than or equal to 0"),
    "seed 2**64": (_manifest(seed=2**64), "seed: input should be less than"),
    "seed a float": (_manifest(seed=5.5), "seed"),
    "runs zero": (_manifest(runs=0), "runs: input should be greater than or equal to 1"),
    "runs a word": (_manifest(runs="many"), "runs"),
    "runs a bool": (_manifest(runs=True), "runs"),
    "runs too many": (_manifest(runs=10**15), "runs: input should be less than or equal to"),
    "chunk zero": (_manifest(chunk=0), "chunk: input should be greater than or equal to 1"),
    "chunk huge": (_manifest(chunk=10**9), "chunk: input should be less than or equal to 100000"),
    "until_ci out of range": (_manifest(until_ci=3.0), "until_ci"),
    "neither runs nor until_ci": (_manifest(runs=None), "neither runs nor until_ci"),
    "partial a word": (_manifest(partial="yes"), "partial"),
    "unknown field": (_manifest(backdoor=1), "backdoor: extra inputs are not permitted"),
    "missing field": (_manifest(seed=_DROP), "seed: field required"),
    "doctrines a list": (_manifest(doctrines=["Red"]), "doctrines"),
    "digest not hex": (_manifest(digest="not a digest"), "digest"),
    "digest of another scenario": (_manifest(digest=_OTHER_DIGEST), "does not match the digest in manifest.json"),
    "unknown actor's doctrine": (_manifest(doctrines={"Green": "dove"}), "Green=dove is not an actor and doctrine"),
    "unknown doctrine": (_manifest(doctrines={"Red": "berserk"}), "Red=berserk is not an actor and doctrine"),
    "escape sequence in a doctrine": (_manifest(doctrines={"Red": "\x1b]0;pwned\x07"}), "is not an actor and doctrine"),
    # scenario.json: missing, unreadable, invalid, or not the one played
    "no scenario": (lambda p: (p / "scenario.json").unlink(), "scenario.json: missing"),
    "truncated scenario": (_truncate("scenario.json", 500), "scenario.json:"),
    "scenario edited": (_scenario(lambda s: s.update(title="Another game")), "does not match the digest"),
    "scenario mistyped": (_scenario(lambda s: s["clock"].update(horizon="long")), "scenario.json:"),
    "scenario dangling reference": (_scenario(lambda s: s["options"][0].update(actor="Mars")), "scenario.json:"),
    "scenario extends a system file": (_scenario(lambda s: s.update(extends="/etc/passwd")), "scenario.json:"),
    "scenario a list": (_write("scenario.json", "[]"), "scenario.json:1:1:"),
    "scenario with NaN": (_scenario(lambda s: s["clock"].update(horizon=float("nan"))), "NaN is not a number JSON allows"),
    "scenario not UTF-8": (_write("scenario.json", b'{"title": "\xff"}'), "scenario.json:1:1: not valid JSON"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_batch_folder_is_refused_in_one_located_line(partial, tmp_path, refuse, case):
    tamper, expected = CASES[case]
    path = tmp_path / "batch"
    shutil.copytree(partial, path)
    tamper(path)
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    line = refuse("batch", "--resume", path, allowed=(path,))
    assert expected in line, line
    assert str(path) in line
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before, "a refused folder was changed"
    assert expected in refuse("replay", path, "--run", "0", allowed=(path,))
    assert expected in refuse("play", "--replay", path, "--run", "0", allowed=(path,))


def test_a_resume_flag_naming_no_folder_creates_none(tmp_path, refuse):
    assert "no such batch folder" in refuse("batch", "--resume", tmp_path / "typo", allowed=(tmp_path,))
    assert not (tmp_path / "typo").exists()


def test_the_untampered_folder_resumes(partial, tmp_path, capsys):
    from sim.cli import main

    path = tmp_path / "batch"
    shutil.copytree(partial, path)
    assert main(["batch", "--resume", str(path), "--workers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 40


def test_what_json_writes_is_read_back_exactly(partial, tmp_path, capsys):
    """A small float json writes as 1e-05 (which YAML would read as text), and a scenario.json
    larger than a scenario file may be (indents make it about five times its YAML)."""
    from sim.cli import main

    path = tmp_path / "batch"
    shutil.copytree(partial, path)
    m = json.loads((path / "manifest.json").read_text()) | {"until_ci": 1e-05}
    (path / "manifest.json").write_text(json.dumps(m))
    assert Folder(path).manifest()["until_ci"] == 1e-05
    scenario = json.loads((path / "scenario.json").read_text())
    (path / "scenario.json").write_text(json.dumps(scenario, indent=1500))
    assert (path / "scenario.json").stat().st_size > 2 * MAX_BYTES
    (path / "manifest.json").write_text(json.dumps(m | {"until_ci": None}))
    assert main(["batch", "--resume", str(path), "--workers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 40
