"""PromiseRevisions and ResourceBindings end to end (modelled on Kratix's promise_revision test).

Each Promise version is kept as a revision; every request gets a binding that follows ``latest``
or pins a version, and runs the pipelines of the version it is bound to. Bindings are edited with
the real kubectl, as users move requests between versions. A failing upgrade says so on the
binding (UpgradeSucceeded=False, once) and recovers with a fixed version; a binding to a version
that does not exist is named in the request's status; the latest revision is not deleted.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.api import decode_workload_content
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.operator.revisions import revision_name
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for
from tests.integration.test_operator_fast import (
    REDIS,
    Recorder,
    condition,
    install,
    promise_body,
    request_body,
)

V1, V2, V3 = "v0.1.0-BETA", "v0.2.0-NEXTVERSION", "v0.3.0"


def before(ctx: Any, obj: dict[str, Any]) -> None:
    _config_map(ctx, f"before-upgrade-{obj['metadata']['name']}")


def after(ctx: Any, obj: dict[str, Any]) -> None:
    _config_map(ctx, f"after-upgrade-{obj['metadata']['name']}")


def _config_map(ctx: Any, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}
    (ctx.path("/kratix/output") / "configmap.yaml").write_text(yaml.safe_dump(body))


class Breakable:
    """Makes the flaky step fail while ``broken`` is set."""

    def __init__(self) -> None:
        self.broken = threading.Event()


@pytest.fixture
def breakable() -> Breakable:
    return Breakable()


@pytest.fixture
def platform(platform_factory, breakable) -> Iterator[tuple[k.Kube, Recorder, Path]]:
    recorder = Recorder()
    steps = {
        "test/before:v1": recorder.step("before", before),
        "test/after:v1": recorder.step("after", after),
        "test/flaky:v1": _failing_step(recorder, "flaky", breakable),
    }
    platform = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(platform.api_client())
    with RunningOperator(settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)):
        # kubectl acts as the platform's user: on the real server the admin, not the operator.
        yield kube, recorder, Path(getattr(platform, "admin_kubeconfig", platform.kubeconfig))


def _failing_step(recorder: Recorder, name: str, breakable: Breakable) -> Any:
    def run(ctx: Any) -> int:
        obj = yaml.safe_load((ctx.path("/kratix/input") / "object.yaml").read_text())
        recorder.runs.append((name, obj))
        if breakable.broken.is_set():
            ctx.log("the upgrade script found no migration path")
            return 4
        after(ctx, obj)
        return 0

    return run


def versioned(version: str, step: str, delete: str | None = None) -> dict[str, Any]:
    """The Promise at ``version``: one pipeline, always named configure, running image ``step``
    (as an upgraded Promise keeps its pipeline and ships a new image), and a delete pipeline."""
    body = promise_body("configure", delete="teardown" if delete else None)
    body["metadata"]["labels"] = {c.LABEL_PROMISE_VERSION: version}
    workflows = body["spec"]["workflows"]["resource"]
    workflows["configure"][0]["spec"]["containers"][0]["image"] = f"test/{step}:v1"
    if delete:
        workflows["delete"][0]["spec"]["containers"][0]["image"] = f"test/{delete}:v1"
    return body


def upgrade(kube: k.Kube, version: str, pipeline: str, delete: str | None = None) -> None:
    body = versioned(version, pipeline, delete)
    kube.patch(r.PROMISES, "redis", {"metadata": body["metadata"], "spec": body["spec"]})
    wait_for(
        lambda: (
            (p := kube.get(r.PROMISES, "redis"))
            and p["status"].get("version") == version
            and p["status"].get("observedGeneration") == p["metadata"]["generation"]
        ),
        what=f"the Promise to be at {version}",
    )


def kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "--namespace=default", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def binding_of(kubeconfig: Path, request: str) -> str:
    """The binding's name as Kratix's suite finds it: by its labels."""
    selector = f"{c.LABEL_PROMISE_NAME}=redis,{c.LABEL_RESOURCE_NAME}={request}"
    return wait_for(
        lambda: kubectl(kubeconfig, "get", "resourcebindings", "-l", selector, "-o", "name").strip(),
        what=f"the binding of {request}",
    )


def pin(kubeconfig: Path, request: str, version: str) -> None:
    patch = json.dumps([{"op": "replace", "path": "/spec/version", "value": version}])
    kubectl(kubeconfig, "patch", binding_of(kubeconfig, request), "--type=json", "-p", patch)


def at_version(kube: k.Kube, request: str, version: str, binding_version: str) -> dict[str, Any]:
    try:
        return _at_version(kube, request, version, binding_version)
    except AssertionError as error:
        status = (kube.get(REDIS, request, "default") or {}).get("status")
        raise AssertionError(f"{error}; the request's status: {status}") from None


def _at_version(kube: k.Kube, request: str, version: str, binding_version: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (o := kube.get(REDIS, request, "default"))
            and o.get("status", {}).get("promiseVersion") == version
            and o["status"].get("resourceBindingVersion") == binding_version
            and (condition(o, "ConfigureWorkflowCompleted") or {}).get("status") == "True"
            and o["status"].get("workflowsSucceeded") == o["status"].get("workflows")
            and o
        ),
        what=f"{request} to run {version} (bound to {binding_version})",
    )


def latest_revisions(kube: k.Kube) -> list[str]:
    labels = {c.LABEL_PROMISE_NAME: "redis", c.LABEL_LATEST_REVISION: "true"}
    return sorted(rev["spec"]["version"] for rev in kube.list(r.PROMISE_REVISIONS, labels=labels))


def binding(kube: k.Kube, request: str) -> dict[str, Any]:
    labels = {c.LABEL_PROMISE_NAME: "redis", c.LABEL_RESOURCE_NAME: request}
    found = kube.list(r.RESOURCE_BINDINGS, "default", labels=labels)
    assert len(found) == 1, found
    return found[0]


def outputs(kube: k.Kube, request: str) -> set[str]:
    """The ConfigMaps the request's Works hold (what reaches its Destinations)."""
    labels = {c.LABEL_PROMISE_NAME: "redis", c.LABEL_RESOURCE_NAME: request}
    names = set()
    for work in kube.list(r.WORKS, "default", labels=labels):
        for group in work["spec"].get("workloadGroups") or []:
            for workload in group.get("workloads") or []:
                names.add(yaml.safe_load(decode_workload_content(workload["content"]))["metadata"]["name"])
    return names


