"""Scheduling a Work onto Destinations: selectors, matching, spreading, stickiness, misplacement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py.api import Destination, Work, WorkPlacement
from kratix_py.api.work import Workload
from kratix_py.core.scheduling import (
    candidates,
    choose_destination,
    desired_manifest,
    merged_selector,
    placement_name,
    request_identity,
    schedule,
)

DEFAULT = c.DEFAULT_WORKLOAD_GROUP_ID
MONITORING = "4f3c1b5e" + "0" * 24


def destination(name: str, labels: dict[str, str] | None = None, **spec: Any) -> Destination:
    return Destination.model_validate(
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"path": name, "stateStoreRef": {"kind": "GitStateStore", "name": "store"}, **spec},
        }
    )


def group(
    group_id: str = DEFAULT, *selectors: tuple[str, dict[str, str]], directory: str = "."
) -> dict[str, Any]:
    return {
        "id": group_id,
        "directory": directory,
        "workloads": [Workload.from_file(f"{directory}/a.yaml".lstrip("./"), "a: 1\n").to_dict()],
        "destinationSelectors": [{"matchLabels": labels, "source": source} for source, labels in selectors],
    }


def work(*groups: dict[str, Any], resource: str | None = "my-db", name: str = "db-my-db-configure") -> Work:
    labels = {c.LABEL_PROMISE_NAME: "db", c.LABEL_PIPELINE_NAME: "configure"}
    spec: dict[str, Any] = {"promiseName": "db", "workloadGroups": list(groups)}
    if resource:
        spec["resourceName"] = resource
        labels[c.LABEL_RESOURCE_NAME] = resource
    return Work.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "team-a",
                "uid": "uid-1",
                "generation": 3,
                "labels": labels,
            },
            "spec": spec,
        }
    )


def existing(plan_manifest: dict[str, Any], *, deleting: bool = False) -> WorkPlacement:
    body = {**plan_manifest, "metadata": dict(plan_manifest["metadata"])}
    if deleting:
        body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return WorkPlacement.model_validate(body)


# -- selectors ---------------------------------------------------------------------------------------


def test_the_promise_wins_over_workflows_and_promise_workflows_over_resource_workflows():
    g = Work.model_validate(
        {
            "metadata": {"name": "w"},
            "spec": {
                "promiseName": "db",
                "workloadGroups": [
                    group(
                        DEFAULT,
                        ("promise", {"env": "prod"}),
                        ("resource-workflow", {"env": "dev", "zone": "a", "tier": "x"}),
                        ("promise-workflow", {"zone": "b", "tier": "y"}),
                    )
                ],
            },
        }
    ).spec.workload_groups[0]
    assert merged_selector(g) == {"env": "prod", "zone": "b", "tier": "y"}


def test_matching_is_an_equality_and_over_metadata_labels_and_skips_deleting_destinations():
    dests = [
        destination("both", {"env": "prod", "zone": "a"}),
        destination("env-only", {"env": "prod"}),
        destination("wrong", {"env": "dev", "zone": "a"}),
        destination("gone", {"env": "prod", "zone": "a"}),
    ]
    dests[3].metadata.deletion_timestamp = datetime(2026, 1, 1, tzinfo=UTC)
    assert candidates({"env": "prod", "zone": "a"}, dests) == ["both"]
    assert candidates({"env": "prod"}, dests) == ["both", "env-only"]


def test_strict_destinations_refuse_works_without_selectors_unless_they_have_no_labels():
    dests = [
        destination("strict", {"env": "prod"}, strictMatchLabels=True),
        destination("strict-unlabelled", {}, strictMatchLabels=True),
        destination("relaxed", {"env": "prod"}),
    ]
    assert candidates({}, dests) == ["relaxed", "strict-unlabelled"]
    assert candidates({"env": "prod"}, dests) == ["relaxed", "strict"]


def test_dry_run_destinations_only_take_dry_run_works():
    dests = [destination("real"), destination("preview", {c.LABEL_DRY_RUN: "true"})]
    assert candidates({}, dests) == ["real"]
    assert candidates({}, dests, dry_run=True) == ["preview"]


# -- choosing and naming -------------------------------------------------------------------------------


def test_the_choice_is_deterministic_and_independent_of_candidate_order():
    names = [f"cluster-{i}" for i in range(5)]
    first = choose_destination("db/team-a/my-db", DEFAULT, names)
    assert choose_destination("db/team-a/my-db", DEFAULT, list(reversed(names))) == first
    assert first in names


def test_requests_spread_over_candidates_and_a_new_destination_takes_only_a_share():
    names = ["a", "b", "c"]
    picks = {f"db/ns/req-{i}": choose_destination(f"db/ns/req-{i}", DEFAULT, names) for i in range(300)}
    counts = {name: list(picks.values()).count(name) for name in names}
    assert all(60 < count < 140 for count in counts.values()), counts
    moved = sum(
        1 for ident, pick in picks.items() if choose_destination(ident, DEFAULT, [*names, "d"]) != pick
    )
    assert 40 < moved < 110, "rendezvous hashing: only about a quarter choose the new Destination"
    assert all(
        choose_destination(ident, DEFAULT, [*names, "d"]) in (pick, "d") for ident, pick in picks.items()
    )


def test_request_identity_uses_the_request_namespace_when_the_pipeline_ran_elsewhere():
    w = work(group())
    assert request_identity(w) == "db/team-a/my-db"
    w.metadata.labels[c.LABEL_RESOURCE_NAMESPACE] = "team-b"
    assert request_identity(w) == "db/team-b/my-db"


def test_placement_names_follow_kratix_and_stay_valid_when_long():
    assert placement_name("db-my-db-configure", "dev", DEFAULT) == "db-my-db-configure.dev-5058f"
    long_dest = "d" * 250
    name = placement_name("w" * 63, long_dest, DEFAULT)
    assert len(name) <= 253 and name[-1].isalnum()
    assert name != placement_name("w" * 63, long_dest[:-1] + "e", DEFAULT)


def test_the_manifest_has_kratix_labels_owner_and_spec():
    w = work(group())
    manifest = desired_manifest(w, w.spec.workload_groups[0], "dev", "n", misplaced=False)
    assert manifest["metadata"]["labels"] == {
        c.LABEL_WORK: "db-my-db-configure",
        c.LABEL_WORKLOAD_GROUP_ID: DEFAULT,
        c.LABEL_TARGET_DESTINATION_NAME: "dev",
        c.LABEL_PIPELINE_NAME: "configure",
    }
    owner = manifest["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Work" and owner["uid"] == "uid-1" and owner["controller"] is True
    spec = manifest["spec"]
    assert spec["targetDestinationName"] == "dev" and spec["resourceName"] == "my-db"
    assert spec["id"] == DEFAULT and spec["generation"] == 3 and spec["promiseName"] == "db"
    assert spec["workloads"] == w.spec.workload_groups[0].to_dict()["workloads"]


# -- schedules -------------------------------------------------------------------------------------


def test_a_resource_group_gets_one_destination_and_keeps_it():
    dests = [destination("a", {"env": "dev"}), destination("b", {"env": "dev"})]
    w = work(group(DEFAULT, ("promise", {"env": "dev"})))
    plan = schedule(w, dests, [])
    assert len(plan.placements) == 1 and not plan.unscheduled
    chosen = plan.placements[0]
    assert chosen.name == f"db-my-db-configure.{chosen.destination}-5058f"
    # Sticky: with the other Destination only, or a new one, the group stays put.
    current = [existing(chosen.manifest)]
    other = "b" if chosen.destination == "a" else "a"
    plan2 = schedule(w, [*dests, destination("c", {"env": "dev"})], current)
    assert [p.name for p in plan2.placements] == [chosen.name]
    assert not plan2.placements[0].misplaced
    plan3 = schedule(w, [d for d in dests if d.name == other], current)
    assert [(p.name, p.misplaced) for p in plan3.placements] == [(chosen.name, True)]
    assert plan3.placements[0].manifest["metadata"]["labels"][c.LABEL_MISPLACED] == "true"


def test_per_directory_groups_are_scheduled_by_their_own_selectors():
    dests = [destination("dev", {"env": "dev"}), destination("observe", {"team": "observability"})]
    w = work(
        group(DEFAULT, ("promise", {"env": "dev"})),
        group(MONITORING, ("resource-workflow", {"team": "observability"}), directory="monitoring"),
    )
    plan = schedule(w, dests, [])
    assert {(p.group_id, p.destination) for p in plan.placements} == {
        (DEFAULT, "dev"),
        (MONITORING, "observe"),
    }


def test_no_candidate_leaves_the_group_unscheduled_with_its_id():
    w = work(
        group(DEFAULT, ("promise", {"env": "prod"})), group(MONITORING, ("resource-workflow", {"x": "y"}))
    )
    plan = schedule(w, [destination("dev", {"env": "dev"})], [])
    assert plan.placements == () and plan.unscheduled == (DEFAULT, MONITORING)
    assert plan.selectors[DEFAULT] == {"env": "prod"}


def test_dependency_works_go_to_every_match_and_follow_new_destinations():
    w = work(group(), resource=None, name="db-promise-configure")
    dests = [destination("a"), destination("b")]
    plan = schedule(w, dests, [])
    assert [p.name for p in plan.placements] == [
        "db-promise-configure.a-5058f",
        "db-promise-configure.b-5058f",
    ]
    current = [existing(p.manifest) for p in plan.placements]
    plan2 = schedule(w, [*dests, destination("c")], current)
    assert [p.destination for p in plan2.placements] == ["a", "b", "c"]
    # A Destination that stops matching keeps its placement, reported as misplaced.
    strict = destination("b", {"env": "x"}, strictMatchLabels=True)
    plan3 = schedule(w, [dests[0], strict], current)
    assert [(p.destination, p.misplaced) for p in plan3.placements] == [("a", False), ("b", True)]
    # A Destination that is gone: same.
    plan4 = schedule(w, [dests[0]], current)
    assert [(p.destination, p.misplaced) for p in plan4.placements] == [("a", False), ("b", True)]


def test_placements_of_groups_that_left_the_work_are_dangling():
    dests = [destination("dev")]
    before = work(group(), group(MONITORING, directory="monitoring"))
    current = [existing(p.manifest) for p in schedule(before, dests, []).placements]
    after = work(group())
    plan = schedule(after, dests, current)
    assert plan.dangling == (f"db-my-db-configure.dev-{MONITORING[:5]}",)
    assert [p.group_id for p in plan.placements] == [DEFAULT]


def test_a_placement_being_deleted_does_not_hold_its_group():
    dests = [destination("a"), destination("b")]
    w = work(group())
    first = schedule(w, dests, []).placements[0]
    deleting = existing(first.manifest, deleting=True)
    plan = schedule(w, [d for d in dests if d.name != first.destination], [deleting])
    assert [p.destination for p in plan.placements] != [first.destination]
    assert plan.dangling == ()


@pytest.mark.parametrize("resource", ["my-db", None])
def test_a_work_without_groups_schedules_nothing_and_is_not_pending(resource):
    plan = schedule(work(resource=resource), [destination("a")], [])
    assert plan.placements == () and plan.unscheduled == () and plan.dangling == ()


def test_two_destinations_on_one_directory_the_first_keeps_it_and_the_other_gets_nothing():
    from kratix_py.core.scheduling import path_conflicts

    first = destination("first", {"env": "dev"}, path="shared/")
    first.metadata.creation_timestamp = "2026-01-01T00:00:00Z"
    second = destination("second", {"env": "dev"}, path="./shared")
    second.metadata.creation_timestamp = "2026-01-02T00:00:00Z"
    other_store = destination(
        "elsewhere", {"env": "dev"}, path="shared", stateStoreRef={"kind": "BucketStateStore", "name": "b"}
    )
    assert path_conflicts([second, first, other_store]) == {"second": "first"}
    assert candidates({"env": "dev"}, [first, second, other_store]) == ["elsewhere", "first"]


def test_a_destination_moving_into_a_taken_directory_is_the_one_refused_however_old():
    from kratix_py import contract as c
    from kratix_py.core.scheduling import is_moving, path_conflicts, written_directory, written_to

    mover = destination("mover", {}, path="taken")
    mover.metadata.creation_timestamp = "2026-01-01T00:00:00Z"
    assert written_directory(mover) is None and not is_moving(mover)
    settled = destination("settled", {}, path="./taken/")
    settled.metadata.creation_timestamp = "2026-01-02T00:00:00Z"
    settled.metadata.annotations[c.ANNOTATION_DESTINATION_WRITTEN_TO] = written_to(settled)
    assert written_directory(settled) == ("GitStateStore", "store", "taken") and not is_moving(settled)
    assert path_conflicts([mover, settled]) == {"settled": "mover"}  # neither moved: the older keeps it

    mover.metadata.annotations[c.ANNOTATION_DESTINATION_WRITTEN_TO] = (
        '{"path": "before", "stateStoreRef": {"kind": "GitStateStore", "name": "store"}}'
    )
    assert written_directory(mover) == ("GitStateStore", "store", "before") and is_moving(mover)
    assert path_conflicts([mover, settled]) == {"mover": "settled"}
    mover.metadata.annotations[c.ANNOTATION_DESTINATION_WRITTEN_TO] = "not json"
    assert written_directory(mover) is None, "a record edited into nonsense counts as none"
