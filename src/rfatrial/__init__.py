"""rfatrial: the system that runs the staged-RFA colorectal liver metastasis study end to end."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rfatrial")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
