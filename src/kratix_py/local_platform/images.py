"""Container images for the local platform, built on this machine because no registry is reachable.

The base image, ``localhost/kratix-py-base:<suite>-<recipe digest>``, is a Debian ``minbase``
root filesystem made by debootstrap with ``python3-minimal`` and ``python3-yaml``, stripped of
documentation, man pages, locales and apt lists, and imported with ``podman import``. Its tag
carries a digest of the recipe, so changing the recipe makes a new image instead of silently
reusing a stale one; the same image is also tagged ``localhost/kratix-py-base:<suite>`` for
Containerfiles written by hand. Building takes about a minute, so it is done once per machine
(``python -m kratix_py.local_platform.images``) and reused whenever ``podman image exists`` says so.

Images of pipelines are built from a directory with a Containerfile (or Dockerfile) by
:func:`build_image`; it passes the base image as the build argument ``BASE_IMAGE``::

    ARG BASE_IMAGE=localhost/kratix-py-base:bookworm
    FROM ${BASE_IMAGE}
    COPY pipeline.py /pipeline.py
    ENTRYPOINT ["python3", "/pipeline.py"]

The Debian mirror is read at run time from the machine's apt sources (or
``KRATIX_PY_DEBIAN_MIRROR``), so nothing machine-specific is baked into the code.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kratix_py.local_platform.podman import (
    SETUP_HINT,
    PodmanError,
    config_dir,
    image_exists,
    podman_env,
    run_podman,
)

BASE_IMAGE_NAME = "localhost/kratix-py-base"
BASE_PACKAGES = ("python3-minimal", "python3-yaml")
BASE_IMAGE_BUILD_ARG = "BASE_IMAGE"
RECIPE_LABEL = "io.kratix-py.base-recipe"
CONTEXT_LABEL = "io.kratix-py.context-digest"
BUILD_BASE_HINT = "python -m kratix_py.local_platform.images  (as root; builds the base image once, ~1 min)"

# Bump when the build steps change in a way the recipe below does not capture.
_RECIPE_VERSION = 1

# Relative to the root filesystem; globs. Copyright files stay: they are small and the licences
# of what the image ships.
_STRIP_GLOBS = (
    "usr/share/doc/*/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "usr/share/lintian/*",
    "var/lib/apt/lists/*",
    "var/cache/apt/*",
    "var/cache/debconf/*-old",
    "var/lib/dpkg/*-old",
    "var/log/*",
)
_KEEP_NAMES = frozenset({"copyright"})

# Derived images that install packages stay as slim as the base.
_DPKG_EXCLUDES = """\
# Written by kratix-py: no documentation, man pages or translations in images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
"""

_IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    # Pipeline logs should reach `kubectl logs` as they are written, not when a buffer fills.
    "ENV PYTHONUNBUFFERED=1",
    "WORKDIR /",
    'CMD ["/bin/bash"]',
)


class ImageBuildError(RuntimeError):
    """An image could not be built; the message says why and what to do."""


# --- where to get Debian from ---------------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    """One apt source entry: binary packages from ``uris`` for ``suites``."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]


def parse_deb822_sources(text: str) -> list[AptSource]:
    """Entries of a deb822 ``.sources`` file that provide binary packages (``Types: deb``)."""
    sources: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        sources.append(
            AptSource(
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
            )
        )
    return sources


def parse_one_line_sources(text: str) -> list[AptSource]:
    """``deb [options] URI SUITE COMPONENT...`` lines of a ``sources.list`` file."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line[4:])
        parts = line.split()
        if len(parts) >= 2:
            sources.append(AptSource(uris=(parts[0],), suites=(parts[1],), components=tuple(parts[2:])))
    return sources


def apt_sources(apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every binary-package source configured on this machine, in apt's reading order."""
    sources: list[AptSource] = []
    main_list = apt_dir / "sources.list"
    if main_list.is_file():
        sources += parse_one_line_sources(main_list.read_text())
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                sources += parse_one_line_sources(path.read_text())
            elif path.suffix == ".sources":
                sources += parse_deb822_sources(path.read_text())
    return sources


def debian_mirror(suite: str, apt_dir: Path = Path("/etc/apt")) -> str:
    """The mirror this machine installs ``suite`` from (``KRATIX_PY_DEBIAN_MIRROR`` wins)."""
    override = os.environ.get("KRATIX_PY_DEBIAN_MIRROR")
    if override:
        return override
    for source in apt_sources(apt_dir):
        if suite in source.suites and source.uris:
            return source.uris[0]
    raise ImageBuildError(
        f"no apt source for the suite {suite!r} in {apt_dir}/sources.list(.d); "
        "set KRATIX_PY_DEBIAN_MIRROR to a Debian mirror URL"
    )


