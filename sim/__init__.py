"""Escalation Ladder: the headless core (scenario format, engine, doctrines, CLI).

This package never imports textual or rich at module level; the app lives in `tui`. Its Python
interface (`sim.load`, `sim.run`, `sim.batch`, `sim.compare`, `sim.explore`, `sim.dataset`) is `sim/api.py`, imported here.
"""
from .api import (BatchResult, ExploreResult, Game, LadderError, Scenario, ScenarioError, UsageError, batch, compare, dataset, explore,
                  load, run, with_values)
from .version import __version__

__all__ = ["__version__", "BatchResult", "ExploreResult", "Game", "LadderError", "Scenario", "ScenarioError", "UsageError", "batch",
           "compare", "dataset", "explore", "load", "run", "with_values"]
