"""Prometheus metrics of the operator (kopf serves none of its own).

Kratix users already have dashboards and alerts on controller-runtime's metric names and on
Kratix's two WorkPlacement counters, so kratix-py serves those names with the same labels:

- ``controller_runtime_reconcile_total{controller,result}`` (result: success, error,
  requeue_after; kratix-py reconcilers never ask for controller-runtime's immediate ``requeue``), ``controller_runtime_reconcile_errors_total{controller}``,
  ``controller_runtime_reconcile_time_seconds{controller}``;
- ``workqueue_depth{name}``, ``workqueue_adds_total{name}``, ``workqueue_retries_total{name}``;
- ``rest_client_requests_total{verb,code}`` (client-go's, by verb rather than URL host);
- ``kratix_workplacement_writes_total{result,promise,resource,destination,pipeline}``
  (result: success, failure) and
  ``kratix_workplacement_outcomes_total{result,promise,resource,namespace,destination}``
  (result: scheduled, unscheduled, misplaced), as Kratix's telemetry package names them; an empty
  label is what Kratix leaves out (Prometheus treats both the same).

The controller label is the kind in lower case (``promise``, ``work``, ``workplacement``, ...), as
controller-runtime names a controller after its kind. Kratix has nothing on pipeline runs, so
kratix-py adds ``kratix_py_pipeline_runs_started_total``, ``kratix_py_pipeline_runs_total``
(by outcome) and ``kratix_py_pipeline_run_duration_seconds``. The earlier kratix-py names
(``kratix_py_reconciles_total``, ``kratix_py_reconcile_duration_seconds``,
``kratix_py_queue_depth``) are still served for dashboards built on them.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Final

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

QUEUE_NAME: Final = "kratix-py"
"""The one work queue's name in the ``workqueue_*`` metrics (controller-runtime: the controller name)."""

_RECONCILE_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class RequestCounter:
    """A counter whose series are per resource request, as compact as a counter can be.

    Each series is one entry of a dict from its label values (interned: thousands of series repeat
    the same Promise, Destination and result) to its value. ``collect`` makes it a
    prometheus_client collector, for :data:`REQUEST_REGISTRY`; ``lines`` gives its exposition
    one series at a time.
    """

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, labels: tuple[str, ...]) -> None:
        key = tuple(sys.intern(value) for value in labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + 1.0

    def remove(self, labels: tuple[str, ...]) -> None:
        with self._lock:
            self._values.pop(labels, None)

    def __len__(self) -> int:
        return len(self._values)

    def lines(self) -> Iterator[str]:
        """The text exposition (format 0.0.4), labels sorted by name as prometheus_client does."""
        order = sorted(range(len(self.labelnames)), key=lambda i: self.labelnames[i])
        documentation = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        yield f"# HELP {self.name} {documentation}\n# TYPE {self.name} counter\n"
        with self._lock:  # a snapshot of references only: the exposition is built outside the lock
            series = list(self._values.items())
        for labels, value in series:
            text = ",".join(f'{self.labelnames[i]}="{_escape(labels[i])}"' for i in order)
            yield f"{self.name}{{{text}}} {floatToGoString(value)}\n"

    def collect(self) -> Iterator[Metric]:
        family = Metric(self.name.removesuffix("_total"), self.documentation, "counter")
        with self._lock:
            series = list(self._values.items())
        for labels, value in series:
            family.add_sample(self.name, dict(zip(self.labelnames, labels, strict=True)), value)
        yield family


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


# -- controller-runtime names ------------------------------------------------------------------------
RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller (result: success, error, requeue_after).",
    ["controller", "result"],
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller.",
    ["controller"],
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller.",
    ["controller"],
    buckets=_RECONCILE_BUCKETS,
)
WORKQUEUE_DEPTH = Gauge("workqueue_depth", "Current depth of workqueue.", ["name"])
WORKQUEUE_ADDS = Counter("workqueue_adds_total", "Total number of adds handled by workqueue.", ["name"])
WORKQUEUE_RETRIES = Counter(
    "workqueue_retries_total", "Total number of retries handled by workqueue.", ["name"]
)
API_REQUESTS = Counter(
    "rest_client_requests_total",
    "Kubernetes API requests the operator made, by verb (get, list, watch, create, update, patch, "
    "delete) and HTTP status code (0: the API could not be reached). Same name as client-go's.",
    ["verb", "code"],
)

# -- Kratix's names ----------------------------------------------------------------------------------
# Both carry the request's name as a label: one series per request. They are held as plain values
# (a prometheus_client child costs ~700 bytes with its lock and timestamp) and served by
# metrics_endpoint line by line, so a scrape with thousands of requests builds no page in memory.
WORKPLACEMENT_WRITES = RequestCounter(
    "kratix_workplacement_writes_total",
    "Total number of WorkPlacement write attempts (result: success, failure).",
    ("result", "promise", "resource", "destination", "pipeline"),
)
WORKPLACEMENT_OUTCOMES = RequestCounter(
    "kratix_workplacement_outcomes_total",
    "Total number of WorkPlacement scheduling outcomes (result: scheduled, unscheduled, misplaced).",
    ("result", "promise", "resource", "namespace", "destination"),
)
PER_REQUEST_COUNTERS: Final = (WORKPLACEMENT_WRITES, WORKPLACEMENT_OUTCOMES)
REQUEST_REGISTRY: Final = CollectorRegistry(auto_describe=False)
"""The per-request counters as a prometheus_client registry (``get_sample_value`` reads them)."""
for _counter in PER_REQUEST_COUNTERS:
    REQUEST_REGISTRY.register(_counter)

