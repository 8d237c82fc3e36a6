"""The kratix-destination chart and the plain manifests rendered from it (deploy/destination)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kratix_py.api import Destination
from kratix_py.contract import join_under, normalise_prefix
from kratix_py.core.layout import canary_paths
from kratix_py.local_platform.helm import (
    DESTINATION_EXAMPLES,
    HelmError,
    Rendered,
    lint,
    parse_documents,
    render,
    stale_files,
)
from tests.charts.conftest import DESTINATION_CHART, REPO, is_builtin, validate_builtin

GIT_URL = "https://git.example.com/platform/state.git"
SSH_URL = "ssh://git@git.example.com/platform/state.git"

MATRIX: dict[str, dict[str, Any]] = {
    "flux-git-basic-auth": {
        "source": {
            "path": "/clusters/",
            "git": {"url": GIT_URL, "branch": "trunk"},
            "secret": {"name": "state-store", "create": True, "username": "kratix", "password": "s3cret"},
        },
        "destination": {"path": "worker-1"},
    },
    "flux-git-ssh": {
        "source": {
            "git": {"url": SSH_URL, "authMethod": "ssh"},
            "secret": {"name": "state-store", "create": True, "sshPrivateKey": "KEY", "knownHosts": "HOSTS"},
        },
        "destination": {"path": "./worker-1"},
        "flux": {"dependencies": {"interval": "5m"}, "resources": {"interval": "10m"}, "prune": False},
    },
    "flux-git-existing-secret": {
        "namespace": "gitops",
        "source": {"name": "platform", "git": {"url": GIT_URL}, "secret": {"name": "mine"}},
        "destination": {"path": "."},
    },
    "flux-bucket": {
        "source": {
            "kind": "bucket",
            "path": "kratix",
            "bucket": {"endpoint": "minio.example.com:9000", "bucketName": "state", "insecure": True},
            "secret": {"name": "state-store", "create": True, "accessKey": "AKIA", "secretKey": "shh"},
        },
        "destination": {"path": "worker-1"},
    },
    "flux-bucket-v1beta2-iam": {
        "source": {
            "kind": "bucket",
            "bucket": {
                "endpoint": "s3.amazonaws.com",
                "bucketName": "state",
                "provider": "aws",
                "region": "eu-west-1",
            },
        },
        "destination": {"path": "worker-1"},
        "flux": {"bucketApiVersion": "source.toolkit.fluxcd.io/v1beta2"},
    },
    "argocd-git-basic-auth": {
        "gitops": "argocd",
        "source": {
            "path": "clusters",
            "git": {"url": GIT_URL},
            "secret": {"name": "state-store", "create": True, "username": "kratix", "password": "s3cret"},
        },
        "destination": {"path": "worker-1"},
    },
    "argocd-git-ssh": {
        "gitops": "argocd",
        "source": {
            "git": {"url": "git@git.example.com:platform/state.git", "authMethod": "ssh"},
            "secret": {"name": "repo", "create": True, "sshPrivateKey": "KEY"},
        },
        "destination": {"path": "worker-1"},
        "argocd": {"project": "platform", "cascadeDelete": False},
    },
}


def render_destination(values: dict[str, Any]) -> Rendered:
    return render(DESTINATION_CHART, values, name="kratix-destination", namespace="default")


def check_flux_required_fields(obj: dict[str, Any]) -> None:
    """Flux's CRD schemas require these (kubernetes-validate has no schemas for CRD kinds)."""
    spec = obj["spec"]
    required = {
        "GitRepository": ("interval", "url"),
        "Bucket": ("interval", "bucketName", "endpoint"),
        "Kustomization": ("interval", "prune", "sourceRef"),
    }[obj["kind"]]
    assert all(spec.get(key) not in (None, "") for key in required), (obj["kind"], required)
    if obj["kind"] == "Kustomization":
        assert spec["sourceRef"]["kind"] in ("GitRepository", "Bucket") and spec["sourceRef"]["name"]
        assert spec["path"].startswith("./")


def check_argocd_required_fields(obj: dict[str, Any]) -> None:
    spec = obj["spec"]
    assert spec["project"] and spec["destination"]["server"]
    source = spec["source"]
    assert source["repoURL"] and source["targetRevision"] and source["path"].endswith("/")
    assert source["directory"] == {"recurse": True}
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


@pytest.fixture(scope="module", params=sorted(MATRIX))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Rendered]:
    values = MATRIX[request.param]
    return request.param, values, render_destination(values)


def test_chart_lints_cleanly() -> None:
    for name, values in MATRIX.items():
        assert lint(DESTINATION_CHART, values) == [], name


def test_every_manifest_is_valid(case: tuple[str, dict[str, Any], Rendered]) -> None:
    name, values, rendered = case
    kinds = sorted(obj["kind"] for obj in rendered.objects)
    if values.get("gitops") == "argocd":
        assert kinds == [
            "Application",
            "Application",
            *(["Secret"] if values["source"]["secret"].get("create") else []),
        ]
    namespace = values.get("namespace") or ("argocd" if values.get("gitops") == "argocd" else "flux-system")
    for obj in rendered.objects:
        assert obj["metadata"]["namespace"] == namespace, name
        if is_builtin(obj):
            validate_builtin(obj)
        elif obj["kind"] == "Application":
            check_argocd_required_fields(obj)
        else:
            check_flux_required_fields(obj)


