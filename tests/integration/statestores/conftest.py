"""Real servers for the state-store writer tests: one Git server and one S3 server per module."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.s3server import S3Server

_names = itertools.count()


@pytest.fixture(scope="module")
def git_server() -> Iterator[GitServer]:
    with GitServer(
        username="kratix", password="correct-horse-battery", read_only_users={"reader": "reader-pw"}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def repo(git_server: GitServer) -> str:
    """A fresh, empty repository on the shared Git server."""
    name = f"store-{next(_names)}"
    git_server.create_repo(name)
    return name


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh versioned bucket (versions let tests count uploads)."""
    name = f"kratix-{next(_names)}"
    s3_server.create_bucket(name, versioned=True)
    return name
