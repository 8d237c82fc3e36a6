"""Running one container: as a real podman container, or as a Python callable in-process.

Both return a :class:`ContainerOutcome` (exit code, kubelet reason, message, combined log), so the
pod runner treats them alike. The in-process path is what makes control-plane benchmarks of
thousands of pipeline runs possible and lets pipelines be written as plain Python functions.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kratix_py.local_platform.podman import PODMAN, podman_env, remove_containers, run_podman
from kratix_py.local_platform.podrunner_spec import CONTAINER_KUBECONFIG_PATH, ContainerSpec, Mount
from kratix_py.local_platform.podrunner_status import now

# An image label that says "my containers never talk to the Kubernetes API": they then run
# without any network (cheaper, and honest about what they need).
NETWORK_LABEL = "io.kratix-py.network"

# Kubernetes keeps at most this much of a termination message, and of the log tail used instead.
_MESSAGE_LIMIT = 4096
_FALLBACK_LOG_BYTES = 2048
_FALLBACK_LOG_LINES = 80

# An in-process step running longer than this gets its "running" state reported.
SLOW_STEP_SECONDS = 0.25

# podman's own failures (not the container's): 125 = podman, 126/127 = could not start the command.
_PODMAN_ERROR = re.compile(r"^Error: (.*)$", re.MULTILINE)


@dataclass
class ContainerOutcome:
    """How a container ended, in the kubelet's terms."""

    exit_code: int
    reason: str  # Completed | Error | StartError | ErrImageNeverPull ...
    message: str
    log: str
    started_at: str
    finished_at: str
    container_id: str = ""
    # True when the container never ran (bad image, bad command): reported as such.
    start_failed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.start_failed


def _reason(exit_code: int) -> str:
    return "Completed" if exit_code == 0 else "Error"


def _fallback_message(log: str) -> str:
    lines = log.splitlines(keepends=True)[-_FALLBACK_LOG_LINES:]
    return "".join(lines).encode()[-_FALLBACK_LOG_BYTES:].decode(errors="ignore")


def termination_message(spec: ContainerSpec, written: str, log: str, exit_code: int) -> str:
    """The file the container wrote, or for ``FallbackToLogsOnError`` and a failure, the log's tail."""
    message = written[:_MESSAGE_LIMIT]
    if not message and exit_code != 0 and spec.termination_message_policy == "FallbackToLogsOnError":
        message = _fallback_message(log)
    return message


# --- in-process steps -----------------------------------------------------------------------


