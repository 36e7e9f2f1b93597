"""The package's version, in a module of its own: the wings and the command line read it without
importing `sim` itself, which imports the Python interface that sits above them."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("escalation-ladder")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
