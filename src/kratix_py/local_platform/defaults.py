"""What the local platform registers, named as in Kratix's quick start, and the ports it listens on.

A state store called ``default`` (a GitStateStore on the local Git server's repository ``kratix``,
or a BucketStateStore on the local S3 server's bucket ``kratix``) with its credentials in a
Secret, and Destinations ``worker-1``, ``worker-2``... labelled ``environment=dev``, each writing
under its own name. Pure functions, so the names and the flags' grammar are tested without a
platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The local platform's own ports, kept apart from the operator's (metrics 8080, health 8081) and
# from the usual ports of development servers and real clusters (6443, 8443). 0 picks a free one.
API_PORT = 7443
GIT_PORT = 7444
S3_PORT = 7445

STORE_KINDS = ("git", "bucket")
STATE_STORE = "default"
DESTINATION_PREFIX = "worker-"
DEFAULT_LABELS: Mapping[str, str] = {"environment": "dev"}
GIT_REPO = "kratix"
GIT_BRANCH = "main"
GIT_USER = "kratix"
BUCKET = "kratix"
SECRET_NAMESPACE = "default"
GIT_SECRET = "git-credentials"
S3_SECRET = "s3-credentials"

_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")


@dataclass(frozen=True)
class DestinationPlan:
    """One Destination to register: its name (also its directory in the state store) and labels."""

    name: str
    labels: Mapping[str, str]


def plan_destinations(count: int, label_args: Sequence[str] = ()) -> tuple[DestinationPlan, ...]:
    """``count`` Destinations ``worker-1``... with :data:`DEFAULT_LABELS` plus ``label_args``.

    Each argument is ``KEY=VALUE`` (every Destination) or ``NAME:KEY=VALUE`` (only ``NAME``); a
    later argument overrides an earlier one and the defaults, and ``KEY-`` removes a label (as
    ``kubectl label`` does). A ValueError names the argument that is wrong.
    """
    if count < 1:
        raise ValueError("there must be at least one Destination")
    names = [f"{DESTINATION_PREFIX}{index}" for index in range(1, count + 1)]
    labels: dict[str, dict[str, str]] = {name: dict(DEFAULT_LABELS) for name in names}
    for argument in label_args:
        target, _, assignment = argument.rpartition(":") if ":" in argument else ("", "", argument)
        if target and target not in labels:
            raise ValueError(
                f"--label {argument}: there is no Destination {target!r} (there are {', '.join(names)})"
            )
        chosen = [target] if target else names
        if assignment.endswith("-") and "=" not in assignment:
            key = assignment[:-1]
            _check_label(argument, key, "")
            for name in chosen:
                labels[name].pop(key, None)
            continue
        key, equals, value = assignment.partition("=")
        if not equals:
            raise ValueError(f"--label {argument}: expected KEY=VALUE, NAME:KEY=VALUE or KEY-")
        _check_label(argument, key, value)
        for name in chosen:
            labels[name][key] = value
    return tuple(DestinationPlan(name, labels[name]) for name in names)


def _check_label(argument: str, key: str, value: str) -> None:
    if not _LABEL_KEY.match(key):
        raise ValueError(f"--label {argument}: {key!r} is not a valid label key")
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(f"--label {argument}: {value!r} is not a valid label value")


def platform_objects(
    *,
    store: str,
    destinations: Sequence[DestinationPlan],
    git_url: str = "",
    git_password: str = "",
    s3_endpoint: str = "",
    s3_credentials: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The Secret, the state store ``default`` and the Destinations, as manifests to apply."""
    if store == "git":
        secret_name = GIT_SECRET
        secret_data: Mapping[str, str] = {"username": GIT_USER, "password": git_password}
        kind = "GitStateStore"
        spec: dict[str, Any] = {
            "url": git_url,
            "branch": GIT_BRANCH,
            "secretRef": {"name": GIT_SECRET, "namespace": SECRET_NAMESPACE},
        }
    elif store == "bucket":
        secret_name = S3_SECRET
        secret_data = dict(s3_credentials or {})
        kind = "BucketStateStore"
        spec = {
            "endpoint": s3_endpoint,
            # The local S3 server speaks plain HTTP on 127.0.0.1.
            "insecure": True,
            "bucketName": BUCKET,
            "authMethod": "accessKey",
            "secretRef": {"name": S3_SECRET, "namespace": SECRET_NAMESPACE},
        }
    else:
        raise ValueError(f"unknown state store kind {store!r}: choose one of {', '.join(STORE_KINDS)}")
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": SECRET_NAMESPACE},
            "stringData": dict(secret_data),
        },
        {
            "apiVersion": "platform.kratix.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": STATE_STORE},
            "spec": spec,
        },
    ]
    for destination in destinations:
        objects.append(
            {
                "apiVersion": "platform.kratix.io/v1alpha1",
                "kind": "Destination",
                "metadata": {"name": destination.name, "labels": dict(destination.labels)},
                "spec": {"path": destination.name, "stateStoreRef": {"kind": kind, "name": STATE_STORE}},
            }
        )
    return objects
