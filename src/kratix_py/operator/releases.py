"""PromiseReleases: install a Promise from an http(s) URL at a version (kratix-behaviour.md §1.7).

A release is installed once per generation: the document at ``spec.sourceRef.url`` is fetched (with
the ``authorizationHeader`` of ``spec.sourceRef.secretRef`` as the Authorization header), must be
exactly one Promise whose ``kratix.io/promise-version`` label equals ``spec.version`` (an empty
version is taken from the label and written back), and is created or updated: spec replaced,
labels and annotations merged, the ``kratix.io/promise-release-name`` label and an owner reference
to the release added. Changing the version (or URL) is a new generation, so it upgrades. A Promise
of the release that disappears is installed again.

Condition ``Installed`` says what happened, with Kratix's reasons (``InstalledSuccessfully``,
``FailedToFetchPromise``, ``VersionLabelNotFound``, ``VersionNotMatching``,
``FailedToCreateOrUpdatePromise``) and a message that names the field and the fix. Deleting a
release deletes its Promises first (finalizer ``kratix.io/promise-cleanup``), waiting for them to
go; the release's status says which Promise it waits for.
"""

from __future__ import annotations

import base64
import copy
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import urllib3
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import PromiseRelease
from kratix_py.core import conditions as cond
from kratix_py.operator import resources as r
from kratix_py.operator.queue import Key
from kratix_py.operator.reconciler import Reconciler
from kratix_py.operator.statestores import backoff

log = logging.getLogger(__name__)

CONDITION_INSTALLED = "Installed"
STATUS_INSTALLED = "Installed"
STATUS_ERROR = "Error installing"
AUTHORIZATION_KEY = "authorizationHeader"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
FETCH_TIMEOUT = 30.0
RETRY_BACKOFF = (2.0, 300.0)
"""Look again after a failed install, 2 s doubling to 5 min: a URL that answered 404 or a missing
Secret may be fixed without an edit of the release."""
WAIT_FOR_PROMISE = timedelta(seconds=2)


def release_key(name: str) -> tuple[str, str]:
    return ("promiserelease", name)


class ReleaseError(Exception):
    """An install step failed: ``reason`` is the condition reason, the message says what to fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    promise: dict[str, Any]
    version: str


def parse_promise_document(text: str, url: str) -> dict[str, Any]:
    """The one Promise a release URL must serve, or a ReleaseError naming what was found instead."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise ReleaseError("FailedToFetchPromise", f"{url} did not return YAML ({error})") from None
    promises = [
        d
        for d in documents
        if isinstance(d, dict) and d.get("kind") == "Promise" and d.get("apiVersion") == c.API_VERSION
    ]
    if len(documents) != 1 or len(promises) != 1:
        found = ", ".join(str(d.get("kind")) if isinstance(d, dict) else type(d).__name__ for d in documents)
        raise ReleaseError(
            "FailedToFetchPromise",
            f"{url} must serve exactly one {c.API_VERSION} Promise, found {len(documents)} document(s)"
            + (f" ({found})" if found else "")
            + ": point spec.sourceRef.url at the Promise's own file",
        )
    promise = promises[0]
    if not ((promise.get("metadata") or {}).get("name")):
        raise ReleaseError("FailedToFetchPromise", f"the Promise at {url} has no metadata.name")
    return promise


def check_version(promise: dict[str, Any], wanted: str | None, url: str) -> str:
    """The release's version: the Promise's label, which must equal ``wanted`` when that is set."""
    label = ((promise.get("metadata") or {}).get("labels") or {}).get(c.LABEL_PROMISE_VERSION)
    if not label:
        raise ReleaseError(
            "VersionLabelNotFound",
            f"the Promise at {url} has no {c.LABEL_PROMISE_VERSION} label: a release needs a versioned Promise",
        )
    if wanted and wanted != label:
        raise ReleaseError(
            "VersionNotMatching",
            f"spec.version is {wanted} but the Promise at {url} is version {label}: "
            "set spec.version to the Promise's version or point the URL at that version",
        )
    return str(label)


