"""Bring a whole local platform up, as Kratix's quick start does on kind, and take it down again.

``kratix-py local-platform`` and ``kratix-py demo`` both run on :class:`RunningPlatform`. It starts,
in this order, and stops in reverse:

1. kratix-py's own image (the pipeline adapter containers of every Job run it), built from this
   checkout when it is missing or older than the source;
2. a working directory: the one given, or a fresh temporary one;
3. the Kubernetes API with its pod runner (Jobs run as podman containers), and a kubeconfig for it;
4. kratix-py's CRDs;
5. a Git server with the repository ``kratix`` (and, when asked or needed, an S3 server with the
   bucket ``kratix``);
6. the operator, in a thread, logging to ``operator.log`` in the working directory;
7. the default state store and Destinations with the names of Kratix's quick start: the state
   store ``default`` and the Destinations ``worker-1``, ``worker-2``... labelled
   ``environment=dev``, each writing under its own name.

Stopping kills the pipeline containers still running (the pod runner labels them
``io.kratix-py.runner=<id>``), stops every server and thread, and removes the working directory,
unless ``keep`` asks to leave it for inspection (a directory that existed before keeps everything
that was in it).

The API is chosen by name (:data:`API_KINDS`): ``emulator`` is the project's Kubernetes API
emulator; ``real`` is a real kube-apiserver: ``ControlPlane`` of
``kratix_py.local_platform.controlplane``, a class with the shape of :class:`KubernetesApi` (the
same constructor arguments and methods as :class:`~kratix_py.local_platform.platform.LocalPlatform`).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import yaml

from kratix_py.errors import CommandError
from kratix_py.local_platform.defaults import (
    API_PORT,
    BUCKET,
    GIT_BRANCH,
    GIT_PORT,
    GIT_REPO,
    GIT_USER,
    S3_PORT,
    STATE_STORE,
    STORE_KINDS,
    DestinationPlan,
    plan_destinations,
    platform_objects,
)

log = logging.getLogger(__name__)

API_KINDS = ("emulator", "real")

OPERATOR_LOG = "operator.log"
PLATFORM_MANIFEST = "platform.yaml"
# What the platform writes into its directory; removed on stop (unless kept) even in a directory
# that existed before, so a stale kubeconfig from an earlier run does not outlive this one.
LOCK_FILE = ".local-platform.lock"
OWN_ENTRIES = ("kubeconfig", "pods", "git", "controlplane", OPERATOR_LOG, PLATFORM_MANIFEST, LOCK_FILE)


class KubernetesApi(Protocol):
    """What the local platform needs from a Kubernetes API that comes with a pod runner.

    :class:`~kratix_py.local_platform.platform.LocalPlatform` (the emulator) has this shape; so
    must ``ControlPlane`` in ``kratix_py.local_platform.controlplane``, constructed with the keyword
    arguments ``workdir``, ``host``, ``port`` and ``pods``. ``kubeconfig`` is written by ``start``
    (an admin kubeconfig: the operator, the pipeline containers and kubectl use it).
    """

    kubeconfig: Path | None
    pod_runner: Any

    @property
    def url(self) -> str: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def api_client(self) -> Any: ...


def make_api(kind: str, *, workdir: Path, host: str, port: int, pods: str | None) -> KubernetesApi:
    """The Kubernetes API called ``kind`` (one of :data:`API_KINDS`), not yet started."""
    if kind == "emulator":
        from kratix_py.local_platform.platform import LocalPlatform

        return LocalPlatform(workdir=workdir, host=host, port=port, pods=pods)
    if kind == "real":
        try:
            controlplane = importlib.import_module("kratix_py.local_platform.controlplane")
            factory = controlplane.ControlPlane
        except (ImportError, AttributeError):
            raise CommandError(
                "--api real needs a real control plane (kratix_py.local_platform.controlplane), which "
                "this kratix-py does not have yet; use --api emulator"
            ) from None
        api: KubernetesApi = factory(workdir=workdir, host=host, port=port, pods=pods)
        return api
    raise CommandError(f"unknown API {kind!r}: choose one of {', '.join(API_KINDS)}")


# --- options and the running platform -------------------------------------------------------


@dataclass(frozen=True)
class PlatformOptions:
    """How to bring the platform up; the defaults are ``kratix-py local-platform``'s."""

    api: str = "emulator"
    host: str = "127.0.0.1"
    api_port: int = API_PORT
    git_port: int = GIT_PORT
    s3: bool = False
    s3_port: int = S3_PORT
    store: str = "git"
    destinations: tuple[DestinationPlan, ...] = field(default_factory=lambda: plan_destinations(1))
    directory: Path | None = None
    keep: bool = False
    # "podman" runs Job pods as containers; None runs no pods (the operator's Jobs stay pending).
    pods: str | None = "podman"
    # None: kratix-py's image built from this checkout (or the one already built).
    adapter_image: str | None = None
    # Register the state store and Destinations through the API; the demo applies them with kubectl.
    register: bool = True
    log_level: str = "INFO"
    # Also copy the operator's log to stderr.
    log_to_stderr: bool = False
    ready_timeout: float = 60.0

    @property
    def wants_s3(self) -> bool:
        return self.s3 or self.store == "bucket"


