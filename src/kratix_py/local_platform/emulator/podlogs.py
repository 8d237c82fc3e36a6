"""Container logs, written by whatever plays the kubelet (the pod runner), served by ``pods/log``.

Logs are kept per (namespace, pod, container) and dropped with the pod. Writes may come from any
thread, so the map is guarded by a lock.
"""

from __future__ import annotations

import threading
from typing import Any

from . import errors


class PodLogs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str, str], str] = {}

    def set(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self._lock:
            self._logs[(namespace, pod, container)] = text

    def get(self, namespace: str, pod: str, container: str) -> str | None:
        with self._lock:
            return self._logs.get((namespace, pod, container))

    def drop_pod(self, namespace: str, pod: str) -> None:
        with self._lock:
            for key in [k for k in self._logs if k[0] == namespace and k[1] == pod]:
                del self._logs[key]

    def read(
        self, pod: dict[str, Any], container: str | None, tail_lines: int | None, limit_bytes: int | None
    ) -> str:
        """The log of one container of ``pod``, chosen and failing as a real kubelet would."""
        meta = pod["metadata"]
        name = meta["name"]
        spec = pod.get("spec") or {}
        main = [c.get("name") for c in spec.get("containers") or [] if isinstance(c, dict)]
        init = [c.get("name") for c in spec.get("initContainers") or [] if isinstance(c, dict)]
        if container:
            if container not in main and container not in init:
                raise errors.bad_request(f"container {container} is not valid for pod {name}")
        else:
            default = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
            if default in main:
                container = default
            elif len(main) == 1:
                container = main[0]
            else:
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(map(str, main))}]"
                    + (f" or one of the init containers: [{' '.join(map(str, init))}]" if init else "")
                )
        text = self.get(meta.get("namespace", ""), name, str(container))
        if text is None:
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
        if limit_bytes is not None and limit_bytes >= 0:
            text = text.encode()[:limit_bytes].decode(errors="ignore")
        return text