def ran(recorder: Recorder, step: str, request: str) -> int:
    return sum(1 for name, obj in recorder.runs if name == step and obj["metadata"]["name"] == request)


@pytest.mark.both_servers
def test_revisions_follow_versions_and_bindings_pin_or_follow_latest(platform):
    kube, recorder, kubeconfig = platform
    install(kube, versioned(V1, "before"))
    revision = wait_for(lambda: kube.get(r.PROMISE_REVISIONS, revision_name("redis", V1)), what="revision")
    assert revision["spec"]["promiseRef"] == {"name": "redis"} and revision["spec"]["version"] == V1
    assert revision["spec"]["promiseSpec"] == kube.get(r.PROMISES, "redis")["spec"]
    assert wait_for(
        # The status is written after the revision is created: it may not be there yet.
        lambda: (kube.get(r.PROMISE_REVISIONS, revision["metadata"]["name"]).get("status") or {}).get(
            "latest"
        )
    )
    table = kubectl(kubeconfig, "get", "promiserevisions", "-l", f"{c.LABEL_LATEST_REVISION}=true")
    assert "LATEST" in table and V1 in table and "true" in table

    for name in ("one", "two"):
        kube.create(REDIS, request_body(name))
        obj = at_version(kube, name, V1, "latest")
        assert outputs(kube, name) == {f"before-upgrade-{name}"}
        bound = binding(kube, name)
        assert bound["metadata"]["name"].startswith(f"{name}-redis-")
        assert bound["spec"] == {
            "version": "latest",
            "promiseRef": {"name": "redis"},
            "resourceRef": {"name": name, "namespace": "default"},
        }
        assert obj["status"]["promiseVersion"] == V1
    wait_for(
        lambda: (
            binding(kube, "one").get("status", {}).get("lastAppliedVersion") == V1
            and (condition(binding(kube, "one"), "UpgradeSucceeded") or {}).get("reason") == "UpgradeComplete"
        ),
        what="the binding to record the applied version",
    )

    pin(kubeconfig, "two", V1)
    at_version(kube, "two", V1, V1)
    assert ran(recorder, "before", "two") == 1, "pinning to the version it runs reruns nothing"

    upgrade(kube, V2, "after")
    wait_for(lambda: latest_revisions(kube) == [V2], what="the latest label to move to the new version")
    old = kube.get(r.PROMISE_REVISIONS, revision_name("redis", V1))
    assert c.LABEL_LATEST_REVISION not in old["metadata"].get("labels", {})
    wait_for(
        lambda: kube.get(r.PROMISE_REVISIONS, old["metadata"]["name"])["status"].get("latest") is False,
        what="status.latest to go false on the old revision",
    )
    wait_for(
        lambda: (kube.get(r.PROMISE_REVISIONS, revision_name("redis", V2)).get("status") or {}).get("latest"),
        what="status.latest on the new revision",
    )

    at_version(kube, "one", V2, "latest")
    assert ran(recorder, "after", "one") == 1
    wait_for(lambda: outputs(kube, "one") == {"after-upgrade-one"}, what="one's Work to follow")
    assert len(kube.list(r.WORKS, "default", labels={c.LABEL_RESOURCE_NAME: "one"})) == 1
    time.sleep(3)  # the pinned request must not follow
    assert kube.get(REDIS, "two", "default")["status"]["promiseVersion"] == V1
    assert ran(recorder, "after", "two") == 0
    assert outputs(kube, "two") == {"before-upgrade-two"}

    pin(kubeconfig, "two", V2)
    at_version(kube, "two", V2, V2)
    assert ran(recorder, "after", "two") == 1
    wait_for(lambda: outputs(kube, "two") == {"after-upgrade-two"}, what="two's Work to be upgraded")
    pin(kubeconfig, "two", V1)  # and back: the old revision's pipelines run again
    at_version(kube, "two", V1, V1)
    assert ran(recorder, "before", "two") == 2
    pin(kubeconfig, "two", V2)
    at_version(kube, "two", V2, V2)

    # Kratix's manual-reconciliation label on a binding reruns its request once and goes.
    runs = ran(recorder, "after", "two")
    kubectl(kubeconfig, "label", binding_of(kubeconfig, "two"), f"{c.LABEL_MANUAL_RECONCILIATION}=true")
    wait_for(lambda: ran(recorder, "after", "two") == runs + 1, what="the binding's label to rerun two")
    wait_for(
        lambda: (
            c.LABEL_MANUAL_RECONCILIATION not in binding(kube, "two")["metadata"].get("labels", {})
            and c.LABEL_MANUAL_RECONCILIATION
            not in kube.get(REDIS, "two", "default")["metadata"].get("labels", {})
        ),
        what="the label to go from the binding and the request",
    )
    at_version(kube, "two", V2, V2)
    assert ran(recorder, "after", "two") == runs + 1

    # Deleted bindings come back, bound as before.
    kubectl(kubeconfig, "delete", "resourcebindings", "--all")
    wait_for(
        lambda: (
            len(kube.list(r.RESOURCE_BINDINGS, "default")) == 2
            and {
                b["spec"]["resourceRef"]["name"]: b["spec"]["version"]
                for b in kube.list(r.RESOURCE_BINDINGS, "default")
            }
            == {"one": "latest", "two": V2}
        ),
        what="the bindings to be restored",
    )

    kube.delete(REDIS, "one", "default")
    wait_for(lambda: kube.get(REDIS, "one", "default") is None, what="request one to go")
    remaining = [b["metadata"]["name"] for b in kube.list(r.RESOURCE_BINDINGS, "default")]
    assert len(remaining) == 1 and remaining[0].startswith("two-redis-")

    kube.delete(r.PROMISES, "redis")
    wait_for(lambda: kube.get(r.PROMISES, "redis") is None, timeout=60, what="the Promise to go")
    assert kube.list(r.PROMISE_REVISIONS) == [] and kube.list(r.RESOURCE_BINDINGS, "default") == []


