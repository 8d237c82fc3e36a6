"""Prometheus metrics of the operator (kopf serves none of its own).

What a platform team watches: how many reconciles run and fail per kind and how long they take, how
deep the work queue is, and how many pipeline runs start.
Names follow Prometheus conventions with the ``kratix_py_`` prefix.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "kratix_py_reconciles_total",
    "Reconciles finished, by kind of object and result (ok, error, conflict).",
    ["kind", "result"],
)
RECONCILE_SECONDS = Histogram(
    "kratix_py_reconcile_duration_seconds",
    "Time one reconcile took, by kind of object.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge("kratix_py_queue_depth", "Objects waiting for or in a reconcile.")
PIPELINE_RUNS = Counter(
    "kratix_py_pipeline_runs_started_total",
    "Pipeline Jobs started, by workflow type (promise, resource) and action (configure, delete).",
    ["workflow_type", "action"],
)


API_REQUESTS = Counter(
    "rest_client_requests_total",
    "Kubernetes API requests the operator made, by verb (get, list, watch, create, update, patch, "
    "delete) and HTTP status code (0: the API could not be reached). Same name as client-go's.",
    ["verb", "code"],
)


def serve(port: int, address: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` on ``port`` in a background thread (0: no metrics endpoint)."""
    if port:
        start_http_server(port, addr=address)
