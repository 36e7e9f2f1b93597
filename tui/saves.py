"""Where a game's save goes: a name no file has, written never over a file."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sim.play.game import Game


def save_path(folder: Path, game: Game) -> Path:
    """A name for the game's save that no file has (nor its report): NAME-seedN-TIME[-K].json."""
    return next(_names(folder, game))


def _names(folder: Path, game: Game):
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{game.name}-seed{game.setup.seed}-{stamp}"
    for k in range(1, 1000):
        path = folder / f"{base}{f'-{k}' if k > 1 else ''}.json"
        if not (path.exists() or path.with_suffix(".report.md").exists()):
            yield path
    raise OSError(f"no free name for a save in {folder} (999 games named {base})")


def new_save(folder: Path, game: Game) -> Path:
    """The game's first save, written under a new name: never over a file, even one another game
    made a moment ago under the same name (the link that makes it fails if the name is taken)."""
    for path in _names(folder, game):
        try:
            game.save(path, new=True)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")
