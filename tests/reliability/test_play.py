"""The app loses nothing and leaks nothing: a saves folder it cannot write is refused before the
screen opens; a save never goes over a file the game did not write; a save that fails mid-game
(a full disk) is told and play goes on; Ctrl+C and SIGINT end it with exit code 130."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import sim.format.files
import sim.play.game
import tui.app
import tui.saves
from sim.play.game import Game, Setup
from tui.app import LadderApp
from tui.board import BoardScreen
from tui.dialogs import EndScreen
from tui.saves import new_save
from tui.setup import SetupScreen

SIZE = (80, 24)
ROOT = Path(__file__).resolve().parents[2]


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


# --- the saves folder, checked before the screen opens ------------------------------------------

@pytest.mark.parametrize("mode", [["korea-2019", "--as", "US"], ["korea-2019", "--watch"], []])
def test_a_saves_folder_that_cannot_be_written_is_refused_before_the_app(refuse, tmp_path, mode):
    regular = tmp_path / "file"
    regular.write_text("not a folder")
    for folder in ("/dev/null/x", regular / "x", regular):
        line = refuse("play", *mode, "--saves", folder, allowed=(tmp_path,))
        assert "cannot save games there" in line and "not a folder" in line, line
    assert regular.read_text() == "not a folder"


def test_a_resumed_save_in_a_folder_that_cannot_be_written_is_refused(refuse, tmp_path, monkeypatch):
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    save = tmp_path / "s.json"
    game.save(save)
    real_access = os.access
    monkeypatch.setattr(tui.app.os, "access", lambda p, mode: False if Path(p) == save else real_access(p, mode))
    assert "not writable" in refuse("play", "--resume", save, allowed=(tmp_path,))  # root may write anywhere


# --- unique names: never over a file the game did not write --------------------------------------

def test_two_games_started_in_the_same_second_get_two_saves(tmp_path, monkeypatch):
    import datetime
    from types import SimpleNamespace

    frozen = SimpleNamespace(now=lambda: datetime.datetime(2026, 1, 2, 3, 4, 5))  # every call the same second
    monkeypatch.setattr(tui.saves, "dt", SimpleNamespace(datetime=frozen))
    first = Game.start(Setup("tutorial", 3, ("Blue",)))
    second = Game.start(Setup("tutorial", 3, ("Blue",)))
    second.advance()
    second.submit(None)
    a, b = new_save(tmp_path, first), new_save(tmp_path, second)
    assert a != b and a.name == "tutorial-seed3-20260102-030405.json" and b.name.endswith("-2.json")
    assert len(json.loads(a.read_text())["moves"]) == 0 and len(json.loads(b.read_text())["moves"]) == 1
    (tmp_path / "tutorial-seed3-20260102-030405-3.report.md").write_text("someone's report")
    assert new_save(tmp_path, first).name.endswith("-4.json")  # a name whose report is taken is skipped


def test_a_name_taken_between_the_check_and_the_write_is_not_overwritten(tmp_path, monkeypatch):
    """Another program makes the file after the name was picked: the link fails, the next name is used."""
    taken, free = tmp_path / "taken.json", tmp_path / "free.json"
    taken.write_text("another program's file")
    monkeypatch.setattr(tui.saves, "_names", lambda folder, game: iter([taken, free]))
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    assert new_save(tmp_path, game) == free
    assert taken.read_text() == "another program's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["free.json", "taken.json"]  # no .part left
    with pytest.raises(FileExistsError):
        game.save(taken, new=True)
    assert taken.read_text() == "another program's file"


def test_without_hard_links_a_new_save_is_still_exclusive(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(sim.format.files.os, "link", no_links)
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    path = new_save(tmp_path, game)
    assert Game.resume(path).setup.seed == 3
    with pytest.raises(FileExistsError):
        game.save(path, new=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --- a save that fails mid-game ------------------------------------------------------------------

async def test_a_full_disk_mid_game_is_told_and_play_goes_on(tmp_path, monkeypatch):
    save = tmp_path / "game.json"
    game = Game.start(Setup("tutorial", 7, ("Blue",)))
    app = LadderApp(BoardScreen(game, save, rollouts=50, report_runs=100))
    real_write = sim.play.game.write_file

    def full(path, data, new=False):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        saved = save.read_bytes()
        monkeypatch.setattr(sim.play.game, "write_file", full)
        monkeypatch.setattr("tui.board.write_file", full)
        for _ in range(3):
            await pilot.press("p")
            await settle(pilot)
        assert app.is_running and len(game.moves) == 4
        told = [n for n in notes(app) if "could not be saved" in n]
        assert len(told) == 1 and "No space left on device" in told[0], notes(app)  # once, not every move
        assert save.read_bytes() == saved  # the last good save is left whole
        assert not list(tmp_path.glob("*.part"))
        monkeypatch.setattr(sim.play.game, "write_file", real_write)
        await pilot.press("p")
        await settle(pilot)
        assert len(json.loads(save.read_text())["moves"]) == 5
        assert any("saved again" in n for n in notes(app))
        monkeypatch.setattr(sim.play.game, "write_file", full)
        while not isinstance(app.screen, EndScreen):  # to the end, the report unsaved too
            await pilot.press("enter" if not isinstance(app.screen, BoardScreen) else "p")
            await settle(pilot)
        assert app.screen.path is None
        assert any("report could not be saved" in n for n in notes(app))


async def test_the_set_up_screen_refuses_a_seed_out_of_range(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = LadderApp(scenario="tutorial", seed=9)
    async with app.run_test(size=SIZE) as pilot:
        seed = app.screen.query_one("#seed")
        seed.value = str(2**64)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SetupScreen)
        assert any("2**64" in n for n in notes(app))


async def test_the_set_up_screen_tells_a_saves_folder_that_cannot_be_written(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("")
    app = LadderApp(scenario="tutorial", seed=9, saves=regular / "x")
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#players").focus()
        await pilot.press("down", "space", "s")
        await settle(pilot)
        assert isinstance(app.screen, SetupScreen) and app.is_running
        assert any("Cannot save games" in n for n in notes(app))


def test_a_report_never_goes_over_a_file(tmp_path):
    from tui.board import write_report

    mine = tmp_path / "g.report.md"
    mine.write_text("an earlier report")
    assert write_report(mine, "new") == tmp_path / "g-2.report.md"
    assert mine.read_text() == "an earlier report"


# --- interrupted: exit code 130 -----------------------------------------------------------------

async def test_ctrl_c_quits_with_130(tmp_path):
    app = LadderApp(BoardScreen(Game.start(Setup("tutorial", 7, ("Blue",))), tmp_path / "g.json", rollouts=50))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 130


def _run_in_pty(argv: list[str], interrupt, ready: bytes = b"Tension") -> tuple[int, bytes]:
    """Run `argv` on a pseudo-terminal of 80x24; once `ready` is on the screen (bounded wait),
    interrupt(process, terminal); its exit code and everything it wrote (bounded wait)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env,
                               start_new_session=True)
    os.close(slave)
    out = b""

    def read_until(done, seconds: float) -> None:
        nonlocal out
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:  # the other end closed: the process is gone
                    return

    try:
        read_until(lambda: ready in out, 120)
        assert ready in out, out[-2000:]
        interrupt(process, master)
        read_until(lambda: process.poll() is not None, 60)
        read_until(lambda: False, 0.5) if process.poll() is not None else None
        return process.wait(timeout=10), out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


@pytest.mark.parametrize("how", ["SIGINT", "Ctrl+C"])
def test_an_interrupted_ladder_play_exits_130(tmp_path, how):
    def interrupt(process, terminal):
        if how == "SIGINT":
            process.send_signal(signal.SIGINT)
        else:
            os.write(terminal, b"\x03")

    argv = [sys.executable, "-m", "sim.cli", "play", "korea-2019", "--as", "US", "--seed", "3",
            "--saves", str(tmp_path)]
    code, out = _run_in_pty(argv, interrupt)
    assert code == 130, out[-2000:]
    assert not list(tmp_path.iterdir())  # interrupted before a move: no save
    assert b"ladder: interrupted" in out and b"--resume" not in out
    assert b"Traceback" not in out
