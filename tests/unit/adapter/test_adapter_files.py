"""Files a pipeline wrote are read only if they are regular files, and only up to their limit."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from kratix_py.adapter.files import UnreadableFileError, read_bounded


def test_a_regular_file_is_read_and_a_missing_one_is_none(tmp_path: Path) -> None:
    (tmp_path / "status.yaml").write_bytes(b"message: ok\n")
    assert read_bounded(tmp_path / "status.yaml", max_bytes=100, what="status.yaml") == b"message: ok\n"
    assert read_bounded(tmp_path / "absent.yaml", max_bytes=100, what="absent.yaml") is None


def test_a_symbolic_link_is_refused_even_to_a_readable_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret: service-account-token\n")
    (tmp_path / "status.yaml").symlink_to(token)
    with pytest.raises(UnreadableFileError, match=r"^status\.yaml is a symbolic link; write a regular file"):
        read_bounded(tmp_path / "status.yaml", max_bytes=100, what="status.yaml")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnreadableFileError, match="symbolic link"):
        read_bounded(tmp_path / "dangling.yaml", max_bytes=100, what="dangling.yaml")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "status.yaml")
    outcome: list[BaseException | bytes | None] = []

    def read() -> None:
        try:
            outcome.append(read_bounded(tmp_path / "status.yaml", max_bytes=100, what="status.yaml"))
        except UnreadableFileError as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the reader before failing, so the test run does not hang
        with open(tmp_path / "status.yaml", "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "is a pipe (FIFO)" in str(outcome[0])


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "status.yaml").mkdir()
    with pytest.raises(UnreadableFileError, match="is a directory"):
        read_bounded(tmp_path / "status.yaml", max_bytes=100, what="status.yaml")


def test_a_file_over_its_limit_is_refused_with_its_size_and_the_variable(tmp_path: Path) -> None:
    big = tmp_path / "status.yaml"
    with open(big, "wb") as stream:
        stream.truncate(5 * 1024 * 1024)  # sparse: costs no disk and is never read
    with pytest.raises(
        UnreadableFileError,
        match=r"^status\.yaml is 5\.0 MiB, over the limit of 256\.0 KiB \(set KRATIX_PY_MAX_STATUS_BYTES",
    ):
        read_bounded(big, max_bytes=256 * 1024, what="status.yaml", limit_hint="KRATIX_PY_MAX_STATUS_BYTES")
