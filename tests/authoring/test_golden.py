"""Golden comparison: the ``<ignored>`` rule, readable diffs, and updates that keep the markers."""

from __future__ import annotations

from pathlib import Path

from kratix_py.authoring import golden
from kratix_py.authoring.engine import RenderedGroup, RenderedWork, RenderResult
from kratix_py.authoring.output import IGNORED, format_report, normalise, result_files
from kratix_py.contract import WorkflowAction, WorkflowType

STATUS = b"""\
message: done
conditions:
- type: Reconciled
  status: 'True'
  lastTransitionTime: <ignored>
"""


def test_ignored_matches_any_value_but_the_structure_must_match() -> None:
    assert golden.matches({"a": IGNORED, "b": [1, 2]}, {"a": {"deep": True}, "b": [1, 2]})
    assert not golden.matches({"a": IGNORED}, {"a": 1, "extra": 2})
    assert not golden.matches([IGNORED], [1, 2])
    assert not golden.matches({"n": 1}, {"n": True}), "1 and true are different values"


def test_yaml_files_compare_as_data_so_key_order_does_not_matter() -> None:
    actual = b"conditions:\n- {lastTransitionTime: '2030-01-01T00:00:00Z', status: 'True', type: Reconciled}\nmessage: done\n"
    assert golden.file_difference("status.yaml", STATUS, actual) is None


def test_a_difference_is_a_unified_diff_without_the_ignored_values() -> None:
    actual = b"message: failed\nconditions:\n- {type: Reconciled, status: 'True', lastTransitionTime: '2030-01-01T00:00:00Z'}\n"
    diff = golden.file_difference("status.yaml", STATUS, actual)
    assert diff is not None
    assert "--- expected/status.yaml" in diff and "+++ rendered/status.yaml" in diff
    assert "-message: done" in diff and "+message: failed" in diff
    assert "2030" not in diff, "an ignored value is not a difference, so it is not shown"


def test_other_files_compare_byte_for_byte() -> None:
    assert golden.file_difference("main.tf", b"a = 1\n", b"a = 1\n") is None
    diff = golden.file_difference("main.tf", b"a = 1\n", b"a = 2\n")
    assert diff is not None and "-a = 1" in diff and "+a = 2" in diff
    assert golden.file_difference("blob.bin", b"\xff", b"\xfe") == "blob.bin: binary content differs\n"


def test_missing_and_unexpected_files_are_reported() -> None:
    differences = golden.compare(
        {"a.yaml": b"x: 1\n", "b.yaml": b"y: 1\n"}, {"b.yaml": b"y: 1\n", "c.yaml": b"z: 1\n"}
    )
    assert differences == [
        "expected/a.yaml: expected but not rendered\n",
        "rendered/c.yaml: rendered but not expected (new file; --update records it)\n",
    ]


def test_update_keeps_the_ignored_markers_and_untouched_files(tmp_path: Path) -> None:
    old = {"status.yaml": b"# hand-written\nmessage: <ignored>\nsize: small\n", "same.yaml": b"k: v\n"}
    new = {
        "status.yaml": b"message: made at 10:31\nsize: large\n",
        "same.yaml": b"k: v\n",
        "new.txt": b"hi\n",
    }
    files = golden.updated(old, new)
    assert files["status.yaml"] == b"message: <ignored>\nsize: large\n"
    assert files["same.yaml"] == b"k: v\n" and files["new.txt"] == b"hi\n"
    unchanged = golden.updated(old, {**new, "status.yaml": b"message: another time\nsize: small\n"})
    assert unchanged["status.yaml"] == old["status.yaml"], "a still-matching golden is kept as written"

    (tmp_path / "stale" / "dir").mkdir(parents=True)
    (tmp_path / "stale" / "dir" / "gone.yaml").write_text("x: 1\n")
    golden.write_tree(tmp_path, files)
    assert golden.read_tree(tmp_path) == files
    assert not (tmp_path / "stale").exists()


def _result() -> RenderResult:
    group = RenderedGroup(
        id="5058f1af8388633f609cadb75a75dc9d",
        directory=".",
        selectors=({"matchLabels": {"environment": "dev"}, "source": "promise"},),
        selector={"environment": "dev"},
        files={"app/deployment.yaml": b"kind: Deployment\n"},
        destinations=("dev",),
    )
    dependencies = RenderedGroup(
        id="5058f1af8388633f609cadb75a75dc9d",
        directory=".",
        selectors=(),
        selector={},
        files={"static/app-dependencies.yaml": b"kind: Namespace\n"},
        destinations=("dev", "prod"),
    )
    return RenderResult(
        subject="App team-a/shop",
        workflow=WorkflowType.RESOURCE,
        action=WorkflowAction.CONFIGURE,
        pipelines=("write",),
        works=(RenderedWork("", (dependencies,), True), RenderedWork("write", (group,), False)),
        status={
            "message": "ok",
            "conditions": [
                {
                    "type": "Reconciled",
                    "status": "True",
                    "reason": "Reconciled",
                    "message": "Reconciled",
                    "lastTransitionTime": "2030-01-01T00:00:00Z",
                }
            ],
        },
        destinations=("dev", "prod"),
    )


def test_the_output_folder_layout() -> None:
    files = result_files(_result())
    assert list(files) == [
        "dependencies/static/app-dependencies.yaml",
        "pipelines/write/app/deployment.yaml",
        "scheduling.yaml",
        "status.yaml",
    ]
    assert b"lastTransitionTime: <ignored>" in files["status.yaml"]
    assert b"2030" not in files["status.yaml"]
    assert result_files(_result()) == files, "the same result always gives the same bytes"


def test_normalise_replaces_volatile_fields_anywhere() -> None:
    value = {"a": [{"uid": "x", "lastTransitionTime": "t", "keep": 1}], "nextRetryAt": "t"}
    assert normalise(value) == {
        "a": [{"uid": IGNORED, "lastTransitionTime": IGNORED, "keep": 1}],
        "nextRetryAt": IGNORED,
    }


def test_the_report_shows_files_selectors_destinations_and_conditions() -> None:
    report = format_report(_result())
    assert "resource configure workflow of App team-a/shop: ran write" in report
    assert "selectors: environment=dev from promise" in report
    assert "lands on: dev" in report
    assert "    - app/deployment.yaml\n        kind: Deployment" in report
    assert "Reconciled  True     Reconciled: Reconciled" in report
    assert "2030" not in report
