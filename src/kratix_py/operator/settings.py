"""Operator settings: flags, then environment variables, then the ``kratix`` ConfigMap, then defaults.

Every setting has an environment variable so the Helm chart can set it, and a flag so a person can
override it when running ``kratix-py operator`` by hand. Kratix's own configuration (the ConfigMap
``kratix`` in the system namespace, see :mod:`kratix_py.operator.kratix_config`) fills in what
neither names, so a platform that moves from Kratix keeps its settings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from typing import Any

from kratix_py import contract as c


def _duration(text: str) -> timedelta:
    from kratix_py.api.duration import parse_duration

    return parse_duration(text)


@dataclass(frozen=True)
class OperatorSettings:
    """How the operator runs. Field docs double as ``--help`` text."""

    kubeconfig: str | None = field(
        default=None,
        metadata={
            "help": "kubeconfig to use",
            "default": "$KUBECONFIG, else the in-cluster service account, else ~/.kube/config",
        },
    )
    namespaces: tuple[str, ...] = field(
        default=(),
        metadata={"help": "comma-separated namespaces to watch for resource requests", "default": "all"},
    )
    pipeline_adapter_image: str = field(
        default="ghcr.io/kratix-py/kratix-py:0.1.0",
        metadata={"help": "image of the pipeline adapter (the reader/work-writer/status-writer containers)"},
    )
    pipeline_adapter_pull_secret: str | None = field(
        default=None, metadata={"help": "image pull secret for the adapter image", "default": "none"}
    )
    reconcile_interval: timedelta = field(
        default=timedelta(hours=10),
        metadata={"help": "rerun every workflow this often (Go duration, e.g. 10h; minimum 1m)"},
    )
    reconcile_after_failure: bool = field(
        default=True,
        metadata={
            "help": "start a failed workflow again each reconcile interval once its retries are spent, "
            "as Kratix's workflows.reconcileAfterFailure (true/false)"
        },
    )
    binding_version_strategy: str = field(
        default="floating",
        metadata={
            "help": "version a new request's ResourceBinding gets, as Kratix's "
            "resourceBindingVersionStrategy: floating (latest) or pinned (the Promise's current version)"
        },
    )
    jobs_to_keep: int = field(default=5, metadata={"help": "finished pipeline Jobs kept per pipeline"})
    default_backoff_limit: int = field(default=1, metadata={"help": "backoffLimit of pipeline Jobs"})
    default_active_deadline_seconds: int = field(
        default=3600,
        metadata={
            "help": "activeDeadlineSeconds of pipeline Jobs whose pipeline sets none (a hung pipeline fails)"
        },
    )
    workers: int = field(default=4, metadata={"help": "objects reconciled concurrently"})
    log_format: str = field(default="text", metadata={"help": "log format: text or json"})
    log_level: str = field(default="INFO", metadata={"help": "log level (DEBUG, INFO, WARNING, ERROR)"})
    health_port: int = field(
        default=8081, metadata={"help": "port of the /healthz liveness endpoint (0 disables it)"}
    )
    leader_election: bool = field(
        default=True,
        metadata={
            "help": "run only while holding the Lease kratix-py-operator, so replicas can stand by (true/false)"
        },
    )
    metrics_port: int = field(
        default=8080, metadata={"help": "port of the Prometheus /metrics endpoint (0 disables it)"}
    )
    batch_window: float = field(
        default=0.2,
        metadata={"help": "seconds to gather state-store writes into one commit"},
    )
    backstage_catalog_selector: str = field(
        default="environment=backstage",
        metadata={
            "help": "labels (key=value,...) of the Destinations that get a Backstage catalog entity "
            "for every Promise and request, as Works; none turns the catalog off"
        },
    )
    state_store_reconciliation_interval: timedelta = field(
        default=timedelta(hours=10),
        metadata={
            "help": "write every WorkPlacement's files again this often, repairing drift in the state store "
            "(Kratix's stateStoreReconciliationInterval; Go duration, minimum 1m)",
            "chart": False,
        },
    )
    pod_ttl_seconds_after_finished: timedelta | None = field(
        default=None,
        metadata={
            "help": "delete the pods of a finished pipeline Job this long after it finished, keeping the Job "
            "(Kratix's workflows.jobOptions.podTTLSecondsAfterFinished; Go duration, e.g. 1h; 0 keeps them)",
            "default": "pods are kept",
            "chart": False,
        },
    )
    default_image_pull_policy: str | None = field(
        default=None,
        metadata={
            "help": "imagePullPolicy of pipeline containers that set none (Always, IfNotPresent or Never)",
            "default": "none (Kubernetes' default)",
            "chart": False,
        },
    )
    default_container_security_context: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "securityContext (JSON) of pipeline containers that set none; {} sets nothing",
            "default": "the restricted Pod Security Standard",
            "chart": False,
        },
    )
    default_container_resources: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "resources (JSON: requests, limits) of pipeline containers that set none",
            "default": "Kratix's 100m/128Mi requests, 200m/256Mi limits",
            "chart": False,
        },
    )
    check_cache_mutations: bool = field(
        default=False,
        metadata={
            "help": "verify that no reconcile changes an object of the shared cache (for tests; slower)",
            "chart": False,
        },
    )

    @staticmethod
    def env_name(name: str) -> str:
        return f"KRATIX_PY_{name.upper()}"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        # Flags default to None so that from_sources can tell a flag given from one left out (and
        # fall back to the environment); the help shows the real default instead.
        for spec in fields(cls):
            flag = "--" + spec.name.replace("_", "-")
            help_text = f"{spec.metadata.get('help', '')} (default: {_default_text(spec)}) [env {cls.env_name(spec.name)}]"
            parser.add_argument(flag, dest=spec.name, default=None, help=help_text.replace("%", "%%"))

    @classmethod
    def from_sources(
        cls,
        args: argparse.Namespace | None = None,
        environ: dict[str, str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> OperatorSettings:
        """Flags win over environment variables, which win over ``config`` (settings read from the
        ``kratix`` ConfigMap, already converted), which wins over defaults; values are checked."""
        environ = dict(os.environ) if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = getattr(args, spec.name, None) if args is not None else None
            if raw is None:
                raw = environ.get(cls.env_name(spec.name))
            if raw is None or raw == "":
                if config and spec.name in config:
                    values[spec.name] = config[spec.name]
                continue
            values[spec.name] = _convert(spec.name, spec.type, raw)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.reconcile_interval < timedelta(minutes=1):
            raise ValueError("reconcile interval must be at least 1m")
        if self.state_store_reconciliation_interval < timedelta(minutes=1):
            raise ValueError("state store reconciliation interval must be at least 1m")
        if self.default_image_pull_policy not in (None, "Always", "IfNotPresent", "Never"):
            raise ValueError(
                f"default image pull policy must be Always, IfNotPresent or Never, not {self.default_image_pull_policy!r}"
            )
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log format must be text or json, not {self.log_format!r}")
        if self.binding_version_strategy not in c.BINDING_VERSION_STRATEGIES:
            raise ValueError(
                f"binding version strategy must be floating or pinned, not {self.binding_version_strategy!r}"
            )
        for port in (self.health_port, self.metrics_port):
            if not 0 <= port <= 65535:
                raise ValueError(f"port {port} is not a TCP port (0 disables the endpoint)")
        catalog_selector(self.backstage_catalog_selector)  # raises for a malformed selector
        if self.jobs_to_keep < 1 or self.workers < 1 or self.default_backoff_limit < 0:
            raise ValueError("jobs to keep and workers must be at least 1, backoff limit at least 0")
        ttl = self.pod_ttl_seconds_after_finished
        if ttl is not None and ttl < timedelta(0):
            raise ValueError(
                "pod TTL seconds after finished must not be negative (0 or unset keeps the pods)"
            )
        if self.default_active_deadline_seconds < 1:
            raise ValueError("the default activeDeadlineSeconds of pipeline Jobs must be at least 1")


def catalog_selector(text: str) -> dict[str, str]:
    """``environment=backstage,team=x`` as labels; ``none`` (or nothing) is no selector: no catalog."""
    labels: dict[str, str] = {}
    if text.strip().lower() == "none":
        return labels
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"backstage catalog selector: expected key=value, got {part!r}")
        labels[key.strip()] = value.strip()
    return labels


def _default_text(spec: Field[Any]) -> str:
    """A field's default as a person would type it: ``10h``, ``true``, ``8080``."""
    if "default" in spec.metadata:
        return str(spec.metadata["default"])
    value = spec.default
    if isinstance(value, timedelta):
        from kratix_py.api.duration import format_duration

        # Go's canonical form is 10h0m0s; the short form is what people write.
        return re.sub(r"(?<=[hm])0m0s$|(?<=[hm])0s$", "", format_duration(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _convert(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if "timedelta" in kind:
            return _duration(raw)
        if "dict" in kind:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict):
                raise ValueError(f"expected a JSON object, got {raw!r}")
            return parsed
        if "tuple" in kind:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind in ("bool", "<class 'bool'>"):
            if raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"expected true or false, got {raw!r}")
            return raw.strip().lower() in ("true", "1", "yes")
        if kind in ("int", "<class 'int'>"):
            return int(raw)
        if kind in ("float", "<class 'float'>"):
            return float(raw)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    return raw
