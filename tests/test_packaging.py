"""An installed wheel, not only a checkout, finds the bundled scenarios."""
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_wheel_finds_its_scenarios_and_templates(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = dist.glob("escalation_ladder-*.whl")
    env_dir = tmp_path / "venv"
    # The dependencies come from this environment; the project itself only from the wheel.
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing to find by accident
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listing = subprocess.run([str(bin_dir / "ladder"), "list"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert listing.returncode == 0, listing.stderr
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    assert {"korea-2019", "tutorial"} <= set(names)
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sim.format.catalog as c; print(c.bundled_dir())"],
        capture_output=True, text=True, cwd=elsewhere, env=env,
    )
    assert str(env_dir) in where.stdout, where.stdout + where.stderr
    # `ladder new` writes from a template shipped in the package; the stylesheet ships with the app.
    made = subprocess.run([str(bin_dir / "ladder"), "new", "mine"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run([str(bin_dir / "ladder"), "validate", "mine.scenario.yaml"],
                             capture_output=True, text=True, cwd=elsewhere, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    css = subprocess.run([str(bin_dir / "python"), "-c", "import tui, pathlib; print((pathlib.Path(tui.__file__).parent / 'ladder.tcss').is_file())"],
                         capture_output=True, text=True, cwd=elsewhere, env=env)
    assert css.stdout.strip() == "True", css.stderr