def test_a_failed_upgrade_is_reported_once_on_the_binding_and_recovers_with_a_fixed_version(
    platform, breakable
):
    kube, _, _ = platform
    install(kube, versioned(V1, "before"))
    kube.create(REDIS, request_body("one"))
    at_version(kube, "one", V1, "latest")

    breakable.broken.set()
    upgrade(kube, V2, "flaky")
    failed = wait_for(
        lambda: (
            (b := binding(kube, "one"))
            and (condition(b, "UpgradeSucceeded") or {}).get("status") == "False"
            and b
        ),
        what="the failed upgrade on the binding",
    )
    upgrade_condition = condition(failed, "UpgradeSucceeded")
    assert upgrade_condition["reason"] == "UpgradeFailed" and V2 in upgrade_condition["message"]
    assert "no migration path" in upgrade_condition["message"]
    assert failed["status"]["failedVersion"] == V2 and failed["status"]["lastAppliedVersion"] == V1

    seen = set()
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:  # retries of the failing version do not flap the condition
        current = condition(binding(kube, "one"), "UpgradeSucceeded")
        seen.add((current["status"], current["lastTransitionTime"]))
        time.sleep(0.2)
    assert seen == {("False", upgrade_condition["lastTransitionTime"])}

    upgrade(kube, V3, "after")  # the fixed version
    recovered = wait_for(
        lambda: (
            (b := binding(kube, "one"))
            and (condition(b, "UpgradeSucceeded") or {}).get("status") == "True"
            and b
        ),
        what="the upgrade to recover",
    )
    assert recovered["status"]["lastAppliedVersion"] == V3 and "failedVersion" not in recovered["status"]
    at_version(kube, "one", V3, "latest")
    reasons = [
        e["reason"]
        for e in kube.list(k.EVENTS, "default")
        if e["involvedObject"]["kind"] == "ResourceBinding"
    ]
    assert reasons.count("UpgradeFailed") == 1, reasons