def debian_suite(os_release: Path = Path("/etc/os-release")) -> str:
    """The suite to bootstrap: ``KRATIX_PY_DEBIAN_SUITE``, else this machine's own, else bookworm."""
    override = os.environ.get("KRATIX_PY_DEBIAN_SUITE")
    if override:
        return override
    with contextlib.suppress(OSError):
        for line in os_release.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "VERSION_CODENAME" and value.strip('"'):
                return value.strip('"')
    return "bookworm"


# --- the base image --------------------------------------------------------------------------


def recipe_digest(suite: str) -> str:
    """A digest of everything that decides the base image's content (not where it came from)."""
    recipe = {
        "version": _RECIPE_VERSION,
        "suite": suite,
        "variant": "minbase",
        "packages": sorted(BASE_PACKAGES),
        "strip": list(_STRIP_GLOBS),
        "dpkg_excludes": _DPKG_EXCLUDES,
        "changes": list(_IMAGE_CHANGES),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def base_image_ref(suite: str | None = None) -> str:
    """The exact reference of the base image for ``suite`` (default: :func:`debian_suite`)."""
    suite = suite or debian_suite()
    return f"{BASE_IMAGE_NAME}:{suite}-{recipe_digest(suite)}"


def base_image_alias(suite: str | None = None) -> str:
    """The short, stable tag of the newest base image, for hand-written Containerfiles."""
    return f"{BASE_IMAGE_NAME}:{suite or debian_suite()}"


def strip_rootfs(root: Path) -> None:
    """Remove what a container never needs; directories stay so packages can still install."""
    for pattern in _STRIP_GLOBS:
        # A list first: deleting while globbing skips entries. Some doc directories are symlinks
        # to another package's, so a path may already be gone when its turn comes.
        for path in list(root.glob(pattern)):
            if path.name in _KEEP_NAMES:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    excludes = root / "etc/dpkg/dpkg.cfg.d/01-kratix-py-slim"
    excludes.parent.mkdir(parents=True, exist_ok=True)
    excludes.write_text(_DPKG_EXCLUDES)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One base-image build per machine user at a time (parallel test sessions, parallel engineers)."""
    lock_path = config_dir() / "base-image.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _debootstrap(rootfs: Path, suite: str, mirror: str) -> None:
    if os.geteuid() != 0:
        raise ImageBuildError(f"building the base image needs root (debootstrap): run {BUILD_BASE_HINT}")
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(f"debootstrap is not installed: {SETUP_HINT}")
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        "--components=main",
        suite,
        str(rootfs),
        mirror,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        log = rootfs / "debootstrap" / "debootstrap.log"
        detail = log.read_text()[-3000:] if log.is_file() else (done.stdout + done.stderr)[-3000:]
        raise ImageBuildError(f"debootstrap {suite} from {mirror} failed (exit {done.returncode}):\n{detail}")


def _import_rootfs(rootfs: Path, ref: str, digest: str) -> None:
    """Pipe a tarball of ``rootfs`` into ``podman import`` (numeric owners: the host's names do not apply)."""
    changes = [*_IMAGE_CHANGES, f"LABEL {RECIPE_LABEL}={digest}"]
    import_command = ["podman", "import", "--message", "kratix-py base image (debootstrap minbase + python3)"]
    for change in changes:
        import_command += ["--change", change]
    import_command += ["-", ref]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--sort=name", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE,
    )
    assert tar.stdout is not None
    try:
        imported = subprocess.run(
            import_command, stdin=tar.stdout, capture_output=True, text=True, env=podman_env(), check=False
        )
    finally:
        tar.stdout.close()
        tar_rc = tar.wait()
    if tar_rc != 0 or imported.returncode != 0:
        raise ImageBuildError(
            f"podman import of {ref} failed (tar {tar_rc}): {imported.stderr.strip()[-2000:]}"
        )


def build_base_image(
    ref: str | None = None, *, suite: str | None = None, progress: Callable[[str], None] | None = None
) -> str:
    """Build the base image unconditionally and return its reference (prefer :func:`ensure_base_image`)."""
    say = progress or (lambda _message: None)
    suite = suite or debian_suite()
    ref = ref or base_image_ref(suite)
    mirror = debian_mirror(suite)
    workdir = Path(tempfile.mkdtemp(prefix="kratix-py-rootfs-"))
    try:
        rootfs = workdir / "rootfs"
        started = time.monotonic()
        say(f"debootstrap {suite} (minbase + {', '.join(BASE_PACKAGES)}) from {mirror} ...")
        _debootstrap(rootfs, suite, mirror)
        say(f"  done in {time.monotonic() - started:.0f} s; stripping docs, man pages, locales, apt lists")
        strip_rootfs(rootfs)
        started = time.monotonic()
        _import_rootfs(rootfs, ref, recipe_digest(suite))
        run_podman(["tag", ref, base_image_alias(suite)])
        say(f"  imported as {ref} (also {base_image_alias(suite)}) in {time.monotonic() - started:.1f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return ref


def ensure_base_image(*, rebuild: bool = False, progress: Callable[[str], None] | None = None) -> str:
    """The base image reference, building it first if this machine does not have it yet."""
    suite = debian_suite()
    ref = base_image_ref(suite)
    if not rebuild and image_exists(ref):
        return ref
    with _build_lock():
        # Another process may have built it while we waited for the lock.
        if rebuild or not image_exists(ref):
            build_base_image(ref, suite=suite, progress=progress)
    return ref


# --- images built from a Containerfile -------------------------------------------------------


def context_digest(context_dir: Path, build_args: Mapping[str, str], extra: Sequence[str] = ()) -> str:
    """A digest of a build context (paths, executable bits, contents), the build arguments and ``extra``."""
    digest = hashlib.sha256()
    for path in sorted(context_dir.rglob("*")):
        relative = path.relative_to(context_dir).as_posix()
        if relative == ".git" or relative.startswith(".git/") or "__pycache__" in path.parts:
            continue
        if path.is_symlink():
            digest.update(f"L {relative} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            executable = os.access(path, os.X_OK)
            digest.update(f"F {relative} {int(executable)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([sorted(build_args.items()), list(extra)]).encode())
    return digest.hexdigest()[:16]


def _image_label(ref: str, label: str) -> str | None:
    done = run_podman(["image", "inspect", "--format", "{{json .Labels}}", ref], check=False)
    if done.returncode != 0:
        return None
    labels = json.loads(done.stdout or "null") or {}
    value = labels.get(label)
    return str(value) if value is not None else None


def build_image(
    context_dir: str | Path,
    tag: str,
    build_args: Mapping[str, str] | None = None,
    *,
    containerfile: str | Path | None = None,
    base_image: str | None = None,
    rebuild: bool = False,
    network: str | None = None,
) -> str:
    """Build ``tag`` from ``context_dir`` with ``podman build`` (never pulling) and return ``tag``.

    ``BASE_IMAGE`` is passed as a build argument (the base image, built first if needed). An
    image with the same tag built from an identical context, Containerfile, build arguments and
    base image is reused, so tests can call this freely. ``network``: the network of ``RUN``
    steps (``"host"`` for one that installs packages); by default they have none, as every
    container on these machines (containers.conf ``netns = "none"``).
    """
    context = Path(context_dir).resolve()
    if not context.is_dir():
        raise ImageBuildError(f"build context {context} is not a directory")
    base = base_image or ensure_base_image()
    arguments = {BASE_IMAGE_BUILD_ARG: base, **(build_args or {})}
    base_id = run_podman(["image", "inspect", "--format", "{{.Id}}", base]).stdout.strip()
    extra = [base_id]
    if containerfile is not None:
        extra.append(Path(containerfile).read_text())
    digest = context_digest(context, arguments, extra)
    if not rebuild and _image_label(tag, CONTEXT_LABEL) == digest:
        return tag
    previous = run_podman(["image", "inspect", "--format", "{{.Id}}", tag], check=False).stdout.strip()
    command = ["build", "--pull=never", "--tag", tag, "--label", f"{CONTEXT_LABEL}={digest}"]
    if network is not None:
        command += ["--network", network]
    for key, value in sorted(arguments.items()):
        command += ["--build-arg", f"{key}={value}"]
    if containerfile is not None:
        command += ["--file", str(Path(containerfile).resolve())]
    command.append(str(context))
    try:
        run_podman(command, timeout=1800)
    except PodmanError as error:
        raise ImageBuildError(
            f"podman build of {tag} from {context} failed:\n{error.output[-3000:]}"
        ) from error
    if previous:
        # The tag moved: drop the image it left behind unless something still uses it (another
        # tag, a container), so that iterating on a pipeline image does not fill the disk.
        current = run_podman(["image", "inspect", "--format", "{{.Id}}", tag]).stdout.strip()
        if current != previous:
            run_podman(["rmi", previous], check=False)
    return tag


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kratix_py.local_platform.images",
        description="Build the kratix-py base image once per machine (reused when present), "
        "or an image from a Containerfile directory on top of it.",
    )
    parser.add_argument("--rebuild", action="store_true", help="build even if the image already exists")
    parser.add_argument("--context", type=Path, help="build this Containerfile directory instead of the base")
    parser.add_argument("--tag", help="tag for --context")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.context is not None:
            if not args.tag:
                parser.error("--context needs --tag")
            ref = build_image(args.context, args.tag, rebuild=args.rebuild)
        else:
            ref = ensure_base_image(rebuild=args.rebuild, progress=lambda line: print(line, flush=True))
    except (ImageBuildError, PodmanError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{ref} ready ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
