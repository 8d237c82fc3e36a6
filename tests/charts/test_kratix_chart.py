"""The kratix chart: lint, render over a matrix of values, validate, and refuse bad values."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
import yaml

import kratix_py
from kratix_py.api import BucketStateStore, Destination, GitStateStore
from kratix_py.local_platform.helm import HelmError, Rendered, lint, render, stale_files
from kratix_py.operator.settings import OperatorSettings
from tests.charts.conftest import KRATIX_CHART, REPO, is_builtin, validate_builtin

NAMESPACE = "kratix-platform-system"
SERVICE_ACCOUNT = "kratix-platform-controller-manager"

GIT_BASIC = {
    "kind": "GitStateStore",
    "name": "default",
    "url": "https://git.example.com/platform/state.git",
    "branch": "trunk",
    "path": "clusters",
    "gitAuthor": {"name": "platform", "email": "platform@example.com"},
    "secretRef": {"name": "git-credentials", "values": {"username": "kratix", "password": "s3cret"}},
}
GIT_SSH = {
    "kind": "GitStateStore",
    "name": "ssh",
    "url": "ssh://git@git.example.com/platform/state.git",
    "authMethod": "ssh",
    "secretRef": {
        "name": "git-ssh",
        "namespace": "platform",
        "values": {
            "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
            "knownHosts": "git.example.com ssh-ed25519 AAAA",
        },
    },
}
BUCKET = {
    "kind": "BucketStateStore",
    "name": "default",
    "endpoint": "minio.example.com:9000",
    "bucketName": "kratix",
    "insecure": True,
    "secretRef": {"name": "s3-credentials", "values": {"accessKeyID": "AKIA", "secretAccessKey": "shh"}},
}
BUCKET_IAM = {
    "kind": "BucketStateStore",
    "name": "aws",
    "endpoint": "s3.amazonaws.com",
    "bucketName": "kratix",
    "authMethod": "IAM",
}
WORKER = {
    "name": "worker-1",
    "path": "worker-1",
    "labels": {"environment": "dev"},
    "stateStoreRef": {"kind": "GitStateStore", "name": "default"},
}

MATRIX: dict[str, dict[str, Any]] = {
    "defaults": {},
    "git-basic-auth": {"stateStores": [GIT_BASIC], "destinations": [WORKER]},
    "git-ssh": {
        "stateStores": [GIT_SSH],
        "destinations": [
            {**WORKER, "stateStoreRef": {"kind": "GitStateStore", "name": "ssh"}, "cleanup": "all"}
        ],
    },
    "bucket": {
        "stateStores": [BUCKET],
        "destinations": [
            {
                **WORKER,
                "stateStoreRef": {"kind": "BucketStateStore", "name": "default"},
                "filepath": {"mode": "aggregatedYAML", "filename": "all.yaml"},
                "strictMatchLabels": True,
            }
        ],
    },
    "bucket-iam-existing-secretless": {
        "stateStores": [BUCKET_IAM],
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/kratix"}},
    },
    "placement-and-resources": {
        "resources": {
            "requests": {"cpu": "250m", "memory": "300Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "platform", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["platform"]}]}
                    ]
                }
            }
        },
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"example.com/team": "platform"},
        "tmpSizeLimit": "",
    },
    "operator-settings": {
        "image": {"repository": "registry.example.com/kratix-py", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry"}],
        "operator": {
            "namespaces": ["team-a", "team-b"],
            "pipelineAdapter": {"image": "registry.example.com/adapter:1.2.3", "pullSecret": "registry"},
            "reconcileInterval": "1h30m",
            "jobsToKeep": 3,
            "defaultBackoffLimit": 0,
            "workers": 8,
            "logFormat": "json",
            "logLevel": "debug",
            "healthPort": 9090,
            "batchWindow": 0.5,
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"}],
        },
        "namespace": {"create": False},
        "rbac": {
            "requestKinds": {"apiGroups": ["example.kratix.io", "marketplace.kratix.io"], "aggregate": False}
        },
    },
    "sandbox": {"replicas": 0, "rbac": {"requestKinds": {"allApiGroups": True}}},
}


def render_kratix(values: dict[str, Any]) -> Rendered:
    return render(KRATIX_CHART, values, name="kratix", namespace="default")


def env_of(rendered: Rendered) -> dict[str, str]:
    container = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container["env"]}


@pytest.fixture(scope="module", params=sorted(MATRIX))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Rendered]:
    values = MATRIX[request.param]
    return request.param, values, render_kratix(values)


def test_chart_lints_cleanly_with_defaults_and_every_case() -> None:
    for name, values in {"defaults": None, **MATRIX}.items():
        assert lint(KRATIX_CHART, values) == [], name


def test_chart_crds_are_the_repository_crds() -> None:
    rendered = render_kratix({})
    crd_names = sorted(crd["metadata"]["name"] for crd in rendered.crds)
    repo_names = sorted(
        doc["metadata"]["name"]
        for path in (REPO / "crds").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    )
    assert crd_names == repo_names
    stale = [path for path in stale_files(REPO) if path.startswith("charts/")]
    assert stale == [], (
        "charts/kratix/crds differs from crds/: run `python -m kratix_py.local_platform.helm sync`"
    )


def test_versions_follow_the_package() -> None:
    chart = yaml.safe_load((KRATIX_CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == kratix_py.__version__
    image = render_kratix({}).one("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{kratix_py.__version__}")


def test_crds_are_valid() -> None:
    crds = render_kratix({}).crds
    assert len(crds) == len(list((REPO / "crds").glob("*.yaml")))
    for crd in crds:
        validate_builtin(crd)


def test_every_manifest_is_valid(case: tuple[str, dict[str, Any], Rendered]) -> None:
    name, _, rendered = case
    objects = rendered.objects
    assert objects, name
    for obj in objects:
        if is_builtin(obj):
            validate_builtin(obj)
        else:
            model = {
                "GitStateStore": GitStateStore,
                "BucketStateStore": BucketStateStore,
                "Destination": Destination,
            }[obj["kind"]]
            model.model_validate(obj)  # what the operator itself will accept


def test_every_operator_setting_is_a_value(case: tuple[str, dict[str, Any], Rendered]) -> None:
    """The env names are the operator's own, and the operator accepts what the chart renders."""
    _, values, rendered = case
    env = env_of(rendered)
    settings_env = {
        OperatorSettings.env_name(f.name)
        for f in fields(OperatorSettings)
        if f.name != "kubeconfig" and f.metadata.get("chart", True)
    }
    assert settings_env <= set(env), f"settings without a chart value: {sorted(settings_env - set(env))}"
    settings = OperatorSettings.from_sources(
        environ={k: v for k, v in env.items() if k.startswith("KRATIX_PY_")}
    )
    container = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    op = values.get("operator", {})
    assert settings.pipeline_adapter_image == op.get("pipelineAdapter", {}).get("image", container["image"])
    assert settings.namespaces == tuple(op.get("namespaces", ()))
    assert settings.workers == op.get("workers", 4)
    assert settings.health_port == container["ports"][0]["containerPort"] == op.get("healthPort", 8081)
    assert settings.log_format == op.get("logFormat", "text")
    for extra in op.get("extraEnv", []):
        assert env[extra["name"]] == extra["value"]


