"""The built-in resources, and the per-kind behaviour a real API server applies to them.

Only what tests of an operator notice is modelled: defaults a client reads back (Job selectors and
labels, Pod and Service defaults, Secret ``stringData``), the validation errors that catch real bugs
(a Job without ``restartPolicy``, an immutable Job template, a changed ``roleRef``), and the two
views of Events (``v1`` and ``events.k8s.io/v1`` share storage). Built-in objects are not checked
against the full Kubernetes schemas.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from . import objectmeta
from .errors import Cause, bad_request
from .jsonpath import find, format_value
from .jsonutil import json_equal
from .resources import ResourceType
from .selectors import selector_from_label_selector_object


class Hooks:
    """Per-kind behaviour; the default is a plain stored object."""

    #: the main endpoint keeps the stored status; create starts with an empty/initial status
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        """Server-side defaults for a new object (``obj`` already has its metadata)."""

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any], rt: ResourceType) -> None:
        """Server-side defaults on update."""

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        return []

    def to_storage(self, obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
        return obj

    def from_storage(self, obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
        return obj


def _immutable(field: str, value: Any) -> Cause:
    shown = "{...}" if isinstance(value, dict | list) else repr(value)
    return Cause("FieldValueInvalid", f"Invalid value: {shown}: field is immutable", field)


def _container_defaults(containers: list[Any]) -> None:
    for container in containers:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        if "@" in image:
            latest = False
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    if spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        if isinstance(spec.get(key), list):
            _container_defaults(spec[key])


def pod_spec_causes(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [Cause("FieldValueRequired", "Required value", path)]
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers:
        causes.append(Cause("FieldValueRequired", "Required value", f"{path}.containers"))
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(key) or []):
            where = f"{path}.{key}[{i}]"
            if not isinstance(container, dict):
                causes.append(Cause("FieldValueInvalid", "Invalid value: must be an object", where))
                continue
            name = container.get("name")
            if not name:
                causes.append(Cause("FieldValueRequired", "Required value", f"{where}.name"))
            elif name in names:
                causes.append(Cause("FieldValueDuplicate", f'Duplicate value: "{name}"', f"{where}.name"))
            else:
                names.add(name)
                for problem in objectmeta.dns1123_label(name):
                    causes.append(
                        Cause("FieldValueInvalid", f'Invalid value: "{name}": {problem}', f"{where}.name")
                    )
            if not container.get("image"):
                causes.append(Cause("FieldValueRequired", "Required value", f"{where}.image"))
    return causes


class NamespaceHooks(Hooks):
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any], rt: ResourceType) -> None:
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = new["metadata"]["name"]


class PodHooks(Hooks):
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            pod_spec_defaults(spec)
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("priority", 0)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        causes = pod_spec_causes(obj.get("spec"), "spec")
        if (
            old is not None
            and not causes
            and not json_equal(_mutable_blanked(obj["spec"]), _mutable_blanked(old.get("spec", {})))
        ):
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                    "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
                    "(only additions to existing tolerations), `spec.terminationGracePeriodSeconds` "
                    "(allow it to be set to 1 if it was previously negative)",
                    "spec",
                )
            )
        return causes


def _mutable_blanked(spec: dict[str, Any]) -> dict[str, Any]:
    """A pod spec with the fields a pod update may change blanked out."""
    blank = {
        k: v
        for k, v in spec.items()
        if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
    }
    for key in ("containers", "initContainers"):
        if isinstance(blank.get(key), list):
            blank[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in blank[key]
            ]
    return blank


class JobHooks(Hooks):
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        meta = obj["metadata"]
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        for key, value in (
            ("parallelism", 1),
            ("completions", 1),
            ("backoffLimit", 6),
            ("completionMode", "NonIndexed"),
            ("suspend", False),
            ("podReplacementPolicy", "TerminatingOrFailed"),
            ("manualSelector", None),
        ):
            if value is not None:
                spec.setdefault(key, value)
        template = spec.setdefault("template", {})
        if not isinstance(template, dict):
            return
        tmeta = template.setdefault("metadata", {})
        labels = tmeta.setdefault("labels", {})
        if not spec.get("manualSelector"):
            uid = meta["uid"]
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": meta["name"],
                    "controller-uid": uid,
                    "job-name": meta["name"],
                }
            )
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        if not meta.get("labels"):
            # A Job without labels takes its template's (the real defaulter shares the map).
            meta["labels"] = dict(labels)
        if isinstance(template.get("spec"), dict):
            pod_spec_defaults(template["spec"])
        obj["status"] = {}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [Cause("FieldValueRequired", "Required value", "spec")]
        template = spec.get("template") or {}
        pod_spec = template.get("spec") if isinstance(template, dict) else None
        causes = pod_spec_causes(pod_spec, "spec.template.spec")
        if isinstance(pod_spec, dict):
            policy = pod_spec.get("restartPolicy")
            if policy not in ("OnFailure", "Never"):
                if policy in (None, ""):
                    causes.append(
                        Cause(
                            "FieldValueRequired",
                            'Required value: valid values: "OnFailure", "Never"',
                            "spec.template.spec.restartPolicy",
                        )
                    )
                else:
                    causes.append(
                        Cause(
                            "FieldValueNotSupported",
                            f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
                            "spec.template.spec.restartPolicy",
                        )
                    )
        selector = spec.get("selector")
        if selector and isinstance(template, dict):
            labels = (template.get("metadata") or {}).get("labels") or {}
            if not selector_from_label_selector_object(selector).matches(labels):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        "Invalid value: `selector` does not match template `labels`",
                        "spec.template.metadata.labels",
                    )
                )
        if old is not None:
            old_spec = old.get("spec") or {}
            for key in ("template", "selector", "completions", "completionMode"):
                if not json_equal(spec.get(key), old_spec.get(key)):
                    causes.append(_immutable(f"spec.{key}", spec.get(key)))
        return causes


class DeploymentHooks(Hooks):
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        )
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            pod_spec_defaults(template_spec)
        obj["status"] = {}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes: list[Cause] = []
        selector = spec.get("selector")
        template = spec.get("template") or {}
        if not selector:
            causes.append(Cause("FieldValueRequired", "Required value", "spec.selector"))
        elif not selector_from_label_selector_object(selector).matches(
            (template.get("metadata") or {}).get("labels") or {}
        ):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "Invalid value: `selector` does not match template `labels`",
                    "spec.template.metadata.labels",
                )
            )
        causes.extend(pod_spec_causes(template.get("spec"), "spec.template.spec"))
        if old is not None and not json_equal(selector, (old.get("spec") or {}).get("selector")):
            causes.append(_immutable("spec.selector", selector))
        return causes


class ServiceHooks(Hooks):
    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if not spec.get("clusterIP"):
                spec["clusterIP"] = env.allocate_cluster_ip()
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        obj["status"] = {"loadBalancer": {}}

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any], rt: ResourceType) -> None:
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(spec, dict) and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec.setdefault("clusterIPs", old_spec.get("clusterIPs"))


_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


def _config_key_causes(obj: dict[str, Any], fields: tuple[str, ...]) -> list[Cause]:
    causes = []
    for field in fields:
        for key in obj.get(field) or {}:
            if not _CONFIG_KEY_RE.match(key) or len(key) > 253:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f'Invalid value: "{key}": a valid config key must consist of alphanumeric characters, '
                        f"'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        f"validation is '[-._a-zA-Z0-9]+')",
                        f"{field}[{key}]",
                    )
                )
    return causes


def _immutable_data_causes(
    obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]
) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = [
        Cause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", field)
        for field in fields
        if not json_equal(obj.get(field), old.get(field))
    ]
    if obj.get("immutable") is not True:
        causes.append(
            Cause("FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set", "immutable")
        )
    return causes


MAX_CONFIG_BYTES = 1024 * 1024
"""A ConfigMap's (or Secret's) keys and values together: more is refused at validation."""


def _too_long(field: str) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {MAX_CONFIG_BYTES} bytes", field)


def _decoded_length(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value)))
    except (binascii.Error, ValueError):
        return len(str(value))


class CoreEventHooks(Hooks):
    """core/v1 Events: one with an ``eventTime`` (a new-style Event) must say who reported it."""

    _REQUIRED = (  # (JSON field, the path kube-apiserver names in its message)
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("reason", "reason"),
    )

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        if not obj.get("eventTime"):
            return []
        return [
            Cause("FieldValueRequired", "Required value", path)
            for field, path in self._REQUIRED
            if not obj.get(field)
        ]


class ConfigMapHooks(Hooks):
    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        causes = _config_key_causes(obj, ("data", "binaryData")) + _immutable_data_causes(
            obj, old, ("data", "binaryData")
        )
        size = sum(len(key) + len(str(value).encode()) for key, value in (obj.get("data") or {}).items())
        size += sum(len(key) + _decoded_length(value) for key, value in (obj.get("binaryData") or {}).items())
        if size > MAX_CONFIG_BYTES:
            # As kube-apiserver words it: the field path is the whole object's, printed "[]".
            causes.append(_too_long("[]"))
        return causes


class SecretHooks(Hooks):
    def _fold_string_data(self, obj: dict[str, Any]) -> None:
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise bad_request(
                    f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[{key}]'
                ) from None

    def prepare_create(self, obj: dict[str, Any], rt: ResourceType, env: Any) -> None:
        obj.setdefault("type", "Opaque")
        self._fold_string_data(obj)

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any], rt: ResourceType) -> None:
        new.setdefault("type", old.get("type", "Opaque"))
        self._fold_string_data(new)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        causes = _config_key_causes(obj, ("data",)) + _immutable_data_causes(obj, old, ("data",))
        size = sum(len(key) + _decoded_length(value) for key, value in (obj.get("data") or {}).items())
        if size > MAX_CONFIG_BYTES:
            causes.append(_too_long("data"))
        if old is not None and obj.get("type") != old.get("type"):
            causes.append(_immutable("type", obj.get("type")))
        return causes


class RoleBindingHooks(Hooks):
    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None, rt: ResourceType) -> list[Cause]:
        role_ref = obj.get("roleRef")
        causes = []
        if not isinstance(role_ref, dict) or not role_ref.get("name"):
            causes.append(Cause("FieldValueRequired", "Required value", "roleRef.name"))
        if isinstance(role_ref, dict) and role_ref.get("kind") not in (None, "Role", "ClusterRole"):
            causes.append(
                Cause(
                    "FieldValueNotSupported",
                    f'Unsupported value: "{role_ref.get("kind")}": supported values: "Role", "ClusterRole"',
                    "roleRef.kind",
                )
            )
        if old is not None and not json_equal(role_ref, old.get("roleRef")):
            causes.append(Cause("FieldValueInvalid", "Invalid value: cannot change roleRef", "roleRef"))
        return causes


#: core/v1 Event field -> events.k8s.io/v1 Event field (the two are views on one storage)
_EVENT_FIELDS = {
    "involvedObject": "regarding",
    "related": "related",
    "message": "note",
    "reason": "reason",
    "type": "type",
    "action": "action",
    "eventTime": "eventTime",
    "series": "series",
    "reportingComponent": "reportingController",
    "reportingInstance": "reportingInstance",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
}


class EventsV1Hooks(Hooks):
    """events.k8s.io/v1: stored in the core/v1 form, converted on the way in and out."""

    def to_storage(self, obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
        stored: dict[str, Any] = {"apiVersion": "v1", "kind": "Event", "metadata": obj.get("metadata", {})}
        for core, new in _EVENT_FIELDS.items():
            if obj.get(new) is not None:
                stored[core] = obj[new]
        return stored

    def from_storage(self, obj: dict[str, Any], rt: ResourceType) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiVersion": rt.api_version,
            "kind": "Event",
            "metadata": obj.get("metadata", {}),
        }
        for core, new in _EVENT_FIELDS.items():
            if obj.get(core) is not None:
                out[new] = obj[core]
        return out


_EVENT_SELECTABLE = {
    "involvedObject.kind": "involvedObject.kind",
    "involvedObject.namespace": "involvedObject.namespace",
    "involvedObject.name": "involvedObject.name",
    "involvedObject.uid": "involvedObject.uid",
    "involvedObject.apiVersion": "involvedObject.apiVersion",
    "involvedObject.resourceVersion": "involvedObject.resourceVersion",
    "involvedObject.fieldPath": "involvedObject.fieldPath",
    "reason": "reason",
    "reportingComponent": "reportingComponent",
    "source": "source.component",
    "type": "type",
}
_EVENTS_V1_SELECTABLE = {
    **_EVENT_SELECTABLE,
    **{
        k.replace("involvedObject.", "regarding."): v
        for k, v in _EVENT_SELECTABLE.items()
        if k.startswith("involvedObject.")
    },
    "reportingController": "reportingComponent",
}


_SPEC_STATUS = ("spec", "status")
#: the top-level fields of each built-in kind (besides apiVersion, kind, metadata)
TOP_LEVEL_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "namespaces"): _SPEC_STATUS,
    ("", "configmaps"): ("data", "binaryData", "immutable"),
    ("", "secrets"): ("data", "stringData", "type", "immutable"),
    ("", "serviceaccounts"): ("secrets", "imagePullSecrets", "automountServiceAccountToken"),
    ("", "events"): (
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    ),
    ("rbac.authorization.k8s.io", "roles"): ("rules",),
    ("rbac.authorization.k8s.io", "clusterroles"): ("rules", "aggregationRule"),
    ("rbac.authorization.k8s.io", "rolebindings"): ("subjects", "roleRef"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): ("subjects", "roleRef"),
}


def builtin_types() -> list[ResourceType]:
    """Every built-in resource the emulator serves, in discovery order."""
    plain = Hooks()
    pod_fields = {
        "status.phase": "status.phase",
        "spec.nodeName": "spec.nodeName",
        "spec.restartPolicy": "spec.restartPolicy",
        "spec.schedulerName": "spec.schedulerName",
        "spec.serviceAccountName": "spec.serviceAccountName",
        "status.podIP": "status.podIP",
    }
    core = [
        ResourceType(
            "",
            "v1",
            "namespaces",
            "Namespace",
            False,
            short_names=("ns",),
            subresources=("status",),
            fields={"status.phase": "status.phase"},
            name_validator=objectmeta.dns1123_label,
            hooks=NamespaceHooks(),
        ),
        ResourceType("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",), hooks=ConfigMapHooks()),
        ResourceType("", "v1", "secrets", "Secret", True, fields={"type": "type"}, hooks=SecretHooks()),
        ResourceType(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            True,
            short_names=("sa",),
            returns_deleted_object=True,
            hooks=plain,
        ),
        ResourceType(
            "",
            "v1",
            "events",
            "Event",
            True,
            short_names=("ev",),
            fields=_EVENT_SELECTABLE,
            name_validator=objectmeta.path_segment_name,
            hooks=CoreEventHooks(),
        ),
        ResourceType(
            "",
            "v1",
            "pods",
            "Pod",
            True,
            short_names=("po",),
            categories=("all",),
            subresources=("log", "status"),
            fields=pod_fields,
            returns_deleted_object=True,
            hooks=PodHooks(),
        ),
        ResourceType(
            "",
            "v1",
            "services",
            "Service",
            True,
            short_names=("svc",),
            categories=("all",),
            subresources=("status",),
            name_validator=objectmeta.dns1035_label,
            returns_deleted_object=True,
            hooks=ServiceHooks(),
        ),
        ResourceType(
            "",
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            True,
            short_names=("pvc",),
            subresources=("status",),
            returns_deleted_object=True,
            hooks=plain,
        ),
    ]
    others = [
        ResourceType(
            "apps",
            "v1",
            "deployments",
            "Deployment",
            True,
            short_names=("deploy",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            hooks=DeploymentHooks(),
        ),
        ResourceType(
            "apps",
            "v1",
            "statefulsets",
            "StatefulSet",
            True,
            short_names=("sts",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            hooks=plain,
        ),
        ResourceType(
            "apps",
            "v1",
            "daemonsets",
            "DaemonSet",
            True,
            short_names=("ds",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            hooks=plain,
        ),
        ResourceType(
            "apps",
            "v1",
            "replicasets",
            "ReplicaSet",
            True,
            short_names=("rs",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            hooks=plain,
        ),
        ResourceType(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            True,
            short_names=("ev",),
            fields=_EVENTS_V1_SELECTABLE,
            name_validator=objectmeta.path_segment_name,
            hooks=EventsV1Hooks(),
        ),
        ResourceType(
            "batch",
            "v1",
            "jobs",
            "Job",
            True,
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            fields={"status.successful": "status.successful"},
            default_propagation="Orphan",
            hooks=JobHooks(),
        ),
        ResourceType(
            "batch",
            "v1",
            "cronjobs",
            "CronJob",
            True,
            short_names=("cj",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
            hooks=plain,
        ),
        ResourceType(
            "rbac.authorization.k8s.io",
            "v1",
            "roles",
            "Role",
            True,
            name_validator=objectmeta.path_segment_name,
            hooks=plain,
        ),
        ResourceType(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "RoleBinding",
            True,
            name_validator=objectmeta.path_segment_name,
            hooks=RoleBindingHooks(),
        ),
        ResourceType(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "ClusterRole",
            False,
            name_validator=objectmeta.path_segment_name,
            hooks=plain,
        ),
        ResourceType(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            False,
            name_validator=objectmeta.path_segment_name,
            hooks=RoleBindingHooks(),
        ),
        ResourceType(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=("status",),
            has_generation=True,
            hooks=plain,
        ),
        ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, hooks=plain),
    ]
    types = core + others
    for rt in types:
        # Checked on the stored form, so events.k8s.io Events are checked as core Events.
        fields = TOP_LEVEL_FIELDS.get(shared_storage_key(rt), _SPEC_STATUS)
        rt.known_fields = frozenset(("apiVersion", "kind", "metadata", *fields))
    return types


def shared_storage_key(rt: ResourceType) -> tuple[str, str]:
    """Where a resource's objects live: events.k8s.io Events live with core Events."""
    if rt.group == "events.k8s.io" and rt.plural == "events":
        return ("", "events")
    return rt.storage_key


def field_value(obj: Mapping[str, Any], rt: ResourceType, name: str) -> str | None:
    """The string value of a selectable field (``metadata.name``, ``status.phase``, ...)."""
    if name == "metadata.name":
        return obj.get("metadata", {}).get("name")
    if name == "metadata.namespace":
        return obj.get("metadata", {}).get("namespace")
    path = rt.fields.get(name)
    if path is None:
        return None
    if path.startswith("."):
        found = find(obj, path)
        return format_value(found[0]) if found else None
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)
