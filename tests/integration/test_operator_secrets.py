"""A pipeline that prints the Secrets it was given: the values never reach the request or its Events.

The operator quotes the end of a failed container's log in the request's conditions and in Events;
both are readable by far more people than the Secret. Fast mode: the pipeline is a Python step
that gets the environment the pod spec resolves (secretKeyRef, envFrom) as a kubelet would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kratix_py import kube as k
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.testing.fixtures import ADAPTER_IMAGE, wait_for

from .test_operator_fast import REDIS, condition, install, promise_body, request_body

PASSWORD = "pa55-w0rd-that-must-stay-hidden"
TOKEN = "tok_9f8e7d6c5b4a"


def leaky(ctx: Any) -> int:
    """Prints what a careless pipeline prints, then fails."""
    ctx.log(f"connecting as admin with {ctx.env['DB_PASSWORD']}")
    ctx.log(f"token={ctx.env['API_TOKEN']} rejected")
    return 4


@pytest.fixture
def system(platform_factory) -> Iterator[k.Kube]:
    platform = platform_factory(pods="fast", steps={"test/leaky:v1": leaky})
    kube = k.Kube(platform.api_client())
    for name, data in (("db", {"password": PASSWORD}), ("api", {"API_TOKEN": TOKEN})):
        kube.create(
            k.SECRETS,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": "default"},
                "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
            },
        )
    settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
    with RunningOperator(settings):
        yield kube


def test_secret_values_in_a_failed_pipelines_log_are_masked_in_status_and_events(system: k.Kube) -> None:
    kube = system
    body = promise_body("leaky")
    container = body["spec"]["workflows"]["resource"]["configure"][0]["spec"]["containers"][0]
    container["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    ]
    container["envFrom"] = [{"secretRef": {"name": "api"}}]
    install(kube, body)
    kube.create(REDIS, request_body())
    failed = wait_for(
        lambda: (
            (o := kube.get(REDIS, "my-redis", "default"))
            and (cd := condition(o, "ConfigureWorkflowCompleted"))
            and cd["reason"] == "ConfigureWorkflowFailed"
            and o
        ),
        what="the failure to be reported",
    )
    message = condition(failed, "ConfigureWorkflowCompleted")["message"]
    assert "container main exited 4" in message
    assert "connecting as admin with ***" in message and "token=*** rejected" in message
    events = kube.list(k.EVENTS, "default")
    assert any("connecting as admin with ***" in event.get("message", "") for event in events)
    everything = json.dumps([failed, events])
    assert PASSWORD not in everything and TOKEN not in everything