def test_operator_settings_values_reach_the_operator() -> None:
    settings = OperatorSettings.from_sources(environ=env_of(render_kratix(MATRIX["operator-settings"])))
    assert settings.reconcile_interval.total_seconds() == 5400
    assert (settings.jobs_to_keep, settings.default_backoff_limit, settings.batch_window) == (3, 0, 0.5)
    assert (settings.log_level, settings.pipeline_adapter_pull_secret) == ("DEBUG", "registry")


def test_deployment_runs_one_locked_down_operator(case: tuple[str, dict[str, Any], Rendered]) -> None:
    name, values, rendered = case
    deployment = rendered.one("Deployment", "kratix-platform-controller-manager")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    spec = deployment["spec"]
    assert spec["replicas"] == values.get("replicas", 1)
    leader_election = values.get("operator", {}).get("leaderElection", True)
    assert spec["strategy"] == {"type": "RollingUpdate" if leader_election else "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    assert container["args"] == ["operator"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert pod.get(key) == values.get(key), key
    if "resources" in values:
        assert container["resources"] == values["resources"]
    if "imagePullSecrets" in values:
        assert pod["imagePullSecrets"] == values["imagePullSecrets"]
    assert rendered.one("ServiceAccount", SERVICE_ACCOUNT)["metadata"]["namespace"] == NAMESPACE
    assert bool(rendered.find("Namespace", NAMESPACE)) == values.get("namespace", {}).get("create", True), (
        name
    )


def test_state_stores_and_destinations() -> None:
    rendered = render_kratix(
        {"stateStores": [GIT_BASIC, GIT_SSH, BUCKET, BUCKET_IAM], "destinations": [WORKER]}
    )
    git = rendered.one("GitStateStore", "default")["spec"]
    assert git == {
        "url": GIT_BASIC["url"],
        "branch": "trunk",
        "path": "clusters",
        "gitAuthor": {"name": "platform", "email": "platform@example.com"},
        "authMethod": "basicAuth",
        "secretRef": {"name": "git-credentials", "namespace": "default"},
    }
    assert rendered.one("GitStateStore", "ssh")["spec"]["authMethod"] == "ssh"
    bucket = rendered.one("BucketStateStore", "default")["spec"]
    assert (bucket["insecure"], bucket["authMethod"]) == (True, "accessKey")
    assert "secretRef" not in rendered.one("BucketStateStore", "aws")["spec"]
    # The Secrets carry the key names kratix-py reads, in the namespace the store names.
    secrets = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s["stringData"] for s in rendered.find("Secret")
    }
    assert secrets == {
        ("default", "git-credentials"): {"username": "kratix", "password": "s3cret"},
        ("platform", "git-ssh"): GIT_SSH["secretRef"]["values"],
        ("default", "s3-credentials"): {"accessKeyID": "AKIA", "secretAccessKey": "shh"},
    }
    destination = rendered.one("Destination", "worker-1")
    # Only the user's labels: chart labels would change how strictMatchLabels schedules.
    assert destination["metadata"]["labels"] == {"environment": "dev"}
    assert destination["spec"]["stateStoreRef"] == {"kind": "GitStateStore", "name": "default"}


