"""nova: choose, prove and roll out a large language model."""

from nova.__about__ import __version__

__all__ = ["__version__"]
