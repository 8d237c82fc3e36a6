"""Everything kratix-py makes for Backstage, checked by Backstage's own published packages.

One run of ``js/check.mjs`` (see its header) over: the files ``kratix-py backstage`` writes, in
both flavours, for the example Promises, the authoring test Promise and a Promise with a hard
schema; and the files inside the catalog Works the operator would create, for those Promises and
for requests of them (with status, links and names long enough to be hashed). Then each
Template's steps are rendered as the scaffolder renders them, their inputs checked against the
actions' own input schemas, ``catalog:write`` really run, and the request it wrote (or the
manifest ``kube:apply`` would apply) admitted against the Promise's CRD by the API emulator.
A few deliberately broken inputs show the checks do fail.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kratix_py.api import decode_workload_content
from kratix_py.authoring.apicheck import ApiChecker
from kratix_py.core import catalog
from kratix_py.core.request_crd import build_request_crd
from kratix_py.core.scaffolder import FLAVOUR_KUBE_APPLY, FLAVOUR_PULL_REQUEST, FLAVOURS

from .conftest import DATA, EXAMPLES, REPO, Check

PROMISES = {
    "postgresql": EXAMPLES / "postgresql" / "promise.yaml",
    "redis": EXAMPLES / "redis" / "promise.yaml",
    "app": REPO / "tests" / "authoring" / "data" / "app-promise.yaml",
    "hard": DATA / "hard-promise.yaml",
}
SPECS: dict[str, dict[str, Any]] = {
    "postgresql": {"teamName": "team-a", "size": "medium"},
    "redis": {"teamName": "team-a"},
    "app": {"team": "team-a", "replicas": 3},
    "hard": {
        "port": "5672",
        "partitions": 3,
        "consumers": [{"name": "billing", "weight": 1.5}],
        "tags": {"env": "dev"},
        "tls": {"enabled": True, "issuer": "internal"},
        "hostPattern": "queue-1.example.com",
    },
}
PARAMETERS = {
    "name": "team-a-db",
    "namespace": "team-a",
    "owner": "group:default/team-a",
    "repoUrl": "github.com?owner=acme&repo=platform-requests",
}
STORE = {
    "apiVersion": "platform.kratix.io/v1alpha1",
    "kind": "GitStateStore",
    "metadata": {"name": "default"},
    "spec": {"url": "https://github.com/acme/state.git", "branch": "main", "path": "clusters"},
}
DESTINATIONS = [
    {
        "metadata": {"name": "dev"},
        "spec": {"path": "dev", "stateStoreRef": {"kind": "GitStateStore", "name": "default"}},
    }
]
BROKEN_ENTITIES = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: _starts-badly}
spec: {type: service, lifecycle: production, owner: team}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: bad-tag, tags: [Not A Tag]}
spec: {type: service, lifecycle: production, owner: team}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: no-owner}
spec: {type: service, lifecycle: production}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: bad-owner}
spec: {type: service, lifecycle: production, owner: "group:Platform Team"}
"""
# What kratix-py's Template used to do: an object where kube:apply takes a YAML string.
OBJECT_MANIFEST_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "object-manifest"},
    "spec": {
        "type": "service",
        "owner": "platform-team",
        "parameters": [{"properties": {"name": {"type": "string"}}}],
        "steps": [
            {
                "id": "apply",
                "action": "kube:apply",
                "input": {
                    "namespaced": True,
                    "manifest": {"kind": "Redis", "metadata": {"name": "${{ parameters.name }}"}},
                },
            }
        ],
    },
}


def promise_body(key: str) -> dict[str, Any]:
    body = dict(yaml.safe_load(PROMISES[key].read_text()))
    body["metadata"]["uid"] = f"uid-{key}"
    body["status"] = {"status": "Available", "message": "Available"}
    return body


