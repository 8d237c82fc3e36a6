"""The checks a Kubernetes API server makes on a pod spec, for the Jobs a Promise will create.

Kratix's admission webhook dry-runs each pipeline's Job when a Promise is applied, so a
``secretKeyRef`` without ``key`` is refused at ``kubectl apply``. Without that, the Promise is
accepted and every request fails later, at Job creation or at container start, far from the
field that caused it. These are the rules of Kubernetes' own pod validation that a pipeline's
``containers``, ``volumes``, ``tolerations`` and ``imagePullSecrets`` can break (the rest is
checked by the Pipeline model); each finding gives the field's path in the pod spec.

Pure: a pod spec in, findings out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from kratix_py.api.validation import dns1123_label_error, dns1123_subdomain_error

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class PodProblem:
    """One field Kubernetes would refuse (``error``) or that older clusters refuse (``warning``)."""

    path: str
    """Relative to the pod spec: ``initContainers[1].env[0].valueFrom.secretKeyRef.key``."""
    message: str
    severity: Severity = "error"


_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_C_IDENTIFIER_ENV = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_VALUE_SOURCES: Final = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
_FIELD_PATHS: Final = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_FIELD_PATH_MAPS = re.compile(r"metadata\.(labels|annotations)\['[^']+'\]")
_RESOURCE_FIELDS: Final = tuple(
    f"{kind}.{resource}"
    for kind in ("limits", "requests")
    for resource in ("cpu", "memory", "ephemeral-storage")
)
_TOLERATION_EFFECTS: Final = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _env_name(name: Any, path: str) -> list[PodProblem]:
    if not isinstance(name, str) or not name:
        return [PodProblem(path, "Required value: every variable needs a name")]
    if "=" in name or any(not 32 <= ord(char) <= 126 for char in name):
        return [PodProblem(path, f"invalid variable name {name!r}: printable ASCII without '=' only")]
    if not _C_IDENTIFIER_ENV.fullmatch(name):
        return [
            PodProblem(
                path,
                f"variable name {name!r} is refused by clusters before Kubernetes 1.32, which allow only "
                "letters, digits, '_', '-' and '.', not starting with a digit",
                "warning",
            )
        ]
    return []


def _key_selector(selector: Any, path: str, kind: str) -> list[PodProblem]:
    if not isinstance(selector, Mapping):
        return [PodProblem(path, f"must be a {{name, key}} map naming a {kind}")]
    problems = []
    if not _text(selector.get("name")):
        problems.append(PodProblem(f"{path}.name", f"Required value: the {kind} to read"))
    key = _text(selector.get("key"))
    if not key:
        problems.append(PodProblem(f"{path}.key", f"Required value: the key of the {kind} to read"))
    elif len(key) > 253 or not _CONFIG_KEY.fullmatch(key):
        problems.append(PodProblem(f"{path}.key", f"invalid key {key!r}: letters, digits, '-', '_' and '.'"))
    return problems


def _value_from(source: Any, path: str) -> list[PodProblem]:
    if not isinstance(source, Mapping):
        return [PodProblem(path, "must be a map with one of " + ", ".join(_VALUE_SOURCES))]
    given = [name for name in _VALUE_SOURCES if source.get(name) is not None]
    if not given:
        return [PodProblem(path, "must specify one of: " + ", ".join(f"`{name}`" for name in _VALUE_SOURCES))]
    if len(given) > 1:
        return [PodProblem(path, "may not have more than one field specified at a time")]
    kind, value = given[0], source[given[0]]
    where = f"{path}.{kind}"
    if kind == "secretKeyRef":
        return _key_selector(value, where, "Secret")
    if kind == "configMapKeyRef":
        return _key_selector(value, where, "ConfigMap")
    if kind == "fieldRef":
        field_path = _text((value or {}).get("fieldPath")) if isinstance(value, Mapping) else ""
        if not field_path:
            return [PodProblem(f"{where}.fieldPath", "Required value")]
        if field_path not in _FIELD_PATHS and not _FIELD_PATH_MAPS.fullmatch(field_path):
            return [PodProblem(f"{where}.fieldPath", f"Unsupported value: {field_path!r}")]
        return []
    resource = _text((value or {}).get("resource")) if isinstance(value, Mapping) else ""
    if not resource:
        return [PodProblem(f"{where}.resource", "Required value")]
    if resource not in _RESOURCE_FIELDS and not resource.startswith(
        ("limits.hugepages-", "requests.hugepages-")
    ):
        return [PodProblem(f"{where}.resource", f"Unsupported value: {resource!r}")]
    return []


def _env(container: Mapping[str, Any], path: str) -> list[PodProblem]:
    problems: list[PodProblem] = []
    for index, entry in enumerate(container.get("env") or []):
        where = f"{path}.env[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(PodProblem(where, "must be a {name, value} or {name, valueFrom} map"))
            continue
        problems += _env_name(entry.get("name"), f"{where}.name")
        if entry.get("valueFrom") is not None:
            if entry.get("value"):
                problems.append(
                    PodProblem(f"{where}.valueFrom", "may not be specified when `value` is not empty")
                )
            problems += _value_from(entry["valueFrom"], f"{where}.valueFrom")
    for index, entry in enumerate(container.get("envFrom") or []):
        where = f"{path}.envFrom[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(PodProblem(where, "must be a {configMapRef} or {secretRef} map"))
            continue
        given = [name for name in ("configMapRef", "secretRef") if entry.get(name) is not None]
        if len(given) != 1:
            problems.append(PodProblem(where, "must specify exactly one of `configMapRef` and `secretRef`"))
            continue
        reference = entry[given[0]]
        if not isinstance(reference, Mapping) or not _text(reference.get("name")):
            problems.append(PodProblem(f"{where}.{given[0]}.name", "Required value"))
        prefix = entry.get("prefix")
        if prefix:
            problems += _env_name(prefix, f"{where}.prefix")
    return problems


def _mounts(container: Mapping[str, Any], path: str, volumes: set[str]) -> list[PodProblem]:
    problems: list[PodProblem] = []
    seen: set[str] = set()
    for index, mount in enumerate(container.get("volumeMounts") or []):
        where = f"{path}.volumeMounts[{index}]"
        if not isinstance(mount, Mapping):
            problems.append(PodProblem(where, "must be a {name, mountPath} map"))
            continue
        name, mount_path = _text(mount.get("name")), _text(mount.get("mountPath"))
        if not name:
            problems.append(PodProblem(f"{where}.name", "Required value"))
        elif name not in volumes:
            problems.append(
                PodProblem(f"{where}.name", f"Not found: {name!r}: no volume of the pod has that name")
            )
        if not mount_path:
            problems.append(PodProblem(f"{where}.mountPath", "Required value"))
        elif mount_path in seen:
            problems.append(
                PodProblem(f"{where}.mountPath", f"Invalid value: {mount_path!r}: must be unique")
            )
        seen.add(mount_path)
        sub_path = _text(mount.get("subPath"))
        if sub_path and (sub_path.startswith("/") or ".." in sub_path.split("/")):
            problems.append(
                PodProblem(
                    f"{where}.subPath", f"Invalid value: {sub_path!r}: must be a relative path without '..'"
                )
            )
    return problems


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_SUFFIXES: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{
        suffix: Decimal(1024) ** power for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)
    },
}


def parse_quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (``100m``, ``1.5Gi``, ``2e3``, ``4``) as a number; ``None`` if invalid."""
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    match = _QUANTITY.match(text)
    if match is None:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return None
    suffix = match.group(2) or ""
    if suffix[:1] in ("e", "E") and suffix not in _SUFFIXES:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIXES[suffix]


