"""Pipeline output -> workload groups: selector validation, grouping and deterministic content."""

from __future__ import annotations

import base64
import gzip

import pytest

from kratix_py.core.workloads import (
    DEFAULT_GROUP_ID,
    DirectorySelector,
    PipelineOutput,
    PipelineOutputError,
    SchedulingSelector,
    build_workload_groups,
    check_yaml_files,
    clean_directory,
    decode_content,
    encode_content,
    parse_destination_selectors,
    parse_promise_scheduling,
    squash_labels,
)

DB_GROUP_ID = "d77d5e503ad1439f585ac494268b351b"  # md5("db")


# -- content ---------------------------------------------------------------------------------------


def test_encoded_content_is_deterministic_gzip_with_zero_mtime() -> None:
    first = encode_content(b"kind: Namespace\n")
    assert first == encode_content(b"kind: Namespace\n")
    raw = base64.b64decode(first)
    assert raw[:2] == b"\x1f\x8b"  # gzip magic
    assert raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0: no timestamp leaks into the Work
    assert gzip.decompress(raw) == b"kind: Namespace\n"


def test_decode_content_round_trips_and_rejects_garbage() -> None:
    assert decode_content(encode_content(b"\x00binary\xff")) == b"\x00binary\xff"
    with pytest.raises(ValueError, match="not base64-encoded gzip"):
        decode_content("bm90IGd6aXA=")  # base64 of "not gzip"
    with pytest.raises(ValueError, match="not base64-encoded gzip"):
        decode_content("%%%")


# -- destination-selectors.yaml --------------------------------------------------------------------


def test_an_empty_selectors_file_means_no_selectors() -> None:
    assert parse_destination_selectors("") == []
    assert parse_destination_selectors("# nothing\n") == []


def test_directories_are_cleaned_and_absent_means_default() -> None:
    selectors = parse_destination_selectors(
        "- matchLabels: {env: dev}\n- directory: baz/\n  matchLabels: {zone: eu}\n- directory: ./qux\n  matchLabels: {a: b}\n"
    )
    assert selectors == [
        DirectorySelector(".", {"env": "dev"}),
        DirectorySelector("baz", {"zone": "eu"}),
        DirectorySelector("qux", {"a": "b"}),
    ]


def test_field_names_match_case_insensitively_like_go() -> None:
    assert parse_destination_selectors("- Directory: db\n  matchlabels: {env: dev}\n") == [
        DirectorySelector("db", {"env": "dev"})
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("matchLabels: {env: dev}\n", "destination-selectors.yaml must be a list"),
        ("- directory: db\n", "destination-selectors.yaml entry 0 has no matchLabels"),
        ("- matchLabels: {a: b}\n- directory: db\n  matchLabels: {}\n", "entry 1 has no matchLabels"),
        ("- just-a-string\n", "entry 0 must be a map"),
        ("- matchLabels: {enabled: true}\n", "entry 0: matchLabels enabled: true is not a string"),
        ("- matchLabels: {replicas: 3}\n", 'so quote them in YAML (replicas: "3")'),
        ("- matchLabels: [a, b]\n", "entry 0: matchLabels must be a map"),
        ("- directory: foo/bar\n  matchLabels: {a: b}\n", "entry 0: directory 'foo/bar' is not allowed"),
        ("- directory: ..\n  matchLabels: {a: b}\n", "entry 0: directory '..' is not allowed"),
        ("- directory: /abs\n  matchLabels: {a: b}\n", "entry 0: directory '/abs' is not allowed"),
        ("- directory: 7\n  matchLabels: {a: b}\n", "entry 0: directory must be a string"),
        (
            "- directory: baz\n  matchLabels: {a: b}\n- directory: baz/\n  matchLabels: {c: d}\n",
            "entry 1 repeats directory 'baz' of entry 0",
        ),
        (
            "- matchLabels: {a: b}\n- directory: .\n  matchLabels: {c: d}\n",
            "entry 1 repeats the default directory '.' of entry 0",
        ),
        ("- matchLabels: {a: b\n", "destination-selectors.yaml is not valid YAML"),
    ],
)
def test_invalid_selector_files_are_rejected_with_file_entry_and_problem(text: str, problem: str) -> None:
    with pytest.raises(PipelineOutputError) as caught:
        parse_destination_selectors(text)
    assert problem in str(caught.value)


