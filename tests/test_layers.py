"""The layout of DESIGN §4 holds: import-linter's contracts (in pyproject.toml) are kept, and
they are broken by an import that goes the wrong way, so a change that slips is caught."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    return subprocess.run([str(lint), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)


def test_the_contracts_are_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("sim/format/model.py", "from ..montecarlo import batch", "sim's wings import only downwards"),
    ("sim/play/game.py", "from ..montecarlo import folder", "sim's wings import only downwards"),
    ("sim/montecarlo/compare.py", "from .. import cli", "sim's wings import only downwards"),
    ("sim/engine/rules.py", "import textual", "sim is headless"),
    ("tui/setup.py", "from sim import cli", "the app uses the wings, not the command line"),
    ("sim/format/catalog.py", "from . import scenario", "no import circles"),
])
def test_a_wrong_way_import_breaks_a_contract(tmp_path, module, line, contract):
    for part in ("sim", "tui"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "scenarios"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout
