"""The Kratix contract, spelled once: names, labels, finalizers, the pipeline pod's environment and
mounts, layout constants and the path-safety rules for state stores.

Existing Promises, pipeline images, GitOps set-ups and `kubectl` habits depend on these exact
strings (kratix-behaviour.md §0, §2), so nothing else in kratix-py writes a ``"kratix.io/..."``
literal or a ``KRATIX_*`` name. A typo in a label key is not a crash but a silent mismatch.

This module imports nothing of kratix-py's own: every layer (api, core, adapter, statestores,
operator) may import it, and it can never be the reason for an import cycle.
"""

from __future__ import annotations

import enum
import hashlib
import re
from datetime import timedelta
from typing import Final

# --- API group -------------------------------------------------------------------------------------

GROUP: Final = "platform.kratix.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = "platform.kratix.io/v1alpha1"
"""``<GROUP>/<VERSION>``, spelled out so it can also be used as a ``Literal`` type."""
CATEGORY: Final = "kratix"
"""Every kratix-py CRD is in this category, so ``kubectl get kratix`` lists them all."""

# --- Fixed object names ----------------------------------------------------------------------------

SYSTEM_NAMESPACE: Final = "kratix-platform-system"
CONTROLLER_SERVICE_ACCOUNT: Final = "kratix-platform-controller-manager"
CONFIG_MAP_NAME: Final = "kratix"
CONFIG_MAP_KEY: Final = "config"
WORKER_SYSTEM_NAMESPACE: Final = "kratix-worker-system"
"""Namespace written to every Destination as a canary (with the ConfigMap below)."""
CANARY_CONFIG_MAP_NAME: Final = "kratix-info"
PIPELINE_ADAPTER_IMAGE_ENV: Final = "PIPELINE_ADAPTER_IMG"
PIPELINE_ADAPTER_PULL_SECRET_ENV: Final = "PIPELINE_ADAPTER_PULL_SECRET"

UNVERSIONED_PROMISE: Final = "not-set"
"""``status.version`` / revision version of a Promise without the promise-version label."""
LATEST_VERSION: Final = "latest"
"""The floating version a ResourceBinding follows by default."""
BINDING_VERSION_STRATEGIES: Final = ("floating", "pinned")
"""Kratix's resourceBindingVersionStrategy: new bindings follow latest, or pin the current version."""
RESOURCE_NAMESPACE_ALL: Final = "kratix_all_namespaces"
"""Label value standing for ``resourceNamespace: "*"``; ``*`` itself is not a valid label value."""


class WorkflowType(enum.StrEnum):
    """Whose lifecycle a workflow hooks into: the Promise itself or each resource request."""

    PROMISE = "promise"
    RESOURCE = "resource"


class WorkflowAction(enum.StrEnum):
    """When a workflow runs: on create/update/reconcile, or on delete."""

    CONFIGURE = "configure"
    DELETE = "delete"


class WorkType(enum.StrEnum):
    """Value of the ``kratix.io/work-type`` label on Works."""

    PROMISE = "promise"
    RESOURCE = "resource"
    STATIC_DEPENDENCY = "static-dependency"


# Containers and volumes Kratix adds to every pipeline pod (kratix-behaviour.md §2.2, §2.3); a user
# container or volume with one of these names would collide with them in the pod.
READER_CONTAINER: Final = "reader"
WORK_WRITER_CONTAINER: Final = "work-writer"
STATUS_WRITER_CONTAINER: Final = "status-writer"
KRATIX_CONTAINER_NAMES: Final = (READER_CONTAINER, WORK_WRITER_CONTAINER, STATUS_WRITER_CONTAINER)
SHARED_INPUT_VOLUME: Final = "shared-input"
SHARED_OUTPUT_VOLUME: Final = "shared-output"
SHARED_METADATA_VOLUME: Final = "shared-metadata"
PROMISE_SCHEDULING_VOLUME: Final = "promise-scheduling"
KRATIX_VOLUME_NAMES: Final = (
    SHARED_INPUT_VOLUME,
    SHARED_OUTPUT_VOLUME,
    SHARED_METADATA_VOLUME,
    PROMISE_SCHEDULING_VOLUME,
)

# --- Label keys (kratix-behaviour.md §0.2) ---------------------------------------------------------

LABEL_PROMISE_NAME: Final = "kratix.io/promise-name"
LABEL_RESOURCE_NAME: Final = "kratix.io/resource-name"
LABEL_RESOURCE_NAMESPACE: Final = "kratix.io/resource-namespace"
LABEL_PIPELINE_NAME: Final = "kratix.io/pipeline-name"
LABEL_PIPELINE_NAMESPACE: Final = "kratix.io/pipeline-namespace"
LABEL_WORKFLOW_TYPE: Final = "kratix.io/workflow-type"
LABEL_WORKFLOW_ACTION: Final = "kratix.io/workflow-action"
LABEL_WORK_TYPE: Final = "kratix.io/work-type"
LABEL_WORK_ACTION: Final = "kratix.io/work-action"
"""Legacy Job label: only ever queried, to adopt Jobs created by older Kratix versions."""
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_KRATIX: Final = "Kratix"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
PART_OF_KRATIX: Final = "kratix"
LABEL_HASH: Final = "kratix.io/hash"
LABEL_WORK: Final = "kratix.io/work"
LABEL_WORKLOAD_GROUP_ID: Final = "kratix.io/workload-group-id"
LABEL_TARGET_DESTINATION_NAME: Final = "kratix.io/targetDestinationName"
"""CamelCase on purpose: existing clusters select WorkPlacements by this exact key."""
LABEL_MISPLACED: Final = "kratix.io/misplaced"
LABEL_PROMISE_VERSION: Final = "kratix.io/promise-version"
LABEL_PROMISE_RELEASE_NAME: Final = "kratix.io/promise-release-name"
LABEL_LATEST_REVISION: Final = "kratix.io/latest-revision"
LABEL_MANUAL_RECONCILIATION: Final = "kratix.io/manual-reconciliation"
LABEL_RUN_FROM_START: Final = "internal.workflows.kratix.io/run-from-start"
LABEL_RECONCILE_RESOURCES: Final = "kratix.io/reconcile-resources"
LABEL_PAUSED: Final = "kratix.io/paused"
LABEL_WORKFLOW_SUSPENDED: Final = "kratix.io/workflow-suspended"
LABEL_DRY_RUN: Final = "kratix.io/dry-run"
LABEL_DRY_RUN_SUMMARY: Final = "kratix.io/dry-run-summary"
LABEL_DRY_RUN_OWNER: Final = "kratix.io/dry-run-owner"
LABEL_DRY_RUN_PARENT: Final = "kratix.io/dry-run-parent"
LABEL_PARENT_PROMISE_NAME: Final = "kratix.io/parent-promise-name"
LABEL_PARENT_RESOURCE_NAME: Final = "kratix.io/parent-resource-name"
LABEL_PARENT_RESOURCE_NAMESPACE: Final = "kratix.io/parent-resource-namespace"
# What Kratix's docs ask compound Promise pipelines to put on the sub-requests they output (the
# kratix CLI and SKE read these); the parent-* labels above are the older core convention.
LABEL_COMPONENT_OF_PROMISE_NAME: Final = "kratix.io/component-of-promise-name"
LABEL_COMPONENT_OF_RESOURCE_NAME: Final = "kratix.io/component-of-resource-name"
LABEL_COMPONENT_OF_RESOURCE_NAMESPACE: Final = "kratix.io/component-of-resource-namespace"
SUB_REQUEST_LABELS: Final = (
    (
        LABEL_COMPONENT_OF_PROMISE_NAME,
        LABEL_COMPONENT_OF_RESOURCE_NAME,
        LABEL_COMPONENT_OF_RESOURCE_NAMESPACE,
    ),
    (LABEL_PARENT_PROMISE_NAME, LABEL_PARENT_RESOURCE_NAME, LABEL_PARENT_RESOURCE_NAMESPACE),
)
"""(promise, resource name, resource namespace) label sets that tie a sub-request to its parent."""

LABEL_AGGREGATE_TO_CONTROLLER: Final = "platform.kratix.io/aggregate-to-controller"
"""ClusterRoles with this label are aggregated into the operator's own role by the Helm chart: how
the operator gets access to each Promise's request kind without cluster-wide rights on every group."""

TRUE_LABEL_VALUE: Final = "true"
"""Boolean labels (paused, misplaced, manual-reconciliation ...) are on only when set to this."""

# --- Annotation keys -------------------------------------------------------------------------------

ANNOTATION_JOB_RESOURCE_NAMESPACE: Final = "kratix.io/job-resource-namespace"
ANNOTATION_JOB_RESOURCE_NAME: Final = "kratix.io/job-resource-name"
ANNOTATION_JOB_RESOURCE_KIND: Final = "kratix.io/job-resource-kind"
ANNOTATION_JOB_RESOURCE_API_VERSION: Final = "kratix.io/job-resource-api-version"
ANNOTATION_LAST_UPDATED_AT: Final = "kratix.io/last-updated-at"
ANNOTATION_RECONCILIATION_INTERVAL: Final = "kratix.io/reconciliation-interval"
ANNOTATION_SKIP_RESOURCE_REQUEST_CLEANUP_ON_DELETE: Final = (
    "kratix.io/skip-resource-request-cleanup-on-delete"
)
ANNOTATION_TRACE_PARENT: Final = "kratix.io/trace-parent"
ANNOTATION_TRACE_STATE: Final = "kratix.io/trace-state"
ANNOTATION_TRACE_TIMESTAMP: Final = "kratix.io/trace-timestamp"
ANNOTATION_TRACE_GENERATION: Final = "kratix.io/trace-generation"

ANNOTATION_ABANDON_CLEANUP: Final = "kratix.io/abandon-cleanup"
"""kratix-py: ``"true"`` on a request, Work or WorkPlacement being deleted whose files cannot be
removed (its state store or Secret is missing): finish the deletion and leave the files."""
ANNOTATION_PODS_REMOVED_AT: Final = "internal.workflows.kratix.io/pods-removed-at"
"""kratix-py, on a finished pipeline Job: when its pods were deleted for Kratix's
``workflows.jobOptions.podTTLSecondsAfterFinished`` (so logs are known to be gone, not lost)."""
ANNOTATION_DESTINATION_WRITTEN_TO: Final = "internal.destination.kratix.io/written-to"
"""kratix-py, on a Destination: JSON ``{"stateStoreRef": {"kind", "name"}, "path"}`` of the directory
its files were last written to, so that a changed ``spec.path`` moves them (old path cleaned)."""
POD_TTL_FIELD: Final = "workflows.jobOptions.podTTLSecondsAfterFinished"
"""Where the pod TTL is set in Kratix's config: named in messages about pods it removed."""

# --- Finalizers (kratix-behaviour.md §0.3) ---------------------------------------------------------

FINALIZER_DELETE_WORKFLOWS: Final = "kratix.io/delete-workflows"
FINALIZER_WORKFLOWS_CLEANUP: Final = "kratix.io/workflows-cleanup"
FINALIZER_RESOURCE_REQUEST_CLEANUP: Final = "kratix.io/resource-request-cleanup"
FINALIZER_REVISION_CLEANUP: Final = "kratix.io/revision-cleanup"
FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP: Final = (
    "kratix.io/dynamic-controller-dependant-resources-cleanup"  # sic: Kratix spells it "dependant"
)
FINALIZER_DEPENDENCIES_CLEANUP: Final = "kratix.io/dependencies-cleanup"
FINALIZER_API_CRD_CLEANUP: Final = "kratix.io/api-crd-cleanup"
FINALIZER_WORK_CLEANUP: Final = "kratix.io/work-cleanup"
FINALIZER_RESOURCE_BINDING_CLEANUP: Final = "kratix.io/resource-binding-cleanup"
FINALIZER_WORKPLACEMENT_REPO_CLEANUP: Final = "finalizers.workplacement.kratix.io/repo-cleanup"
FINALIZER_WORKPLACEMENT_DOT_FILES_CLEANUP: Final = (
    "finalizers.workplacement.kratix.io/kratix-dot-files-cleanup"
)
FINALIZER_DESTINATION_CLEANUP: Final = "kratix.io/destination-cleanup"
FINALIZER_PROMISE_RELEASE_CLEANUP: Final = "kratix.io/promise-cleanup"
FINALIZER_HEALTH_RECORD_CLEANUP: Final = "kratix.io/health-record-cleanup"

PROMISE_FINALIZERS: Final = (
    FINALIZER_DELETE_WORKFLOWS,
    FINALIZER_WORKFLOWS_CLEANUP,
    FINALIZER_RESOURCE_REQUEST_CLEANUP,
    FINALIZER_REVISION_CLEANUP,
    FINALIZER_DYNAMIC_CONTROLLER_DEPENDANT_RESOURCES_CLEANUP,
    FINALIZER_DEPENDENCIES_CLEANUP,
    FINALIZER_API_CRD_CLEANUP,
)
"""All Promise finalizers, in the order deletion processes them (only the applicable ones are set)."""

RESOURCE_REQUEST_FINALIZERS: Final = (
    FINALIZER_DELETE_WORKFLOWS,
    FINALIZER_WORK_CLEANUP,
    FINALIZER_WORKFLOWS_CLEANUP,
    FINALIZER_RESOURCE_BINDING_CLEANUP,
)
"""Resource request finalizers, in deletion order; every request gets all of them."""

# --- Condition types on the kinds defined here (kubectl wait --for=condition=<type>) --------------

CONDITION_READY: Final = "Ready"
CONDITION_AVAILABLE: Final = "Available"
CONDITION_SCHEDULE_SUCCEEDED: Final = "ScheduleSucceeded"
CONDITION_WRITE_SUCCEEDED: Final = "WriteSucceeded"
CONDITION_REQUIREMENTS_FULFILLED: Final = "RequirementsFulfilled"
CONDITION_CONFIGURE_WORKFLOW_COMPLETED: Final = "ConfigureWorkflowCompleted"
CONDITION_DELETE_WORKFLOW_COMPLETED: Final = "DeleteWorkflowCompleted"
CONDITION_WORKS_SUCCEEDED: Final = "WorksSucceeded"
CONDITION_RECONCILED: Final = "Reconciled"
CONDITION_PROMISE_AVAILABLE: Final = "PromiseAvailable"
"""On resource requests: whether their Promise (and its required Promises) can serve them."""
CONDITION_UPGRADE_SUCCEEDED: Final = "UpgradeSucceeded"
"""On a ResourceBinding: Unknown/UpgradeInProgress, True/UpgradeComplete, False/UpgradeFailed."""
CONDITION_DELETION_BLOCKED: Final = "DeletionBlocked"
"""kratix-py, on a PromiseRevision being deleted: True while it is its Promise's latest revision."""
# kratix-py's warning conditions: present (status False) only while there is something to fix.
CONDITION_PIPELINE_JOBS_VALID: Final = "PipelineJobsValid"
"""On a Promise: a pipeline's Job would be refused by the API server (Kratix refuses the Promise)."""
CONDITION_PIPELINE_PERMISSIONS: Final = "PipelinePermissionsNarrow"
"""On a Promise: ``rbac.permissions`` grant ``*`` or Secrets in every namespace."""
CONDITION_TRANSPORT_SECURE: Final = "TransportSecure"
"""On a GitStateStore: credentials over plain http://, or TLS verification switched off."""
CONDITION_OPERATOR_PERMITTED: Final = "OperatorPermitted"
"""On any object: the API server refused the operator a call reconciling it (a 403); names the permission."""
REASON_PAUSED_RECONCILIATION: Final = "PausedReconciliation"
"""Reason of ``Reconciled=Unknown`` (message ``Paused``) on a paused Promise or request; seeing it
once the pause is gone is how an unpause is recognised."""
REASON_UNPAUSED: Final = "Unpaused"
MESSAGE_PENDING: Final = "Pending"
"""``status.message`` of a request that waits (the ``message`` column scripts read)."""
MESSAGE_PROMISE_REQUIREMENTS_NOT_INSTALLED: Final = "Promise Requirements are not installed"

# Kratix's key phrases in state-store and Destination messages. kratix-py says more, but keeps these
# words so that alerts and scripts written against Kratix (kubectl describe | grep) still match.
PHRASE_NOT_FOUND: Final = "not found"
PHRASE_NOT_READY: Final = "not ready"
PHRASE_AUTHENTICATION_FAILED: Final = "Authentication failed"
PHRASE_VALIDATING_PERMISSIONS: Final = "Error validating state store permissions"

# --- Timing and limits -----------------------------------------------------------------------------

DEFAULT_RECONCILIATION_INTERVAL: Final = timedelta(hours=10)
MIN_RECONCILIATION_INTERVAL: Final = timedelta(minutes=1)
DEFAULT_STATE_STORE_RECONCILIATION_INTERVAL: Final = timedelta(hours=10)
DEFAULT_JOBS_TO_KEEP: Final = 5
FAST_REQUEUE: Final = timedelta(seconds=5)
DEFAULT_REQUEUE: Final = timedelta(seconds=15)
SLOW_REQUEUE: Final = timedelta(seconds=60)
MAX_PIPELINE_ID_LENGTH: Final = 60
"""The pipeline id names a ServiceAccount/Role and gets suffixes; Kratix caps it at 60 characters."""
MAX_RESOURCE_NAME_LENGTH: Final = 63

# --- Work layout -----------------------------------------------------------------------------------

DEFAULT_WORKLOAD_GROUP_DIRECTORY: Final = "."
DEFAULT_WORKLOAD_GROUP_ID: Final = hashlib.md5(DEFAULT_WORKLOAD_GROUP_DIRECTORY.encode()).hexdigest()
"""``md5(".")``: the id of the group holding every output file not claimed by a directory selector;
its first five characters (``5058f``) appear in every state-store path, so it must never change."""

# --- State-store bookkeeping (kratix-py) -----------------------------------------------------------

ANNOTATION_WRITTEN_FILES: Final = "internal.workplacement.kratix.io/written-files"
"""On WorkPlacements of ``filepath.mode: none`` Destinations: the JSON list of store paths the last
successful write put there, so the next write (and the delete) can remove what the pipeline no
longer outputs. Kratix reads this back from its ``.kratix/`` state file; kratix-py's writers do not
read, so the list is kept on the object that owns the files."""

ANNOTATION_OWNER_UID: Final = "internal.work.kratix.io/owner-uid"
"""On Works of a request whose pipeline runs in another namespace (``pipelineNamespace``): the
request's uid. Kubernetes forbids owner references across namespaces (the garbage collector would
delete the Work), so the owner is recorded here instead of in ``metadata.ownerReferences``."""

# --- The pipeline pod's environment and mounts (kratix-behaviour.md §2.3, §2.5) ------------------

ENV_WORKFLOW_ACTION: Final = "KRATIX_WORKFLOW_ACTION"
ENV_WORKFLOW_TYPE: Final = "KRATIX_WORKFLOW_TYPE"
ENV_PROMISE_NAME: Final = "KRATIX_PROMISE_NAME"
ENV_PIPELINE_NAME: Final = "KRATIX_PIPELINE_NAME"
ENV_OBJECT_KIND: Final = "KRATIX_OBJECT_KIND"
ENV_OBJECT_GROUP: Final = "KRATIX_OBJECT_GROUP"
ENV_OBJECT_VERSION: Final = "KRATIX_OBJECT_VERSION"
ENV_OBJECT_NAME: Final = "KRATIX_OBJECT_NAME"
ENV_OBJECT_NAMESPACE: Final = "KRATIX_OBJECT_NAMESPACE"
ENV_CRD_PLURAL: Final = "KRATIX_CRD_PLURAL"
ENV_CLUSTER_SCOPED: Final = "KRATIX_CLUSTER_SCOPED"
ENV_DRY_RUN: Final = "KRATIX_DRY_RUN"
ENV_OBJECT_UID: Final = "KRATIX_OBJECT_UID"
"""kratix-py: the uid of the Promise or request, given to the work-writer only, which makes the
Work owned by it (a Work counts only for its owner, so a pipeline cannot write as another)."""
ENV_IS_LAST_PIPELINE: Final = "IS_LAST_PIPELINE"
ENV_TRACE_PARENT: Final = "KRATIX_TRACE_PARENT"
ENV_TRACE_STATE: Final = "KRATIX_TRACE_STATE"
ENV_INPUT_DIR: Final = "INPUT_DIR"
ENV_OUTPUT_DIR: Final = "OUTPUT_DIR"
ENV_LOGGER_PREFIX: Final = "KRATIX_LOGGER_PREFIX"
ENV_KUBECONFIG: Final = "KUBECONFIG"

DEFAULT_INPUT_DIR: Final = "/kratix/input"
DEFAULT_OUTPUT_DIR: Final = "/kratix/output"
OBJECT_FILE: Final = "object.yaml"

# The work-writer and status-writer see the pod's volumes under this root (§2.3).
WORK_CREATOR_ROOT: Final = "/work-creator-files"
WORK_CREATOR_OUTPUT: Final = "input"  # the shared-output volume, mounted as <root>/input
WORK_CREATOR_METADATA: Final = "metadata"
WORK_CREATOR_KRATIX_SYSTEM: Final = "kratix-system"
DEFAULT_METADATA_DIR: Final = f"{WORK_CREATOR_ROOT}/{WORK_CREATOR_METADATA}"
DEFAULT_NAMESPACE: Final = "default"
DEFAULT_PIPELINE_NAMESPACE: Final = SYSTEM_NAMESPACE

# --- Paths inside a state store ----------------------------------------------------------------
# Every path a writer touches comes from here, so "nothing is ever written outside its directory"
# is a property of one small module. Paths are POSIX, relative to the store root, and checked
# *before* any I/O: a batch with one bad path writes nothing.
#
# Rules, for a relative path (a file path from pipeline output, a destination directory):
#
# * empty and ``.`` segments are dropped (``a//b/./c`` is ``a/b/c``), so output is canonical;
# * ``..`` segments are refused even when they would stay inside (``a/../b``): a path that climbs
#   is a bug or an attack, never needed;
# * absolute paths, NUL and other control characters, and backslashes are refused;
# * a ``.git`` segment (any case) is refused: it would address Git's own files;
# * what is left must not be empty (that would be the directory itself).
#
# Store prefixes (``spec.path``) follow Kratix: a leading ``/`` is trimmed, and ``""``, ``.``
# and ``/`` mean the store root.


class UnsafePathError(ValueError):
    """A path would leave its directory (``..``, absolute, NUL, ``.git``...): nothing was written."""

    cause = "UnsafePath"


_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_relpath(path: str, *, what: str = "path") -> str:
    """Return ``path`` in canonical form, or raise :class:`UnsafePathError` saying why."""
    if not isinstance(path, str):
        raise UnsafePathError(f"{what} must be a string, got {type(path).__name__}")
    if path.startswith("/"):
        raise UnsafePathError(f"{what} {path!r} is absolute; use a path relative to its directory")
    segments = _segments(path, what)
    if not segments:
        raise UnsafePathError(f"{what} {path!r} is empty after normalisation; name a file or directory")
    return "/".join(segments)


def normalise_prefix(prefix: str | None, *, what: str = "path prefix") -> str:
    """Canonical store prefix: ``""`` for the root, else ``a/b`` (leading ``/`` trimmed)."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise UnsafePathError(f"{what} must be a string, got {type(prefix).__name__}")
    return "/".join(_segments(prefix.lstrip("/"), what))


def join_under(prefix: str, relative: str, *, what: str = "path") -> str:
    """``prefix/relative``, both checked; the result always lies under ``prefix``."""
    base = normalise_prefix(prefix)
    rel = safe_relpath(relative, what=what)
    return f"{base}/{rel}" if base else rel


def is_within(path: str, directory: str) -> bool:
    """True if canonical ``path`` is ``directory`` itself or below it (``""`` is the root)."""
    return not directory or path == directory or path.startswith(directory + "/")


def _segments(path: str, what: str) -> list[str]:
    if "\\" in path:
        raise UnsafePathError(f"{what} {path!r} contains a backslash; use '/' as the separator")
    if _PATH_CONTROL.search(path):
        raise UnsafePathError(f"{what} {path!r} contains a control character (such as NUL)")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            raise UnsafePathError(
                f"{what} {path!r} contains '..'; paths may not climb out of their directory"
            )
        if segment.casefold() == ".git":
            raise UnsafePathError(f"{what} {path!r} contains a '.git' segment, which Git reserves")
        segments.append(segment)
    return segments
