"""The headless core stays headless."""
import subprocess
import sys


def test_importing_sim_does_not_import_textual():
    code = (
        "import sys, sim, sim.cli, sim.engine, sim.format.scenario, sim.format.catalog, sim.bench, sim.play.narrative\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
