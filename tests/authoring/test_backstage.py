"""``kratix-py backstage``: what the command writes, the flavours, and one clear line for bad input.

The entities themselves are checked with Backstage's own packages in tests/backstage/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DATA, EXAMPLES, Outcome

POSTGRESQL = EXAMPLES / "postgresql" / "promise.yaml"
REDIS = EXAMPLES / "redis" / "promise.yaml"


def one_line(outcome: Outcome) -> str:
    assert outcome.code == 1, outcome
    assert "Traceback" not in outcome.err
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith("kratix-py backstage: ")
    return lines[0].removeprefix("kratix-py backstage: ")


def with_spec_property(tmp_path: Path, name: str, schema: dict[str, Any]) -> Path:
    """The test Promise with one more spec property, written to a file."""
    body = yaml.safe_load((DATA / "app-promise.yaml").read_text())
    spec = body["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"][name] = schema
    path = tmp_path / "promise.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_the_command_prints_the_template_and_the_entities(run_cli: Callable[..., Outcome]) -> None:
    printed = run_cli("backstage", POSTGRESQL)
    assert printed.code == 0, printed.err
    documents = list(yaml.safe_load_all(printed.out))
    assert [d["kind"] for d in documents] == ["Template", "Component", "API"]
    template, component, api = documents
    assert [step["action"] for step in template["spec"]["steps"]] == [
        "catalog:write",
        "publish:github:pull-request",
    ]
    assert component["spec"]["providesApis"] == ["api:default/postgresql-promise-api"]
    assert api["metadata"]["name"] == "postgresql-promise-api"
    assert (
        component["metadata"]["annotations"]["kratix.io/backstage-promise-template"]
        == (template["metadata"]["name"])
    )
    assert "kratix.io/status" not in component["metadata"]["annotations"], "a file has no live status"


def test_the_command_writes_two_files_and_no_skeleton(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    written = run_cli("backstage", DATA / "app-promise.yaml", "--output", tmp_path)
    assert written.code == 0, written.err
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "catalog-info.yaml",
        "template.yaml",
    ]
    again = tmp_path / "again"
    run_cli("backstage", DATA / "app-promise.yaml", "--output", again)
    assert (again / "template.yaml").read_bytes() == (tmp_path / "template.yaml").read_bytes()


def test_the_kube_apply_flavour_uses_the_crd_plural_and_a_manifest_string(
    run_cli: Callable[..., Outcome],
) -> None:
    printed = run_cli("backstage", REDIS, "--flavour", "kube-apply")
    assert printed.code == 0, printed.err
    template = next(yaml.safe_load_all(printed.out))
    [step] = template["spec"]["steps"]
    assert step["action"] == "kube:apply"
    assert set(step["input"]) == {"manifest", "namespaced"}
    assert isinstance(step["input"]["manifest"], str) and step["input"]["namespaced"] is True
    assert "kind: Redis\n" in step["input"]["manifest"]
    assert "kubectl get redis -n" in template["spec"]["output"]["text"][0]["content"]  # never "rediss"


def test_owner_system_and_lifecycle_from_flags_or_the_promise(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    body = yaml.safe_load(POSTGRESQL.read_text())
    body["metadata"]["labels"]["backstage.io/system"] = "databases"
    body["metadata"]["annotations"] = {"backstage.io/owner": "group:default/dba"}
    path = tmp_path / "promise.yaml"
    path.write_text(yaml.safe_dump(body))
    template, component, api = yaml.safe_load_all(run_cli("backstage", path).out)
    assert (component["spec"]["owner"], component["spec"]["system"]) == ("group:default/dba", "databases")
    assert (api["spec"]["owner"], template["spec"]["owner"]) == ("group:default/dba", "group:default/dba")
    flagged = list(
        yaml.safe_load_all(run_cli("backstage", path, "--owner", "team-x", "--lifecycle", "beta").out)
    )
    assert flagged[1]["spec"]["owner"] == "team-x" and flagged[1]["spec"]["lifecycle"] == "beta"


def test_a_fixed_repository_leaves_the_repository_page_out(run_cli: Callable[..., Outcome]) -> None:
    printed = run_cli(
        "backstage",
        POSTGRESQL,
        "--repo-url",
        "github.com?owner=acme&repo=platform-requests",
        "--target-branch",
        "main",
        "--requests-path",
        "clusters/platform/requests",
    )
    template = next(yaml.safe_load_all(printed.out))
    assert [page["title"] for page in template["spec"]["parameters"]] == [
        "PostgreSQL request",
        "PostgreSQL configuration",
    ]
    write, pull_request = template["spec"]["steps"]
    assert write["input"]["filePath"] == (
        "clusters/platform/requests/${{ parameters.namespace }}/${{ parameters.name }}.yaml"
    )
    assert pull_request["input"]["repoUrl"] == "github.com?owner=acme&repo=platform-requests"
    assert pull_request["input"]["targetBranchName"] == "main"


def test_help_names_the_plugin_each_flavour_needs(run_cli: Callable[..., Outcome], capsys: Any) -> None:
    with pytest.raises(SystemExit):
        run_cli("backstage", "--help")
    shown = capsys.readouterr().out
    assert "@backstage/plugin-scaffolder-backend-module-github" in shown
    assert "@devangelista/backstage-scaffolder-kubernetes" in shown and "kube:apply" in shown


# -- bad input ------------------------------------------------------------------------------------


def test_a_promise_without_an_api_has_nothing_to_offer(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = tmp_path / "deps.yaml"
    path.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: deps}\nspec: {}\n"
    )
    assert one_line(run_cli("backstage", path)) == (
        f"{path}: Promise deps has no spec.api, so there are no resource requests to "
        "offer in Backstage; add a spec.api CustomResourceDefinition"
    )


def test_a_pattern_javascript_cannot_compile_is_refused(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = with_spec_property(tmp_path, "zone", {"type": "string", "pattern": "(?i)^eu-[a-z]+$"})
    message = one_line(run_cli("backstage", path))
    assert "the request schema cannot be shown as a Backstage form: spec.zone: pattern" in message
    assert "inline flags such as (?i)" in message


def test_a_field_named_like_a_ui_option_is_refused(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    path = with_spec_property(tmp_path, "ui:widget", {"type": "string"})
    message = one_line(run_cli("backstage", path))
    assert "spec.ui:widget: is named like a Backstage UI option" in message


def test_a_form_that_cannot_check_everything_warns_and_still_writes(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = with_spec_property(tmp_path, "timeout", {"type": "string", "format": "duration"})
    outcome = run_cli("backstage", path)
    assert outcome.code == 0
    assert (
        "warning:" in outcome.err
        and "spec.timeout: format 'duration' is not checked by the form" in outcome.err
    )
    template = next(yaml.safe_load_all(outcome.out))
    assert "format" not in template["spec"]["parameters"][1]["properties"]["spec"]["properties"]["timeout"]


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--owner", "Platform Team", "owner 'Platform Team' is not a Backstage entity reference"),
        ("--system", "group:Data/x", "namespace 'Data' must be lower-case"),
        ("--repo-url", "https://github.com/acme/platform", "github.com?owner=ORG&repo=REPO"),
        ("--lifecycle", " ", "lifecycle must not be empty"),
    ],
)
def test_values_backstage_would_reject_get_one_line(
    flag: str, value: str, expected: str, run_cli: Callable[..., Outcome]
) -> None:
    assert expected in one_line(run_cli("backstage", POSTGRESQL, flag, value))


def test_a_spec_field_named_like_the_request_fields_cannot_collide(
    tmp_path: Path, run_cli: Callable[..., Outcome]
) -> None:
    path = with_spec_property(tmp_path, "name", {"type": "string"})
    template = next(yaml.safe_load_all(run_cli("backstage", path).out))
    request_page, spec_page = template["spec"]["parameters"][:2]
    assert request_page["properties"]["name"]["pattern"]  # the request's own name
    assert spec_page["properties"]["spec"]["properties"]["name"] == {"title": "Name", "type": "string"}