class RunningPlatform:
    """The platform :class:`PlatformOptions` describe: ``with RunningPlatform(options) as p: ...``.

    ``say`` receives one line per step while starting (for a person watching).
    """

    def __init__(self, options: PlatformOptions, *, say: Callable[[str], None] | None = None) -> None:
        if options.api not in API_KINDS:
            raise CommandError(f"unknown API {options.api!r}: choose one of {', '.join(API_KINDS)}")
        if options.store not in STORE_KINDS:
            raise CommandError(
                f"unknown state store {options.store!r}: choose one of {', '.join(STORE_KINDS)}"
            )
        self.options = options
        self._say = say or (lambda _line: None)
        self._stack = contextlib.ExitStack()
        self._started = False
        self.started_in: float = 0.0
        self.workdir: Path = Path()
        self.api: KubernetesApi | None = None
        self.kube: Any = None
        self.git: Any = None
        self.s3: Any = None
        self.git_password = secrets.token_urlsafe(12)
        self.adapter_image = ""
        self.objects: list[dict[str, Any]] = []

    # --- what people need to reach it ------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        assert self.api is not None and self.api.kubeconfig is not None, "the platform is not started"
        return self.api.kubeconfig

    @property
    def api_url(self) -> str:
        assert self.api is not None, "the platform is not started"
        return self.api.url

    @property
    def git_url(self) -> str:
        """The repository's URL without credentials (what the GitStateStore names)."""
        return str(self.git.http_url(GIT_REPO))

    @property
    def clone_url(self) -> str:
        """The repository's URL with the Git server's credentials in it, for ``git clone``."""
        return self.git_url.replace("://", f"://{GIT_USER}:{self.git_password}@", 1)

    @property
    def runner_id(self) -> str | None:
        """The value of the ``io.kratix-py.runner`` label on this platform's pipeline containers."""
        runner = self.api.pod_runner if self.api is not None else None
        return str(runner.runner_id) if runner is not None else None

    @property
    def operator_log(self) -> Path:
        return self.workdir / OPERATOR_LOG

    @property
    def store_kind(self) -> str:
        return "GitStateStore" if self.options.store == "git" else "BucketStateStore"

    # --- life cycle ----------------------------------------------------------------------------

    def start(self) -> RunningPlatform:
        if self._started:
            return self
        self._started = True
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call twice."""
        self._stack.close()

    def __enter__(self) -> RunningPlatform:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self) -> None:
        from kratix_py import kube as k

        options = self.options
        self._check_podman()
        self.adapter_image = self._ensure_adapter_image()
        self._make_workdir()
        self._attach_log()

        runner = " and the pod runner" if options.pods else " (no pod runner)"
        self._say(f"Starting the Kubernetes API ({options.api}){runner}")
        api = make_api(
            options.api, workdir=self.workdir, host=options.host, port=options.api_port, pods=options.pods
        )
        self._stack.callback(self._quietly, "the Kubernetes API", api.stop)
        try:
            api.start()
        except (OSError, RuntimeError) as error:
            raise CommandError(
                f"the Kubernetes API could not start: {error}{_port_hint('--api-port', options.api_port)}"
            ) from None
        self.api = api
        self.kube = k.Kube(api.api_client())
        self._install_crds()

        self._start_git()
        if options.wants_s3:
            self._start_s3()

        self._say("Starting the operator")
        self._start_operator()

        self.objects = platform_objects(
            store=options.store,
            destinations=options.destinations,
            git_url=self.git_url,
            git_password=self.git_password,
            s3_endpoint=self.s3.endpoint if self.s3 is not None else "",
            s3_credentials=self.s3.secret_data if self.s3 is not None else None,
        )
        (self.workdir / PLATFORM_MANIFEST).write_text(_manifest_text(self.objects))
        (self.workdir / PLATFORM_MANIFEST).chmod(0o600)  # it holds the state store's credentials
        if options.register:
            names = ", ".join(d.name for d in options.destinations)
            self._say(f"Registering the {self.store_kind} {STATE_STORE} and the Destinations {names}")
            self.register()

    def _check_podman(self) -> None:
        if self.options.pods != "podman":
            return
        from kratix_py.local_platform.podman import podman_problem

        problem = podman_problem()
        if problem is not None:
            raise CommandError(
                f"{problem} (make setup installs and configures podman; --pods none runs no pods)"
            )

    def _ensure_adapter_image(self) -> str:
        from kratix_py.local_platform.images import ImageBuildError
        from kratix_py.local_platform.kratix_image import IMAGE, REPO_ROOT, ensure_kratix_image
        from kratix_py.local_platform.podman import PodmanError, image_exists

        wanted = self.options.adapter_image
        if self.options.pods != "podman":
            return wanted or IMAGE  # nothing runs it
        if wanted:
            if not image_exists(wanted):
                raise CommandError(f"the adapter image {wanted} is not in podman's storage")
            return wanted
        if (REPO_ROOT / "Dockerfile").is_file() and (REPO_ROOT / "pyproject.toml").is_file():
            self._say(
                f"Building {IMAGE} (pipeline adapter) from this checkout; reused while the source is unchanged"
            )
            try:
                return ensure_kratix_image(IMAGE)
            except (ImageBuildError, PodmanError, subprocess.CalledProcessError) as error:
                raise CommandError(f"building {IMAGE} failed: {error}") from None
        if image_exists(IMAGE):
            return IMAGE
        raise CommandError(
            f"the pipeline adapter image {IMAGE} is missing and this installation is not a kratix-py "
            "checkout to build it from: build it in one (python -m kratix_py.local_platform.kratix_image) "
            "or name an image with --adapter-image"
        )

    def _make_workdir(self) -> None:
        given = self.options.directory
        if given is None:
            workdir = Path(tempfile.mkdtemp(prefix="kratix-py-local-"))
            before: set[str] | None = None
        else:
            workdir = given.resolve()
            before = {entry.name for entry in workdir.iterdir()} if workdir.is_dir() else None
            workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self._lock_workdir()  # before anything can be cleaned up: the files may be another platform's
        self._stack.callback(self._clean_workdir, workdir, before)
        # Stale files of an earlier kept run would be mistaken for this run's.
        for name in OWN_ENTRIES:
            if name != LOCK_FILE:
                _remove(workdir / name)

    def _lock_workdir(self) -> None:
        """Hold a lock on the directory while running: a second platform there would delete this one's files."""
        handle = open(self.workdir / LOCK_FILE, "w")  # noqa: SIM115 - held until stop
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CommandError(
                f"another local platform runs in {self.workdir}: stop it or choose another --dir"
            ) from None
        self._stack.callback(handle.close)

    def _clean_workdir(self, workdir: Path, before: set[str] | None) -> None:
        if self.options.keep:
            return
        if before is None:  # made by this run
            shutil.rmtree(workdir, ignore_errors=True)
            return
        for entry in list(workdir.iterdir()):
            if entry.name not in before or entry.name in OWN_ENTRIES:
                _remove(entry)

    def _attach_log(self) -> None:
        level = logging.getLevelName(self.options.log_level.upper())
        if not isinstance(level, int):
            raise CommandError(f"unknown log level {self.options.log_level!r}")
        from kratix_py.operator import logs

        # Lines of a reconcile name its object and reconcile, as the operator command's do.
        formatter = logs.TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        handlers: list[logging.Handler] = [logging.FileHandler(self.operator_log, encoding="utf-8")]
        if self.options.log_to_stderr:
            handlers.append(logging.StreamHandler(sys.stderr))
        for handler in handlers:
            handler.addFilter(logs.ObjectFilter())
        # kopf reports every handler it runs at INFO; its warnings and errors are what matter here.
        levels = {
            "kratix_py": level,
            "kopf": level if level <= logging.DEBUG else max(level, logging.WARNING),
        }
        for name, wanted in levels.items():
            logger = logging.getLogger(name)
            previous = logger.level
            logger.setLevel(wanted)
            for handler in handlers:
                handler.setFormatter(formatter)
                logger.addHandler(handler)
            self._stack.callback(_detach, logger, handlers, previous)

    def _install_crds(self) -> None:
        from kratix_py import kube as k
        from kratix_py.api import crdgen

        names = []
        for text in crdgen.generate().values():
            crd = yaml.safe_load(text)
            self.kube.apply(k.CRDS, crd)
            names.append(crd["metadata"]["name"])
        # A real API server establishes CRDs a moment later; kubectl apply fails until then.
        for name in names:
            self._wait_condition(k.CRDS, name, "Established")

    def _start_git(self) -> None:
        from kratix_py.local_platform.gitserver import GitServer

        options = self.options
        parent = self.workdir / "git"
        parent.mkdir(exist_ok=True)
        git = GitServer(
            username=GIT_USER,
            password=self.git_password,
            https=False,
            ssh=False,
            host=options.host,
            http_port=options.git_port,
            parent_dir=parent,
        )
        self._stack.callback(self._quietly, "the Git server", git.stop)
        try:
            git.start()
        except OSError as error:
            raise CommandError(
                f"the Git server could not start: {error}{_port_hint('--git-port', options.git_port)}"
            ) from None
        git.create_repo(GIT_REPO, branch=GIT_BRANCH)
        self.git = git

    def _start_s3(self) -> None:
        from kratix_py.local_platform.s3server import S3Server

        options = self.options
        s3 = S3Server(host=options.host, port=options.s3_port)
        self._stack.callback(self._quietly, "the S3 server", s3.stop)
        try:
            s3.start()
        except OSError as error:
            raise CommandError(
                f"the S3 server could not start: {error}{_port_hint('--s3-port', options.s3_port)}"
            ) from None
        s3.create_bucket(BUCKET)
        self.s3 = s3

    def _start_operator(self) -> None:
        from kratix_py.local_platform.operator import RunningOperator, settings_for

        settings = settings_for(str(self.kubeconfig), pipeline_adapter_image=self.adapter_image)
        operator = RunningOperator(settings, kratix_config=True)
        try:
            operator.start()
        except (RuntimeError, TimeoutError) as error:
            self._quietly("the operator", operator.stop)
            raise CommandError(f"{error} (see {self.operator_log})") from None
        self._stack.callback(self._quietly, "the operator", operator.stop)

    # --- the default state store and Destinations ------------------------------------------------

    def register(self) -> None:
        """Create the Secret, state store and Destinations through the API and wait until they are Ready."""
        from kratix_py import kube as k
        from kratix_py.operator import resources as r

        resources = {"Secret": k.SECRETS, "Destination": r.DESTINATIONS, **r.STATE_STORES}
        for obj in self.objects:
            self.kube.apply(resources[obj["kind"]], obj)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the state store and every Destination report ``Ready``; name the one that is not."""
        from kratix_py.operator import resources as r

        pending = [(r.STATE_STORES[self.store_kind], STATE_STORE)]
        pending += [(r.DESTINATIONS, d.name) for d in self.options.destinations]
        for resource, name in pending:
            self._wait_condition(resource, name, "Ready")

    # --- helpers ---------------------------------------------------------------------------------

    def _wait_condition(self, resource: Any, name: str, condition_type: str) -> None:
        """Wait until ``name`` has the condition ``condition_type`` True; on timeout say what it says."""
        deadline = time.monotonic() + self.options.ready_timeout
        while True:
            status, message = _condition(self.kube.get(resource, name), condition_type)
            if status == "True":
                return
            if time.monotonic() > deadline:
                raise CommandError(
                    f"timed out after {self.options.ready_timeout:.0f}s waiting for {resource.kind} {name} "
                    f"to be {condition_type}"
                    + (f": {message}" if message else "")
                    + f" (see {self.operator_log})"
                )
            time.sleep(0.1)

    @staticmethod
    def _quietly(what: str, stop: Callable[[], None]) -> None:
        """Stop one part; a part that fails to stop must not keep the others running."""
        try:
            stop()
        except Exception as error:
            log.warning("stopping %s failed: %s", what, error)
            print(f"kratix-py: stopping {what} failed: {error}", file=sys.stderr)


def _condition(obj: Mapping[str, Any] | None, condition_type: str) -> tuple[str | None, str]:
    """(status, message) of one condition of ``obj``; (None, "") when it has none yet."""
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return str(condition.get("status")), str(condition.get("message") or "")
    return None, ""


def _detach(logger: logging.Logger, handlers: Sequence[logging.Handler], level: int) -> None:
    for handler in handlers:
        logger.removeHandler(handler)
        if isinstance(handler, logging.FileHandler):
            handler.close()
    logger.setLevel(level)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _port_hint(flag: str, port: int) -> str:
    return f" (is port {port} in use? {flag} 0 picks a free one)" if port else ""


def _manifest_text(objects: Sequence[Mapping[str, Any]]) -> str:
    header = "# What the local platform registered (kubectl apply -f this file to register it again).\n"
    return header + yaml.safe_dump_all(list(objects), sort_keys=False)
