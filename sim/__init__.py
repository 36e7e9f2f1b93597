"""Escalation Ladder: the headless core (scenario format, engine, doctrines, CLI).

This package never imports textual or rich at module level; the app lives in `tui`.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("escalation-ladder")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
