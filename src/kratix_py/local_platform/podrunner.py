"""The pod runner: the kubelet and the Job controller of the local platform.

It watches ``batch/v1`` Jobs in all namespaces of a Kubernetes API (the project's emulator) and
runs each Job that is neither suspended nor finished: it creates a Pod for it, runs the pod's
init containers in order and then its containers, and writes Pod and Job status back as the
kubelet and the Job controller would, so an operator cannot tell it from a cluster.

Containers run as real podman containers, or, for images listed in ``steps``, as Python callables
in-process (fast mode, for control-plane benchmarks and pipelines written in Python)::

    from kratix_py.local_platform.podrunner import PodRunner, StepContext

    def hello(ctx: StepContext) -> int:
        (ctx.path("/kratix/output") / "hello.yaml").write_text("kind: ConfigMap\\n")
        ctx.log("wrote hello.yaml")
        return 0

    with PodRunner(emulator.url, steps={"example.com/hello:v1": hello}, use_podman=False):
        ...  # create Jobs; they run and finish

Choices that differ from a cluster, and why:

- Every podman container runs with ``--network host`` so that ``127.0.0.1`` reaches the API, and
  gets a kubeconfig for it at ``/var/run/kratix-py/kubeconfig`` (``KUBECONFIG`` set): Kratix's
  pipeline adapter containers talk to the API. An image labelled ``io.kratix-py.network=none``
  runs without any network instead.
- Init containers run one after the other; several regular containers run concurrently (each in
  its own thread), as on a node. Kratix pods have exactly one regular container.
- One pod at a time per Job (``completions: 1``, ``parallelism: 1``, which is what Kratix creates).
  A failed pod is retried at once, without the Job controller's exponential back-off, until
  ``backoffLimit`` (default 6) is exceeded; ``restartPolicy: OnFailure`` restarts the failed
  container in the same pod instead, and once the restarts reach the limit marks the Job
  ``FailureTarget``, deletes the pod (with its logs, as a cluster does) and fails the Job.
- An image that is not present fails the pod and the Job at once (``ErrImageNeverPull``) instead
  of leaving the pod pending forever: nothing can be pulled here, so waiting cannot help.
- Logs are stored in the emulator when each container ends (``kubectl logs`` works afterwards,
  ``-f`` does not stream). Pods of finished Jobs are kept, with their logs, until the Job goes
  (except the pod given up on under ``OnFailure``, above).
- Resources, probes, and pods deleted by hand while running are not looked at.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from kratix_py.local_platform.kubeconfig import kubeconfig_document
from kratix_py.local_platform.podman import podman_problem
from kratix_py.local_platform.podrunner_api import ApiError, KubeApi
from kratix_py.local_platform.podrunner_exec import (
    ContainerOutcome,
    ImageCatalog,
    PodmanExecutor,
    Step,
    StepContext,
    podman_run_args,
    root_user_problem,
    run_step,
    step_context,
)
from kratix_py.local_platform.podrunner_spec import (
    ContainerSpec,
    PodSetupError,
    PreparedPod,
    prepare_pod,
    termination_file,
)
from kratix_py.local_platform.podrunner_status import (
    MESSAGE_BACKOFF_LIMIT,
    MESSAGE_DEADLINE,
    REASON_BACKOFF_LIMIT,
    REASON_DEADLINE,
    ContainerState,
    JobStatusTracker,
    PodStatusTracker,
    job_finished,
    job_suspended_condition,
    now,
)

__all__ = ["NODE_NAME", "PodRunner", "Step", "StepContext"]

log = logging.getLogger(__name__)

Json = dict[str, Any]

NODE_NAME = "kratix-py-local"
LAST_RUN_VISIBLE_SECONDS = 0.5
"""How long a Job's pod is kept after its last failed run under ``restartPolicy: OnFailure``
before the Job controller's part deletes it (see ``_give_up_on_pod``)."""
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
_MAX_GENERATED_PREFIX = 58  # 63 - 5 random characters
_LABEL_RUNNER = "io.kratix-py.runner"
_LABEL_POD = "io.kratix-py.pod"
_MIN_TMPFS_BYTES = 512 * 1024 * 1024


