from pathlib import Path

import pytest

from kratix_py.authoring.documents import (
    DocumentError,
    format_path,
    parse_documents,
    parse_path,
    read_objects,
    read_one_object,
)


def test_a_yaml_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(DocumentError) as raised:
        parse_documents("spec:\n  size: small\n   team: a\n", "promise.yaml")
    assert str(raised.value).startswith("promise.yaml:3:")
    assert "invalid YAML" in str(raised.value)


def test_lines_are_found_for_yaml_paths_down_to_the_deepest_existing_node() -> None:
    text = "spec:\n  containers:\n    - name: a\n    - name: b\n      image: x\n"
    document = parse_documents(text, "f.yaml")[0]
    assert document.line_of(parse_path("spec.containers[1].image")) == 5
    assert document.where(["spec", "containers", 1, "missing"]) == "f.yaml:4"
    assert document.line_of(["nothing"]) == 1


@pytest.mark.parametrize("text", ["spec.containers[0].image", "a", "x[1][2].y"])
def test_paths_round_trip(text: str) -> None:
    assert format_path(parse_path(text)) == text


def test_the_api_servers_bracketed_property_names_are_read() -> None:
    assert parse_path("spec.properties[size].type") == ["spec", "properties", "size", "type"]


def test_lists_and_multi_document_files_give_one_object_each(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("- {kind: A}\n- {kind: B}\n---\nkind: C\n---\n")
    assert [d.kind for d in read_objects(path)] == ["A", "B", "C"]


def test_a_file_must_hold_exactly_one_object_when_one_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("kind: Promise\n---\nkind: Promise\n")
    with pytest.raises(DocumentError, match="contains 2 documents"):
        read_one_object(path, "p.yaml", what="Promise")
    path.write_text("# nothing\n")
    with pytest.raises(DocumentError, match="the file is empty"):
        read_one_object(path, "p.yaml", what="Promise")
    path.write_text("just a string\n")
    with pytest.raises(DocumentError, match="expected a Promise"):
        read_one_object(path, "p.yaml", what="Promise")


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        read_objects(tmp_path / "missing.yaml", "missing.yaml")
    with pytest.raises(DocumentError, match="is a directory"):
        read_objects(tmp_path, "dir")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DocumentError, match="not UTF-8"):
        read_objects(binary, "b.yaml")
