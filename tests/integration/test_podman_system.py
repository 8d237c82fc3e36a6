"""Plain ``podman run`` on a machine set up by ``make setup``: scripts/setup-podman.sh installs the
settings kratix-py's own podman calls use, once, and only where the machine has none of its own."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tomllib
from pathlib import Path

import pytest

from kratix_py.local_platform.podman import containers_conf_text, run_podman
from kratix_py.testing.fixtures_podman import require

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "setup-podman.sh"
SYSTEM_DROP_IN = Path("/etc/containers/containers.conf.d/50-kratix-py.conf")


def setup_podman(etc: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "KRATIX_PY_CONTAINERS_ETC": str(etc)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def same_settings_as_kratix_py(drop_in: str) -> None:
    """The drop-in says what kratix-py's CONTAINERS_CONF says, for the limits it was written with."""
    settings = tomllib.loads(drop_in)
    limits = dict(re.findall(r"(nofile|nproc)=(\d+):", " ".join(settings["containers"]["default_ulimits"])))
    nofile, nproc = int(limits["nofile"]), int(limits["nproc"])
    assert settings == tomllib.loads(containers_conf_text(nofile=nofile, nproc=nproc))


def test_a_machine_without_podman_configuration_gets_kratix_pys_once(
    podman_ready: None, tmp_path: Path
) -> None:
    first = setup_podman(tmp_path)
    drop_in = tmp_path / "containers.conf.d" / "50-kratix-py.conf"
    storage = tmp_path / "storage.conf"
    assert f"wrote {drop_in}" in first.stdout and f"wrote {storage}" in first.stdout
    same_settings_as_kratix_py(drop_in.read_text())
    assert tomllib.loads(storage.read_text())["storage"]["driver"] == "overlay"

    written = (drop_in.stat().st_mtime_ns, storage.stat().st_mtime_ns)
    again = setup_podman(tmp_path)
    assert f"{drop_in} is up to date" in again.stdout and f"{storage} is up to date" in again.stdout
    assert (drop_in.stat().st_mtime_ns, storage.stat().st_mtime_ns) == written


def test_a_machine_with_its_own_containers_conf_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "containers.conf").write_text('[engine]\nruntime = "crun"\n')
    done = setup_podman(tmp_path)
    assert not (tmp_path / "containers.conf.d").exists() and not (tmp_path / "storage.conf").exists()
    assert "has its own podman configuration" in done.stdout
    assert "python -m kratix_py.local_platform.podman" in done.stdout  # how to get the settings by hand


def test_a_storage_conf_of_the_machines_own_is_not_touched(podman_ready: None, tmp_path: Path) -> None:
    storage = tmp_path / "storage.conf"
    storage.write_text('[storage]\ndriver = "overlay"\n')
    done = setup_podman(tmp_path)
    assert storage.read_text() == '[storage]\ndriver = "overlay"\n'
    assert f"{storage} is the machine's own" in done.stdout
    same_settings_as_kratix_py((tmp_path / "containers.conf.d" / "50-kratix-py.conf").read_text())


@pytest.mark.containers
def test_plain_podman_run_works_with_a_clean_environment(base_image: str) -> None:
    require(
        None
        if SYSTEM_DROP_IN.is_file()
        else f"{SYSTEM_DROP_IN} is missing: run scripts/setup-system.sh as root (make setup-system)"
    )
    same_settings_as_kratix_py(SYSTEM_DROP_IN.read_text())
    name = f"kratix-py-test-plain-{secrets.token_hex(4)}"
    clean = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(Path.home())}
    try:
        done = subprocess.run(
            ["podman", "run", "--rm", "--name", name, base_image, "true"],
            env=clean,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        run_podman(["rm", "--force", "--ignore", "--time", "0", name], check=False)