def test_flux_applies_dependencies_before_resources() -> None:
    rendered = render_destination(MATRIX["flux-git-basic-auth"])
    source = rendered.one("GitRepository", "kratix")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert source["spec"]["url"] == GIT_URL and source["spec"]["ref"] == {"branch": "trunk"}
    assert source["spec"]["secretRef"] == {"name": "state-store"}
    dependencies = rendered.one("Kustomization", "kratix-workload-dependencies")["spec"]
    resources = rendered.one("Kustomization", "kratix-workload-resources")["spec"]
    # <store path>/<destination path>/{dependencies,resources}, slashes normalised.
    assert dependencies["path"] == "./clusters/worker-1/dependencies"
    assert resources["path"] == "./clusters/worker-1/resources"
    assert resources["dependsOn"] == [{"name": "kratix-workload-dependencies"}]
    assert "dependsOn" not in dependencies
    for spec in (dependencies, resources):
        assert spec["prune"] is True
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": "kratix"}


def test_paths_at_the_state_store_root() -> None:
    flux = render_destination(MATRIX["flux-git-existing-secret"])
    assert flux.one("Kustomization", "kratix-workload-dependencies")["spec"]["path"] == "./dependencies"
    assert flux.one("Kustomization", "kratix-workload-resources")["spec"]["sourceRef"]["name"] == "platform"
    assert flux.find("Secret") == []


@pytest.mark.parametrize(
    ("store_path", "destination_path"),
    [("", "worker-1"), ("/clusters/", "./worker-1/"), ("a/./b", "."), ("", "/"), ("platform", "eu/worker-2")],
)
def test_agents_read_where_kratix_py_writes(store_path: str, destination_path: str) -> None:
    """The paths come from kratix-py's own layout code: the canary files it writes first."""
    destination = Destination.model_validate(
        {
            "metadata": {"name": "worker"},
            "spec": {"path": destination_path, "stateStoreRef": {"kind": "GitStateStore", "name": "default"}},
        }
    )
    namespace_file, config_map_file = canary_paths(destination)
    store = normalise_prefix(store_path)
    # The writer is rooted at the store's path; the canaries sit in dependencies/ and resources/.
    expected = [join_under(store, path.rpartition("/")[0]) for path in (namespace_file, config_map_file)]
    values = {
        "source": {"path": store_path, "git": {"url": GIT_URL}},
        "destination": {"path": destination_path},
    }
    flux = render_destination(values)
    assert [
        flux.one("Kustomization", name)["spec"]["path"]
        for name in ("kratix-workload-dependencies", "kratix-workload-resources")
    ] == [f"./{path}" for path in expected]
    argo = render_destination({**values, "gitops": "argocd"})
    assert [
        argo.one("Application", name)["spec"]["source"]["path"]
        for name in ("kratix-workload-dependencies", "kratix-workload-resources")
    ] == [f"{path}/" for path in expected]


def test_flux_bucket() -> None:
    rendered = render_destination(MATRIX["flux-bucket"])
    bucket = rendered.one("Bucket", "kratix")
    assert bucket["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert bucket["spec"] | {"interval": None} == {
        "interval": None,
        "provider": "generic",
        "endpoint": "minio.example.com:9000",
        "bucketName": "state",
        "insecure": True,
        "secretRef": {"name": "state-store"},
    }
    assert (
        rendered.one("Kustomization", "kratix-workload-resources")["spec"]["path"]
        == "./kratix/worker-1/resources"
    )
    # Flux's key names, not kratix-py's accessKeyID/secretAccessKey (kratix-behaviour.md §7.3).
    assert rendered.one("Secret", "state-store")["stringData"] == {"accesskey": "AKIA", "secretkey": "shh"}
    iam = render_destination(MATRIX["flux-bucket-v1beta2-iam"]).one("Bucket", "kratix")
    assert iam["apiVersion"] == "source.toolkit.fluxcd.io/v1beta2"
    assert (iam["spec"]["provider"], iam["spec"]["region"]) == ("aws", "eu-west-1")
    assert "secretRef" not in iam["spec"]


def test_flux_git_secrets_use_flux_key_names() -> None:
    basic = render_destination(MATRIX["flux-git-basic-auth"]).one("Secret", "state-store")
    assert basic["stringData"] == {"username": "kratix", "password": "s3cret"}
    ssh = render_destination(MATRIX["flux-git-ssh"]).one("Secret", "state-store")
    assert ssh["stringData"] == {"identity": "KEY", "known_hosts": "HOSTS"}


