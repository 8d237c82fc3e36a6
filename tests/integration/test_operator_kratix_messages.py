"""The words Kratix users grep for, driven as Kratix's destination_test.go drives them.

A Destination whose store is missing, a store whose Secret is missing and a store with bad
credentials: kratix-py's messages say more than Kratix's, but keep Kratix's key phrases ("not found",
"Secret <name> not found in namespace <ns>", "not ready", "Authentication failed") in the condition
and in the Event, where ``kubectl describe`` shows them.
"""

from __future__ import annotations

from typing import Any

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for
from tests.integration import test_operator_statestores as stores
from tests.integration.test_operator_statestores import condition, destination, git_store, ready

# The state-store suite's platform with an operator, its Git server and a fresh repository.
system = stores.system
git_server = stores.git_server
repo = stores.repo


def _not_ready(kube: k.Kube, resource: k.Resource, name: str, phrase: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (found := condition(kube.get(resource, name), "Ready"))
            and found.get("status") == "False"
            and phrase in str(found.get("message"))
            and found
        ),
        what=f"{resource.kind} {name} to be not ready with {phrase!r} (now {condition(kube.get(resource, name), 'Ready')})",
    )


def _event_says(kube: k.Kube, kind: str, name: str, *phrases: str) -> None:
    def said() -> bool:
        return any(
            (event.get("involvedObject") or {}).get("kind") == kind
            and (event.get("involvedObject") or {}).get("name") == name
            and all(phrase in str(event.get("message")) for phrase in phrases)
            for event in kube.list(k.EVENTS)
        )

    wait_for(said, what=f"an Event on {kind} {name} saying {phrases}")


def test_missing_store_missing_secret_and_bad_credentials_use_kratix_words(system, git_server, repo):
    kube, _ = system
    git_store(kube, git_server, repo, name="destination-git-test-store")
    destination(kube, "worker-1", store="destination-git-test-store")
    ready(kube, r.GIT_STATE_STORES, "destination-git-test-store")
    ready(kube, r.DESTINATIONS, "worker-1")

    # Failing when the state store ref is not found.
    kube.patch(r.DESTINATIONS, "worker-1", {"spec": {"stateStoreRef": {"name": "non-existing"}}})
    found = _not_ready(kube, r.DESTINATIONS, "worker-1", "GitStateStore/non-existing: not found")
    assert found["reason"] == "StateStoreNotFound"
    _event_says(kube, "Destination", "worker-1", "not found")
    kube.patch(
        r.DESTINATIONS, "worker-1", {"spec": {"stateStoreRef": {"name": "destination-git-test-store"}}}
    )
    ready(kube, r.DESTINATIONS, "worker-1")

    # Failing when the state store Secret does not exist.
    kube.patch(
        r.GIT_STATE_STORES,
        "destination-git-test-store",
        {"spec": {"secretRef": {"name": "non-existent-secret"}}},
    )
    missing = _not_ready(
        kube,
        r.GIT_STATE_STORES,
        "destination-git-test-store",
        "Secret non-existent-secret not found in namespace default",
    )
    assert missing["reason"] == "SecretNotFound"
    _event_says(kube, "GitStateStore", "destination-git-test-store", "Secret non-existent-secret not found")
    _not_ready(kube, r.DESTINATIONS, "worker-1", "GitStateStore/destination-git-test-store: not ready")
    _event_says(kube, "Destination", "worker-1", "not ready")
    kube.patch(
        r.GIT_STATE_STORES,
        "destination-git-test-store",
        {"spec": {"secretRef": {"name": "destination-git-test-store-creds"}}},
    )
    ready(kube, r.GIT_STATE_STORES, "destination-git-test-store")
    ready(kube, r.DESTINATIONS, "worker-1")

    # Invalid credentials.
    kube.patch(
        k.SECRETS, "destination-git-test-store-creds", {"stringData": {"username": "invalid"}}, "default"
    )
    denied = _not_ready(
        kube, r.GIT_STATE_STORES, "destination-git-test-store", c.PHRASE_AUTHENTICATION_FAILED
    )
    assert denied["reason"] == "ErrorValidatingPermissions"
    assert denied["message"].startswith("Error validating state store permissions: Authentication failed")
    _event_says(kube, "GitStateStore", "destination-git-test-store", "Authentication failed")
    _not_ready(kube, r.DESTINATIONS, "worker-1", "GitStateStore/destination-git-test-store: not ready")
