"""The kratix kinds as :class:`kratix_py.kube.Resource`, derived from the API models."""

from __future__ import annotations

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import (
    BucketStateStore,
    Destination,
    GitStateStore,
    HealthRecord,
    KubeObject,
    Promise,
    PromiseRelease,
    PromiseRevision,
    ResourceBinding,
    Work,
    WorkPlacement,
)


def resource_of(kind: type[KubeObject]) -> k.Resource:
    return k.Resource(c.GROUP, c.VERSION, kind.PLURAL, kind.NAMESPACED, kind.KIND)


PROMISES = resource_of(Promise)
DESTINATIONS = resource_of(Destination)
GIT_STATE_STORES = resource_of(GitStateStore)
BUCKET_STATE_STORES = resource_of(BucketStateStore)
WORKS = resource_of(Work)
WORKPLACEMENTS = resource_of(WorkPlacement)

STATE_STORES = {"GitStateStore": GIT_STATE_STORES, "BucketStateStore": BUCKET_STATE_STORES}

PIPELINE_RBAC_AND_CONFIG = (
    k.CLUSTERROLEBINDINGS,
    k.CLUSTERROLES,
    k.ROLEBINDINGS,
    k.ROLES,
    k.SERVICEACCOUNTS,
    k.CONFIGMAPS,
)
"""What pipelines leave behind, labelled with the Promise's name; deleted with the Promise (§3.7)."""

PROMISE_RELEASES = resource_of(PromiseRelease)
HEALTH_RECORDS = resource_of(HealthRecord)
PROMISE_REVISIONS = resource_of(PromiseRevision)
RESOURCE_BINDINGS = resource_of(ResourceBinding)
