"""Kratix's configuration: the ConfigMap ``kratix`` in the system namespace, key ``config`` (YAML).

Kratix reads it once at start-up; so does kratix-py, and turns what it understands into operator
settings (:class:`~kratix_py.operator.settings.OperatorSettings`), below flags and ``KRATIX_PY_*``
variables. A value of the wrong type is not fatal, unlike in Kratix: it is logged with the field
and what to write instead, and the setting keeps its default, so one typo does not keep the whole
platform down. Keys Kratix knows that kratix-py does not use are logged once as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api.duration import parse_duration

log = logging.getLogger(__name__)

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
WHERE = f"{c.SYSTEM_NAMESPACE}/{c.CONFIG_MAP_NAME}"


@dataclass(frozen=True)
class KratixConfig:
    """What the ConfigMap said, as settings, and what was wrong with it."""

    settings: dict[str, Any] = field(default_factory=dict)
    """OperatorSettings field name -> value, for the fields the ConfigMap sets correctly."""
    problems: tuple[str, ...] = ()
    """One line per unusable value: the field, what was found, what to write."""
    unused: tuple[str, ...] = ()
    """Kratix keys that are present but mean nothing to kratix-py."""


def _count(minimum: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return convert


def _interval(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a Go duration in quotes such as "10h" or "30m", got {value!r}')
    parsed = parse_duration(value)
    if parsed < c.MIN_RECONCILIATION_INTERVAL:
        raise ValueError(f"must be at least 1m, got {value!r}")
    return parsed


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _pull_policy(value: Any) -> str:
    if value not in PULL_POLICIES:
        raise ValueError(f"expected one of {', '.join(PULL_POLICIES)}, got {value!r}")
    return str(value)


def _strategy(value: Any) -> str:
    if value not in c.BINDING_VERSION_STRATEGIES:
        raise ValueError(f"expected one of {', '.join(c.BINDING_VERSION_STRATEGIES)}, got {value!r}")
    return str(value)


def _pod_ttl(value: Any) -> timedelta | None:
    # Kratix reads a Go duration ("1h"); its own sample writes whole seconds (3600), as the name
    # says. Both are taken. Zero means no TTL, as in Kratix.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f'expected seconds (3600) or a Go duration in quotes such as "1h", got {value!r}')
    ttl = timedelta(seconds=value) if isinstance(value, int) else parse_duration(value)
    if ttl < timedelta(0):
        raise ValueError(f"must not be negative, got {value!r} (0 or leaving it out keeps the pods)")
    return ttl or None


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping, got {value!r}")
    return dict(value)


# (path in the config, OperatorSettings field, conversion). Kratix names the drift-repair interval
# stateStoreReconciliationInterval; workPlacementRewriteInterval is accepted as a clearer alias.
_FIELDS: tuple[tuple[tuple[str, ...], str, Callable[[Any], Any]], ...] = (
    (("numberOfJobsToKeep",), "jobs_to_keep", _count(1)),
    (("reconciliationInterval",), "reconcile_interval", _interval),
    (("stateStoreReconciliationInterval",), "state_store_reconciliation_interval", _interval),
    (("workPlacementRewriteInterval",), "state_store_reconciliation_interval", _interval),
    (("workflows", "reconcileAfterFailure"), "reconcile_after_failure", _flag),
    (("workflows", "defaultImagePullPolicy"), "default_image_pull_policy", _pull_policy),
    (("workflows", "defaultContainerSecurityContext"), "default_container_security_context", _mapping),
    (("workflows", "defaultContainerResources"), "default_container_resources", _mapping),
    (("workflows", "jobOptions", "defaultBackoffLimit"), "default_backoff_limit", _count(0)),
    (("workflows", "jobOptions", "podTTLSecondsAfterFinished"), "pod_ttl_seconds_after_finished", _pod_ttl),
    (("resourceBindingVersionStrategy",), "binding_version_strategy", _strategy),
)

_UNUSED: tuple[tuple[str, ...], ...] = (
    ("controllerLeaderElection",),
    ("selectiveCache",),
    ("telemetry",),
    ("logging",),
    ("featureFlags",),
    ("git",),
)


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    current: Any = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def parse(text: str) -> KratixConfig:
    """The ``config`` key's YAML -> settings (a document that is not a mapping sets nothing)."""
    where = f"ConfigMap {c.SYSTEM_NAMESPACE}/{c.CONFIG_MAP_NAME} key {c.CONFIG_MAP_KEY}"
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as error:
        return KratixConfig(problems=(f"{where} is not YAML ({error}): fix it, nothing of it is used",))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        return KratixConfig(problems=(f"{where} must be a mapping of Kratix settings, got {data!r}",))
    settings: dict[str, Any] = {}
    problems: list[str] = []
    for path, name, convert in _FIELDS:
        present, value = _lookup(data, path)
        if not present:
            continue
        try:
            settings[name] = convert(value)
        except ValueError as error:
            problems.append(f"{where}: {'.'.join(path)} {error}; the default is used until it is fixed")
    unused = tuple(".".join(path) for path in _UNUSED if _lookup(data, path)[0])
    return KratixConfig(settings=settings, problems=tuple(problems), unused=unused)


def read(kube: k.Kube) -> KratixConfig:
    """Read and parse the ConfigMap; missing or unreadable means Kratix's defaults (and says why)."""
    try:
        config_map = kube.get(k.CONFIGMAPS, c.CONFIG_MAP_NAME, c.SYSTEM_NAMESPACE)
    except k.KubeError as error:
        return KratixConfig(
            problems=(
                f"could not read ConfigMap {c.SYSTEM_NAMESPACE}/{c.CONFIG_MAP_NAME} ({error.message}): "
                "defaults are used; grant get on configmaps in that namespace",
            )
        )
    if config_map is None:
        log.info("no ConfigMap %s/%s: Kratix's defaults apply", c.SYSTEM_NAMESPACE, c.CONFIG_MAP_NAME)
        return KratixConfig()
    data = config_map.get("data") or {}
    if c.CONFIG_MAP_KEY not in data:
        return KratixConfig(
            problems=(
                f"ConfigMap {c.SYSTEM_NAMESPACE}/{c.CONFIG_MAP_NAME} has no key {c.CONFIG_MAP_KEY!r}: "
                "put the Kratix settings (YAML) under it",
            )
        )
    return parse(str(data[c.CONFIG_MAP_KEY]))


def report(config: KratixConfig) -> None:
    """Log what was taken, what was wrong and what is ignored (values are settings, never Secrets)."""
    for problem in config.problems:
        log.error("%s", problem)
    if config.unused:
        log.info("Kratix config keys kratix-py does not use: %s", ", ".join(config.unused))
    if config.settings:
        log.info("Kratix config sets: %s", ", ".join(sorted(config.settings)))
