"""State-store write throughput against the local test servers.

Run: ``python bench/statestore.py`` (about 20-30 s). Prints, for the Git writer, placements per
second and commits per 1000 placements when placements are batched (the reconcile-window
design) and when each placement is its own batch (Kratix's one-commit-per-WorkPlacement), next
to the same writes done with plain ``git add/commit/push`` in a working clone (with and
without Kratix's fetch + reset before each); and objects per second for the bucket writer. Numbers are for 127.0.0.1 servers: they measure the writers'
own cost, not a network.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run by path, this script has bench/ first on sys.path, where a sibling script named like a
# package (bench/requests.py) would shadow it for boto3/moto. Drop that entry.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from kratix_py.local_platform.gitserver import GitServer  # noqa: E402
from kratix_py.local_platform.s3server import S3Server  # noqa: E402
from kratix_py.statestores import DirChange  # noqa: E402
from kratix_py.statestores.bucket import BucketStateStoreWriter  # noqa: E402
from kratix_py.statestores.git import GitStateStoreWriter  # noqa: E402

FILES_PER_PLACEMENT = 3


def placement(index: int, generation: int = 0) -> DirChange:
    """A WorkPlacement-like group: a few small manifests in a nestedByMetadata directory."""
    name = f"wp-{index:05d}"
    files = {
        f"{kind}.yaml": (
            f"kind: {kind}\nmetadata:\n  name: {name}\n  generation: {generation}\n" + "x" * 600
        ).encode()
        for kind in ("deployment", "service", "configmap")[:FILES_PER_PLACEMENT]
    }
    return DirChange(f"worker-1/resources/default/redis/{name}/instance-configure/5058f", files, name)


def bench_git_writer(server: GitServer, placements: int, batch: int) -> dict[str, float]:
    repo = f"bench-batch-{batch}"
    server.create_repo(repo)
    secret = {"username": server.username, "password": server.password}
    with GitStateStoreWriter(server.http_url(repo), secret=secret) as writer:
        writer.check_ready()
        started = time.perf_counter()
        for start in range(0, placements, batch):
            writer.write([placement(i) for i in range(start, min(start + batch, placements))])
        elapsed = time.perf_counter() - started
        # A reconcile that finds nothing to do: fetch, compare, no commit.
        noop_started = time.perf_counter()
        writer.write([placement(i) for i in range(min(batch, placements))])
        noop = time.perf_counter() - noop_started
    commits = len(server.commits(repo))
    return {
        "placements": placements,
        "batch": batch,
        "seconds": elapsed,
        "placements_per_s": placements / elapsed,
        "commits_per_1000_placements": 1000 * commits / placements,
        "noop_batch_seconds": noop,
    }


def bench_plain_git(server: GitServer, placements: int, *, sync: bool) -> dict[str, float]:
    """One commit and push per placement with the git CLI in a working clone (reference).

    ``sync`` also fetches and resets before each placement, as Kratix's writer does.
    """
    repo = f"bench-plain-{'sync' if sync else 'nosync'}"
    server.create_repo(repo, initial_files={"README": b"bench\n"})
    token = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
        "GIT_AUTHOR_NAME": "kratix",
        "GIT_AUTHOR_EMAIL": "",
        "GIT_COMMITTER_NAME": "kratix",
        "GIT_COMMITTER_EMAIL": "",
    }

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    with tempfile.TemporaryDirectory(prefix="kratix-bench-") as tmp:
        clone = Path(tmp) / "clone"
        git("clone", "-q", "--depth=1", server.http_url(repo), str(clone), cwd=Path(tmp))
        started = time.perf_counter()
        for index in range(placements):
            change = placement(index)
            if sync:
                git("fetch", "-q", "--depth=1", "origin", "main", cwd=clone)
                git("reset", "-q", "--hard", "FETCH_HEAD", cwd=clone)
                git("clean", "-q", "-ffdx", cwd=clone)
            directory = clone / change.directory
            directory.mkdir(parents=True, exist_ok=True)
            for name, content in (change.files or {}).items():
                (directory / name).write_bytes(content)
            git("add", "-A", "--", change.directory, cwd=clone)
            git("commit", "-q", "-m", f"Update from: {change.label}", cwd=clone)
            git("push", "-q", "origin", "HEAD:main", cwd=clone)
        elapsed = time.perf_counter() - started
    return {"placements": placements, "seconds": elapsed, "placements_per_s": placements / elapsed}


def bench_bucket(server: S3Server, placements: int) -> dict[str, float]:
    bucket = "kratix-bench"
    server.create_bucket(bucket)
    with BucketStateStoreWriter(server.endpoint, bucket, insecure=True, secret=server.secret_data) as writer:
        batch = [placement(i) for i in range(placements)]
        objects = placements * FILES_PER_PLACEMENT
        started = time.perf_counter()
        writer.write(batch)
        upload = time.perf_counter() - started
        started = time.perf_counter()
        result = writer.write(batch)  # identical: list + compare ETags, no uploads
        unchanged = time.perf_counter() - started
        assert not result.changed
    return {
        "objects": objects,
        "upload_objects_per_s": objects / upload,
        "unchanged_objects_per_s": objects / unchanged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--placements", type=int, default=500, help="placements for the batched Git run")
    parser.add_argument("--batch", type=int, default=50, help="placements per batch")
    parser.add_argument("--single", type=int, default=60, help="placements for the one-per-commit runs")
    parser.add_argument("--s3-placements", type=int, default=200, help="placements for the bucket run")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with GitServer(https=False, ssh=False) as git_server:
        results["git_batched"] = bench_git_writer(git_server, args.placements, args.batch)
        results["git_one_per_commit"] = bench_git_writer(git_server, args.single, 1)
        results["plain_git_one_per_commit"] = bench_plain_git(git_server, args.single, sync=False)
        results["plain_git_fetch_reset_one_per_commit"] = bench_plain_git(git_server, args.single, sync=True)
    with S3Server() as s3_server:
        results["bucket"] = bench_bucket(s3_server, args.s3_placements)

    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return
    batched, single, plain, synced, bucket = (
        results[k]
        for k in (
            "git_batched",
            "git_one_per_commit",
            "plain_git_one_per_commit",
            "plain_git_fetch_reset_one_per_commit",
            "bucket",
        )
    )
    print(f"git writer, batches of {args.batch}: {batched['placements_per_s']:.0f} placements/s, "
          f"{batched['commits_per_1000_placements']:.0f} commits per 1000 placements "
          f"({batched['placements']:.0f} placements in {batched['seconds']:.2f}s; "
          f"no-op batch {batched['noop_batch_seconds'] * 1000:.0f} ms)")  # fmt: skip
    print(f"git writer, one placement per batch: {single['placements_per_s']:.1f} placements/s, "
          f"{single['commits_per_1000_placements']:.0f} commits per 1000 placements")  # fmt: skip
    print(f"plain git add/commit/push per placement: {plain['placements_per_s']:.1f} placements/s "
          f"({plain['placements']:.0f} placements in {plain['seconds']:.2f}s)")  # fmt: skip
    print(f"plain git fetch/reset/add/commit/push per placement (Kratix-style): "
          f"{synced['placements_per_s']:.1f} placements/s")  # fmt: skip
    print(f"bucket writer: {bucket['upload_objects_per_s']:.0f} objects/s uploaded, "
          f"{bucket['unchanged_objects_per_s']:.0f} objects/s checked unchanged "
          f"({bucket['objects']:.0f} objects)")  # fmt: skip


if __name__ == "__main__":
    main()
