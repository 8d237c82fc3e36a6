"""What ``kratix-py local-platform`` registers and listens on, and the flags that choose it."""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from kratix_py.api import BucketStateStore, Destination, GitStateStore
from kratix_py.cli import main
from kratix_py.errors import CommandError
from kratix_py.local_platform import defaults as d
from kratix_py.local_platform.up import make_api
from kratix_py.operator.settings import OperatorSettings


def test_one_destination_by_default_named_and_labelled_as_in_kratixs_quick_start() -> None:
    assert d.plan_destinations(1) == (d.DestinationPlan("worker-1", {"environment": "dev"}),)


def test_labels_for_every_destination_for_one_and_removed() -> None:
    plan = d.plan_destinations(3, ["team=a", "worker-2:environment=prod", "worker-3:environment-"])
    assert {p.name: dict(p.labels) for p in plan} == {
        "worker-1": {"environment": "dev", "team": "a"},
        "worker-2": {"environment": "prod", "team": "a"},
        "worker-3": {"team": "a"},
    }


def test_a_prefixed_label_key_is_a_key_not_a_destination() -> None:
    (plan,) = d.plan_destinations(1, ["example.com/tier=gold"])
    assert plan.labels["example.com/tier"] == "gold"


@pytest.mark.parametrize(
    ("count", "label", "message"),
    [
        (0, None, "at least one Destination"),
        (1, "worker-9:team=a", "there is no Destination 'worker-9' (there are worker-1)"),
        (1, "team", "expected KEY=VALUE"),
        (1, "bad key!=x", "'bad key!' is not a valid label key"),
        (1, "team=not ok", "'not ok' is not a valid label value"),
    ],
)
def test_bad_destination_flags_name_the_argument(count: int, label: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        d.plan_destinations(count, [label] if label else [])


def test_a_git_store_and_its_destinations_are_valid_kratix_objects() -> None:
    objects = d.platform_objects(
        store="git",
        destinations=d.plan_destinations(2),
        git_url="http://127.0.0.1:1/kratix.git",
        git_password="pw",
    )
    secret, store, *destinations = objects
    assert secret["stringData"] == {"username": "kratix", "password": "pw"}
    assert store["spec"]["secretRef"] == {"name": secret["metadata"]["name"], "namespace": "default"}
    assert GitStateStore.model_validate(store).metadata.name == "default"
    assert [Destination.model_validate(o).spec.path for o in destinations] == ["worker-1", "worker-2"]
    assert {o["spec"]["stateStoreRef"]["kind"] for o in destinations} == {"GitStateStore"}


def test_a_bucket_store_names_the_bucket_kratix_over_plain_http() -> None:
    _secret, store, destination = d.platform_objects(
        store="bucket",
        destinations=d.plan_destinations(1),
        s3_endpoint="127.0.0.1:1",
        s3_credentials={"accessKeyID": "a", "secretAccessKey": "b"},
    )
    spec = BucketStateStore.model_validate(store).spec
    assert (spec.bucket_name, spec.endpoint, spec.insecure) == ("kratix", "127.0.0.1:1", True)
    assert destination["spec"]["stateStoreRef"] == {"kind": "BucketStateStore", "name": "default"}


def test_the_local_platforms_ports_and_the_operators_do_not_collide() -> None:
    defaults = {spec.name: spec.default for spec in fields(OperatorSettings)}
    ports = [d.API_PORT, d.GIT_PORT, d.S3_PORT, defaults["metrics_port"], defaults["health_port"]]
    assert len(set(ports)) == len(ports), ports


def test_the_real_api_says_what_is_missing_until_a_control_plane_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "kratix_py.local_platform.controlplane", None)  # import fails
    with pytest.raises(CommandError, match="--api real needs a real control plane"):
        make_api("real", workdir=tmp_path, host="127.0.0.1", port=0, pods=None)


def test_operator_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["operator", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    for spec in fields(OperatorSettings):
        flag = "--" + spec.name.replace("_", "-")
        after = text.split(f"{flag} {spec.name.upper()} ", 1)[1]
        assert "(default: " in after.split(" [env ", 1)[0], f"{flag} shows no default"
    assert "(default: 10h)" in text and "(default: 8080)" in text and "(default: true)" in text


def test_local_platform_help_shows_its_ports(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["local-platform", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for port in (d.API_PORT, d.GIT_PORT, d.S3_PORT):
        assert f"(default: {port};" in text


def test_the_backstage_catalog_selector_is_labels_or_none() -> None:
    from kratix_py.operator.settings import catalog_selector

    assert catalog_selector("environment=backstage, team=web") == {"environment": "backstage", "team": "web"}
    assert catalog_selector("none") == {} == catalog_selector("")
    with pytest.raises(ValueError, match="key=value"):
        OperatorSettings.from_sources(environ={"KRATIX_PY_BACKSTAGE_CATALOG_SELECTOR": "backstage"})