def test_errors_name_the_file_that_was_read() -> None:
    with pytest.raises(PipelineOutputError, match=r"^destination\.yaml entry 0 has no matchLabels"):
        parse_destination_selectors("- directory: db\n", filename="destination.yaml")


def test_clean_directory_behaves_like_filepath_clean() -> None:
    assert clean_directory("") == "."
    assert clean_directory("baz/") == "baz"
    assert clean_directory("./baz/.") == "baz"
    assert clean_directory("a//b/") == "a/b"


# -- promise-scheduling ----------------------------------------------------------------------------


def test_promise_scheduling_accepts_both_spellings_of_match_labels() -> None:
    text = "- matchlabels: {env: dev}\n  source: promise\n- matchLabels: {zone: eu}\n  source: promise\n"
    assert parse_promise_scheduling(text) == [
        SchedulingSelector({"env": "dev"}, "promise"),
        SchedulingSelector({"zone": "eu"}, "promise"),
    ]
    assert parse_promise_scheduling("") == []
    assert parse_promise_scheduling("[]") == []


def test_squash_labels_gives_the_first_entry_priority() -> None:
    assert squash_labels([{"env": "dev"}, {"env": "prod", "zone": "eu"}]) == {"env": "dev", "zone": "eu"}


# -- grouping --------------------------------------------------------------------------------------

PROMISE_SELECTORS = [SchedulingSelector({"env": "dev"}, "promise")]


def _output(files: dict[str, bytes], *directories: str) -> PipelineOutput:
    return PipelineOutput(files=files, directories=frozenset(directories))


def test_without_selectors_every_file_is_in_the_default_group_with_the_promise_selectors() -> None:
    output = _output({"b.yaml": b"b", "a/x.yaml": b"x", "a.yaml": b"a"}, "a")
    [group] = build_workload_groups(output, [], PROMISE_SELECTORS, workflow_type="resource")
    assert group.id == DEFAULT_GROUP_ID == "5058f1af8388633f609cadb75a75dc9d"
    assert group.directory == "."
    assert [w.filepath for w in group.workloads] == ["a.yaml", "a/x.yaml", "b.yaml"]
    assert decode_content(group.workloads[1].content) == b"x"
    assert group.destination_selectors == (SchedulingSelector({"env": "dev"}, "promise"),)


def test_root_entry_joins_the_promise_selectors_on_the_default_group() -> None:
    selectors = parse_destination_selectors("- matchLabels: {team: a}\n")
    [group] = build_workload_groups(
        _output({"x.yaml": b"x"}), selectors, PROMISE_SELECTORS, workflow_type="resource"
    )
    assert [s.to_dict() for s in group.destination_selectors] == [
        {"matchLabels": {"team": "a"}, "source": "resource-workflow"},
        {"matchLabels": {"env": "dev"}, "source": "promise"},
    ]


def test_directory_groups_get_only_their_own_selectors_never_the_promises() -> None:
    selectors = parse_destination_selectors("- directory: db\n  matchLabels: {tier: data}\n")
    output = _output({"db/schema.yaml": b"s", "db/nested/x.yaml": b"n", "app.yaml": b"a"}, "db")
    default, db = build_workload_groups(output, selectors, PROMISE_SELECTORS, workflow_type="promise")
    assert (db.id, db.directory) == (DB_GROUP_ID, "db")
    assert [w.filepath for w in db.workloads] == ["db/nested/x.yaml", "db/schema.yaml"]
    assert [s.to_dict() for s in db.destination_selectors] == [
        {"matchLabels": {"tier": "data"}, "source": "promise-workflow"}
    ]
    assert [w.filepath for w in default.workloads] == ["app.yaml"]
    assert [s.source for s in default.destination_selectors] == ["promise"]