def request_for(key: str, promise: Mapping[str, Any], *, name: str, namespace: str) -> dict[str, Any]:
    crd = promise["spec"]["api"]
    return {
        "apiVersion": f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}",
        "kind": crd["spec"]["names"]["kind"],
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{key}-{name}"},
        "spec": SPECS[key],
        "status": {
            "message": "Resource requested",
            "conditions": [
                {"type": "Reconciled", "status": "True", "reason": "Reconciled", "message": "Reconciled"}
            ],
        },
    }


def work_files(work: Mapping[str, Any], folder: Path) -> list[Path]:
    """The Work's workloads written as the state store would hold them."""
    written = []
    for group in work["spec"]["workloadGroups"]:
        for workload in group["workloads"]:
            path = folder / work["metadata"]["name"] / workload["filepath"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(decode_workload_content(workload["content"]))
            written.append(path)
    return written


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory, backstage_check: Check) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("backstage")
    entity_files: list[Path] = []
    templates: list[dict[str, Any]] = []
    for key in PROMISES:
        body = promise_body(key)
        for flavour in FLAVOURS:
            options = catalog.CatalogOptions(flavour=flavour)
            folder = root / "cli" / key / flavour
            folder.mkdir(parents=True)
            for name, text in catalog.promise_files(body, options).items():
                (folder / name).write_text(text)
                entity_files.append(folder / name)
            templates.append(
                {
                    "file": str(folder / catalog.TEMPLATE_FILE),
                    "parameters": {**PARAMETERS, "spec": SPECS[key]},
                    "case": key,
                    "flavour": flavour,
                }
            )
        entity_files += work_files(catalog.catalog_work_for_promise(body), root / "works")
        for name, namespace in (("team-a-db", "team-a"), ("d" * 63, "n" * 63)):
            request = request_for(key, body, name=name, namespace=namespace)
            work = catalog.catalog_work_for_request(
                body,
                request,
                works=[
                    {
                        "metadata": {"name": "w1"},
                        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                    }
                ],
                placements=[
                    {
                        "metadata": {"labels": {"kratix.io/work": "w1"}},
                        "spec": {"targetDestinationName": "dev"},
                    }
                ],
                destinations=DESTINATIONS,
                state_stores=[STORE],
            )
            entity_files += work_files(work, root / "works")
    broken = root / "broken.yaml"
    broken.write_text(BROKEN_ENTITIES)
    object_manifest = root / "object-manifest.yaml"
    object_manifest.write_text(yaml.safe_dump(OBJECT_MANIFEST_TEMPLATE))
    result = backstage_check(
        {
            "entityFiles": [str(p) for p in [*entity_files, broken]],
            "templates": [
                *({"file": t["file"], "parameters": t["parameters"]} for t in templates),
                {"file": str(object_manifest), "parameters": {"name": "cache"}},
            ],
        }
    )
    result["cases"] = templates
    result["broken"] = str(broken)
    return result


def test_the_checks_ran_with_the_pinned_packages(checked: dict[str, Any]) -> None:
    assert checked["versions"]["@backstage/catalog-model"] == "1.10.3"
    assert checked["versions"]["@backstage/plugin-scaffolder-common"] == "2.4.0"
    assert checked["versions"]["nunjitsu"] == "0.7.0"


def test_every_generated_entity_passes_the_catalog_policies_and_kind_validators(
    checked: dict[str, Any],
) -> None:
    ours = [e for e in checked["entities"] if e["file"] != checked["broken"]]
    kinds = sorted({e["kind"] for e in ours})
    assert kinds == ["API", "Component", "Template"]
    assert len(ours) >= 4 * (2 * 3 + 3 + 2)
    rejected = {
        f"{e['file']}#{e['index']} {e.get('kind')} {e.get('name')}": e["errors"] for e in ours if e["errors"]
    }
    assert not rejected


def test_the_validators_do_reject_broken_entities(checked: dict[str, Any]) -> None:
    name, tags, owner, owner_ref = (e for e in checked["entities"] if e["file"] == checked["broken"])
    assert any("metadata.name" in error for error in name["errors"]), name
    assert any("tags" in error for error in tags["errors"]), tags
    assert any("owner" in error for error in owner["errors"]), owner
    assert any("spec.owner" in error for error in owner_ref["errors"]), owner_ref