def desired_promise(
    fetched: dict[str, Any], existing: dict[str, Any] | None, release: dict[str, Any]
) -> dict[str, Any]:
    """The Promise to write: the fetched spec, the existing metadata merged with the fetched labels,
    annotations, the release label and an owner reference to the release."""
    meta_in = fetched.get("metadata") or {}
    rel_meta = release["metadata"]
    body: dict[str, Any] = copy.deepcopy(existing) if existing else {"metadata": {"name": meta_in["name"]}}
    body["apiVersion"], body["kind"] = c.API_VERSION, "Promise"
    body.pop("status", None)
    meta = body["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **(meta_in.get("labels") or {})}
    meta["labels"][c.LABEL_PROMISE_RELEASE_NAME] = rel_meta["name"]
    annotations = {**(meta.get("annotations") or {}), **(meta_in.get("annotations") or {})}
    if annotations:
        meta["annotations"] = annotations
    owner = {
        "apiVersion": c.API_VERSION,
        "kind": "PromiseRelease",
        "name": rel_meta["name"],
        "uid": rel_meta["uid"],
        "blockOwnerDeletion": True,
        "controller": True,
    }
    others = [o for o in meta.get("ownerReferences") or [] if o.get("uid") != rel_meta["uid"]]
    meta["ownerReferences"] = [*others, owner]
    body["spec"] = copy.deepcopy(fetched.get("spec") or {})
    return body


class PromiseReleaseReconciler(Reconciler[PromiseRelease]):
    """Reconciles one PromiseRelease per call; see the module docstring."""

    resource = r.PROMISE_RELEASES
    model_type = PromiseRelease

    def __init__(self, kube: k.Kube, **options: Any) -> None:
        super().__init__(kube, **options)
        self.http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=FETCH_TIMEOUT), retries=urllib3.Retry(total=2, redirect=5)
        )
        self._failures: dict[Key, int] = {}

    def gone(self, key: Key) -> timedelta | None:
        self._failures.pop(key, None)
        return None

    # -- the steps --------------------------------------------------------------------------------
    def reconcile(self, key: Key, obj: dict[str, Any], release: PromiseRelease) -> timedelta | None:
        obj = self.keep_finalizers(obj, [c.FINALIZER_PROMISE_RELEASE_CLEANUP])
        generation = obj["metadata"].get("generation")
        installed = self._promises_of(release.name)
        if (
            release.status.observed_generation == generation
            and release.status.status == STATUS_INSTALLED
            and installed
        ):
            return None
        try:
            fetched = self._fetch(release)
            if not release.spec.version:
                # Kratix fills an empty version in from the Promise; the patch is a new generation.
                self.kube.patch(r.PROMISE_RELEASES, release.name, {"spec": {"version": fetched.version}})
                return timedelta(0)
            self._install(obj, fetched)
        except ReleaseError as error:
            log.warning("PromiseRelease %s: %s", release.name, error)
            self._report(obj, generation, cond.FALSE, error.reason, str(error))
            self._failures[key] = failures = self._failures.get(key, 0) + 1
            return timedelta(seconds=backoff(failures, *RETRY_BACKOFF))
        self._failures.pop(key, None)
        name = fetched.promise["metadata"]["name"]
        self._report(
            obj, generation, cond.TRUE, "InstalledSuccessfully", f"Promise {name} {fetched.version} installed"
        )
        return None

    def delete(self, key: Key, obj: dict[str, Any], release: PromiseRelease | None) -> timedelta | None:
        if c.FINALIZER_PROMISE_RELEASE_CLEANUP not in (obj["metadata"].get("finalizers") or []):
            return None
        name = obj["metadata"]["name"]
        remaining = self._promises_of(name)
        for promise in remaining:
            if not promise["metadata"].get("deletionTimestamp"):
                self.kube.delete(r.PROMISES, promise["metadata"]["name"])
        if remaining:
            waiting = ", ".join(sorted(p["metadata"]["name"] for p in remaining))
            self._report(
                obj,
                obj["metadata"].get("generation"),
                cond.FALSE,
                "DeletingPromise",
                f"waiting for Promise {waiting} to be deleted (see its status for what it waits for)",
                text="Deleting",
            )
            return WAIT_FOR_PROMISE
        return self.release(obj, c.FINALIZER_PROMISE_RELEASE_CLEANUP)

    # -- helpers ----------------------------------------------------------------------------------
    def _promises_of(self, release: str) -> list[dict[str, Any]]:
        return self.kube.list(r.PROMISES, labels={c.LABEL_PROMISE_RELEASE_NAME: release})

    def _fetch(self, release: PromiseRelease) -> Fetched:
        source = release.spec.source_ref
        url = source.url
        if not url:
            raise ReleaseError(
                "FailedToFetchPromise", "spec.sourceRef.url is empty: set the URL of the Promise"
            )
        if not url.startswith(("http://", "https://")):
            raise ReleaseError(
                "FailedToFetchPromise", f"spec.sourceRef.url {url!r} is not an http(s) URL (type http)"
            )
        headers = {"Accept": "application/yaml, text/yaml, text/plain, */*"}
        authorization = self._authorization(release)
        if authorization:
            headers["Authorization"] = authorization
        try:
            answer = self.http.request("GET", url, headers=headers, preload_content=False)
        except urllib3.exceptions.HTTPError as error:
            raise ReleaseError(
                "FailedToFetchPromise",
                f"could not fetch {url}: {error.__class__.__name__}: check spec.sourceRef.url",
            ) from None
        try:
            if answer.status != 200:
                hint = " (check spec.sourceRef.secretRef)" if answer.status in (401, 403) else ""
                raise ReleaseError(
                    "FailedToFetchPromise",
                    f"{url} answered HTTP {answer.status}{hint}: check spec.sourceRef.url",
                )
            body = answer.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            answer.release_conn()
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ReleaseError("FailedToFetchPromise", f"{url} serves more than {MAX_DOCUMENT_BYTES} bytes")
        promise = parse_promise_document(body.decode("utf-8", errors="replace"), url)
        return Fetched(promise, check_version(promise, release.spec.version, url))

    def _authorization(self, release: PromiseRelease) -> str | None:
        ref = release.spec.source_ref.secret_ref
        if ref is None or not ref.name:
            return None
        namespace = ref.namespace or c.SYSTEM_NAMESPACE
        secret = self.kube.get(k.SECRETS, ref.name, namespace)
        where = f"Secret {namespace}/{ref.name} (spec.sourceRef.secretRef)"
        if secret is None:
            raise ReleaseError("FailedToFetchPromise", f"{where} does not exist: create it")
        value = (secret.get("data") or {}).get(AUTHORIZATION_KEY)
        if not value:
            raise ReleaseError("FailedToFetchPromise", f"{where} has no key {AUTHORIZATION_KEY}: add it")
        return base64.b64decode(value).decode()

    def _install(self, obj: dict[str, Any], fetched: Fetched) -> None:
        name = fetched.promise["metadata"]["name"]
        existing = self.kube.get(r.PROMISES, name)
        owner = ((existing or {}).get("metadata") or {}).get("labels", {}).get(c.LABEL_PROMISE_RELEASE_NAME)
        if existing is not None and owner and owner != obj["metadata"]["name"]:
            raise ReleaseError(
                "FailedToCreateOrUpdatePromise",
                f"Promise {name} belongs to PromiseRelease {owner}: delete that release first",
            )
        body = desired_promise(fetched.promise, existing, obj)
        try:
            if existing is None:
                self.kube.create(r.PROMISES, body)
            else:
                self.kube.replace(r.PROMISES, body)
        except k.KubeError as error:
            if error.conflict:
                raise  # someone wrote first: the queue reconciles again with fresh reads
            raise ReleaseError(
                "FailedToCreateOrUpdatePromise", f"the API refused Promise {name}: {error.message}"
            ) from None

    def _report(
        self,
        obj: dict[str, Any],
        generation: int | None,
        status: str,
        reason: str,
        message: str,
        *,
        text: str | None = None,
    ) -> None:
        old = obj.get("status") or {}
        new = copy.deepcopy(old)
        new["status"] = text or (STATUS_INSTALLED if status == cond.TRUE else STATUS_ERROR)
        new["conditions"] = cond.set_condition(
            old.get("conditions"), cond.Condition(CONDITION_INSTALLED, status, reason, message), self.clock()
        )
        if status == cond.TRUE:
            new["observedGeneration"] = generation
        events = [("Warning", reason, message)] if status != cond.TRUE else []
        self.write_status(obj, old, new, events)
