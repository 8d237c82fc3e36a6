"""From a Pod object to containers ready to run: volumes as host folders, env, mounts, security flags.

This is the part of the kubelet that prepares a pod: emptyDir volumes become folders under the
pod's own directory, configMap/secret/downwardAPI/projected volumes become files materialised from
the API, env and envFrom are resolved (including ``valueFrom``), and ``$(VAR)`` references are
expanded in env values, command and args exactly as Kubernetes does.

Every container also gets a kubeconfig for the API the pod runner serves (read-only at
:data:`CONTAINER_KUBECONFIG_PATH`, with ``KUBECONFIG`` pointing at it unless the pod sets its own),
because Kratix's pipeline adapter containers talk to the API; and, unless the pod opts out with
``automountServiceAccountToken: false``, a service-account folder (token, namespace, ca.crt) where
Kubernetes would mount it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable

Json = dict[str, Any]

CONTAINER_KUBECONFIG_PATH = "/var/run/kratix-py/kubeconfig"
SERVICE_ACCOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_TOKEN = "local-platform"  # the emulator accepts any token
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_FILE_MODE = 0o644


class PodSetupError(Exception):
    """The pod cannot start as specified; ``reason``/``message`` are what the kubelet would report.

    ``retryable`` errors (an object that may still appear, such as a ConfigMap created right after
    the Job) are retried for a while before the pod fails.
    """

    def __init__(
        self, reason: str, message: str, *, container: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.container = container
        self.retryable = retryable


class ObjectSource(Protocol):
    """Reads the ConfigMaps and Secrets a pod refers to; ``None`` when absent."""

    def get_configmap(self, namespace: str, name: str) -> Json | None: ...

    def get_secret(self, namespace: str, name: str) -> Json | None: ...


@runtime_checkable
class TokenSource(Protocol):
    """An :class:`ObjectSource` of a real API server also hands out service-account tokens."""

    def request_token(self, namespace: str, service_account: str, spec: Json) -> str: ...


@dataclass(frozen=True)
class Mount:
    host: Path
    path: str
    read_only: bool


@dataclass
class ContainerSpec:
    """One container, resolved: everything a runtime needs and nothing it must look up."""

    name: str
    image: str
    init: bool
    command: list[str] | None  # None: the image's ENTRYPOINT
    args: list[str] | None  # None: the image's CMD (only when command is None too)
    env: dict[str, str]
    working_dir: str | None
    mounts: list[Mount]
    user: str | None
    run_as_non_root: bool
    cap_add: list[str]
    cap_drop: list[str]
    no_new_privileges: bool
    read_only_rootfs: bool
    privileged: bool
    termination_message_path: str
    termination_message_policy: str
    raw: Json = field(repr=False)


@dataclass
class PreparedPod:
    namespace: str
    name: str
    uid: str
    directory: Path
    init: list[ContainerSpec]
    main: list[ContainerSpec]


# --- $(VAR) expansion -----------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes variable expansion: ``$(NAME)`` -> value if defined (else kept), ``$$`` -> ``$``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


# --- field references -------------------------------------------------------------------------

_KEYED_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(pod: Json, path: str) -> str:
    """The value of a downward-API ``fieldRef.fieldPath`` for ``pod``."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple: dict[str, Callable[[], Any]] = {
        "metadata.name": lambda: meta.get("name"),
        "metadata.namespace": lambda: meta.get("namespace"),
        "metadata.uid": lambda: meta.get("uid"),
        "spec.nodeName": lambda: spec.get("nodeName"),
        "spec.serviceAccountName": lambda: spec.get("serviceAccountName") or "default",
        "status.hostIP": lambda: "127.0.0.1",
        "status.hostIPs": lambda: "127.0.0.1",
        "status.podIP": lambda: "127.0.0.1",
        "status.podIPs": lambda: "127.0.0.1",
    }
    if path in simple:
        return str(simple[path]() or "")
    keyed = _KEYED_FIELD.match(path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "".join(f'{key}="{value}"\n' for key, value in sorted(values.items()))
    raise PodSetupError("CreateContainerConfigError", f"unsupported fieldRef fieldPath {path!r}")


def resource_value(container: Json, resource: str) -> str:
    """``resourceFieldRef``: the container's limit (else request) as written; ``0`` when unset."""
    resources = container.get("resources") or {}
    for kind in ("limits", "requests"):
        value = (resources.get(kind) or {}).get(resource.split(".", 1)[-1])
        if value is not None:
            return str(value)
    return "0"


# --- ConfigMaps and Secrets -----------------------------------------------------------------


def _configmap_data(source: ObjectSource, namespace: str, name: str) -> dict[str, bytes] | None:
    configmap = source.get_configmap(namespace, name)
    if configmap is None:
        return None
    data = {key: str(value).encode() for key, value in (configmap.get("data") or {}).items()}
    for key, value in (configmap.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


def _secret_data(source: ObjectSource, namespace: str, name: str) -> dict[str, bytes] | None:
    secret = source.get_secret(namespace, name)
    if secret is None:
        return None
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    # stringData is write-only on a real API server; accept it in case an emulator stored it as is.
    for key, value in (secret.get("stringData") or {}).items():
        data.setdefault(key, str(value).encode())
    return data


def _lookup(source: ObjectSource, kind: str, namespace: str, name: str, optional: bool) -> dict[str, bytes]:
    """The data of a ConfigMap (``kind="configmap"``) or Secret; ``{}`` when absent and optional."""
    data = (
        _configmap_data(source, namespace, name)
        if kind == "configmap"
        else _secret_data(source, namespace, name)
    )
    if data is None:
        if optional:
            return {}
        raise PodSetupError("CreateContainerConfigError", f'{kind} "{name}" not found', retryable=True)
    return data


# --- volumes ----------------------------------------------------------------------------------


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise PodSetupError(
            "CreateContainerConfigError", f"invalid path {path!r} in a volume: must be relative"
        )
    return relative


def _write_file(root: Path, path: str, content: bytes, mode: int) -> None:
    target = root.joinpath(*_safe_relative(path).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    target.chmod(mode)


def _write_keyed(root: Path, data: dict[str, bytes], spec: Json, kind: str, name: str) -> None:
    """configMap/secret semantics: every key as a file, or only ``items`` (a missing key is an error)."""
    default_mode = int(spec.get("defaultMode", DEFAULT_FILE_MODE))
    items = spec.get("items")
    if not items:
        for key, content in sorted(data.items()):
            _write_file(root, key, content, default_mode)
        return
    for item in items:
        key = item["key"]
        if key not in data:
            if spec.get("optional"):
                continue
            raise PodSetupError(
                "CreateContainerConfigError", f'couldn\'t find key {key} in {kind} "{name}"', retryable=True
            )
        _write_file(root, item.get("path", key), data[key], int(item.get("mode", default_mode)))


def _write_downward(root: Path, pod: Json, items: list[Json], default_mode: int) -> None:
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    for item in items:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in item:
            ref = item["resourceFieldRef"]
            value = resource_value(containers.get(ref.get("containerName")) or {}, ref["resource"])
        else:
            continue
        _write_file(root, item["path"], value.encode(), int(item.get("mode", default_mode)))


def _materialise_volume(volume: Json, root: Path, pod: Json, source: ObjectSource) -> tuple[Path, bool]:
    """Create one volume's host folder; returns it and whether it is always mounted read-only."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    name = volume["name"]
    if "emptyDir" in volume:
        # Kubernetes creates emptyDirs world-writable so containers running as any user can write.
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o777)
        return root, False
    if "hostPath" in volume:
        host = Path(volume["hostPath"]["path"])
        if volume["hostPath"].get("type") in ("DirectoryOrCreate",):
            host.mkdir(parents=True, exist_ok=True)
        if not host.exists():
            raise PodSetupError("FailedMount", f'hostPath "{host}" of volume "{name}" does not exist')
        return host, False
    root.mkdir(parents=True, exist_ok=True)
    if "configMap" in volume:
        spec = volume["configMap"]
        cm = spec["name"]
        data = _lookup(source, "configmap", namespace, cm, bool(spec.get("optional")))
        _write_keyed(root, data, spec, "ConfigMap", cm)
        return root, True
    if "secret" in volume:
        spec = volume["secret"]
        secret = spec["secretName"]
        data = _lookup(source, "secret", namespace, secret, bool(spec.get("optional")))
        _write_keyed(root, data, spec, "Secret", secret)
        return root, True
    if "downwardAPI" in volume:
        spec = volume["downwardAPI"]
        _write_downward(root, pod, spec.get("items") or [], int(spec.get("defaultMode", DEFAULT_FILE_MODE)))
        return root, True
    if "projected" in volume:
        spec = volume["projected"]
        default_mode = int(spec.get("defaultMode", DEFAULT_FILE_MODE))
        for projection in spec.get("sources") or []:
            if "configMap" in projection:
                part = {"defaultMode": default_mode, **projection["configMap"]}
                cm = part["name"]
                data = _lookup(source, "configmap", namespace, cm, bool(part.get("optional")))
                _write_keyed(root, data, part, "ConfigMap", cm)
            elif "secret" in projection:
                part = {"defaultMode": default_mode, **projection["secret"]}
                secret = part["name"]
                data = _lookup(source, "secret", namespace, secret, bool(part.get("optional")))
                _write_keyed(root, data, part, "Secret", secret)
            elif "downwardAPI" in projection:
                _write_downward(root, pod, projection["downwardAPI"].get("items") or [], default_mode)
            elif "serviceAccountToken" in projection:
                token_spec = projection["serviceAccountToken"]
                _write_file(
                    root, token_spec["path"], _service_account_token(source, pod, token_spec), default_mode
                )
        return root, True
    kinds = sorted(set(volume) - {"name"})
    raise PodSetupError(
        "FailedMount",
        f'volume "{name}" has an unsupported type {kinds}: the local pod runner supports emptyDir, hostPath, '
        "configMap, secret, downwardAPI and projected volumes",
    )


def _service_account_token(source: ObjectSource, pod: Json, projection: Json) -> bytes:
    """A real TokenRequest token when ``source`` can ask for one (a real API server), else the placeholder."""
    if not isinstance(source, TokenSource):
        return SERVICE_ACCOUNT_TOKEN.encode()
    meta = pod.get("metadata") or {}
    spec: Json = {
        "expirationSeconds": int(projection.get("expirationSeconds") or 3607),
        # Bound to the pod, as a kubelet's token is: it stops working when the pod is deleted.
        "boundObjectRef": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
        },
    }
    if projection.get("audience"):
        spec["audiences"] = [projection["audience"]]
    account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
    try:
        token = source.request_token(str(meta.get("namespace") or "default"), account, spec)
    except Exception as error:  # denied, or the ServiceAccount is gone: the kubelet's FailedMount
        raise PodSetupError(
            "FailedMount", f"cannot get a token for ServiceAccount {account!r}: {error}"
        ) from error
    return token.encode()


def service_account_dir(parent: Path, namespace: str) -> Path:
    """``parent/<namespace>`` with what Kubernetes mounts for a service account: token, namespace, ca.crt."""
    root = parent / namespace
    if root.is_dir():
        return root
    # Built aside and renamed into place, so a concurrent pod never sees a half-written folder.
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{namespace}."))
    for name, content in (("token", SERVICE_ACCOUNT_TOKEN), ("namespace", namespace), ("ca.crt", "")):
        (staging / name).write_text(content)
        (staging / name).chmod(DEFAULT_FILE_MODE)
    staging.chmod(0o755)
    try:
        staging.rename(root)
    except OSError:  # another pod of the namespace was first
        shutil.rmtree(staging, ignore_errors=True)
    return root


# --- env ----------------------------------------------------------------------------------------


def resolve_env(container: Json, pod: Json, source: ObjectSource) -> dict[str, str]:
    """envFrom, then env (later entries win), with ``$(VAR)`` expanded against what came before."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    name = str(container.get("name"))
    env: dict[str, str] = {}
    for entry in container.get("envFrom") or []:
        prefix = entry.get("prefix", "")
        if "configMapRef" in entry:
            ref = entry["configMapRef"]
            cm = ref["name"]
            data = _lookup(source, "configmap", namespace, cm, bool(ref.get("optional")))
        elif "secretRef" in entry:
            ref = entry["secretRef"]
            secret = ref["name"]
            data = _lookup(source, "secret", namespace, secret, bool(ref.get("optional")))
        else:
            continue
        for key, value in data.items():
            env[prefix + key] = value.decode(errors="replace")
    for entry in container.get("env") or []:
        var = entry["name"]
        if "valueFrom" not in entry:
            env[var] = expand(str(entry.get("value", "")), env)
            continue
        value_from = entry["valueFrom"]
        if "fieldRef" in value_from:
            env[var] = field_value(pod, value_from["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in value_from:
            env[var] = resource_value(container, value_from["resourceFieldRef"]["resource"])
        elif "configMapKeyRef" in value_from or "secretKeyRef" in value_from:
            is_cm = "configMapKeyRef" in value_from
            ref = value_from["configMapKeyRef" if is_cm else "secretKeyRef"]
            obj, key, optional = ref["name"], ref["key"], bool(ref.get("optional"))
            data = _lookup(source, "configmap" if is_cm else "secret", namespace, obj, optional)
            if key in data:
                env[var] = data[key].decode(errors="replace")
            elif not optional:
                raise PodSetupError(
                    "CreateContainerConfigError",
                    f"couldn't find key {key} in {'ConfigMap' if is_cm else 'Secret'} {namespace}/{obj}",
                    container=name,
                    retryable=True,
                )
        else:
            raise PodSetupError(
                "CreateContainerConfigError", f"unsupported valueFrom in env {var!r}", container=name
            )
    return env


# --- the pod ------------------------------------------------------------------------------------


def _user(security: Json, pod_security: Json) -> str | None:
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    gid = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if uid is None:
        return None
    return f"{uid}:{gid}" if gid is not None else str(uid)


def _container(
    raw: Json,
    init: bool,
    pod: Json,
    volumes: Mapping[str, tuple[Path, bool]],
    source: ObjectSource,
    extra_mounts: list[Mount],
) -> ContainerSpec:
    name = str(raw.get("name"))
    env = resolve_env(raw, pod, source)
    mounts: list[Mount] = []
    for mount in raw.get("volumeMounts") or []:
        volume_name = mount["name"]
        if volume_name not in volumes:
            raise PodSetupError(
                "CreateContainerConfigError", f'volume mount "{mount["mountPath"]}" refers to unknown volume "{volume_name}"',
                container=name,
            )  # fmt: skip
        host, always_read_only = volumes[volume_name]
        sub_path = mount.get("subPath")
        if sub_path:
            host = host.joinpath(*_safe_relative(expand(sub_path, env)).parts)
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
                host.chmod(0o777)
        mounts.append(Mount(host, mount["mountPath"], always_read_only or bool(mount.get("readOnly"))))
    taken = {m.path for m in mounts}
    for mount in extra_mounts:
        if mount.path not in taken:
            mounts.append(mount)
    if "KUBECONFIG" not in env and CONTAINER_KUBECONFIG_PATH in {m.path for m in mounts}:
        env["KUBECONFIG"] = CONTAINER_KUBECONFIG_PATH
    security = raw.get("securityContext") or {}
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    capabilities = security.get("capabilities") or {}
    command = raw.get("command")
    args = raw.get("args")
    return ContainerSpec(
        name=name,
        image=str(raw.get("image", "")),
        init=init,
        command=[expand(str(part), env) for part in command] if command else None,
        args=[expand(str(part), env) for part in args] if args else None,
        env=env,
        working_dir=raw.get("workingDir") or None,
        mounts=mounts,
        user=_user(security, pod_security),
        run_as_non_root=bool(security.get("runAsNonRoot", pod_security.get("runAsNonRoot", False))),
        cap_add=[str(c) for c in capabilities.get("add") or []],
        cap_drop=[str(c) for c in capabilities.get("drop") or []],
        no_new_privileges=security.get("allowPrivilegeEscalation") is False,
        read_only_rootfs=bool(security.get("readOnlyRootFilesystem")),
        privileged=bool(security.get("privileged")),
        termination_message_path=raw.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH,
        termination_message_policy=raw.get("terminationMessagePolicy") or "File",
        raw=raw,
    )


def prepare_pod(
    pod: Json,
    directory: Path,
    source: ObjectSource,
    *,
    kubeconfig: Path | None,
    service_accounts: Path | None = None,
    inject_service_account: bool = True,
    extra_env: Mapping[str, str] | None = None,
) -> PreparedPod:
    """Materialise ``pod``'s volumes under ``directory`` and resolve its containers.

    ``service_accounts``: where the per-namespace service-account folders live; they only depend
    on the namespace, so a runner shares them between pods (default: inside ``directory``).
    Raises :class:`PodSetupError` with the kubelet's reason when the pod cannot start.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = meta.get("namespace") or "default"
    directory.mkdir(parents=True, exist_ok=True)
    volumes: dict[str, tuple[Path, bool]] = {}
    for volume in spec.get("volumes") or []:
        volumes[volume["name"]] = _materialise_volume(
            volume, directory / "volumes" / volume["name"], pod, source
        )
    extra: list[Mount] = []
    if kubeconfig is not None:
        extra.append(Mount(kubeconfig, CONTAINER_KUBECONFIG_PATH, True))
    # A real API server's admission already put the service-account volume into the pod.
    if inject_service_account and spec.get("automountServiceAccountToken", True) is not False:
        accounts = service_accounts if service_accounts is not None else directory / "serviceaccount"
        extra.append(Mount(service_account_dir(accounts, namespace), SERVICE_ACCOUNT_PATH, True))
    init = [_container(c, True, pod, volumes, source, extra) for c in spec.get("initContainers") or []]
    main = [_container(c, False, pod, volumes, source, extra) for c in spec.get("containers") or []]
    if extra_env:
        # Like a kubelet's service variables: the container's own env wins.
        init = [dataclasses.replace(c, env={**extra_env, **c.env}) for c in init]
        main = [dataclasses.replace(c, env={**extra_env, **c.env}) for c in main]
    return PreparedPod(
        namespace=namespace,
        name=str(meta.get("name")),
        uid=str(meta.get("uid", "")),
        directory=directory,
        init=init,
        main=main,
    )


def termination_file(directory: Path, container: str, attempt: int) -> Path:
    """A fresh, world-writable file to bind-mount at the container's terminationMessagePath."""
    path = directory / "termination" / f"{container}-{attempt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.chmod(path, 0o666)
    return path
