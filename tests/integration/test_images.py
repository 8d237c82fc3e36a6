"""Building images locally: where Debian comes from, the base image's recipe, and Containerfile builds.

The ``base_image`` fixture comes from kratix_py.testing.fixtures_podman (loaded by tests/conftest.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kratix_py.local_platform.images import (
    BASE_IMAGE_NAME,
    CONTEXT_LABEL,
    RECIPE_LABEL,
    ImageBuildError,
    base_image_alias,
    base_image_ref,
    build_image,
    debian_mirror,
    debian_suite,
    ensure_base_image,
    parse_deb822_sources,
    parse_one_line_sources,
    recipe_digest,
    strip_rootfs,
)
from kratix_py.local_platform.podman import containers_conf_text, podman_env, run_podman

# --- where Debian comes from ----------------------------------------------------------------------

DEB822 = """\
Types: deb
# a comment inside the stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://sources.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_sources_keep_binary_entries_only() -> None:
    sources = parse_deb822_sources(DEB822)
    assert [(s.uris, s.suites) for s in sources] == [
        (("http://mirror.example/debian",), ("bookworm", "bookworm-updates")),
        (("http://security.example/debian-security",), ("bookworm-security",)),
    ]


def test_one_line_sources_skip_options_comments_and_deb_src() -> None:
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://sources.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n"
    )
    [source] = parse_one_line_sources(text)
    assert source.uris == ("http://mirror.example/debian",)
    assert source.suites == ("bookworm",) and source.components == ("main", "contrib")


def test_the_mirror_is_the_one_apt_uses_for_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KRATIX_PY_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    assert debian_mirror("bookworm-security", tmp_path) == "http://security.example/debian-security"
    with pytest.raises(ImageBuildError, match="KRATIX_PY_DEBIAN_MIRROR"):
        debian_mirror("trixie", tmp_path)
    monkeypatch.setenv("KRATIX_PY_DEBIAN_MIRROR", "http://override.example/debian")
    assert debian_mirror("trixie", tmp_path) == "http://override.example/debian"


def test_the_suite_comes_from_os_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KRATIX_PY_DEBIAN_SUITE", raising=False)
    (tmp_path / "os-release").write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=trixie\n')
    assert debian_suite(tmp_path / "os-release") == "trixie"
    assert debian_suite(tmp_path / "missing") == "bookworm"


# --- the recipe -------------------------------------------------------------------------------------


def test_the_base_image_tag_names_the_suite_and_the_recipe() -> None:
    assert recipe_digest("bookworm") == recipe_digest("bookworm")
    assert recipe_digest("bookworm") != recipe_digest("trixie")
    assert base_image_ref("bookworm") == f"{BASE_IMAGE_NAME}:bookworm-{recipe_digest('bookworm')}"
    assert base_image_alias("bookworm") == f"{BASE_IMAGE_NAME}:bookworm"


def test_strip_removes_docs_and_apt_lists_but_keeps_copyrights(tmp_path: Path) -> None:
    files = [
        "usr/share/doc/bash/copyright",
        "usr/share/doc/bash/README.gz",
        "usr/share/doc/bash/examples/x",
        "usr/share/man/man1/bash.1.gz",
        "usr/share/locale/de/LC_MESSAGES/bash.mo",
        "var/lib/apt/lists/mirror.example_debian_dists_bookworm_InRelease",
        "var/cache/apt/pkgcache.bin",
        "var/log/dpkg.log",
        "usr/bin/python3",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "usr/share/doc/python3").symlink_to("bash")  # Debian links some doc folders

    strip_rootfs(tmp_path)

    left = sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()
    )
    assert left == [
        "etc/dpkg/dpkg.cfg.d/01-kratix-py-slim",
        "usr/bin/python3",
        "usr/share/doc/bash/copyright",
    ]
    assert (tmp_path / "var/lib/apt/lists").is_dir()  # apt still finds its folders
    assert "path-exclude /usr/share/doc/*" in (tmp_path / "etc/dpkg/dpkg.cfg.d/01-kratix-py-slim").read_text()


def test_the_podman_configuration_fits_the_machine_limits() -> None:
    text = containers_conf_text(nofile=1024, nproc=4096)
    assert 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' in text
    assert 'pull_policy = "never"' in text and 'runtime = "runc"' in text and 'netns = "none"' in text
    env = podman_env({"CONTAINERS_STORAGE_CONF": "/elsewhere/storage.conf", "PATH": "/bin"})
    assert "CONTAINERS_STORAGE_CONF" not in env and env["PATH"] == "/bin"
    assert Path(env["CONTAINERS_CONF"]).read_text().startswith("# Written by kratix_py.local_platform.podman")


# --- with podman ------------------------------------------------------------------------------------

containers = pytest.mark.containers


def _inspect(ref: str) -> dict[str, object]:
    return dict(json.loads(run_podman(["image", "inspect", ref]).stdout)[0])


@containers
def test_the_base_image_is_reused_and_has_python_without_docs(base_image: str) -> None:
    started = time.monotonic()
    assert ensure_base_image() == base_image
    assert time.monotonic() - started < 5  # present: nothing is built

    config = _inspect(base_image)["Config"]
    assert isinstance(config, dict)
    assert config["Labels"][RECIPE_LABEL] == recipe_digest(debian_suite())
    assert "LANG=C.UTF-8" in config["Env"]
    script = (
        "python3 -c 'import yaml; print(yaml.safe_dump({\"ok\": True}).strip())'; "
        "ls /var/lib/apt/lists | wc -l; "
        "find /usr/share/doc -type f ! -name copyright | wc -l; "
        "ls /usr/share/man | wc -l"
    )
    output = run_podman(["run", "--rm", base_image, "sh", "-c", script]).stdout.split()
    assert output == ["ok:", "true", "0", "0", "0"]
    assert _inspect(base_image_alias())["Id"] == _inspect(base_image)["Id"]


@containers
def test_build_image_builds_from_the_base_and_reuses_an_unchanged_context(
    base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Containerfile").write_text(
        'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY step.py /step.py\nENTRYPOINT ["python3", "/step.py"]\n'
    )
    (tmp_path / "step.py").write_text("print('version one')\n")
    tag = "localhost/kratix-py-test-build:1"
    try:
        first_id = _inspect(build_image(tmp_path, tag))["Id"]
        assert run_podman(["run", "--rm", tag]).stdout == "version one\n"
        labels = _inspect(tag)["Config"]["Labels"]  # type: ignore[index]
        assert labels[CONTEXT_LABEL]

        started = time.monotonic()
        assert build_image(tmp_path, tag) == tag
        assert _inspect(tag)["Id"] == first_id and time.monotonic() - started < 3

        (tmp_path / "step.py").write_text("print('version two')\n")
        build_image(tmp_path, tag)
        assert _inspect(tag)["Id"] != first_id
        assert run_podman(["run", "--rm", tag]).stdout == "version two\n"
        # The image the tag left behind is removed, not left dangling.
        assert run_podman(["image", "exists", str(first_id)], check=False).returncode == 1
    finally:
        run_podman(["rmi", tag], check=False)


@containers
def test_a_broken_containerfile_reports_podmans_error(base_image: str, tmp_path: Path) -> None:
    (tmp_path / "Containerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY missing.txt /x\n")
    with pytest.raises(ImageBuildError, match=r"missing\.txt"):
        build_image(tmp_path, "localhost/kratix-py-test-broken:1")