def test_a_github_app_store_gets_the_apps_keys_and_an_optional_api_url() -> None:
    values = {"appID": "1", "installationID": "2", "privateKey": "-----BEGIN RSA PRIVATE KEY-----\n"}
    store = {
        "kind": "GitStateStore",
        "name": "github",
        "url": "https://github.example.com/platform/state.git",
        "authMethod": "githubApp",
        "secretRef": {"name": "app", "values": {**values, "apiURL": "https://ghe-api.example.com"}},
    }
    rendered = render_kratix({"stateStores": [store]})
    assert rendered.one("GitStateStore", "github")["spec"]["authMethod"] == "githubApp"
    assert rendered.one("Secret", "app")["stringData"] == store["secretRef"]["values"]
    render_kratix({"stateStores": [{**store, "secretRef": {"name": "app", "values": values}}]})
    without_key = {k: v for k, v in values.items() if k != "privateKey"}
    with pytest.raises(HelmError, match=r"secretRef.values.privateKey: missing; authMethod githubApp"):
        render_kratix({"stateStores": [{**store, "secretRef": {"name": "app", "values": without_key}}]})


def test_rbac_objects_follow_the_request_kind_values() -> None:
    default = render_kratix({})
    assert {r["metadata"]["name"] for r in default.find("ClusterRole")} == {
        "kratix-platform-manager-role",
        "kratix-platform-request-kinds",
    }
    aggregated = default.one("ClusterRole", "kratix-platform-request-kinds")
    assert aggregated["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"platform.kratix.io/aggregate-to-controller": "true"}}
    ]
    by_group = render_kratix(MATRIX["operator-settings"]).one(
        "ClusterRole", "kratix-platform-request-kinds-by-group"
    )
    assert by_group["rules"][0]["apiGroups"] == ["example.kratix.io", "marketplace.kratix.io"]
    sandbox = render_kratix(MATRIX["sandbox"]).one("ClusterRole", "kratix-platform-request-kinds-by-group")
    assert sandbox["rules"][0]["apiGroups"] == ["*"]


def test_notes_say_what_to_do_next() -> None:
    notes = render_kratix({}).notes
    assert "kubectl get promises" in notes
    assert "kratix-destination" in notes
    assert "rbac.requestKinds.apiGroups" in notes  # nothing granted on request kinds yet
    configured = render_kratix(
        MATRIX["git-basic-auth"] | {"rbac": {"requestKinds": {"apiGroups": ["example.kratix.io"]}}}
    ).notes
    assert "GitStateStore default" in configured and "Destination worker-1" in configured
    assert "rbac.requestKinds.apiGroups" not in configured


BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "two replicas": (
        {"replicas": 2, "operator": {"leaderElection": False}},
        "replicas: 2 needs operator.leaderElection: true",
    ),
    "unknown state store kind": (
        {"stateStores": [{**GIT_BASIC, "kind": "S3StateStore"}]},
        "/stateStores/0/kind",
    ),
    "git store without a secret": (
        {"stateStores": [{k: v for k, v in GIT_BASIC.items() if k != "secretRef"}]},
        "/stateStores/0': missing property 'secretRef'",
    ),
    "missing secret name": (
        {"stateStores": [{**BUCKET, "secretRef": {"values": BUCKET["secretRef"]["values"]}}]},
        "/stateStores/0/secretRef': missing property 'name'",
    ),
    "negative interval": ({"operator": {"reconcileInterval": "-5m"}}, "/operator/reconcileInterval"),
    "interval under a minute": ({"operator": {"reconcileInterval": "45s"}}, "operator.reconcileInterval"),
    "bad log format": ({"operator": {"logFormat": "yaml"}}, "/operator/logFormat"),
    "negative jobs to keep": ({"operator": {"jobsToKeep": -1}}, "/operator/jobsToKeep"),
    "no workers": ({"operator": {"workers": 0}}, "/operator/workers"),
    "flux key names for a bucket": (
        {
            "stateStores": [
                {**BUCKET, "secretRef": {"name": "s3", "values": {"accesskey": "a", "secretkey": "b"}}}
            ]
        },
        "stateStores[0] (BucketStateStore default).secretRef.values.accesskey",
    ),
    "missing password": (
        {"stateStores": [{**GIT_BASIC, "secretRef": {"name": "git", "values": {"username": "u"}}}]},
        "secretRef.values.password: missing",
    ),
    "duplicate destination path": (
        {
            "stateStores": [GIT_BASIC],
            "destinations": [WORKER, {**WORKER, "name": "worker-2", "path": "/worker-1/"}],
        },
        "destinations[1] (worker-2).path",
    ),
    "destination path out of the store": (
        {"stateStores": [GIT_BASIC], "destinations": [{**WORKER, "path": "../etc"}]},
        "/destinations/0/path",
    ),
    "core API group for request kinds": (
        {"rbac": {"requestKinds": {"apiGroups": [""]}}},
        "/rbac/requestKinds/apiGroups/0",
    ),
    "kubernetes API group for request kinds": (
        {"rbac": {"requestKinds": {"apiGroups": ["rbac.authorization.k8s.io"]}}},
        "/rbac/requestKinds/apiGroups/0",
    ),
    "unknown value": ({"monitoring": {"port": 8080}}, "additional properties 'monitoring' not allowed"),
}


@pytest.mark.parametrize("problem", sorted(BAD_VALUES))
def test_bad_values_fail_at_install_time_naming_the_value(problem: str) -> None:
    values, message = BAD_VALUES[problem]
    with pytest.raises(HelmError) as error:
        render_kratix(values)
    assert message in str(error.value)


def test_the_metrics_port_is_exposed_and_can_get_a_service():
    rendered = render_kratix({"metrics": {"service": {"enabled": True}}})
    container = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert env_of(rendered)["KRATIX_PY_METRICS_PORT"] == "8080"
    assert rendered.one("Service")["spec"]["ports"][0]["targetPort"] == "metrics"
    off = render_kratix({"operator": {"metricsPort": 0}, "metrics": {"service": {"enabled": True}}})
    assert off.find("Service") == []


def test_replicas_stand_by_behind_leader_election():
    rendered = render_kratix({"replicas": 2})
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert env_of(rendered)["KRATIX_PY_LEADER_ELECTION"] == "true"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_kratix_config_renders_the_configmap_the_operator_reads() -> None:
    """values.kratixConfig -> ConfigMap kratix (key config) that kratix_config.parse accepts whole."""
    from datetime import timedelta

    from kratix_py.operator import kratix_config

    assert render_kratix({}).find("ConfigMap", "kratix") == []
    config = {
        "numberOfJobsToKeep": 3,
        "stateStoreReconciliationInterval": "1h",
        "workflows": {"defaultImagePullPolicy": "IfNotPresent", "jobOptions": {"defaultBackoffLimit": 2}},
    }
    rendered = render_kratix({"kratixConfig": config})
    config_map = rendered.one("ConfigMap", "kratix")
    assert config_map["metadata"]["namespace"] == NAMESPACE  # where the operator reads it
    parsed = kratix_config.parse(config_map["data"]["config"])
    assert parsed.problems == ()
    assert parsed.settings == {
        "jobs_to_keep": 3,
        "state_store_reconciliation_interval": timedelta(hours=1),
        "default_image_pull_policy": "IfNotPresent",
        "default_backoff_limit": 2,
    }
    annotations = rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    changed = render_kratix({"kratixConfig": {**config, "numberOfJobsToKeep": 4}})
    other = changed.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/kratix-config"] != other["checksum/kratix-config"]  # a change rolls the pod
    assert lint(KRATIX_CHART, {"kratixConfig": config}) == []
    # What kratixConfig sets is not also set by a variable (which would win over it); the rest is.
    env = env_of(rendered)
    assert "KRATIX_PY_JOBS_TO_KEEP" not in env and "KRATIX_PY_DEFAULT_BACKOFF_LIMIT" not in env
    assert env["KRATIX_PY_RECONCILE_INTERVAL"] == "10h"
    settings = OperatorSettings.from_sources(
        environ={key: value for key, value in env.items() if key.startswith("KRATIX_PY_")},
        config=parsed.settings,
    )
    assert (settings.jobs_to_keep, settings.default_backoff_limit) == (3, 2)
