"""A Kubernetes API emulator for tests: kopf, the ``kubernetes`` client and kubectl work against it.

See README.md in this package for what it does and does not do.
"""

from .emulator import Emulator

__all__ = ["Emulator"]
