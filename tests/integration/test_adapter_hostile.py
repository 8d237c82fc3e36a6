"""Hostile pipeline output against the real adapter steps and the API emulator.

Each case is something a pipeline image could leave in /kratix/output or /kratix/metadata. The
work-writer or status-writer must refuse it with one line naming the file and the problem, and
leave the Work and the request as they were.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kratix_py.adapter.steps import run_step
from kratix_py.kube import Kube

from . import test_adapter_steps as adapter_steps
from .test_adapter_steps import REDISES, WORK_LABELS, WORK_WRITER, Pod

# The emulator with the Work and request CRDs and one request, as in the adapter steps' tests.
emulator = adapter_steps.emulator
api_client = adapter_steps.api_client
kube = adapter_steps.kube

MIB = 1024 * 1024


def alias_bomb(levels: int, width: int = 10) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def _works(kube: Kube) -> list[dict[str, Any]]:
    from kratix_py.adapter.kube import WORKS

    return kube.list(WORKS, "team-a", labels=WORK_LABELS)


def _request(kube: Kube) -> dict[str, Any]:
    obj = kube.get(REDISES, "cache", "team-a")
    assert obj is not None
    return obj


def _work_writer(pod: Pod, **env: str) -> tuple[int, list[str]]:
    ctx = pod.context(**env)
    return run_step(ctx, WORK_WRITER), ctx.lines


def _status_writer(pod: Pod, **env: str) -> tuple[int, list[str]]:
    ctx = pod.context(IS_LAST_PIPELINE="true", **env)
    return run_step(ctx, ["status-writer"]), ctx.lines


@pytest.fixture
def pod(kube: Kube, api_client: kubernetes.client.ApiClient, tmp_path: Path) -> Pod:
    pod = Pod(tmp_path / "pod", api_client)
    (pod.root / "output" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    return pod


# -- item 3: YAML within limits ------------------------------------------------------------------


def test_an_alias_bomb_in_status_yaml_is_refused_and_the_status_kept(kube: Kube, pod: Pod) -> None:
    before = _request(kube)
    bomb = alias_bomb(6)  # a million values once expanded, from under 1 KB
    assert len(bomb) < 1024
    (pod.root / "metadata" / "status.yaml").write_text(bomb)
    code, lines = _status_writer(pod)
    assert code == 1
    assert lines[-1].startswith("status-writer failed: status.yaml expands to more than 1000000 values")
    assert _request(kube)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    code, lines = _work_writer(pod)
    assert code == 1 and "status.yaml expands to more than" in lines[-1]
    assert _works(kube) == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("status.yaml", "a: " + "[" * 5000 + "]" * 5000, "status.yaml nests deeper than 100 levels"),
        ("destination-selectors.yaml", alias_bomb(6), "destination-selectors.yaml expands to more than"),
        ("workflow-control.yaml", "{x: " * 3000, "workflow-control.yaml nests deeper than 100 levels"),
    ],
)
def test_metadata_yaml_over_the_limits_is_refused_by_name(
    kube: Kube, pod: Pod, name: str, text: str, expected: str
) -> None:
    (pod.root / "metadata" / name).write_text(text)
    code, lines = _work_writer(pod)
    assert (code, lines[-1]) == (1, lines[-1]) and lines[-1].startswith(f"work-writer failed: {expected}")
    assert _works(kube) == []


def test_an_alias_bomb_in_an_output_file_is_refused_by_name(kube: Kube, pod: Pod) -> None:
    (pod.root / "output" / "bomb.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n" + alias_bomb(6))
    code, lines = _work_writer(pod)
    assert code == 1
    assert lines[-1].startswith(
        "work-writer failed: output file bomb.yaml expands to more than 1000000 values"
    )
    assert _works(kube) == []


def test_a_status_yaml_linked_to_another_file_is_not_followed(kube: Kube, pod: Pod, tmp_path: Path) -> None:
    token = tmp_path / "token"  # e.g. the service-account token inside the status-writer's container
    token.write_text("token: eyJhbGciOi-not-for-the-status\n")
    (pod.root / "metadata" / "status.yaml").symlink_to(token)
    code, lines = _status_writer(pod)
    assert code == 1 and lines[-1] == (
        "status-writer failed: status.yaml is a symbolic link; write a regular file instead"
    )
    assert "not-for-the-status" not in str(_request(kube).get("status"))


def test_a_fifo_for_status_yaml_fails_instead_of_hanging(kube: Kube, pod: Pod) -> None:
    os.mkfifo(pod.root / "metadata" / "status.yaml")
    result: list[tuple[int, list[str]]] = []
    writer = threading.Thread(target=lambda: result.append(_status_writer(pod)), daemon=True)
    writer.start()
    writer.join(20)
    if writer.is_alive():
        with open(pod.root / "metadata" / "status.yaml", "wb"):
            pass  # release the blocked reader so the test run ends
        pytest.fail("the status-writer blocked on a FIFO")
    code, lines = result[0]
    assert code == 1 and "status.yaml is a pipe (FIFO)" in lines[-1]


# -- item 5: sizes -------------------------------------------------------------------------------


def test_an_output_file_over_the_limit_is_refused_before_it_is_read(kube: Kube, pod: Pod) -> None:
    with open(pod.root / "output" / "huge.yaml", "wb") as stream:
        stream.truncate(50 * MIB)  # sparse: a 50 MB output that costs no disk
    code, lines = _work_writer(pod)
    assert code == 1
    assert lines[-1] == (
        "work-writer failed: output file huge.yaml is 50.0 MiB, over the limit of 8.0 MiB for one file "
        "(set KRATIX_PY_MAX_OUTPUT_FILE_BYTES to change it)"
    )
    assert _works(kube) == []


def test_a_work_over_the_limit_is_refused_naming_the_largest_files(kube: Kube, pod: Pod) -> None:
    (pod.root / "output" / "noise.bin").write_bytes(os.urandom(1200 * 1024))  # does not compress
    (pod.root / "output" / "more-noise.bin").write_bytes(os.urandom(100 * 1024))
    code, lines = _work_writer(pod)
    assert code == 1
    message = lines[-1]
    assert message.startswith("work-writer failed: the Work would be 1.7 MiB with its files compressed")
    assert "over the limit of 1.0 MiB (set KRATIX_PY_MAX_WORK_BYTES" in message
    assert re.search(
        r"largest files once compressed: noise\.bin \(1\.6 MiB\), more-noise\.bin \(13\d\.\d KiB\), ok\.yaml \(\d+ bytes\)$",
        message,
    ), message
    assert _works(kube) == []
    # What compresses well is fine: the same 1.2 MiB of YAML fits easily once gzipped.
    (pod.root / "output" / "noise.bin").unlink()
    (pod.root / "output" / "more-noise.bin").unlink()
    (pod.root / "output" / "big.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n"
        + "".join(f"  k{n}: {'value' * 20}\n" for n in range(12_000))
    )
    assert (pod.root / "output" / "big.yaml").stat().st_size > MIB
    assert _work_writer(pod)[0] == 0


def test_too_many_files_and_too_many_bytes_are_refused(kube: Kube, pod: Pod) -> None:
    for number in range(6):
        (pod.root / "output" / f"cm-{number}.txt").write_text("x" * 600)
    code, lines = _work_writer(pod, KRATIX_PY_MAX_OUTPUT_FILES="5")
    assert code == 1 and lines[-1] == (
        "work-writer failed: the output has more than 5 files and directories "
        "(set KRATIX_PY_MAX_OUTPUT_FILES to change the limit); write fewer, larger files"
    )
    code, lines = _work_writer(pod, KRATIX_PY_MAX_OUTPUT_BYTES="2Ki")
    assert code == 1 and lines[-1].startswith(
        "work-writer failed: the output files add up to 3.6 KiB, over the limit of 2.0 KiB "
        "(set KRATIX_PY_MAX_OUTPUT_BYTES to change it); largest: cm-0.txt (600 bytes)"
    )
    code, lines = _work_writer(pod, KRATIX_PY_MAX_OUTPUT_BYTES="a lot")
    assert code == 1 and "KRATIX_PY_MAX_OUTPUT_BYTES must be a whole number" in lines[-1]
    assert _works(kube) == []


def test_a_large_status_is_refused_and_the_status_kept(kube: Kube, pod: Pod) -> None:
    before = _request(kube)
    (pod.root / "metadata" / "status.yaml").write_text("blob: " + "x" * (300 * 1024) + "\n")
    code, lines = _status_writer(pod)
    assert code == 1 and lines[-1] == (
        "status-writer failed: status.yaml is 300.0 KiB, over the limit of 256.0 KiB "
        "(set KRATIX_PY_MAX_STATUS_BYTES to change it)"
    )
    # Under the file limit, but the merged status would be over it.
    (pod.root / "metadata" / "status.yaml").write_text("blob: " + "x" * (200 * 1024 - 20) + "\n")
    code, lines = _status_writer(pod, KRATIX_PY_MAX_STATUS_BYTES="200Ki")
    assert code == 1 and "the merged status would be" in lines[-1]
    assert _request(kube)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


# -- item 6: paths and YAML that is not a Kubernetes object --------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((".GIT", "config"), "output directory '.GIT' contains a '.git' segment"),
        (("deep", ".Git"), "output file 'deep/.Git' contains a '.git' segment"),
        (("a\\b.yaml",), "output file 'a\\\\b.yaml' contains a backslash"),
        (("line\nbreak.yaml",), "output file 'line\\nbreak.yaml' contains a control character"),
        (("bell\x07.txt",), "output file 'bell\\x07.txt' contains a control character"),
    ],
)
def test_names_the_state_store_refuses_fail_the_pipeline_by_name(
    kube: Kube, pod: Pod, parts: tuple[str, ...], expected: str
) -> None:
    path = pod.root.joinpath("output", *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("apiVersion: v1\nkind: ConfigMap\n")
    code, lines = _work_writer(pod)
    assert code == 1
    assert lines[-1].startswith(f"work-writer failed: {expected}"), lines[-1]
    assert lines[-1].endswith("; rename it: state stores cannot hold this path")
    assert _works(kube) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- a\n- b\n", "output file values.yaml is a list, not an object"),
        ("just text\n", "output file values.yaml is a str, not an object"),
        ("replicas: 3\n", "output file values.yaml has no apiVersion and no kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\n---\nkind: Secret\n",
            "output file values.yaml (document 2) has no apiVersion",
        ),
    ],
)
def test_yaml_that_is_not_a_kubernetes_object_is_refused_or_written_with_a_warning(
    kube: Kube, pod: Pod, content: str, problem: str
) -> None:
    (pod.root / "output" / "values.yaml").write_text(content)
    code, lines = _work_writer(pod)
    assert code == 1 and lines[-1].startswith(f"work-writer failed: {problem}: GitOps agents apply")
    assert _works(kube) == []
    code, lines = _work_writer(pod, KRATIX_PY_NON_KUBERNETES_YAML="warn")
    assert code == 0
    assert any(
        line.startswith(f"work-writer: warning: {problem}") and "written anyway" in line for line in lines
    )
    assert len(_works(kube)) == 1