def test_argocd_applications() -> None:
    rendered = render_destination(MATRIX["argocd-git-basic-auth"])
    dependencies = rendered.one("Application", "kratix-workload-dependencies")
    resources = rendered.one("Application", "kratix-workload-resources")
    assert dependencies["spec"]["source"]["path"] == "clusters/worker-1/dependencies/"
    assert resources["spec"]["source"]["path"] == "clusters/worker-1/resources/"
    waves = [
        int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for app in (dependencies, resources)
    ]
    assert waves[0] < waves[1]
    assert "SkipDryRunOnMissingResource=true" in resources["spec"]["syncPolicy"]["syncOptions"]
    assert resources["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    secret = rendered.one("Secret", "state-store")
    assert secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "repository"
    assert secret["stringData"] == {"type": "git", "url": GIT_URL, "username": "kratix", "password": "s3cret"}
    ssh = render_destination(MATRIX["argocd-git-ssh"])
    assert ssh.one("Secret", "repo")["stringData"]["sshPrivateKey"] == "KEY"
    assert "finalizers" not in ssh.one("Application", "kratix-workload-resources")["metadata"]


def test_notes_say_what_to_check() -> None:
    notes = render_destination(MATRIX["flux-git-existing-secret"]).notes
    assert "kubectl -n gitops get kustomizations" in notes
    assert "Create the credentials Secret mine" in notes
    assert "kratix-worker-system" in notes


BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "missing destination path": ({"source": {"git": {"url": GIT_URL}}}, "/destination"),
    "missing git url": ({"destination": {"path": "w"}}, "source.git.url: required"),
    "argocd with a bucket": (
        {
            "gitops": "argocd",
            "source": {"kind": "bucket", "bucket": {"endpoint": "s3", "bucketName": "b"}},
            "destination": {"path": "w"},
        },
        "source.kind: ArgoCD reads Git repositories only",
    ),
    "scp-like url for flux over ssh": (
        {
            "source": {"git": {"url": "git@git.example.com:platform/state.git", "authMethod": "ssh"}},
            "destination": {"path": "w"},
        },
        "source.git.url: Flux needs an ssh:// URL",
    ),
    "bucket without endpoint": (
        {"source": {"kind": "bucket", "bucket": {"bucketName": "b"}}, "destination": {"path": "w"}},
        "source.bucket.endpoint",
    ),
    "path out of the store": (
        {"source": {"git": {"url": GIT_URL}}, "destination": {"path": "../other"}},
        "destination.path",
    ),
    "negative interval": (
        {"source": {"interval": "-1m", "git": {"url": GIT_URL}}, "destination": {"path": "w"}},
        "/source/interval",
    ),
    "unknown gitops agent": (
        {"gitops": "fleet", "source": {"git": {"url": GIT_URL}}, "destination": {"path": "w"}},
        "/gitops",
    ),
    "unknown source kind": (
        {"source": {"kind": "s3", "git": {"url": GIT_URL}}, "destination": {"path": "w"}},
        "/source/kind",
    ),
    "secret to create without a name": (
        {
            "source": {"git": {"url": GIT_URL}, "secret": {"create": True, "password": "p"}},
            "destination": {"path": "w"},
        },
        "source.secret.name: required",
    ),
    "secret without password": (
        {
            "source": {"git": {"url": GIT_URL}, "secret": {"name": "s", "create": True, "username": "u"}},
            "destination": {"path": "w"},
        },
        "source.secret.password: required",
    ),
    "known hosts in an argocd secret": (
        {
            "gitops": "argocd",
            "source": {
                "git": {"url": SSH_URL, "authMethod": "ssh"},
                "secret": {"name": "s", "create": True, "sshPrivateKey": "k", "knownHosts": "h"},
            },
            "destination": {"path": "w"},
        },
        "source.secret.knownHosts",
    ),
}


@pytest.mark.parametrize("problem", sorted(BAD_VALUES))
def test_bad_values_fail_at_install_time_naming_the_value(problem: str) -> None:
    values, message = BAD_VALUES[problem]
    with pytest.raises(HelmError) as error:
        render_destination(values)
    assert message in str(error.value)


def test_plain_manifests_are_rendered_from_the_chart() -> None:
    """deploy/destination/*.yaml are the chart's output for deploy/destination/values/*.yaml."""
    stale = [path for path in stale_files(REPO) if path.startswith("deploy/")]
    assert stale == [], f"{stale}: run `python -m kratix_py.local_platform.helm sync`"
    for name in DESTINATION_EXAMPLES:
        text = (REPO / "deploy" / "destination" / f"{name}.yaml").read_text()
        objects = parse_documents(text)
        assert "helm.sh/chart" not in text and "managed-by" not in text  # not Helm-managed
        values = yaml.safe_load((REPO / "deploy" / "destination" / "values" / f"{name}.yaml").read_text())
        assert objects == [
            {
                **obj,
                "metadata": {**obj["metadata"], "labels": _without_helm_labels(obj["metadata"]["labels"])},
            }
            for obj in render_destination(values).objects
        ]


def _without_helm_labels(labels: dict[str, str]) -> dict[str, str]:
    helm_only = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance")
    return {key: value for key, value in labels.items() if key not in helm_only}