class _LogWriter(io.TextIOBase):
    """A file object for ``print(..., file=ctx.stdout)``; collects into the container's log."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__()
        self._sink = sink

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._sink(text)
        return len(text)


@dataclass
class StepContext:
    """What an in-process pipeline step gets instead of a container.

    ``env`` is the container's resolved environment (``KUBECONFIG`` points at a host file),
    ``mounts`` maps each container mount path to the host folder behind it, and :meth:`path`
    translates any container path, e.g. ``ctx.path("/kratix/output") / "deployment.yaml"``.
    Write logs with :meth:`log`, :meth:`write` or ``print(..., file=ctx.stdout)``; they end up
    where ``kubectl logs`` reads them. Long steps should check ``ctx.cancelled`` now and then: a
    deleted or suspended Job cannot kill a Python thread.
    """

    namespace: str
    pod_name: str
    container_name: str
    image: str
    env: dict[str, str]
    command: list[str]
    args: list[str]
    working_dir: str | None
    api_url: str
    mounts: dict[str, Path]
    cancelled: threading.Event = field(default_factory=threading.Event)
    _chunks: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def argv(self) -> list[str]:
        """``command + args`` as a container would see them in ``sys.argv`` (no image defaults here)."""
        return [*self.command, *self.args]

    @property
    def kubeconfig(self) -> Path | None:
        value = self.env.get("KUBECONFIG")
        return Path(value) if value else None

    def path(self, container_path: str) -> Path:
        """The host path behind ``container_path`` (the deepest mount that contains it)."""
        best: tuple[str, str] | None = None  # (prefix without trailing slash, mount key)
        for mount_path in self.mounts:
            prefix = mount_path.rstrip("/")
            inside = not prefix or container_path == prefix or container_path.startswith(prefix + "/")
            if inside and (best is None or len(prefix) > len(best[0])):
                best = (prefix, mount_path)
        if best is None:
            known = ", ".join(sorted(self.mounts)) or "none"
            raise ValueError(
                f"{container_path} is not inside a volume mount of container {self.container_name} (mounts: {known})"
            )
        relative = container_path[len(best[0]) :].lstrip("/")
        host = self.mounts[best[1]]
        return host / relative if relative else host

    def write(self, text: str) -> None:
        with self._lock:
            self._chunks.append(text)

    def log(self, *parts: object) -> None:
        """One log line, like ``print``."""
        self.write(" ".join(str(part) for part in parts) + "\n")

    @property
    def stdout(self) -> io.TextIOBase:
        return _LogWriter(self.write)

    def log_text(self) -> str:
        with self._lock:
            return "".join(self._chunks)


Step = Callable[[StepContext], "int | None"]


def step_context(
    spec: ContainerSpec, namespace: str, pod_name: str, api_url: str, host_kubeconfig: Path | None
) -> StepContext:
    """The context for ``spec`` run in-process; KUBECONFIG is rewritten to the host copy."""
    env = dict(spec.env)
    if env.get("KUBECONFIG") == CONTAINER_KUBECONFIG_PATH and host_kubeconfig is not None:
        env["KUBECONFIG"] = str(host_kubeconfig)
    return StepContext(
        namespace=namespace,
        pod_name=pod_name,
        container_name=spec.name,
        image=spec.image,
        env=env,
        command=list(spec.command or []),
        args=list(spec.args or []),
        working_dir=spec.working_dir,
        api_url=api_url,
        mounts={mount.path: mount.host for mount in spec.mounts},
    )


def run_step(
    step: Step, ctx: StepContext, cancel: threading.Event, *, on_slow: Callable[[], None] | None = None
) -> ContainerOutcome:
    """Run ``step(ctx)`` in its own daemon thread; a cancelled run is abandoned, not awaited.

    ``on_slow`` is called (from this thread) once the step has run for :data:`SLOW_STEP_SECONDS`.
    """
    started = now()
    result: dict[str, int] = {}

    def target() -> None:
        try:
            value = step(ctx)
            if value is None or value is True:
                result["code"] = 0
            elif isinstance(value, bool):
                result["code"] = 1
            elif isinstance(value, int):
                result["code"] = value & 0xFF
            else:
                ctx.log(f"step returned {value!r}; expected an exit code (int) or None")
                result["code"] = 1
        except SystemExit as exit_:
            code = exit_.code
            result["code"] = 0 if code is None else (code & 0xFF if isinstance(code, int) else 1)
            if not isinstance(code, int) and code is not None:
                ctx.log(str(code))
        except BaseException:
            ctx.write(traceback.format_exc())
            result["code"] = 1

    thread = threading.Thread(target=target, name=f"step-{ctx.pod_name}-{ctx.container_name}", daemon=True)
    thread.start()
    began = time.monotonic()
    while thread.is_alive():
        # join() returns as soon as the step ends; the slices only bound how late a cancel is seen.
        thread.join(timeout=0.05)
        if on_slow is not None and thread.is_alive() and time.monotonic() - began >= SLOW_STEP_SECONDS:
            on_slow()
            on_slow = None
        if cancel.is_set():
            ctx.cancelled.set()
            thread.join(timeout=0.5)
            if thread.is_alive():
                return ContainerOutcome(
                    137, "Error", "killed: the Job was stopped", ctx.log_text(), started, now()
                )
    code = result.get("code", 1)
    log = ctx.log_text()
    return ContainerOutcome(code, _reason(code), "", log, started, now())


# --- podman -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    ref: str
    image_id: str
    user: str
    labels: Mapping[str, str]

    @property
    def needs_network(self) -> bool:
        return self.labels.get(NETWORK_LABEL, "host") != "none"


class ImageCatalog:
    """Which images podman has, and their config; found images are remembered for ``ttl`` seconds."""

    def __init__(self, ttl: float = 10.0) -> None:
        self._ttl = ttl
        self._known: dict[str, tuple[float, ImageInfo]] = {}
        self._lock = threading.Lock()

    def lookup(self, refs: list[str]) -> dict[str, ImageInfo | None]:
        """One ``podman image inspect`` for all refs not cached; ``None`` for a missing image."""
        result: dict[str, ImageInfo | None] = {}
        wanted: list[str] = []
        with self._lock:
            for ref in dict.fromkeys(refs):
                cached = self._known.get(ref)
                if cached and time.monotonic() - cached[0] < self._ttl:
                    result[ref] = cached[1]
                else:
                    wanted.append(ref)
        if not wanted:
            return result
        done = run_podman(["image", "inspect", *wanted], check=False)
        found = json.loads(done.stdout or "[]") if done.stdout.strip().startswith("[") else []
        if done.returncode != 0 and len(wanted) > 1:
            # inspect stops reporting at a missing image on some versions: ask one by one.
            found = []
            for ref in wanted:
                one = run_podman(["image", "inspect", ref], check=False)
                if one.returncode == 0:
                    found += json.loads(one.stdout)
        by_name: dict[str, ImageInfo] = {}
        for entry in found:
            config = entry.get("Config") or {}
            names = set(entry.get("RepoTags") or []) | set(entry.get("Names") or [])
            for ref in wanted:
                if ref in names or _normalise(ref) in names or entry.get("Id", "").startswith(ref):
                    by_name[ref] = ImageInfo(
                        ref, entry.get("Id", ""), str(config.get("User") or ""), config.get("Labels") or {}
                    )
        with self._lock:
            for ref in wanted:
                info = by_name.get(ref)
                result[ref] = info
                if info is not None:
                    self._known[ref] = (time.monotonic(), info)
        return result


def _normalise(ref: str) -> str:
    """podman reports ``localhost/x:latest`` for ``x``; compare like it does."""
    name = ref
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "localhost/" + name
    return name


def root_user_problem(spec: ContainerSpec, image_user: str, pod: str) -> str | None:
    """The kubelet's runAsNonRoot check, with its messages; ``None`` when the container may start."""
    if not spec.run_as_non_root:
        return None
    where = f"pod: {pod!r}, container: {spec.name}"
    if spec.user is not None:
        uid = spec.user.split(":", 1)[0]
        return f"container's runAsUser breaks non-root policy ({where})" if uid == "0" else None
    user = image_user.split(":", 1)[0]
    if user in ("", "root", "0"):
        return f"container has runAsNonRoot and image will run as root ({where})"
    if not user.isdigit():
        return f"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root ({where})"
    return None


