"""Where the real-cluster components live: binaries built by ``make setup-components``.

``scripts/build-components.sh`` builds kube-apiserver, kube-controller-manager, etcd, helm and
Flux's controllers from their Go modules at the versions pinned in
``tools/components/versions.env`` (the one place they are pinned), into
``$KRATIX_PY_COMPONENTS_DIR`` (default ``~/.cache/kratix-py/components``) as
``<name>-<version>/<name>``. This module reads the same pins, so a test or ``--api real`` finds
exactly the binaries that script builds, and says how to get them when they are missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from kratix_py.errors import CommandError

# Component name -> the variable of versions.env that pins it.
PINS = {
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "helm": "HELM_VERSION",
    "source-controller": "FLUX_SOURCE_CONTROLLER_VERSION",
    "kustomize-controller": "FLUX_KUSTOMIZE_CONTROLLER_VERSION",
}
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager")
FLUX = ("source-controller", "kustomize-controller")
SETUP_HINT = "run `make setup-components` (it builds them with Go, once)"


class ComponentMissing(CommandError):
    """A component binary is not built on this machine."""


def _checkout() -> Path:
    return Path(__file__).resolve().parents[3]


def versions_file() -> Path:
    return _checkout() / "tools" / "components" / "versions.env"


def versions() -> dict[str, str]:
    """The pins of versions.env (``NAME=value`` lines; ``#`` starts a comment)."""
    path = versions_file()
    if not path.is_file():
        raise ComponentMissing(
            f"the component pins ({path.name}) are not here: the real-cluster components are "
            "test dependencies of a kratix-py checkout"
        )
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            pins[key.strip()] = value.strip()
    return pins


def components_dir() -> Path:
    configured = os.environ.get("KRATIX_PY_COMPONENTS_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kratix-py" / "components"


def version(name: str) -> str:
    return versions()[PINS[name]]


def binary_path(name: str) -> Path:
    """Where ``name``'s binary is (or would be) at its pinned version."""
    return components_dir() / f"{name}-{version(name)}" / name


def binary(name: str) -> Path:
    """``name``'s built binary; :class:`ComponentMissing` naming ``make setup-components`` if absent."""
    path = binary_path(name)
    if not os.access(path, os.X_OK):
        raise ComponentMissing(f"{name} {version(name)} is not built ({path} is missing): {SETUP_HINT}")
    return path


def missing(names: tuple[str, ...]) -> list[str]:
    """The components of ``names`` not built yet (with their versions), for skip/fail messages."""
    result = []
    for name in names:
        try:
            binary(name)
        except ComponentMissing:
            result.append(f"{name} {version(name)}")
    return result


def crds_dir(name: str) -> Path:
    """The CRDs a Flux controller's module ships (copied next to its binary by the build)."""
    path = binary_path(name).parent / "crds"
    if not path.is_dir():
        raise ComponentMissing(f"the CRDs of {name} {version(name)} are not in {path}: {SETUP_HINT}")
    return path