def _resources(container: Mapping[str, Any], path: str) -> list[PodProblem]:
    resources = container.get("resources")
    if not isinstance(resources, Mapping):
        return []
    problems: list[PodProblem] = []
    parsed: dict[str, dict[str, Decimal]] = {}
    for kind in ("limits", "requests"):
        for name, value in (resources.get(kind) or {}).items():
            quantity = parse_quantity(value)
            if quantity is None or quantity < 0:
                problems.append(
                    PodProblem(f"{path}.resources.{kind}.{name}", f"Invalid value: {value!r}: not a quantity")
                )
            else:
                parsed.setdefault(kind, {})[name] = quantity
    for name, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(name)
        if limit is not None and request > limit:
            problems.append(
                PodProblem(
                    f"{path}.resources.requests.{name}",
                    f"Invalid value: {resources['requests'][name]!r}: must be less than or equal to "
                    f"{name} limit of {resources['limits'][name]!r}",
                )
            )
    return problems


def _security(container: Mapping[str, Any], path: str) -> list[PodProblem]:
    security = container.get("securityContext")
    if not isinstance(security, Mapping):
        return []
    if security.get("privileged") is True and security.get("allowPrivilegeEscalation") is False:
        return [
            PodProblem(
                f"{path}.securityContext",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        ]
    return []


def _container(container: Any, path: str, volumes: set[str]) -> list[PodProblem]:
    if not isinstance(container, Mapping):
        return [PodProblem(path, "must be a container map")]
    problems: list[PodProblem] = []
    name = _text(container.get("name"))
    if not name:
        problems.append(PodProblem(f"{path}.name", "Required value"))
    elif (problem := dns1123_label_error(name)) is not None:
        problems.append(PodProblem(f"{path}.name", problem))
    image = _text(container.get("image"))
    if not image:
        problems.append(PodProblem(f"{path}.image", "Required value"))
    elif image != image.strip():
        problems.append(PodProblem(f"{path}.image", "must not have leading or trailing whitespace"))
    problems += _env(container, path)
    problems += _mounts(container, path, volumes)
    problems += _resources(container, path)
    problems += _security(container, path)
    return problems


def _volumes(volumes: Sequence[Any]) -> tuple[list[PodProblem], set[str]]:
    problems: list[PodProblem] = []
    names: set[str] = set()
    for index, volume in enumerate(volumes):
        where = f"volumes[{index}]"
        if not isinstance(volume, Mapping):
            problems.append(PodProblem(where, "must be a volume map"))
            continue
        name = _text(volume.get("name"))
        if not name:
            problems.append(PodProblem(f"{where}.name", "Required value"))
        elif (problem := dns1123_label_error(name)) is not None:
            problems.append(PodProblem(f"{where}.name", problem))
        elif name in names:
            problems.append(PodProblem(f"{where}.name", f"Duplicate value: {name!r}"))
        names.add(name)
        sources = [key for key in volume if key != "name"]
        if not sources:
            problems.append(PodProblem(where, "must specify a volume type (emptyDir, configMap, secret ...)"))
        elif len(sources) > 1:
            problems.append(
                PodProblem(where, f"may not specify more than 1 volume type (got {', '.join(sources)})")
            )
        elif sources[0] == "secret" and not _text((volume.get("secret") or {}).get("secretName")):
            problems.append(PodProblem(f"{where}.secret.secretName", "Required value"))
        elif sources[0] == "configMap" and not _text((volume.get("configMap") or {}).get("name")):
            problems.append(PodProblem(f"{where}.configMap.name", "Required value"))
    return problems, names


def _tolerations(tolerations: Sequence[Any]) -> list[PodProblem]:
    problems: list[PodProblem] = []
    for index, toleration in enumerate(tolerations):
        where = f"tolerations[{index}]"
        if not isinstance(toleration, Mapping):
            problems.append(PodProblem(where, "must be a toleration map"))
            continue
        operator = toleration.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            problems.append(
                PodProblem(f"{where}.operator", f"Unsupported value: {operator!r}: Equal or Exists")
            )
        if operator == "Exists" and toleration.get("value"):
            problems.append(PodProblem(f"{where}.value", "must be empty when `operator` is 'Exists'"))
        if not toleration.get("key") and operator != "Exists":
            problems.append(PodProblem(f"{where}.operator", "must be 'Exists' when `key` is empty"))
        effect = toleration.get("effect") or ""
        if effect not in _TOLERATION_EFFECTS:
            problems.append(PodProblem(f"{where}.effect", f"Unsupported value: {effect!r}"))
    return problems


def pod_spec_problems(spec: Mapping[str, Any]) -> list[PodProblem]:
    """What the API server would refuse in ``spec``, in pod-spec order."""
    problems, volumes = _volumes(spec.get("volumes") or [])
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            path = f"{group}[{index}]"
            problems += _container(container, path, volumes)
            name = _text(container.get("name")) if isinstance(container, Mapping) else ""
            if name and name in names:
                problems.append(PodProblem(f"{path}.name", f"Duplicate value: {name!r}"))
            names.add(name)
    for index, secret in enumerate(spec.get("imagePullSecrets") or []):
        name = _text((secret or {}).get("name")) if isinstance(secret, Mapping) else ""
        if not name:
            problems.append(PodProblem(f"imagePullSecrets[{index}].name", "Required value"))
        elif (problem := dns1123_subdomain_error(name)) is not None:
            problems.append(PodProblem(f"imagePullSecrets[{index}].name", problem))
    problems += _tolerations(spec.get("tolerations") or [])
    return problems