def _mount_arg(mount: Mount) -> str:
    for value in (str(mount.host), mount.path):
        if "," in value:
            raise ValueError(f"mount paths may not contain commas: {value!r}")
    options = ",ro=true" if mount.read_only else ""
    return f"type=bind,src={mount.host},dst={mount.path}{options}"


def podman_run_args(
    spec: ContainerSpec,
    *,
    name: str,
    hostname: str,
    network: bool,
    cidfile: Path,
    termination_file: Path,
    labels: Mapping[str, str],
) -> list[str]:
    """The ``podman run`` arguments for ``spec`` (pure, so the Kubernetes semantics can be tested).

    command/args follow Kubernetes: ``command`` replaces the ENTRYPOINT and drops the image's CMD
    (podman does the same when --entrypoint is given); ``args`` alone replace only the CMD.
    ``--log-driver passthrough`` hands the container our stdout pipe, so its output (stdout and
    stderr, interleaved as written) is the log, with no copy through conmon.
    """
    args = [
        "run",
        "--rm",
        "--name",
        name,
        "--pull",
        "never",
        "--log-driver",
        "passthrough",
        "--cidfile",
        str(cidfile),
        "--hostname",
        hostname,
        "--network",
        "host" if network else "none",
        "--mount",
        _mount_arg(Mount(termination_file, spec.termination_message_path, False)),
    ]
    for key, value in sorted(labels.items()):
        args += ["--label", f"{key}={value}"]
    for mount in sorted(spec.mounts, key=lambda m: (m.path.count("/"), m.path)):
        args += ["--mount", _mount_arg(mount)]
    for key, value in spec.env.items():
        args += ["--env", f"{key}={value}"]
    if spec.working_dir:
        args += ["--workdir", spec.working_dir]
    if spec.user:
        args += ["--user", spec.user]
    for capability in spec.cap_drop:
        args += ["--cap-drop", capability]
    for capability in spec.cap_add:
        args += ["--cap-add", capability]
    if spec.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    if spec.read_only_rootfs:
        # Kubernetes adds no tmpfs mounts to a read-only root filesystem; podman would by default.
        args += ["--read-only", "--read-only-tmpfs=false"]
    if spec.privileged:
        args.append("--privileged")
    if spec.command is not None:
        args += ["--entrypoint", json.dumps(spec.command)]
    args.append(spec.image)
    if spec.args:
        args += spec.args
    return args