def test_default_group_exists_only_when_files_are_left_for_it() -> None:
    selectors = parse_destination_selectors("- directory: db\n  matchLabels: {tier: data}\n")
    groups = build_workload_groups(
        _output({"db/a.yaml": b"a"}, "db"), selectors, [], workflow_type="resource"
    )
    assert [g.directory for g in groups] == ["db"]
    assert build_workload_groups(_output({}), [], PROMISE_SELECTORS, workflow_type="resource") == []


def test_an_empty_selected_directory_is_an_empty_group() -> None:
    selectors = parse_destination_selectors("- directory: db\n  matchLabels: {tier: data}\n")
    [group] = build_workload_groups(_output({}, "db"), selectors, [], workflow_type="resource")
    assert (group.directory, group.workloads) == ("db", ())


def test_a_selector_for_a_missing_directory_is_an_error_naming_it() -> None:
    selectors = parse_destination_selectors("- directory: db\n  matchLabels: {tier: data}\n")
    with pytest.raises(PipelineOutputError, match="names directory 'db', but the output has nothing there"):
        build_workload_groups(_output({"a.yaml": b"a"}), selectors, [], workflow_type="resource")
    with pytest.raises(PipelineOutputError, match="the output has a file there"):
        build_workload_groups(_output({"db": b"a"}), selectors, [], workflow_type="resource")


def test_groups_are_sorted_by_directory_whatever_the_selector_order() -> None:
    forward = parse_destination_selectors(
        "- directory: b\n  matchLabels: {x: y}\n- directory: a\n  matchLabels: {x: z}\n"
    )
    output = _output({"a/1": b"1", "b/2": b"2", "c": b"3"}, "a", "b")
    groups = build_workload_groups(output, forward, [], workflow_type="resource")
    assert [g.directory for g in groups] == [".", "a", "b"]
    assert groups == build_workload_groups(output, list(reversed(forward)), [], workflow_type="resource")


def test_promise_and_promise_workflow_selectors_are_squashed_per_source() -> None:
    scheduling = parse_promise_scheduling(
        "- matchlabels: {env: dev}\n  source: promise\n"
        "- matchlabels: {env: prod, zone: eu}\n  source: promise\n"
        "- matchlabels: {pw: 'yes'}\n  source: promise-workflow\n"
    )
    [group] = build_workload_groups(_output({"a": b"a"}), [], scheduling, workflow_type="resource")
    assert [s.to_dict() for s in group.destination_selectors] == [
        {"matchLabels": {"pw": "yes"}, "source": "promise-workflow"},
        {"matchLabels": {"env": "dev", "zone": "eu"}, "source": "promise"},
    ]


def test_group_to_dict_is_the_work_wire_format() -> None:
    [group] = build_workload_groups(_output({"a.yaml": b"a"}), [], [], workflow_type="resource")
    assert group.to_dict() == {
        "id": DEFAULT_GROUP_ID,
        "directory": ".",
        "workloads": [{"filepath": "a.yaml", "content": encode_content(b"a")}],
    }


def test_unknown_workflow_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="workflow type"):
        build_workload_groups(_output({}), [], [], workflow_type="other")


# -- YAML validation -------------------------------------------------------------------------------


def test_yaml_outputs_must_parse_and_the_error_names_file_and_line() -> None:
    with pytest.raises(PipelineOutputError) as caught:
        check_yaml_files({"ok.yaml": b"a: 1\n", "dir/bad.yml": b"a: 1\nb: [unclosed\n"})
    message = str(caught.value)
    assert message.startswith("output file dir/bad.yml is not valid YAML")
    assert "line 3" in message


def test_multi_document_yaml_custom_tags_and_non_yaml_files_are_fine() -> None:
    check_yaml_files(
        {
            "multi.yaml": b"apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n---\n",
            "cfn.yaml": b"apiVersion: cfn.example/v1\nkind: Stack\nValue: !Ref Thing\nList: !GetAZs []\n",
            "script.sh": b"echo {{ not: yaml: at all\n",
            "blob.bin": b"\xff\xfe",
        }
    )


def test_yaml_outputs_must_be_utf8() -> None:
    with pytest.raises(PipelineOutputError, match=r"output file bad\.yaml is not UTF-8"):
        check_yaml_files({"bad.yaml": b"a: \xff\n"})
