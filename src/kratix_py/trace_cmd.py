"""``kratix-py trace KIND/NAME``: fetch what a request (or Promise) touched and print the tree.

The fetching lives here, the rules in :mod:`kratix_py.trace`. Reads only (get/list and pod logs):
the command is safe to run against production with a read-only kubeconfig. The pod logs it shows
are masked with the values of the Secrets the pod reads; when those Secrets cannot be read, the
log is left out instead of shown unmasked.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, Final

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.errors import CommandError
from kratix_py.trace import LOG_LINES, JobLog, Snapshot, build, is_sub_request, not_ready, render, to_json

FLUX_KUSTOMIZATIONS: Final = k.Resource(
    "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", True, "Kustomization"
)
ARGO_APPLICATIONS: Final = k.Resource("argoproj.io", "v1alpha1", "applications", True, "Application")
MAX_DEPTH: Final = 5
"""Sub-requests are followed this deep: compound Promises nest a few levels, never more."""

EXIT_NOT_READY: Final = 3
"""Exit code when something on the path is not Ready (1 is an error running the command)."""

DESCRIPTION: Final = """\
Show where a request or Promise went, as a tree:
  request -> pipeline Jobs (phase, attempts, the failing container's last log lines)
          -> Works -> WorkPlacements -> Destination -> state store, path and commit (versionID)
          -> with --worker-kubeconfig: the Flux Kustomization / Argo CD Application applying it
  and the requests its pipelines created (compound Promises: requests labelled
  kratix.io/component-of-{promise-name,resource-name,resource-namespace} as Kratix's docs ask,
  or the older kratix.io/parent-* labels, or with an ownerReference to it).

KIND is a Promise's request kind (kind, plural, singular or short name, optionally .group), or
'promise' to trace a Promise (its promise workflows and dependency Works)."""

EPILOG: Final = f"""\
exit codes: 0 every object on the path is Ready; {EXIT_NOT_READY} something is not Ready (the tree
marks it READY False), so 'kratix-py trace' can gate a CI job; 1 the object was not found or the
API could not be reached.

examples:
  kratix-py trace redis/my-redis -n default
  kratix-py trace promise/redis -o wide
  kratix-py trace redis/my-redis -n team-a -o json --worker-kubeconfig worker.kubeconfig"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("target", metavar="KIND/NAME", help="e.g. redis/my-redis or promise/redis")
    parser.add_argument(
        "-n", "--namespace", help="the request's namespace (default: the kubeconfig context's, else default)"
    )
    parser.add_argument(
        "-o", "--output", choices=("tree", "wide", "json"), default="tree",
        help="tree (default), wide (adds pipeline, attempts, paths, commits, revisions) or json",
    )  # fmt: skip
    parser.add_argument("--kubeconfig", help="the platform cluster (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument(
        "--worker-kubeconfig", action="append", default=[], metavar="PATH",
        help="a worker cluster's kubeconfig: adds the Flux Kustomizations / Argo CD Applications that "
        "apply each Destination's files and their status (repeat for several workers)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    kind, _, name = str(args.target).partition("/")
    if not kind or not name:
        raise CommandError(f"{args.target!r} is not KIND/NAME (e.g. redis/my-redis or promise/redis)")
    kube = k.Kube(k.load_api_client(args.kubeconfig))
    workers = [k.Kube(k.load_api_client(path)) for path in args.worker_kubeconfig]
    namespace = args.namespace or _context_namespace(args.kubeconfig)
    try:
        snapshot = fetch(kube, kind, name, namespace, workers)
    except k.KubeError as error:
        raise CommandError(f"the API answered {error.status}: {error.message}") from None
    tree = build(snapshot)
    if args.output == "json":
        sys.stdout.write(to_json(tree))
    else:
        sys.stdout.write(render(tree, wide=args.output == "wide"))
    return EXIT_NOT_READY if not_ready(tree) else 0


def _context_namespace(kubeconfig: str | None) -> str:
    """The current context's namespace, as kubectl picks it when ``-n`` is not given."""
    import kubernetes

    try:
        _, current = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig or None)
    except (kubernetes.config.ConfigException, OSError):
        return "default"
    return str(((current or {}).get("context") or {}).get("namespace") or "default")


# -- finding the object ------------------------------------------------------------------------------


def _request_kind(promise: Mapping[str, Any]) -> k.Resource | None:
    crd = ((promise.get("spec") or {}).get("api") or {}).get("spec") or {}
    names = crd.get("names") or {}
    versions = crd.get("versions") or []
    storage = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    if not names.get("plural") or not crd.get("group") or storage is None:
        return None
    return k.Resource(
        str(crd["group"]), str(storage["name"]), str(names["plural"]), True, str(names.get("kind") or "")
    )


def _names_of(promise: Mapping[str, Any]) -> set[str]:
    crd = ((promise.get("spec") or {}).get("api") or {}).get("spec") or {}
    names = crd.get("names") or {}
    plain = {str(names.get(key) or "").lower() for key in ("kind", "plural", "singular")}
    plain |= {str(short).lower() for short in names.get("shortNames") or []}
    plain.discard("")
    return plain | {f"{entry}.{crd.get('group')}".lower() for entry in plain}


def fetch(kube: k.Kube, kind: str, name: str, namespace: str, workers: list[k.Kube]) -> Snapshot:
    """The snapshot of ``kind/name`` and, recursively, of its sub-requests."""
    from kratix_py.operator import resources as r

    fetcher = _Fetcher(kube, workers, kube.list(r.PROMISES))
    promises = fetcher.promises
    if kind.lower() in ("promise", "promises", f"promises.{c.GROUP}"):
        promise = next((p for p in promises if p["metadata"]["name"] == name), None)
        if promise is None:
            raise CommandError(f"Promise {name} not found")
        return fetcher.snapshot(promise, promise, is_promise=True, depth=0)
    for promise in promises:
        if kind.lower() in _names_of(promise):
            resource = _request_kind(promise)
            if resource is None:
                break
            obj = kube.get(resource, name, namespace)
            if obj is None:
                raise CommandError(f"{resource.kind} {namespace}/{name} not found")
            return fetcher.snapshot(obj, promise, is_promise=False, depth=0)
    kinds = sorted(resource.kind for resource in (_request_kind(p) for p in promises) if resource)
    raise CommandError(
        f"no Promise offers a kind called {kind!r}; installed kinds: {', '.join(kinds) or 'none'} "
        "(or use promise/NAME)"
    )


class _Fetcher:
    """Reads what the snapshots need; what every level of sub-requests shares is read once."""

    def __init__(self, kube: k.Kube, workers: list[k.Kube], promises: list[dict[str, Any]]) -> None:
        self.kube, self.workers, self.promises = kube, workers, promises
        self._requests: dict[str, list[dict[str, Any]]] = {}
        self._appliers: list[dict[str, Any]] | None = None
        self._seen: set[str] = set()

    def appliers(self) -> list[dict[str, Any]] | None:
        if not self.workers:
            return None
        if self._appliers is None:
            self._appliers = []
            for worker in self.workers:
                for resource in (FLUX_KUSTOMIZATIONS, ARGO_APPLICATIONS):
                    self._appliers += [{**item, "kind": resource.kind} for item in worker.list(resource)]
        return self._appliers

    def requests(self, promise: Mapping[str, Any]) -> list[dict[str, Any]]:
        resource = _request_kind(promise)
        if resource is None:
            return []
        name = str(promise["metadata"]["name"])
        if name not in self._requests:
            self._requests[name] = self.kube.list(resource, None)
        return self._requests[name]

    def snapshot(
        self, obj: dict[str, Any], promise: Mapping[str, Any], *, is_promise: bool, depth: int
    ) -> Snapshot:
        from kratix_py.operator import resources as r

        kube = self.kube
        self._seen.add(str(obj["metadata"].get("uid") or ""))
        promise_name = str(promise["metadata"]["name"])
        name = str(obj["metadata"]["name"])
        namespace = "" if is_promise else str(obj["metadata"].get("namespace") or "")
        selector = {c.LABEL_PROMISE_NAME: promise_name}
        if is_promise:
            jobs = kube.list(k.JOBS, None, labels={**selector, c.LABEL_WORKFLOW_TYPE: "promise"})
            works = [w for w in kube.list(r.WORKS, None, labels=selector) if not _is_request_output(w)]
        else:
            wanted = {**selector, c.LABEL_RESOURCE_NAME: name}
            jobs = [
                job
                for job in kube.list(k.JOBS, None, labels={**wanted, c.LABEL_WORKFLOW_TYPE: "resource"})
                if _request_namespace(job) == namespace
            ]
            works = [w for w in kube.list(r.WORKS, None, labels=wanted) if _request_namespace(w) == namespace]
        placements: list[dict[str, Any]] = []
        for work in works:
            placements += kube.list(
                r.WORKPLACEMENTS,
                work["metadata"].get("namespace"),
                labels={c.LABEL_WORK: work["metadata"]["name"]},
            )
        destinations: dict[str, dict[str, Any]] = {}
        stores: dict[tuple[str, str], dict[str, Any]] = {}
        for placement in placements:
            target = str((placement.get("spec") or {}).get("targetDestinationName") or "")
            if target and target not in destinations:
                found = kube.get(r.DESTINATIONS, target)
                if found is not None:
                    destinations[target] = found
        for destination in destinations.values():
            ref = (destination.get("spec") or {}).get("stateStoreRef") or {}
            key = (str(ref.get("kind") or ""), str(ref.get("name") or ""))
            if key not in stores and key[0] in r.STATE_STORES:
                store = kube.get(r.STATE_STORES[key[0]], key[1])
                if store is not None:
                    stores[key] = store
        logs, secret_values, hidden = _failing_logs(kube, jobs)
        children: list[Snapshot] = []
        if not is_promise and depth < MAX_DEPTH:
            for child, child_promise in self.sub_requests(obj, promise_name):
                children.append(self.snapshot(child, child_promise, is_promise=False, depth=depth + 1))
        workflow = "promise" if is_promise else "resource"
        declared = (((promise.get("spec") or {}).get("workflows") or {}).get(workflow) or {}).get("configure")
        pipelines = [
            str((p.get("metadata") or {}).get("name") or "") for p in declared or [] if isinstance(p, Mapping)
        ]
        return Snapshot(
            root=obj, is_promise=is_promise, jobs=jobs, logs=logs, secret_values=secret_values,
            logs_hidden=hidden, pipelines=[p for p in pipelines if p], works=works, placements=placements,
            destinations=destinations, stores=stores, appliers=self.appliers(), children=children,
        )  # fmt: skip

    def sub_requests(
        self, parent: Mapping[str, Any], promise_name: str
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Requests of any Promise that :func:`~kratix_py.trace.is_sub_request` says belong to ``parent``.

        A request already in the tree is not followed again (a label loop must not recurse).
        """
        found = [
            (item, promise)
            for promise in self.promises
            for item in self.requests(promise)
            if is_sub_request(item, parent, promise_name)
            and str(item["metadata"].get("uid") or "") not in self._seen
        ]
        found.sort(key=lambda pair: (str(pair[0].get("kind")), *_key(pair[0])))
        return found


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return (str(obj["metadata"].get("namespace") or ""), str(obj["metadata"]["name"]))


def _is_request_output(work: Mapping[str, Any]) -> bool:
    return bool(
        ((work.get("spec") or {}).get("resourceName"))
        or (work["metadata"].get("labels") or {}).get(c.LABEL_RESOURCE_NAME)
    )


def _request_namespace(obj: Mapping[str, Any]) -> str:
    """The namespace of the request an object belongs to (pipelines may run elsewhere)."""
    labels = obj["metadata"].get("labels") or {}
    return str(labels.get(c.LABEL_RESOURCE_NAMESPACE) or obj["metadata"].get("namespace") or "")


def _failing_logs(kube: k.Kube, jobs: list[dict[str, Any]]) -> tuple[dict[str, JobLog], list[str], bool]:
    """The failing container's log of each failed Job, the Secret values to mask, whether hidden."""
    from kratix_py.core.jobs import removed_note
    from kratix_py.operator.pod_failures import failed_container, recorded_container_failure
    from kratix_py.operator.workflows import pod_secret_values

    logs: dict[str, JobLog] = {}
    values: set[str] = set()
    hidden = False
    for job in jobs:
        conditions = (job.get("status") or {}).get("conditions") or []
        if not any(e.get("type") == "Failed" and e.get("status") == "True" for e in conditions):
            continue
        namespace = str(job["metadata"].get("namespace") or "")
        try:
            pods = kube.list(k.PODS, namespace, labels={"job-name": job["metadata"]["name"]})
        except k.KubeError:
            continue
        note = removed_note(job)
        recorded = recorded_container_failure(job)
        if not pods and recorded is not None:
            # The Job controller deleted the pod when the Job failed (restartPolicy OnFailure,
            # Kratix's), or the pod TTL did: the operator kept what it said on the Job, masked.
            container, said = recorded
            gone = [f"({note})"] if note else []
            logs[str(job["metadata"]["name"])] = JobLog("", container, "\n".join([*said, *gone]))
            continue
        if not pods and note:
            # Not an error: the operator deleted them after the pod TTL, and says so.
            logs[str(job["metadata"]["name"])] = JobLog("", "", f"(log not available: {note})")
            continue
        pods.sort(key=lambda pod: str(pod["metadata"].get("creationTimestamp") or ""))
        for pod in reversed(pods):
            failed = failed_container(pod)
            if failed is None:
                continue
            container, _, previous = failed  # after a restart, the failed run is the previous one
            secrets = pod_secret_values(kube, namespace, pod)
            if secrets is None:
                hidden = True
            else:
                values.update(secrets)
            try:
                text = kube.request_text(
                    k.PODS.path(namespace, pod["metadata"]["name"], "log"),
                    query={
                        "container": container,
                        "tailLines": LOG_LINES * 2,
                        **({"previous": "true"} if previous else {}),
                    },
                )
            except k.KubeError as error:
                text = f"(log not available: {error.message})"
            logs[str(job["metadata"]["name"])] = JobLog(str(pod["metadata"]["name"]), container, text)
            break
    return logs, sorted(values), hidden
