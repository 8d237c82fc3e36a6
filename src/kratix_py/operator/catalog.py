"""Keeping the Backstage catalog Works of Promises and requests current (issue 16, item 2).

What the entities say is :mod:`kratix_py.core.catalog`'s; this module decides when to write them
and writes them through the API like any other Work, so they reach Backstage by the normal
Kratix route: scheduled to the Destinations with the catalog labels (``environment:
backstage`` by default), written to their state store, read by Backstage as a location.

- Nothing is written while no Destination carries the catalog labels: a platform without
  Backstage gets no Works that nothing would ever schedule. When such a Destination appears,
  the operator reconciles every Promise and request once (see ``Operator.route``).
- ``kube.apply`` compares with the cached Work first and the Work has no timestamps, so a
  reconcile that changes nothing Backstage shows costs no write and no commit.
- A Promise whose API cannot become entities (a schema no form can show, a name Backstage
  rejects) is told so by one Warning Event per Promise generation; the Promise itself is fine.
- Removal: the request's and the Promise's deletion steps delete their catalog Work with their
  other Works (its own finalizer removes the files first); the owner reference is a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import catalog
from kratix_py.operator import resources as r

log = logging.getLogger(__name__)


class CatalogWriter:
    """Writes and removes the catalog Works; disabled when ``selector`` is empty."""

    def __init__(self, kube: k.Kube, selector: Mapping[str, str]) -> None:
        self.kube = kube
        self.options = catalog.CatalogOptions(destination_selector=dict(selector))
        self.enabled = bool(selector)
        self._warned: set[tuple[str, Any]] = set()

    def selects(self, destination: Mapping[str, Any]) -> bool:
        """Whether ``destination`` is one the catalog Works go to."""
        if not self.enabled:
            return False
        labels = (destination.get("metadata") or {}).get("labels") or {}
        return all(labels.get(key) == value for key, value in self.options.destination_selector.items())

    def active(self) -> bool:
        """A Destination with the catalog labels exists (read from the cache)."""
        if not self.enabled:
            return False
        selector = self.options.destination_selector
        return bool(self.kube.list(r.DESTINATIONS, labels=selector))

    # -- writing ------------------------------------------------------------------------------------
    def promise(self, promise_obj: Mapping[str, Any]) -> None:
        """Keep the Promise's Component, API and Template Work."""
        if not self.active() or not (promise_obj.get("spec") or {}).get("api"):
            return  # without an API there is nothing to request, so nothing to show
        try:
            work = catalog.catalog_work_for_promise(promise_obj, self.options)
        except catalog.CatalogError as error:
            self._problem(promise_obj, str(error))
            return
        self.kube.apply(r.WORKS, work)

    def request(
        self,
        promise_obj: Mapping[str, Any],
        request_obj: Mapping[str, Any],
        works: Sequence[Mapping[str, Any]],
    ) -> None:
        """Keep the request's Component Work, with the status it has now."""
        if not self.active():
            return
        placements: list[dict[str, Any]] = []
        for work in works:
            meta = work["metadata"]
            placements += self.kube.list(
                r.WORKPLACEMENTS, meta["namespace"], labels={c.LABEL_WORK: meta["name"]}
            )
        stores = [*self.kube.list(r.GIT_STATE_STORES), *self.kube.list(r.BUCKET_STATE_STORES)]
        try:
            work = catalog.catalog_work_for_request(
                promise_obj,
                request_obj,
                works=works,
                placements=placements,
                destinations=self.kube.list(r.DESTINATIONS),
                state_stores=stores,
                options=self.options,
            )
        except catalog.CatalogError as error:
            self._problem(request_obj, str(error))
            return
        self.kube.apply(r.WORKS, work)

    def missing_labels(self, promise_name: str, request_obj: Mapping[str, Any]) -> dict[str, str]:
        """``backstage.io/kubernetes-id`` for a request made without the Template (kubectl, GitOps):
        Backstage's Kubernetes tab finds a request by that label. An id already set is kept."""
        labels = (request_obj.get("metadata") or {}).get("labels") or {}
        if not self.active() or any(
            key in labels for key in catalog.request_labels(promise_name, request_obj)
        ):
            return {}
        return catalog.request_labels(promise_name, request_obj)

    # -- removing -----------------------------------------------------------------------------------
    def request_work(self, promise_name: str, request_obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """The request's catalog Work, if there is one (it is deleted with the request's Works)."""
        meta = request_obj["metadata"]
        name = catalog.catalog_work_name_for_request(promise_name, meta["namespace"], meta["name"])
        return self.kube.get(r.WORKS, name, meta["namespace"])

    def promise_work(self, promise_name: str) -> dict[str, Any] | None:
        name = catalog.catalog_work_name_for_promise(promise_name)
        return self.kube.get(r.WORKS, name, self.options.namespace)

    def _problem(self, obj: Mapping[str, Any], message: str) -> None:
        """Say it once per object generation: the next reconcile would only repeat it."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("uid")), meta.get("generation"))
        if key in self._warned:
            return
        if len(self._warned) > 1024:
            self._warned.clear()
        self._warned.add(key)
        log.warning("no Backstage catalog entity: %s", message)
        self.kube.emit_event(
            obj, "CatalogEntityInvalid", f"No Backstage catalog entity: {message}", type="Warning"
        )
