"""The fault suite's system and its invariants (issue 11).

One fast-mode platform, a real Git server with basic auth holding the state store, a Destination,
and a Promise whose pipeline writes one file per request and records every run. Faults are
injected around it; :meth:`FaultSystem.check` then asserts the same invariants every time:

- every request reaches its final state (configure workflow completed, Reconciled True);
- no pipeline ran twice for one spec;
- each request's file is in the store exactly once, at its path, with the spec's content;
- no empty commit and no two commits with the same tree in a row;
- after deletion, nothing is left and nothing is stuck with a finalizer;
- the store's password is in no log line, status or Event.
"""

from __future__ import annotations

import logging
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.integration.test_operator_fast import REDIS, promise_body

PASSWORD = "fault-Suite-pa55word"
PROMISE = "redis"
FIGURES: Counter[str] = Counter()
"""kills, faults injected, requests checked, invariants held: printed at the end of the run."""


def held(count: int = 1) -> None:
    FIGURES["invariants held"] += count


class Runs:
    """The pipeline step: writes ``<request>.yaml`` with the spec's size, counts runs per spec."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        self.control: dict[str, list[dict[str, Any]]] = {}
        """request name -> workflow-control.yaml documents its next runs write (then real output)."""
        self.paused: Counter[str] = Counter()

    def step(self, ctx: Any) -> int:
        obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
        name, size = obj["metadata"]["name"], obj["spec"].get("size", "small")
        if self.control.get(name):
            # A run that asks to be suspended or retried writes no output: it is not the spec's run.
            document = self.control[name].pop(0)
            (ctx.path("/kratix/metadata") / "workflow-control.yaml").write_text(yaml.safe_dump(document))
            self.paused[name] += 1
            return 0
        self.seen[(name, size)] += 1
        (ctx.path("/kratix/output") / f"{name}.yaml").write_text(
            yaml.safe_dump(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"size": size}}
            )
        )
        return 0


class Teardown:
    """The delete pipeline: fails while ``failing`` is set, counts its runs."""

    def __init__(self) -> None:
        self.failing = False
        self.runs = 0

    def step(self, ctx: Any) -> int:
        self.runs += 1
        if self.failing:
            ctx.log("teardown: the database refuses to go")
            return 2
        return 0


def steps(runs: Runs, teardown: Teardown | None = None) -> dict[str, Callable[[Any], int]]:
    found: dict[str, Callable[[Any], int]] = {"test/first:v1": runs.step}
    if teardown is not None:
        found["test/teardown:v1"] = teardown.step
    return found


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return dict(cond.find(((obj or {}).get("status") or {}).get("conditions"), kind) or {})


@dataclass
class FaultSystem:
    kube: k.Kube
    git: GitServer
    repo: str
    runs: Runs
    requests: dict[str, str] = field(default_factory=dict)
    """request name -> the size it was last given."""

    # -- setup -------------------------------------------------------------------------------------
    def install(self, *, secret: str = "git-creds", delete_pipeline: bool = False) -> None:
        self.create_secret(secret)
        self.create_store(secret)
        self.kube.create(
            r.DESTINATIONS,
            {
                "apiVersion": c.API_VERSION,
                "kind": "Destination",
                "metadata": {"name": "worker", "labels": {"env": "dev"}},
                "spec": {"path": "worker", "stateStoreRef": {"kind": "GitStateStore", "name": "git"}},
            },
        )
        self.kube.create(
            r.PROMISES, promise_body("first", delete="teardown" if delete_pipeline else None, name=PROMISE)
        )
        wait_for(
            lambda: (
                ((self.kube.get(r.PROMISES, PROMISE) or {}).get("status") or {}).get("status") == "Available"
            ),
            timeout=60,
            what="the Promise to become Available",
        )

    def create_secret(self, name: str = "git-creds") -> None:
        self.kube.create(
            k.SECRETS,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": "default"},
                "stringData": {"username": "kratix", "password": PASSWORD},
            },
        )

    def create_store(self, secret: str = "git-creds") -> None:
        self.kube.create(
            r.GIT_STATE_STORES,
            {
                "apiVersion": c.API_VERSION,
                "kind": "GitStateStore",
                "metadata": {"name": "git"},
                "spec": {
                    "url": self.git.http_url(self.repo),
                    "secretRef": {"name": secret, "namespace": "default"},
                },
            },
        )

    def request(self, name: str, size: str = "small") -> None:
        body = {
            "apiVersion": REDIS.api_version,
            "kind": "Redis",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"size": size},
        }
        if name in self.requests:
            self.kube.patch(REDIS, name, {"spec": {"size": size}}, "default")
        else:
            self.kube.create(REDIS, body)
        self.requests[name] = size

    # -- invariants --------------------------------------------------------------------------------
    def _final(self, name: str) -> dict[str, Any] | None:
        obj = self.kube.get(REDIS, name, "default")
        if obj is None or obj.get("spec", {}).get("size") != self.requests[name]:
            return None
        if condition(obj, c.CONDITION_RECONCILED).get("status") != "True":
            return None
        path = self.file_path(name)
        return obj if path and f"size: {self.requests[name]}" in self.tree()[path] else None

    def describe(self, name: str) -> str:
        """What a stuck request, its Works and placements say (for the failure message)."""

        def said(obj: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
            return [
                (str(x.get("type")), str(x.get("status")), str(x.get("reason")), str(x.get("message"))[:200])
                for x in ((obj or {}).get("status") or {}).get("conditions") or []
            ]

        lines = [f"request: {said(self.kube.get(REDIS, name, 'default'))}"]
        for kind in (r.WORKS, r.WORKPLACEMENTS):
            for obj in self.kube.list(kind, None, labels={c.LABEL_RESOURCE_NAME: name}):
                lines.append(f"{kind.kind} {obj['metadata']['name']}: {said(obj)}")
        lines.append(f"store: {said(self.kube.get(r.GIT_STATE_STORES, 'git'))}")
        return "\n".join(lines)

    def file_path(self, name: str) -> str | None:
        found = [p for p in self.tree() if p.endswith(f"/{name}.yaml")]
        return found[0] if len(found) == 1 else None

    def tree(self) -> dict[str, str]:
        return {p: v.decode() for p, v in self.git.read_tree(self.repo).items()}

    def check_converged(self, timeout: float = 120) -> None:
        for name in self.requests:
            try:
                wait_for(
                    lambda n=name: self._final(n),
                    timeout=timeout,
                    what=f"request {name} to reach its final state",
                )
            except AssertionError as error:
                raise AssertionError(f"{error}\n{self.describe(name)}") from None
            FIGURES["requests checked"] += 1
        held()  # every request reached its final state
        twice = {key: count for key, count in self.runs.seen.items() if count > 1}
        assert not twice, f"pipelines ran more than once for one spec: {twice}"
        held()
        tree = self.tree()
        for name, size in self.requests.items():
            paths = [p for p in tree if p.endswith(f"/{name}.yaml")]
            assert len(paths) == 1, f"{name}.yaml is in the store {len(paths)} times: {paths}"
            assert paths[0].startswith(f"worker/resources/default/{PROMISE}/{name}/"), paths[0]
            assert f"size: {size}" in tree[paths[0]]
        held()
        self.check_commits()

    def check_commits(self) -> None:
        git_dir = str(self.git.repo_path(self.repo))
        lines = subprocess.run(
            ["git", "--git-dir", git_dir, "log", "--format=%H %T %P", "main"],
            capture_output=True, text=True, check=True,
        ).stdout.split("\n")  # fmt: skip
        trees = {}
        for line in filter(None, lines):
            sha, tree, *parents = line.split()
            trees[sha] = (tree, parents)
        for sha, (tree, parents) in trees.items():
            for parent in parents:
                parent_tree = trees.get(parent, (None, []))[0]
                assert parent_tree != tree, f"commit {sha} changes nothing (empty or duplicate commit)"
        held()

    def delete_all(self, timeout: float = 120) -> None:
        for name in self.requests:
            self.kube.delete(REDIS, name, "default")
        self.check_gone(timeout)

    def check_gone(self, timeout: float = 120, *, files_removed: bool = True) -> None:
        wait_for(
            lambda: not self.kube.list(REDIS, "default"), timeout=timeout, what="every request to be deleted"
        )
        wait_for(
            lambda: (
                not self.kube.list(r.WORKS, None, labels={c.LABEL_WORK_TYPE: "resource"})
                and not self.kube.list(r.WORKPLACEMENTS, None, labels={c.LABEL_WORK_TYPE: "resource"})
            ),
            timeout=timeout,
            what="the requests' Works and WorkPlacements to go",
        )
        held()  # nothing stuck with finalizers
        if not files_removed:
            self.check_commits()
            return
        wait_for(
            lambda: not [p for p in self.tree() if p.startswith(f"worker/resources/default/{PROMISE}/")],
            timeout=timeout,
            what="the requests' files to leave the store",
        )
        held()
        self.check_commits()

    def check_no_credentials(self, logs: Iterable[str]) -> None:
        leaked = [line for line in logs if PASSWORD in line]
        assert not leaked, f"the password is in the logs: {leaked[:2]}"
        objects: list[dict[str, Any]] = []
        for resource in (r.GIT_STATE_STORES, r.DESTINATIONS, r.WORKS, r.WORKPLACEMENTS, r.PROMISES):
            objects += self.kube.list(resource, None)
        objects += self.kube.list(REDIS, None) + self.kube.list(k.EVENTS, None)
        for obj in objects:
            assert PASSWORD not in yaml.safe_dump(obj.get("status") or {}), obj["metadata"]["name"]
            assert PASSWORD not in str(obj.get("message") or ""), obj["metadata"]["name"]
        held()


def log_lines(records: Iterable[logging.LogRecord]) -> list[str]:
    return [record.getMessage() for record in records]
