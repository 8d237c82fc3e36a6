"""kratix-py: a Kratix-compatible platform orchestrator for Kubernetes, written in Python."""

__version__ = "0.1.0"