# -- kratix-py's own -----------------------------------------------------------------------------------
PIPELINE_RUNS = Counter(
    "kratix_py_pipeline_runs_started_total",
    "Pipeline Jobs started, by workflow type (promise, resource) and action (configure, delete).",
    ["workflow_type", "action"],
)
PIPELINE_OUTCOMES = Counter(
    "kratix_py_pipeline_runs_total",
    "Pipeline Jobs finished, by workflow type, action, pipeline and outcome (succeeded, failed).",
    ["workflow_type", "action", "pipeline", "outcome"],
)
PIPELINE_SECONDS = Histogram(
    "kratix_py_pipeline_run_duration_seconds",
    "Time from a pipeline Job's creation to its completion or failure.",
    ["workflow_type", "action", "pipeline", "outcome"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)

# Kept for dashboards built on kratix-py's first names.
RECONCILES = Counter(
    "kratix_py_reconciles_total",
    "Reconciles finished, by kind of object and result (ok, error, conflict).",
    ["kind", "result"],
)
RECONCILE_SECONDS = Histogram(
    "kratix_py_reconcile_duration_seconds",
    "Time one reconcile took, by kind of object.",
    ["kind"],
    buckets=_RECONCILE_BUCKETS[:-1],
)
QUEUE_DEPTH = Gauge("kratix_py_queue_depth", "Objects waiting for or in a reconcile.")


def controller(kind: str) -> str:
    """controller-runtime's controller label for a kind: ``WorkPlacement`` -> ``workplacement``."""
    return kind.lower()


def reconciled(kind: str, result: str, seconds: float, *, requeue: bool = False) -> None:
    """Count one finished reconcile under both name sets.

    ``result`` is kratix-py's (ok, error, conflict). controller-runtime counts a conflict as an
    error that is retried, and an ok that asked to come back later as ``requeue_after``.
    """
    name = controller(kind)
    RECONCILES.labels(kind, result).inc()
    RECONCILE_SECONDS.labels(kind).observe(seconds)
    RECONCILE_TIME.labels(name).observe(seconds)
    if result == "ok":
        RECONCILE_TOTAL.labels(name, "requeue_after" if requeue else "success").inc()
        return
    RECONCILE_TOTAL.labels(name, "error").inc()
    RECONCILE_ERRORS.labels(name).inc()
    WORKQUEUE_RETRIES.labels(QUEUE_NAME).inc()


def queue_depth(depth: int) -> None:
    QUEUE_DEPTH.set(depth)
    WORKQUEUE_DEPTH.labels(QUEUE_NAME).set(depth)


class _SeriesOfWorks:
    """Which per-request series each Work's request has, so they go when its Works go.

    ``kratix_workplacement_writes_total`` has no namespace label, so same-named requests in two
    namespaces share its series: a series counts the requests that hold it and is removed when
    none does. Lists, not sets: a request holds two or three series, and a set costs 200 bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, str], list[tuple[RequestCounter, tuple[str, ...]]]] = {}
        self._holders: dict[tuple[RequestCounter, tuple[str, ...]], int] = {}

    def inc(self, counter: RequestCounter, labels: tuple[str, ...], work: tuple[str, str, str]) -> None:
        series = (counter, labels)
        with self._lock:
            counter.inc(labels)
            held = self._held.setdefault(work, [])
            if series not in held:
                held.append(series)
                self._holders[series] = self._holders.get(series, 0) + 1

    def forget(self, work: tuple[str, str, str]) -> None:
        with self._lock:
            for series in self._held.pop(work, ()):
                holders = self._holders[series] - 1
                if holders:
                    self._holders[series] = holders
                    continue
                del self._holders[series]
                counter, labels = series
                counter.remove(labels)

    def __len__(self) -> int:
        return len(self._holders)


_PER_REQUEST = _SeriesOfWorks()


def placement_written(
    ok: bool, promise: str, resource: str, destination: str, pipeline: str, *, namespace: str
) -> None:
    labels = ("success" if ok else "failure", promise, resource, destination, pipeline)
    _PER_REQUEST.inc(WORKPLACEMENT_WRITES, labels, (promise, resource, namespace))


def placement_outcome(result: str, promise: str, resource: str, namespace: str, destination: str) -> None:
    labels = (result, promise, resource, namespace, destination)
    _PER_REQUEST.inc(WORKPLACEMENT_OUTCOMES, labels, (promise, resource, namespace))


def forget_request(promise: str, resource: str, namespace: str) -> None:
    """A request's Work is gone: its per-request series go too (``resource`` "" for a Promise's)."""
    _PER_REQUEST.forget((promise, resource, namespace))


def per_request_series() -> int:
    """How many per-request series are held: it must not grow with requests that are gone."""
    return len(_PER_REQUEST)


def pipeline_finished(
    workflow_type: str, action: str, pipeline: str, succeeded: bool, seconds: float | None
) -> None:
    outcome = "succeeded" if succeeded else "failed"
    PIPELINE_OUTCOMES.labels(workflow_type, action, pipeline, outcome).inc()
    if seconds is not None and seconds >= 0:
        PIPELINE_SECONDS.labels(workflow_type, action, pipeline, outcome).observe(seconds)


def sample_value(name: str, labels: dict[str, str] | None = None) -> float | None:
    """A sample's value from either registry (None: no such series), as prometheus_client's
    ``get_sample_value`` gives it."""
    value = REGISTRY.get_sample_value(name, labels)
    return value if value is not None else REQUEST_REGISTRY.get_sample_value(name, labels)
