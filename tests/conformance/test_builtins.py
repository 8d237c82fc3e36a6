"""Built-in kinds: the server-side defaults and checks that operators notice."""

from __future__ import annotations

import base64
import datetime

import pytest
from kubernetes.client import ApiException

from .conftest import Kube


def _job(name: str, restart_policy: str | None = "Never") -> dict:
    pod_spec: dict = {"containers": [{"name": "main", "image": "busybox:1.36"}]}
    if restart_policy:
        pod_spec["restartPolicy"] = restart_policy
    return {"metadata": {"name": name}, "spec": {"template": {"spec": pod_spec}}}


def test_job_gets_a_selector_and_labels(kube: Kube) -> None:
    job = kube.batch.create_namespaced_job(kube.namespace, _job("work"))
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = job.spec.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "work" and labels["job-name"] == "work"
    assert labels["controller-uid"] == uid
    assert job.spec.backoff_limit == 6 and job.spec.completions == 1 and job.spec.parallelism == 1
    assert job.metadata.generation == 1


def test_job_needs_a_valid_restart_policy_and_keeps_its_template(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.batch.create_namespaced_job(kube.namespace, _job("bad", restart_policy=None))
    assert caught.value.status == 422
    assert "spec.template.spec.restartPolicy" in caught.value.body
    with pytest.raises(ApiException) as caught:
        kube.batch.create_namespaced_job(kube.namespace, _job("bad", restart_policy="Always"))
    assert caught.value.status == 422
    kube.batch.create_namespaced_job(kube.namespace, _job("fixed"))
    with pytest.raises(ApiException) as caught:
        kube.batch.patch_namespaced_job(
            "fixed",
            kube.namespace,
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:other"}]}}}},
        )
    assert caught.value.status == 422
    assert "spec.template" in caught.value.body


def test_pods_get_defaults_and_pending_status(kube: Kube) -> None:
    pod = kube.core.create_namespaced_pod(
        kube.namespace,
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    )
    assert pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.service_account_name == "default"
    assert pod.spec.containers[0].image_pull_policy == "Always"  # no tag means :latest


def test_secret_string_data_is_folded_into_data(kube: Kube) -> None:
    secret = kube.core.create_namespaced_secret(
        kube.namespace, {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    )
    assert secret.type == "Opaque"
    assert secret.string_data is None
    assert base64.b64decode(secret.data["password"]) == b"hunter2"


def test_service_account_and_config_map_round_trip(kube: Kube) -> None:
    sa = kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "robot"}})
    assert kube.core.read_namespaced_service_account("robot", kube.namespace).metadata.uid == sa.metadata.uid
    svc = kube.core.create_namespaced_service(
        kube.namespace, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert svc.spec.type == "ClusterIP" and svc.spec.cluster_ip
    assert svc.spec.ports[0].protocol == "TCP"


def test_rbac_objects_and_the_immutable_role_ref(kube: Kube) -> None:
    kube.rbac.create_namespaced_role(
        kube.namespace,
        {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    )
    binding = {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": kube.namespace}],
    }
    kube.rbac.create_namespaced_role_binding(kube.namespace, binding)
    with pytest.raises(ApiException) as caught:
        kube.rbac.patch_namespaced_role_binding("reader", kube.namespace, {"roleRef": {"name": "other"}})
    assert caught.value.status == 422
    name = f"conformance-{kube.suffix}"
    kube.rbac.create_cluster_role_binding(
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [],
        }
    )
    kube.rbac.delete_cluster_role_binding(name)


def test_leases(kube: Kube) -> None:
    lease = kube.coordination.create_namespaced_lease(
        kube.namespace,
        {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
    )
    assert lease.spec.holder_identity == "me"
    updated = kube.coordination.patch_namespaced_lease(
        "leader", kube.namespace, {"spec": {"holderIdentity": "you"}}
    )
    assert updated.spec.holder_identity == "you"


def test_events_in_both_apis_are_the_same_events(kube: Kube) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    kube.core.create_namespaced_event(
        kube.namespace,
        {
            "metadata": {"name": "ev1"},
            "involvedObject": {
                "kind": "ConfigMap",
                "name": "cm",
                "namespace": kube.namespace,
                "apiVersion": "v1",
            },
            "reason": "Testing",
            "message": "hello",
            "type": "Normal",
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "source": {"component": "conformance"},
        },
    )
    # Raw, as the typed client cannot read an events.k8s.io Event without eventTime (core Events have none).
    new_api = kube.raw("GET", f"/apis/events.k8s.io/v1/namespaces/{kube.namespace}/events/ev1").body
    assert new_api["note"] == "hello" and new_api["reason"] == "Testing"
    assert new_api["regarding"]["name"] == "cm"
    assert new_api["apiVersion"] == "events.k8s.io/v1"
    kube.events.create_namespaced_event(
        kube.namespace,
        {
            "metadata": {"name": "ev2"},
            "eventTime": now,
            "reportingController": "conformance.kratix.io/test",
            "reportingInstance": "test-1",
            "action": "Test",
            "reason": "Created",
            "note": "from events.k8s.io",
            "type": "Normal",
            "regarding": {"kind": "ConfigMap", "name": "cm", "namespace": kube.namespace, "apiVersion": "v1"},
        },
    )
    core = kube.core.read_namespaced_event("ev2", kube.namespace)
    assert core.message == "from events.k8s.io"
    assert core.involved_object.name == "cm"
    selected = kube.core.list_namespaced_event(
        kube.namespace, field_selector="involvedObject.name=cm,reason=Testing"
    ).items
    assert [e.metadata.name for e in selected] == ["ev1"]


def test_deployment_needs_a_matching_selector(kube: Kube) -> None:
    with pytest.raises(ApiException) as caught:
        kube.apps.create_namespaced_deployment(
            kube.namespace,
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {
                        "metadata": {"labels": {"app": "y"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            },
        )
    assert caught.value.status == 422


def test_unknown_fields_are_dropped_with_a_warning_or_refused_when_strict(kube: Kube) -> None:
    path = f"/api/v1/namespaces/{kube.namespace}/configmaps"
    body = {"metadata": {"name": "typo"}, "data": {"a": "1"}, "dataa": {"b": "2"}}
    created = kube.raw("POST", path, body)
    assert created.status == 201
    assert "dataa" not in created.body and created.body["data"] == {"a": "1"}
    assert 'unknown field \\"dataa\\"' in created.headers.get("Warning", "")
    strict = kube.raw(
        "POST", path, {**body, "metadata": {"name": "strict"}}, query={"fieldValidation": "Strict"}
    )
    assert strict.status == 400
    assert 'unknown field "dataa"' in strict.body["message"]


def test_a_core_event_with_event_time_must_name_its_reporter(kube: Kube) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "metadata": {"name": "new-style"},
        "involvedObject": {
            "kind": "ConfigMap",
            "name": "cm",
            "namespace": kube.namespace,
            "apiVersion": "v1",
        },
        "reason": "Testing",
        "message": "hello",
        "type": "Normal",
        "eventTime": now,
        "reportingComponent": "kratix-py",
        "action": "Testing",
    }
    answer = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/events", body)
    assert answer.status == 422
    assert answer.body["message"] == 'Event "new-style" is invalid: reportingInstance: Required value'
    body["reportingInstance"] = "kratix-py-1"
    assert kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/events", body).status == 201


def test_the_operators_events_are_accepted(kube: Kube) -> None:
    from kratix_py import kube as k

    client = k.Kube(kube.api)
    cm = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "watched"}})
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": kube.api.sanitize_for_serialization(cm.metadata),
    }
    client.emit_event(obj, "Checked", "an Event the real API server must take")
    events = kube.core.list_namespaced_event(
        kube.namespace, field_selector="involvedObject.name=watched"
    ).items
    assert [e.reason for e in events] == ["Checked"]