class PodmanExecutor:
    """Runs containers with ``podman run`` and can kill them by name from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def run(
        self,
        run_args: list[str],
        name: str,
        spec: ContainerSpec,
        cidfile: Path,
        termination: Path,
        live_log: Path | None = None,
    ) -> ContainerOutcome:
        """Run one container to its end; with ``live_log`` its output is also written there as it comes."""
        started = now()
        process = subprocess.Popen(
            [PODMAN, *run_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=podman_env(),
        )
        with self._lock:
            self._running[name] = process
        try:
            assert process.stdout is not None
            output = _read_output(process.stdout, live_log)
            code = process.wait()
        finally:
            with self._lock:
                self._running.pop(name, None)
        finished = now()
        log = output.decode(errors="replace")
        container_id = _read(cidfile)
        if (code in (125, 126, 127) and not container_id) or _is_start_failure(code, log):
            errors = _PODMAN_ERROR.findall(log)
            message = (
                errors[-1] if errors else log.strip()[-_MESSAGE_LIMIT:]
            ) or f"podman exited with {code}"
            if "image not known" in message:
                return ContainerOutcome(
                    code, "ErrImageNeverPull", message, "", started, finished, start_failed=True
                )
            # Kubernetes reports a command that cannot start as StartError with exit code 128.
            clean_log = _PODMAN_ERROR.sub("", log).strip("\n")
            return ContainerOutcome(
                128, "StartError", message, clean_log, started, finished, container_id, True
            )
        message = termination_message(spec, _read(termination), log, code)
        return ContainerOutcome(
            code, _reason(code), message, log, started, finished, _container_id(container_id)
        )

    def kill(self, names: list[str]) -> None:
        """Kill containers by name; retried while their ``podman run`` is still starting them."""
        deadline = time.monotonic() + 15
        pending = list(names)
        while pending:
            remove_containers(pending)
            with self._lock:
                pending = [n for n in pending if n in self._running and self._running[n].poll() is None]
            if not pending or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def running_names(self) -> list[str]:
        with self._lock:
            return list(self._running)


def _read_output(stream: IO[bytes], live_log: Path | None) -> bytes:
    """All of a container's output; copied to ``live_log`` as it arrives (a long-running pod's log)."""
    if live_log is None:
        return stream.read()
    chunks: list[bytes] = []
    live_log.parent.mkdir(parents=True, exist_ok=True)
    with live_log.open("wb") as sink:
        for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[attr-defined]
            chunks.append(chunk)
            sink.write(chunk)
            sink.flush()
    return b"".join(chunks)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def _container_id(raw: str) -> str:
    return f"podman://{raw}" if raw else ""


def _is_start_failure(code: int, log: str) -> bool:
    """podman's own 'could not start' errors, as opposed to a command in the container exiting 126/127."""
    return code in (125, 126, 127) and bool(
        re.search(r"^Error: .*(OCI runtime|runc create failed)", log, re.MULTILINE)
    )
