"""Planning a batch: directory replacement, deletions, ordering and commit messages."""

from __future__ import annotations

import pytest

from kratix_py.statestores.base import DirChange, FileChange
from kratix_py.statestores.errors import UnsafePathError
from kratix_py.statestores.plan import PathOp, commit_message, plan_ops, touched_roots


def test_touched_roots_are_prefixed_sorted_and_unique() -> None:
    changes = [
        DirChange("dest/resources/b", {"x": b"1"}, "wp-b"),
        DirChange("dest/resources/a", None, "wp-a"),
        FileChange("dest/aggregated.yaml", b"y", "wp-c"),
        DirChange("dest/resources/a/", {"y": b"2"}, "wp-a"),
    ]
    assert touched_roots(changes, "/store") == [
        "store/dest/aggregated.yaml",
        "store/dest/resources/a",
        "store/dest/resources/b",
    ]


def test_touched_roots_validates_file_paths_too() -> None:
    with pytest.raises(UnsafePathError, match="wp-bad"):
        touched_roots(
            [DirChange("ok", {"fine": b""}, "wp-ok"), DirChange("ok2", {"../../x": b""}, "wp-bad")], ""
        )


def test_touched_roots_rejects_unknown_change_types() -> None:
    with pytest.raises(TypeError):
        touched_roots(["dest/x"], "")  # type: ignore[list-item]


def test_directory_replacement_deletes_what_is_not_in_the_new_set() -> None:
    existing = {"p/d/keep.yaml", "p/d/stale.yaml", "p/d/sub/stale.yaml", "p/d-sibling/x.yaml"}
    ops = plan_ops([DirChange("d", {"keep.yaml": b"k", "new.yaml": b"n"}, "wp")], "p", existing)
    assert ops == [
        PathOp("p/d/keep.yaml", b"k", "wp"),
        PathOp("p/d/new.yaml", b"n", "wp"),
        PathOp("p/d/stale.yaml", None, "wp"),
        PathOp("p/d/sub/stale.yaml", None, "wp"),
    ]


def test_directory_deletion_and_file_changes() -> None:
    existing = {"d/a", "d/b/c", "agg.yaml"}
    ops = plan_ops(
        [
            DirChange("d", None, "gone"),
            FileChange("agg.yaml", None, "agg"),
            FileChange("new.yaml", b"x", "n"),
        ],
        "",
        existing,
    )
    assert ops == [
        PathOp("agg.yaml", None, "agg"),
        PathOp("d/a", None, "gone"),
        PathOp("d/b/c", None, "gone"),
        PathOp("new.yaml", b"x", "n"),
    ]


def test_later_changes_win_within_a_batch() -> None:
    ops = plan_ops(
        [
            DirChange("d", {"a": b"1", "b": b"1"}, "first"),
            DirChange("d", {"a": b"2"}, "second"),
            FileChange("d/c", b"3", "third"),
        ],
        "",
        set(),
    )
    # "b" was only planned by the first change: it ends up as a delete of an absent path,
    # which writers skip.
    assert ops == [PathOp("d/a", b"2", "second"), PathOp("d/b", None, "second"), PathOp("d/c", b"3", "third")]


def test_a_path_cannot_be_both_file_and_directory() -> None:
    with pytest.raises(UnsafePathError, match="both a file and a directory"):
        plan_ops([FileChange("d/x", b"1", "a"), FileChange("d/x/y", b"2", "b")], "", set())
    with pytest.raises(UnsafePathError, match="both a file and a directory"):
        plan_ops([DirChange("d", {"x": b"1", "x/y": b"2"}, "a")], "", set())


def test_replacing_a_file_by_a_directory_is_fine() -> None:
    ops = plan_ops([FileChange("d/x", b"1", "a"), DirChange("d/x", {"y": b"2"}, "b")], "", {"d/x"})
    assert ops == [PathOp("d/x", None, "b"), PathOp("d/x/y", b"2", "b")]


def test_contents_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        plan_ops([DirChange("d", {"x": "text"}, "a")], "", set())  # type: ignore[dict-item]


def test_commit_message_matches_kratix_for_single_changes() -> None:
    assert commit_message([DirChange("d", {"x": b""}, "wp-a")], {"wp-a"}) == "Update from: wp-a"
    assert commit_message([DirChange("d", None, "wp-a")], {"wp-a"}) == "Delete from: wp-a"
    assert (
        commit_message([FileChange("f", None, "kratix-canary")], {"kratix-canary"})
        == "Delete from: kratix-canary"
    )


def test_commit_message_names_only_effective_labels_in_batch_order() -> None:
    changes = [
        DirChange("b", {"x": b""}, "wp-b"),
        DirChange("a", {"x": b""}, "wp-a"),
        DirChange("c", None, "wp-c"),
        DirChange("u", {"x": b""}, "unchanged"),
    ]
    assert commit_message(changes, {"wp-a", "wp-b", "wp-c"}) == "Update from: wp-b, wp-a; Delete from: wp-c"


def test_long_commit_message_shortens_the_subject_and_lists_all_in_the_body() -> None:
    labels = [f"wp-{i:02d}" for i in range(8)]
    message = commit_message([DirChange(label, {"x": b""}, label) for label in labels], set(labels))
    subject, blank, *body = message.split("\n")
    assert subject == "Update from: wp-00, wp-01, wp-02, wp-03, wp-04 and 3 more"
    assert blank == ""
    assert body == [f"Update from: {label}" for label in labels]


def test_commit_message_keeps_labels_on_one_line() -> None:
    assert commit_message([DirChange("d", None, "evil\nlabel")], {"evil\nlabel"}) == "Delete from: evil label"
