"""The /metrics endpoint over HTTP: valid text format, per-request series streamed in chunks."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kratix_py.operator import metrics, metrics_endpoint


@pytest.fixture
def endpoint() -> Iterator[str]:
    with socket.socket() as probe:  # serve(0) means "no endpoint", so pick a free port here
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = metrics_endpoint.serve(port, "127.0.0.1")
    assert server is not None
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def scrape(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.headers["Content-Type"], answer.read().decode()


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in found, f"{family.name} is served twice"
        found[family.name] = [(s.labels, s.value) for s in family.samples]
    return found


def test_per_request_counters_are_served_beside_the_fixed_metrics(endpoint):
    awkward = 'say "hi"\\back\nslash'  # every character the text format escapes
    metrics.placement_written(True, "endpoint-test", awkward, "dev", "instance", namespace="ns")
    metrics.placement_written(True, "endpoint-test", awkward, "dev", "instance", namespace="ns")
    metrics.placement_outcome("scheduled", "endpoint-test", awkward, "ns", "dev")
    metrics.reconciled("Promise", "ok", 0.01)
    try:
        content_type, text = scrape(endpoint)
        assert content_type.startswith("text/plain; version=0.0.4")
        served = families(text)
        writes = [
            v for labels, v in served["kratix_workplacement_writes"] if labels.get("resource") == awkward
        ]
        assert writes == [2.0]
        outcomes = served["kratix_workplacement_outcomes"]
        assert ({"result": "scheduled", "promise": "endpoint-test", "resource": awkward, "namespace": "ns",
                 "destination": "dev"}, 1.0) in outcomes  # fmt: skip
        assert any(labels == {"controller": "promise", "result": "success"}
                   for labels, _ in served["controller_runtime_reconcile"])  # fmt: skip
    finally:
        metrics.forget_request("endpoint-test", awkward, "ns")
    _, text = scrape(endpoint)
    assert awkward.replace("\n", "\\n") not in text and "endpoint-test" not in text


def test_thousands_of_series_are_sent_in_bounded_chunks(endpoint):
    names = [f"many-{i:05d}" for i in range(3000)]
    for name in names:
        metrics.placement_outcome("scheduled", "endpoint-many", name, "default", "dev")
    try:
        chunks = list(metrics_endpoint.exposition())
        longest_line = max(len(line) for chunk in chunks[1:] for line in chunk.split(b"\n"))
        assert len(chunks) > 3, "the per-request series came as one piece"
        assert all(len(chunk) < metrics_endpoint.CHUNK_BYTES + longest_line + 1 for chunk in chunks[1:])
        _, text = scrape(endpoint)
        outcomes = families(text)["kratix_workplacement_outcomes"]
        served = {labels["resource"] for labels, _ in outcomes if labels["promise"] == "endpoint-many"}
        assert served == set(names)
        assert metrics.sample_value(
            "kratix_workplacement_outcomes_total",
            {"result": "scheduled", "promise": "endpoint-many", "resource": names[-1], "namespace": "default",
             "destination": "dev"},
        ) == 1.0  # fmt: skip
    finally:
        for name in names:
            metrics.forget_request("endpoint-many", name, "default")
    assert "endpoint-many" not in scrape(endpoint)[1]


def test_only_reads_are_answered(endpoint):
    request = urllib.request.Request(endpoint, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