def test_a_binding_to_a_missing_version_is_named_and_the_latest_revision_is_kept(platform):
    kube, recorder, kubeconfig = platform
    install(kube, versioned(V1, "before"))
    # Pre-created with a name Kratix would not generate: adopted by its labels, not duplicated.
    kube.create(
        r.RESOURCE_BINDINGS,
        {
            "apiVersion": c.API_VERSION,
            "kind": "ResourceBinding",
            "metadata": {
                "name": "pre-created-binding",
                "namespace": "default",
                "labels": {c.LABEL_PROMISE_NAME: "redis", c.LABEL_RESOURCE_NAME: "three"},
            },
            "spec": {
                "version": "v9.9.9",
                "promiseRef": {"name": "redis"},
                "resourceRef": {"name": "three", "namespace": "default"},
            },
        },
    )
    kube.create(REDIS, request_body("three"))
    obj = wait_for(
        lambda: (
            (o := kube.get(REDIS, "three", "default"))
            and (condition(o, "Reconciled") or {}).get("reason") == "VersionNotFound"
            and o
        ),
        what="the missing version to be reported",
    )
    message = condition(obj, "Reconciled")["message"]
    assert "pre-created-binding" in message and "spec.version 'v9.9.9'" in message and V1 in message
    # The binding's status is written just after the request's: wait for it rather than race it.
    wait_for(
        lambda: (
            (condition(binding(kube, "three"), "UpgradeSucceeded") or {}).get("reason") == "VersionNotFound"
        ),
        what="the binding to name the missing version",
    )
    assert ran(recorder, "before", "three") == 0
    pin(kubeconfig, "three", V1)
    at_version(kube, "three", V1, V1)
    assert [b["metadata"]["name"] for b in kube.list(r.RESOURCE_BINDINGS, "default")] == [
        "pre-created-binding"
    ]

    latest = revision_name("redis", V1)
    kube.delete(r.PROMISE_REVISIONS, latest)
    blocked = wait_for(
        lambda: (
            (rev := kube.get(r.PROMISE_REVISIONS, latest))
            and (condition(rev, c.CONDITION_DELETION_BLOCKED) or {}).get("status") == "True"
            and rev
        ),
        what="the latest revision to refuse deletion",
    )
    assert "cannot be deleted" in condition(blocked, c.CONDITION_DELETION_BLOCKED)["message"]
    time.sleep(2)
    assert kube.get(r.PROMISE_REVISIONS, latest) is not None
    warnings = [
        e for e in kube.list(k.EVENTS, "default") + kube.list(k.EVENTS) if e["reason"] == "LatestRevision"
    ]
    assert warnings and warnings[0]["type"] == "Warning"

    upgrade(kube, V2, "after")  # no longer the latest: it goes now
    wait_for(lambda: kube.get(r.PROMISE_REVISIONS, latest) is None, what="the old revision to go")
    assert latest_revisions(kube) == [V2]
    # The request pinned to the deleted version says so instead of running something else.
    wait_for(
        lambda: (
            (condition(kube.get(REDIS, "three", "default"), "Reconciled") or {}).get("reason")
            == "VersionNotFound"
        ),
        what="the request to report its version gone",
    )