def test_every_form_compiles_and_accepts_a_filled_in_request(checked: dict[str, Any]) -> None:
    for template in checked["templates"][:-1]:
        assert template["formErrors"] == [], template["file"]
        assert template["parameterErrors"] == [], template["file"]
        assert template["parameters"]["spec"], template["file"]


def test_every_step_input_matches_its_actions_schema(checked: dict[str, Any]) -> None:
    for case, template in zip(checked["cases"], checked["templates"], strict=False):
        actions = [step["action"] for step in template["steps"]]
        if case["flavour"] == FLAVOUR_PULL_REQUEST:
            assert actions == ["catalog:write", "publish:github:pull-request"]
        else:
            assert actions == ["kube:apply"]
        for step in template["steps"]:
            assert step["inputErrors"] == [], (case, step)


def test_an_object_manifest_for_kube_apply_is_refused_as_backstage_refuses_it(
    checked: dict[str, Any],
) -> None:
    [step] = checked["templates"][-1]["steps"]
    assert any("manifest is not of a type(s) string" in error for error in step["inputErrors"]), step


def rendered_requests(checked: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(Promise, flavour) -> the request the Template produced, as written or as applied."""
    found = {}
    for case, template in zip(checked["cases"], checked["templates"], strict=False):
        if case["flavour"] == FLAVOUR_PULL_REQUEST:
            [(path, text)] = template["written"].items()
            assert (
                path
                == f"requests/{template['steps'][0]['input']['filePath'].split('/')[1]}/team-a/team-a-db.yaml"
            )
            found[(case["case"], case["flavour"])] = yaml.safe_load(text)
        else:
            found[(case["case"], case["flavour"])] = template["steps"][0]["parsedManifest"]
    return found


def test_the_rendered_request_is_what_the_promises_crd_accepts(checked: dict[str, Any]) -> None:
    for (key, flavour), request in rendered_requests(checked).items():
        body = promise_body(key)
        admission = ApiChecker(build_request_crd(body["metadata"]["name"], body["spec"]["api"])).admit(
            request
        )
        assert admission.accepted, (key, flavour, admission.problems)
        assert admission.pruned == (), (key, flavour, admission.pruned)
        assert request["metadata"]["name"] == "team-a-db" and request["metadata"]["namespace"] == "team-a"
        for field, value in SPECS[key].items():
            assert request["spec"][field] == value, (key, flavour, field)


def test_both_flavours_make_the_same_request(checked: dict[str, Any]) -> None:
    requests = rendered_requests(checked)
    for key in PROMISES:
        written = copy.deepcopy(requests[(key, FLAVOUR_PULL_REQUEST)])
        # catalog:write notes which Template wrote the file; kube:apply has no such step.
        assert (
            written["metadata"]["annotations"]
            .pop("backstage.io/source-template")
            .startswith("template:default/")
        )
        assert written == requests[(key, FLAVOUR_KUBE_APPLY)], key


def test_the_form_fills_in_the_crd_defaults(checked: dict[str, Any]) -> None:
    requests = rendered_requests(checked)
    postgresql = requests[("postgresql", FLAVOUR_PULL_REQUEST)]
    assert postgresql["spec"] == {"teamName": "team-a", "size": "medium", "version": "16", "backups": False}
    assert requests[("hard", FLAVOUR_KUBE_APPLY)]["spec"]["retention"] == "24h"


def test_the_request_is_labelled_for_the_kubernetes_tab(checked: dict[str, Any]) -> None:
    request = rendered_requests(checked)[("postgresql", FLAVOUR_KUBE_APPLY)]
    assert request["metadata"]["labels"] == {"backstage.io/kubernetes-id": "postgresql.team-a-db"}
    assert request["metadata"]["annotations"] == {"backstage.io/owner": "group:default/team-a"}