def generate_pod_name(job_name: str) -> str:
    """``<job>-<5 random characters>``, the prefix cut to fit a DNS label as generateName does."""
    prefix = f"{job_name}-"[:_MAX_GENERATED_PREFIX]
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def pod_for_job(job: Json, name: str) -> Json:
    """The Pod the Job controller creates from ``job``'s template."""
    meta = job["metadata"]
    template = job["spec"]["template"]
    template_meta = template.get("metadata") or {}
    uid = meta.get("uid", "")
    labels = {
        **(template_meta.get("labels") or {}),
        "job-name": meta["name"],
        "batch.kubernetes.io/job-name": meta["name"],
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
    }
    pod_meta: Json = {
        "name": name,
        "namespace": meta.get("namespace") or "default",
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if template_meta.get("annotations"):
        pod_meta["annotations"] = dict(template_meta["annotations"])
    spec = {**template.get("spec", {}), "nodeName": NODE_NAME}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def _temporary_workdir() -> Path:
    """A fresh folder for pod volumes, in memory (/dev/shm) when there is room.

    Pods create and delete a handful of folders each; on the virtual disks of CI machines that
    costs ~5 ms per pod against ~0.1 ms on tmpfs, which decides fast-mode throughput.
    """
    shm = Path("/dev/shm")
    try:
        stat = os.statvfs(shm)
        if os.access(shm, os.W_OK) and stat.f_bavail * stat.f_frsize >= _MIN_TMPFS_BYTES:
            return Path(tempfile.mkdtemp(prefix="kratix-py-pods-", dir=shm))
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="kratix-py-pods-"))


def _image_without_tag(image: str) -> str:
    if "@" in image:
        return image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    if ":" in last:
        last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _container_name(runner_id: str, pod: PreparedPod, spec: ContainerSpec, attempt: int) -> str:
    # Underscores never appear in Kubernetes names, so the parts cannot run into each other.
    name = f"kpy-{runner_id}_{pod.namespace}_{pod.name}_{spec.name}_{attempt}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", name)


@dataclass
class _PodResult:
    phase: str  # Succeeded | Failed | Cancelled
    failure: tuple[str, str] | None = None  # fails the Job at once: (reason, message)


@dataclass
class _Pod:
    """One pod being run: what its containers share."""

    run: _JobRun
    pod: Json
    status: PodStatusTracker
    job: JobStatusTracker
    budget: _RestartBudget
    prepared: PreparedPod | None = None
    networks: dict[str, bool] = field(default_factory=dict)  # image -> needs the host network
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])


class _JobRun:
    """One attempt to run a Job to the end; a suspended Job that resumes gets a new one."""

    def __init__(self, job: Json, previous: _JobRun | None) -> None:
        meta = job["metadata"]
        self.uid = _uid(job)
        self.namespace = meta.get("namespace") or "default"
        self.name = meta["name"]
        self.job = job
        self.previous = previous
        self.cancel = threading.Event()
        self.cancel_reason = ""
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.containers: set[str] = set()

    def request_cancel(self, reason: str) -> bool:
        """Cancel once; the first reason wins. Returns whether this call cancelled."""
        with self.lock:
            if self.cancel.is_set():
                return False
            self.cancel_reason = reason
            self.cancel.set()
            return True


def _uid(job: Json) -> str:
    meta = job.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


class _RestartBudget:
    """restartPolicy OnFailure: the pod's container restarts count against the Job's backoffLimit."""

    def __init__(self, policy: str, backoff_limit: int) -> None:
        self.policy = policy
        self.limit = backoff_limit
        self.restarts = 0
        self._lock = threading.Lock()

    def restart(self) -> bool:
        if self.policy != "OnFailure":
            return False
        with self._lock:
            self.restarts += 1
            return self.limit > 0 and self.restarts < self.limit


