"""Kubeconfig files for the local platform, so people and tools can point ``kubectl`` at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT_NAME = "kratix-py-local"


def kubeconfig_document(
    server_url: str, *, name: str = CONTEXT_NAME, namespace: str = "default"
) -> dict[str, Any]:
    """A kubeconfig with one cluster, user and context for ``server_url``.

    The local platform speaks plain HTTP on 127.0.0.1 and accepts any token, so the user carries a
    placeholder token: kubectl refuses to send requests without some credentials in a few commands.
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server_url}}],
        "users": [{"name": name, "user": {"token": "local-platform"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server_url: str, *, name: str = CONTEXT_NAME) -> Path:
    """Write a kubeconfig for ``server_url`` to ``path`` (mode 0600, like kubectl does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_document(server_url, name=name), sort_keys=False))
    path.chmod(0o600)
    return path
