"""State-store paths per filepath mode (kratix-behaviour.md §3.4) and the canaries (§3.5)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py.api import Destination, WorkPlacement
from kratix_py.api.work import Workload
from kratix_py.core.layout import (
    PlacementFiles,
    canary_changes,
    flat_claims,
    flat_clashes,
    group_directory,
    path_move_removals,
    placement_removal,
    placement_write,
    state_file,
)
from kratix_py.statestores import DirChange, FileChange, UnsafePathError

DEFAULT = c.DEFAULT_WORKLOAD_GROUP_ID


def destination(
    path: str = "dev", mode: str = "nestedByMetadata", filename: str | None = None
) -> Destination:
    filepath: dict[str, Any] = {"mode": mode}
    if filename:
        filepath["filename"] = filename
    return Destination.model_validate(
        {
            "metadata": {"name": "dev"},
            "spec": {
                "path": path,
                "stateStoreRef": {"kind": "GitStateStore", "name": "s"},
                "filepath": filepath,
            },
        }
    )


def files(
    name: str = "wp",
    *,
    resource: str | None = None,
    pipeline: str | None = "configure",
    content: dict[str, str] | None = None,
    resource_namespace: str | None = None,
) -> PlacementFiles:
    return PlacementFiles(
        name=name,
        namespace="team-a",
        promise="db",
        group_id=DEFAULT,
        resource=resource,
        resource_namespace=resource_namespace,
        pipeline=pipeline,
        files=tuple((path, text.encode()) for path, text in (content or {"a.yaml": "a: 1\n"}).items()),
    )


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (files(), "dev/dependencies/db/configure/5058f"),
        (files(pipeline=None), "dev/dependencies/db/5058f"),
        (files(resource="my-db"), "dev/resources/team-a/db/my-db/configure/5058f"),
        (
            files(resource="my-db", resource_namespace="team-b"),
            "dev/resources/team-b/db/my-db/configure/5058f",
        ),
    ],
)
def test_nested_directories(placement, expected):
    assert group_directory(destination(), placement) == expected


@pytest.mark.parametrize("root", [".", "/", "./"])
def test_dot_and_slash_mean_the_store_root(root):
    assert group_directory(destination(root), files()) == "dependencies/db/configure/5058f"


def test_static_dependencies_land_under_static_without_a_pipeline_segment():
    placement = files(pipeline=None, content={"static/db-dependencies.yaml": "kind: X\n"})
    write = placement_write(destination("clusters/dev"), placement)
    assert write.changes == (
        DirChange("clusters/dev/dependencies/db/5058f", {"static/db-dependencies.yaml": b"kind: X\n"}, "wp"),
    )


def test_nested_write_replaces_the_group_directory_and_removal_deletes_it():
    placement = files(resource="my-db", content={"redis.yaml": "r\n", "monitoring/dash.yaml": "d\n"})
    write = placement_write(destination(), placement)
    directory = "dev/resources/team-a/db/my-db/configure/5058f"
    assert write.changes == (
        DirChange(directory, {"redis.yaml": b"r\n", "monitoring/dash.yaml": b"d\n"}, "wp"),
    )
    assert placement_removal(destination(), placement).changes == (DirChange(directory, None, "wp"),)


@pytest.mark.parametrize("bad", ["../escape.yaml", "/etc/passwd", "a/../../b.yaml", ".git/config"])
@pytest.mark.parametrize("mode", ["nestedByMetadata", "none"])
def test_a_path_leaving_its_directory_is_refused_with_the_file_named(bad, mode):
    with pytest.raises(UnsafePathError) as error:
        placement_write(destination(mode=mode), files(content={bad: "x"}))
    assert "WorkPlacement wp" in str(error.value) and bad in str(error.value)


def test_aggregated_yaml_joins_every_placement_sorted_by_name():
    dest = destination("dev", "aggregatedYAML")
    b = files("b", content={"1.yaml": "b1", "2.yaml": "b2"})
    a = files("a", content={"x.yaml": "a1"})
    write = placement_write(dest, b, peers=[a])
    assert write.changes == (FileChange("dev/aggregated.yaml", b"a1\n---\nb1\n---\nb2", "b"),)
    assert placement_removal(dest, b, peers=[a, b]).changes == (
        FileChange("dev/aggregated.yaml", b"a1", "b"),
    )
    assert placement_removal(dest, a, peers=[a]).changes == (FileChange("dev/aggregated.yaml", None, "a"),)
    custom = destination(".", "aggregatedYAML", filename="all.yaml")
    assert placement_write(custom, a).changes[0].path == "all.yaml"


def test_mode_none_writes_flat_files_and_a_state_file_and_cleans_up_what_it_dropped():
    dest = destination("dev", "none")
    placement = files(content={"cm.yaml": "cm", "sub/deploy.yaml": "d"})
    write = placement_write(dest, placement, previously_owned=["dev/old.yaml", "dev/cm.yaml"])
    record = "dev/.kratix/team-a-wp.yaml"
    assert record == state_file(dest, "team-a", "wp")
    assert write.changes[:2] == (
        FileChange("dev/cm.yaml", b"cm", "wp"),
        FileChange("dev/sub/deploy.yaml", b"d", "wp"),
    )
    assert write.changes[2].path == record
    assert yaml.safe_load(write.changes[2].content) == {"files": ["dev/cm.yaml", "dev/sub/deploy.yaml"]}
    assert write.cleanup == (FileChange("dev/old.yaml", None, "wp"),)
    assert write.owned == ("dev/cm.yaml", "dev/sub/deploy.yaml")

    removal = placement_removal(dest, placement, previously_owned=["dev/old.yaml"])
    assert [ch.path for ch in removal.changes] == [
        record,
        "dev/cm.yaml",
        "dev/old.yaml",
        "dev/sub/deploy.yaml",
    ]
    assert all(ch.content is None for ch in removal.changes)


@pytest.mark.parametrize("path", [".kratix/team-a-other.yaml", "./.kratix/x.yaml", ".kratix/sub/y.yaml"])
def test_mode_none_refuses_pipeline_output_in_the_bookkeeping_directory(path):
    with pytest.raises(UnsafePathError, match=r"is in \.kratix/, where kratix-py keeps"):
        placement_write(destination("dev", "none"), files(content={path: "forged"}))
    # Elsewhere a directory merely named like it is fine.
    write = placement_write(destination("dev", "none"), files(content={"app/.kratix/x.yaml": "x"}))
    assert write.owned == ("dev/app/.kratix/x.yaml",)


def test_mode_none_claims_and_clashes_between_placements():
    dest = destination("dev", "none")
    claims = flat_claims(dest, "a", ["shared.yaml", "a.yaml"], recorded=["dev/old.yaml"])
    assert claims == {"dev/shared.yaml", "dev/a.yaml", "dev/old.yaml"}
    # Unwritable paths are claimed by nobody.
    assert flat_claims(dest, "b", ["../x.yaml", ".kratix/y.yaml"]) == set()
    others = {"team-a/b": {"dev/shared.yaml", "dev/b.yaml"}, "team-a/c": {"dev/shared.yaml"}}
    assert flat_clashes(["dev/a.yaml", "dev/shared.yaml"], others) == {
        "dev/shared.yaml": ["team-a/b", "team-a/c"]
    }
    assert flat_clashes(["dev/a.yaml"], others) == {}


def test_mode_none_never_deletes_what_another_placement_claims():
    dest = destination("dev", "none")
    placement = files(content={"shared.yaml": "s", "mine.yaml": "m"})
    write = placement_write(
        dest,
        placement,
        previously_owned=["dev/dropped-shared.yaml", "dev/dropped.yaml", "dev/.kratix/team-a-other.yaml"],
        keep={"dev/dropped-shared.yaml"},
    )
    assert [change.path for change in write.cleanup] == ["dev/dropped.yaml"]
    removal = placement_removal(
        dest,
        placement,
        previously_owned=["dev/.kratix/team-a-other.yaml"],
        keep={"dev/shared.yaml"},
    )
    assert [change.path for change in removal.changes] == ["dev/.kratix/team-a-wp.yaml", "dev/mine.yaml"]


def test_recorded_paths_are_checked_again_before_deleting():
    with pytest.raises(UnsafePathError):
        placement_write(destination("dev", "none"), files(), previously_owned=["../../outside"])


@pytest.mark.parametrize(
    ("mode", "path", "expected"),
    [
        (
            "nestedByMetadata",
            "dev",
            ("dev/dependencies/kratix-canary-namespace.yaml", "dev/resources/kratix-canary-configmap.yaml"),
        ),
        (
            "nestedByMetadata",
            ".",
            ("dependencies/kratix-canary-namespace.yaml", "resources/kratix-canary-configmap.yaml"),
        ),
        ("aggregatedYAML", "dev", ("dev/kratix-canary-namespace.yaml", "dev/kratix-canary-configmap.yaml")),
        ("none", "/", ("kratix-canary-namespace.yaml", "kratix-canary-configmap.yaml")),
    ],
)
def test_canary_paths(mode, path, expected):
    changes = canary_changes(destination(path, mode))
    assert tuple(ch.path for ch in changes) == expected
    namespace, config_map = (yaml.safe_load(ch.content) for ch in changes)
    assert namespace == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "kratix-worker-system"},
    }
    assert config_map["metadata"] == {"name": "kratix-info", "namespace": "kratix-worker-system"}
    assert "reading from Kratix state stores" in config_map["data"]["canary"]
    assert all(ch.content is None for ch in canary_changes(destination(path, mode), present=False))


def test_placement_files_come_from_the_workplacement():
    wp = WorkPlacement.model_validate(
        {
            "metadata": {
                "name": "w.dev-5058f",
                "namespace": "pipelines",
                "labels": {c.LABEL_PIPELINE_NAME: "configure", c.LABEL_RESOURCE_NAMESPACE: "team-b"},
            },
            "spec": {
                "targetDestinationName": "dev",
                "promiseName": "db",
                "resourceName": "my-db",
                "id": DEFAULT,
                "workloads": [Workload.from_file("a.yaml", "a: 1\n").to_dict()],
            },
        }
    )
    placement = PlacementFiles.from_placement(wp)
    assert placement.files == (("a.yaml", b"a: 1\n"),)
    assert group_directory(destination(), placement) == "dev/resources/team-b/db/my-db/configure/5058f"
    wp.spec.workloads[0].content = "not gzip"
    with pytest.raises(ValueError, match=r"a\.yaml"):
        PlacementFiles.from_placement(wp)
    assert PlacementFiles.from_placement(wp, with_files=False).files == ()


def _removed(changes) -> list[str]:
    assert all((ch.files if isinstance(ch, DirChange) else ch.content) is None for ch in changes)
    return [ch.directory if isinstance(ch, DirChange) else ch.path for ch in changes]


def test_a_moved_destination_removes_its_placements_and_canaries_under_the_old_path():
    nested = destination("new")
    assert _removed(path_move_removals(nested, "old", [(files(resource="r1"), [])])) == [
        "old/dependencies/kratix-canary-namespace.yaml",
        "old/resources/kratix-canary-configmap.yaml",
        "old/resources/team-a/db/r1/configure/5058f",
    ]
    aggregated = destination("new", "aggregatedYAML")
    assert "old/aggregated.yaml" in _removed(
        path_move_removals(aggregated, "old", [(files("a"), []), (files("b"), [])])
    )
    flat = destination("new", "none")
    placement = files(content={"cm.yaml": "x", "deep/y.yaml": "y"})
    removed = _removed(path_move_removals(flat, ".", [(placement, ["gone-since.yaml", "new/cm.yaml"])]))
    # the store root was the old path: the workloads, the record, what was recorded there
    assert removed == [
        ".kratix/team-a-wp.yaml",
        "cm.yaml",
        "deep/y.yaml",
        "gone-since.yaml",
        "kratix-canary-configmap.yaml",
        "kratix-canary-namespace.yaml",
    ]


def test_a_move_never_removes_what_the_new_path_holds():
    # From the store root to "deep": the old file deep/y.yaml is where the new path puts y.yaml.
    flat = destination("deep", "none")
    placement = files(content={"y.yaml": "y", "deep/y.yaml": "z"})
    removed = _removed(path_move_removals(flat, ".", [(placement, [])]))
    assert "deep/y.yaml" not in removed, "deep/y.yaml is where the new path puts y.yaml"
    assert "y.yaml" in removed
    with pytest.raises(UnsafePathError):
        path_move_removals(destination("new"), "../outside", [])