def test_with_the_pinned_strategy_new_bindings_pin_the_current_version(platform_factory):
    recorder = Recorder()
    steps = {
        "test/before:v1": recorder.step("before", before),
        "test/after:v1": recorder.step("after", after),
        "test/teardown-before:v1": recorder.step("teardown-before", lambda ctx, obj: None),
        "test/teardown-after:v1": recorder.step("teardown-after", lambda ctx, obj: None),
    }
    platform = platform_factory(pods="fast", steps=steps)
    kube = k.Kube(platform.api_client())
    settings = settings_for(
        str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE, binding_version_strategy="pinned"
    )
    with RunningOperator(settings):
        install(kube, versioned(V1, "before", "teardown-before"))
        kube.create(REDIS, request_body("one"))
        at_version(kube, "one", V1, V1)
        assert binding(kube, "one")["spec"]["version"] == V1
        upgrade(kube, V2, "after", "teardown-after")
        kube.create(REDIS, request_body("two"))
        at_version(kube, "two", V2, V2)
        time.sleep(2)
        assert kube.get(REDIS, "one", "default")["status"]["promiseVersion"] == V1
        assert ran(recorder, "after", "one") == 0

        # Each request is deleted with the delete pipeline of the version it is bound to.
        for name in ("one", "two"):
            kube.delete(REDIS, name, "default")
        wait_for(lambda: kube.list(REDIS, "default") == [], timeout=30, what="the requests to go")
        assert (ran(recorder, "teardown-before", "one"), ran(recorder, "teardown-after", "one")) == (1, 0)
        assert (ran(recorder, "teardown-before", "two"), ran(recorder, "teardown-after", "two")) == (0, 1)
        assert kube.list(r.RESOURCE_BINDINGS, "default") == []