class PodRunner:
    """Runs the Jobs of the Kubernetes API at ``api_url``: see the module documentation.

    ``kubeconfig_for_containers``: a kubeconfig file to give containers (default: one generated
    for ``api_url``). ``steps``: image -> callable run in-process instead of a container (an image
    also matches without its tag). ``use_podman=False`` fails pods whose images have no step.
    ``max_parallel``: pods running at once. ``workdir``: where pod folders go (default: a
    temporary folder removed on stop). ``keep_pod_dirs``: keep each pod's folders for inspection.
    ``setup_timeout``: how long a pod waits for a ConfigMap or Secret it needs to appear.
    """

    def __init__(
        self,
        api_url: str,
        *,
        kubeconfig_for_containers: str | None = None,
        steps: Mapping[str, Callable[[StepContext], int | None]] | None = None,
        use_podman: bool = True,
        max_parallel: int = 4,
        workdir: Path | None = None,
        keep_pod_dirs: bool = False,
        setup_timeout: float = 10.0,
    ) -> None:
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.api_url = api_url.rstrip("/")
        self._kubeconfig_source = kubeconfig_for_containers
        self._steps: dict[str, Step] = dict(steps or {})
        self._use_podman = use_podman
        self._max_parallel = max_parallel
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._keep_pod_dirs = keep_pod_dirs
        self._setup_timeout = setup_timeout
        self._id = secrets.token_hex(3)
        self._api = KubeApi(self.api_url, pool_size=max_parallel * 2 + 4)
        self._podman = PodmanExecutor()
        self._images = ImageCatalog()
        self._lock = threading.Lock()
        self._runs: dict[str, _JobRun] = {}
        self._done_uids: set[str] = set()
        self._queue: queue.Queue[_JobRun | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._started = False
        self._owned_workdir = False
        self.workdir: Path = Path()
        self.kubeconfig: Path = Path()

    @property
    def runner_id(self) -> str:
        """Labels this runner's podman containers: ``io.kratix-py.runner=<runner_id>``."""
        return self._id

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> PodRunner:
        """Start watching Jobs and running them; returns once the current Jobs are picked up."""
        if self._started:
            return self
        if self._workdir_arg is None:
            self.workdir = _temporary_workdir()
            self._owned_workdir = True
        else:
            self.workdir = self._workdir_arg
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.workdir / "container-kubeconfig"
        if self._kubeconfig_source:
            text = Path(self._kubeconfig_source).read_text()
        else:
            text = yaml.safe_dump(kubeconfig_document(self.api_url), sort_keys=False)
        self.kubeconfig.write_text(text)
        # Containers may run as any user; the kubeconfig only holds a placeholder token.
        self.kubeconfig.chmod(0o644)
        items, resource_version = self._list_objects()
        self._started = True
        for _ in range(self._max_parallel):
            self._spawn(self._worker, "podrunner-worker")
        for job in items:
            self._on_event("ADDED", job)
        self._spawn(lambda: self._watch(resource_version), "podrunner-watch")
        # A test process that ends without stop() must not leave containers sleeping behind it.
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Kill this runner's containers, stop its threads and return (within a few seconds)."""
        if not self._started or self._stopping.is_set():
            return
        self._stopping.set()
        atexit.unregister(self.stop)
        self._api.interrupt_watch()
        with self._lock:
            runs = list(self._runs.values())
        names: list[str] = []
        for run in runs:
            run.request_cancel("stopped")
            with run.lock:
                names += run.containers
        if names:
            self._podman.kill(names)
        for _ in range(self._max_parallel):
            self._queue.put(None)
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._api.close()
        if self._owned_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PodRunner:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"{name}-{self._id}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- watching Jobs --------------------------------------------------------------------------

    def _list_objects(self) -> tuple[list[Json], str]:
        """What this runner acts on (Jobs; the kubelet stand-in lists Pods)."""
        return self._api.list_jobs()

    def _watch_objects(self, resource_version: str) -> Iterator[Json]:
        return self._api.watch_jobs(resource_version, timeout_seconds=300)

    def _watch(self, resource_version: str) -> None:
        while not self._stopping.is_set():
            try:
                for event in self._watch_objects(resource_version):
                    if self._stopping.is_set():
                        return
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        raise ApiError(int(obj.get("code") or 500), str(obj.get("message")))
                    resource_version = str(
                        (obj.get("metadata") or {}).get("resourceVersion") or resource_version
                    )
                    if kind != "BOOKMARK":
                        self._on_event(str(kind), obj)
            except Exception as error:
                if self._stopping.is_set():
                    return
                log.debug("watch ended (%s); listing again", error)
                if self._stopping.wait(0.2):
                    return
                try:
                    resource_version = self._resync()
                except Exception as list_error:
                    log.warning("cannot list at %s: %s", self.api_url, list_error)
                    self._stopping.wait(1.0)

    def _resync(self) -> str:
        """After a broken watch: list Jobs, start what is new, cancel what disappeared."""
        items, resource_version = self._list_objects()
        present = {_uid(job) for job in items}
        with self._lock:
            gone = [run for uid, run in self._runs.items() if uid not in present]
            self._done_uids &= present
        for run in gone:
            self._on_event("DELETED", run.job)
        for job in items:
            self._on_event("MODIFIED", job)
        return resource_version

    def _on_event(self, kind: str, job: Json) -> None:
        uid = _uid(job)
        meta = job.get("metadata") or {}
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            with self._lock:
                run = self._runs.pop(uid, None)
                if kind == "DELETED":
                    self._done_uids.discard(uid)
            if run is not None and run.request_cancel("deleted"):
                self._kill_later(run)
            return
        with self._lock:
            if uid in self._done_uids:
                return
            if job_finished(job):
                self._done_uids.add(uid)
                return
            run = self._runs.get(uid)
            if (job.get("spec") or {}).get("suspend") is True:
                if run is not None:
                    if run.request_cancel("suspended"):
                        self._kill_later(run)
                    return
                mark_suspended = not job_suspended_condition(job)
            else:
                mark_suspended = False
                if run is not None and not run.cancel.is_set():
                    run.job = job
                    return
                previous = run if run is not None and run.cancel_reason == "suspended" else None
                new_run = _JobRun(job, previous)
                self._runs[uid] = new_run
                self._queue.put(new_run)
        if mark_suspended:
            tracker = JobStatusTracker(job.get("status"))
            tracker.suspend(now())
            self._patch_job(job["metadata"].get("namespace") or "default", job["metadata"]["name"], tracker)

    def _kill_later(self, run: _JobRun) -> None:
        """Kill a run's containers without blocking the watch."""
        with run.lock:
            names = list(run.containers)
        if names:
            threading.Thread(target=self._podman.kill, args=(names,), daemon=True).start()

    # --- the Job controller ---------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            if self._stopping.is_set():
                run.done.set()
                continue
            try:
                self._run_job(run)
            except Exception:
                if not self._stopping.is_set() and not run.cancel.is_set():
                    log.exception("running Job %s/%s failed", run.namespace, run.name)
            finally:
                run.done.set()
                with self._lock:
                    if self._runs.get(run.uid) is run:
                        del self._runs[run.uid]

    def _run_job(self, run: _JobRun) -> None:
        if run.previous is not None:
            run.previous.done.wait()
        if run.cancel.is_set():
            self._after_cancel(run, None, None)
            return
        job = run.job
        spec = job.get("spec") or {}
        template_spec = (spec.get("template") or {}).get("spec") or {}
        policy = str(template_spec.get("restartPolicy") or "Never")
        backoff_limit = int(spec["backoffLimit"]) if spec.get("backoffLimit") is not None else 6
        tracker = JobStatusTracker(job.get("status"))
        tracker.resume(now())
        timer = self._deadline_timer(run, spec.get("activeDeadlineSeconds"))
        try:
            while True:
                if run.cancel.is_set():
                    self._after_cancel(run, tracker, None)
                    return
                pod = self._create_pod(job)
                tracker.pod_created()
                if not self._patch_job(run.namespace, run.name, tracker):
                    run.request_cancel("deleted")
                result = self._run_pod(run, pod, tracker, policy, backoff_limit)
                if result.phase == "Cancelled":
                    self._after_cancel(run, tracker, pod)
                    return
                if result.phase == "Succeeded":
                    tracker.succeeded(now())
                    self._finish(run, tracker)
                    return
                tracker.pod_failed()
                if result.failure is not None:
                    tracker.fail(*result.failure, now())
                elif policy == "OnFailure":
                    self._give_up_on_pod(run, tracker, pod)
                elif tracker.failed > backoff_limit:
                    tracker.fail(REASON_BACKOFF_LIMIT, MESSAGE_BACKOFF_LIMIT, now())
                else:
                    self._patch_job(run.namespace, run.name, tracker)
                    continue
                self._finish(run, tracker)
                return
        finally:
            if timer is not None:
                timer.cancel()

    def _give_up_on_pod(self, run: _JobRun, tracker: JobStatusTracker, pod: Json) -> None:
        """restartPolicy OnFailure and the restarts reached backoffLimit: as the Job controller does,
        mark the Job ``FailureTarget``, delete its pod (its logs go with it), then fail the Job.

        On a cluster the failed run's log stays readable for the crash back-off before the
        restart that reaches the limit (10 s or more); here there is no back-off, so the pod is
        kept for :data:`LAST_RUN_VISIBLE_SECONDS`, which is what a reader of failures gets.
        """
        tracker.failure_target(REASON_BACKOFF_LIMIT, MESSAGE_BACKOFF_LIMIT, now())
        self._patch_job(run.namespace, run.name, tracker)
        run.cancel.wait(LAST_RUN_VISIBLE_SECONDS)
        self._api.delete_pod(run.namespace, pod["metadata"]["name"])
        tracker.fail(REASON_BACKOFF_LIMIT, MESSAGE_BACKOFF_LIMIT, now())

    def _deadline_timer(self, run: _JobRun, seconds: Any) -> threading.Timer | None:
        if seconds is None:
            return None

        def expire() -> None:
            if run.request_cancel("deadline"):
                self._kill_later(run)

        timer = threading.Timer(float(seconds), expire)
        timer.daemon = True
        timer.start()
        return timer

    def _finish(self, run: _JobRun, tracker: JobStatusTracker) -> None:
        # Remember first: status events from before the final write must not start the Job again.
        with self._lock:
            self._done_uids.add(run.uid)
        self._patch_job(run.namespace, run.name, tracker)

    def _after_cancel(self, run: _JobRun, tracker: JobStatusTracker | None, pod: Json | None) -> None:
        """Deleted or stopped: nothing to write. Suspended: pod deleted, Suspended. Deadline: Failed."""
        reason = run.cancel_reason
        tracker = tracker or JobStatusTracker(run.job.get("status"))
        if reason == "suspended":
            if pod is not None:
                self._api.delete_pod(run.namespace, pod["metadata"]["name"])
            tracker.suspend(now())
            self._patch_job(run.namespace, run.name, tracker)
        elif reason == "deadline":
            if pod is not None:
                tracker.pod_failed()
            tracker.fail(REASON_DEADLINE, MESSAGE_DEADLINE, now())
            self._finish(run, tracker)

    def _create_pod(self, job: Json) -> Json:
        namespace = job["metadata"].get("namespace") or "default"
        for _ in range(10):
            body = pod_for_job(job, generate_pod_name(job["metadata"]["name"]))
            try:
                return self._api.create_pod(namespace, body)
            except ApiError as error:
                if error.status != 409:  # a name clash: draw another suffix
                    raise
        raise RuntimeError(f"could not find a free pod name for Job {namespace}/{job['metadata']['name']}")

    def _patch_job(self, namespace: str, name: str, tracker: JobStatusTracker) -> bool:
        """Write the Job status; False when the Job is gone."""
        try:
            self._api.patch_job_status(namespace, name, tracker.status)
            return True
        except ApiError as error:
            if error.status == 404:
                return False
            raise

    # --- the kubelet ----------------------------------------------------------------------------

    def _run_pod(
        self, run: _JobRun, pod: Json, job: JobStatusTracker, policy: str, backoff_limit: int
    ) -> _PodResult:
        name = pod["metadata"]["name"]
        ctx = _Pod(run, pod, PodStatusTracker(pod, now()), job, _RestartBudget(policy, backoff_limit))
        self._write_pod(ctx)
        directory = self.workdir / f"{run.namespace}_{name}"
        try:
            prepared = self._prepare(ctx, directory)
            if isinstance(prepared, _PodResult):
                return prepared
            ctx.prepared = prepared
            problem = self._check_images(ctx, prepared)
            if problem is not None:
                return problem
            for spec in prepared.init:
                outcome = self._run_with_restarts(ctx, spec)
                if run.cancel.is_set():
                    return self._cancelled(ctx)
                if not outcome.succeeded:
                    return self._pod_ended(ctx, "Failed")
            ctx.status.phase = "Running"
            outcomes = self._run_main(ctx, prepared)
            if run.cancel.is_set():
                return self._cancelled(ctx)
            return self._pod_ended(ctx, "Succeeded" if all(o.succeeded for o in outcomes) else "Failed")
        finally:
            if not self._keep_pod_dirs:
                shutil.rmtree(directory, ignore_errors=True)

    def _write_pod(self, ctx: _Pod) -> None:
        """Send the pod's whole status; under the pod's lock so concurrent containers never reorder writes."""
        if ctx.run.cancel.is_set() and ctx.run.cancel_reason in ("deleted", "stopped"):
            return
        with ctx.lock:
            try:
                self._api.patch_pod_status(ctx.run.namespace, ctx.name, ctx.status.as_status(now()))
            except ApiError as error:
                if error.status != 404:  # the pod went with its Job
                    raise

    def _pod_ended(self, ctx: _Pod, phase: str) -> _PodResult:
        ctx.status.phase = phase
        self._write_pod(ctx)
        return _PodResult(phase)

    def _cancelled(self, ctx: _Pod) -> _PodResult:
        if ctx.run.cancel_reason == "deadline":
            ctx.status.phase = "Failed"
            ctx.status.reason = "DeadlineExceeded"
            ctx.status.message = "Pod was active on the node longer than the specified deadline"
            self._write_pod(ctx)
        return _PodResult("Cancelled")

    def _fail_setup(
        self, ctx: _Pod, containers: list[ContainerState], reason: str, message: str
    ) -> _PodResult:
        """The pod cannot start: the Job fails at once, since retrying would meet the same problem."""
        for container in containers:
            container.waiting(reason, message)
        ctx.status.reason = reason
        ctx.status.message = message
        self._pod_ended(ctx, "Failed")
        return _PodResult("Failed", (reason, f"pod {ctx.name}: {message}"))

    def _prepare(self, ctx: _Pod, directory: Path) -> PreparedPod | _PodResult:
        """Materialise volumes and env; objects that are missing are waited for ``setup_timeout``."""
        deadline = time.monotonic() + self._setup_timeout
        while True:
            try:
                return prepare_pod(ctx.pod, directory, self._api, **self._prepare_options())
            except PodSetupError as error:
                if error.retryable and time.monotonic() < deadline and not ctx.run.cancel.wait(0.25):
                    continue
                if ctx.run.cancel.is_set():
                    return _PodResult("Cancelled")
                status = ctx.status
                affected = (
                    [status.container(error.container)] if error.container else [*status.init, *status.main]
                )
                return self._fail_setup(ctx, affected, error.reason, error.message)

    def _prepare_options(self) -> dict[str, Any]:
        """How pods get the API: a kubeconfig and the emulator's placeholder service account."""
        return {"kubeconfig": self.kubeconfig, "service_accounts": self.workdir / "serviceaccounts"}

    def share_steps(self, steps: dict[str, Step]) -> None:
        """Run images of ``steps`` in-process from now on, reading this very dict (not a copy, as
        the constructor takes), so that what its owner adds or removes reaches the next pod."""
        self._steps = steps

    def _step_for(self, image: str) -> Step | None:
        return self._steps.get(image) or self._steps.get(_image_without_tag(image))

    def _check_images(self, ctx: _Pod, prepared: PreparedPod) -> _PodResult | None:
        """Every podman image present and allowed to run as its user; records which need a network."""
        specs = [s for s in (*prepared.init, *prepared.main) if self._step_for(s.image) is None]
        if not specs:
            return None
        first = ctx.status.container(specs[0].name)
        if not self._use_podman:
            message = (
                f'image "{specs[0].image}" of container "{specs[0].name}" has no in-process step and podman is '
                "off (use_podman=False): add the image to steps= or run with use_podman=True"
            )
            return self._fail_setup(ctx, [first], "ErrImageNeverPull", message)
        problem = podman_problem()
        if problem:
            message = (
                f'container "{specs[0].name}" needs podman to run image "{specs[0].image}", but {problem}'
            )
            return self._fail_setup(ctx, [first], "CreateContainerError", message)
        infos = self._images.lookup([s.image for s in specs])
        missing = [s for s in specs if infos.get(s.image) is None]
        if missing:
            image = missing[0].image
            message = (
                f'Container image "{image}" is not present with pull policy of Never: podman does not know it on '
                "this machine and nothing is pulled here; build it first "
                f"(kratix_py.local_platform.images.build_image(<dir>, {image!r}) or podman build -t {image} <dir>)"
            )
            affected = [ctx.status.container(s.name) for s in missing]
            return self._fail_setup(ctx, affected, "ErrImageNeverPull", message)
        for spec in specs:
            info = infos[spec.image]
            assert info is not None
            ctx.status.container(spec.name).image_id = info.image_id
            problem = root_user_problem(spec, info.user, ctx.name)
            if problem:
                return self._fail_setup(
                    ctx, [ctx.status.container(spec.name)], "CreateContainerConfigError", problem
                )
            ctx.networks[spec.image] = info.needs_network
        return None

    def _run_main(self, ctx: _Pod, prepared: PreparedPod) -> list[ContainerOutcome]:
        """Regular containers run at the same time, as on a node (Kratix pods have just one)."""
        if len(prepared.main) == 1:
            return [self._run_with_restarts(ctx, prepared.main[0])]
        results: dict[str, ContainerOutcome] = {}

        def one(spec: ContainerSpec) -> None:
            results[spec.name] = self._run_with_restarts(ctx, spec)

        threads = [threading.Thread(target=one, args=(spec,), daemon=True) for spec in prepared.main]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [results[spec.name] for spec in prepared.main if spec.name in results]

    def _run_with_restarts(self, ctx: _Pod, spec: ContainerSpec) -> ContainerOutcome:
        state = ctx.status.container(spec.name)
        while True:
            outcome = self._run_container(ctx, spec, state)
            if (
                outcome.succeeded
                or ctx.run.cancel.is_set()
                or outcome.start_failed
                or not ctx.budget.restart()
            ):
                return outcome
            # As a kubelet: the exit is reported first (state.terminated, restartCount unchanged),
            # then the container waits out its crash back-off and only its new run counts as a
            # restart. The Job controller fails the Job (and deletes the pod) on that count.
            self._write_pod(ctx)
            if ctx.run.cancel.wait(self.crash_backoff(state.restart_count)):
                return outcome
            assert ctx.prepared is not None
            self._keep_previous_log(ctx.prepared, spec.name)
            state.restart()

    def crash_backoff(self, restarts: int) -> float:
        """Seconds before a failed container restarts (``restartPolicy: OnFailure``): none here,
        the Job controller's part of this runner counts the restarts itself."""
        return 0.0

    def _container_running(self, ctx: _Pod, spec: ContainerSpec) -> None:
        """Report a running container: pod status, and the Job's ``ready`` once all regular ones run."""
        self._write_pod(ctx)
        if not spec.init and all(c.state == "running" for c in ctx.status.main):
            with ctx.lock:
                ctx.job.pod_ready(True)
                self._patch_job(ctx.run.namespace, ctx.run.name, ctx.job)

    def _run_container(self, ctx: _Pod, spec: ContainerSpec, state: ContainerState) -> ContainerOutcome:
        attempt = state.restart_count
        state.running(now())
        prepared = ctx.prepared
        assert prepared is not None
        step = self._step_for(spec.image)
        if step is not None:
            # Steps mostly take milliseconds: their running state is only written if they take
            # long enough for anyone to look, which keeps fast-mode benchmarks about the control plane.
            context = step_context(spec, prepared.namespace, prepared.name, self.api_url, self.kubeconfig)
            outcome = run_step(
                step, context, ctx.run.cancel, on_slow=lambda: self._container_running(ctx, spec)
            )
        else:
            self._container_running(ctx, spec)
            outcome = self._run_podman(ctx, prepared, spec, attempt)
        ctx.job.pod_ready(False)
        if not (ctx.run.cancel.is_set() and ctx.run.cancel_reason in ("deleted", "stopped")):
            self._store_log(prepared, spec.name, outcome.log)
        if outcome.start_failed and outcome.reason == "ErrImageNeverPull":
            state.waiting(outcome.reason, outcome.message)
        else:
            state.terminated(
                outcome.exit_code, outcome.reason, outcome.message, outcome.started_at, outcome.finished_at,
                outcome.container_id,
            )  # fmt: skip
        return outcome

    def _run_podman(
        self, ctx: _Pod, prepared: PreparedPod, spec: ContainerSpec, attempt: int
    ) -> ContainerOutcome:
        run = ctx.run
        name = _container_name(self._id, prepared, spec, attempt)
        cidfile = prepared.directory / "cid" / name
        cidfile.parent.mkdir(parents=True, exist_ok=True)
        cidfile.unlink(missing_ok=True)
        termination = termination_file(prepared.directory, spec.name, attempt)
        args = podman_run_args(
            spec,
            name=name,
            hostname=prepared.name,
            network=ctx.networks.get(spec.image, True),
            cidfile=cidfile,
            termination_file=termination,
            labels={_LABEL_RUNNER: self._id, _LABEL_POD: f"{prepared.namespace}/{prepared.name}"},
        )
        with run.lock:
            if run.cancel.is_set():
                at = now()
                return ContainerOutcome(137, "Error", "killed before it started", "", at, at)
            run.containers.add(name)
        try:
            live_log = self._live_log(prepared, spec.name)
            return self._podman.run(args, name, spec, cidfile, termination, live_log)
        finally:
            with run.lock:
                run.containers.discard(name)

    def _live_log(self, prepared: PreparedPod, container: str) -> Path | None:
        """Where a running container's output is copied as it comes; None: only kept at its end."""
        return None

    def _keep_previous_log(self, prepared: PreparedPod, container: str) -> None:
        """Before a restart is reported: the failed run's log becomes the *previous* one."""

    def _store_log(self, prepared: PreparedPod, container: str, text: str) -> None:
        try:
            self._api.put_log(prepared.namespace, prepared.name, container, text)
        except ApiError as error:
            if error.status != 404:
                log.warning(
                    "cannot store the log of %s/%s %s: %s",
                    prepared.namespace,
                    prepared.name,
                    container,
                    error,
                )
