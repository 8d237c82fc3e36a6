from datetime import UTC, datetime

from kratix_py.core.conditions import FALSE, TRUE, Condition, find, is_true, set_condition, set_conditions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def test_new_types_are_appended_and_existing_order_is_kept():
    conditions = set_conditions([], [Condition("B", TRUE, "b"), Condition("A", TRUE, "a")], T0)
    conditions = set_condition(conditions, Condition("B", FALSE, "b2"), T1)
    assert [c["type"] for c in conditions] == ["B", "A"]


def test_transition_time_moves_only_when_status_changes():
    conditions = set_condition([], Condition("Ready", TRUE, "Ok", "fine"), T0)
    same = set_condition(conditions, Condition("Ready", TRUE, "Ok", "still fine"), T1)
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["message"] == "still fine"
    flipped = set_condition(same, Condition("Ready", FALSE, "Broken"), T1)
    assert flipped[0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"


def test_an_unchanged_outcome_is_byte_identical():
    first = set_condition([], Condition("Ready", TRUE, "Ok"), T0, observed_generation=2)
    again = set_condition(first, Condition("Ready", TRUE, "Ok"), T1, observed_generation=2)
    assert again == first


def test_lookup_helpers():
    conditions = set_condition([], Condition("Ready", TRUE, "Ok"), T0)
    assert is_true(conditions, "Ready") and not is_true(conditions, "Other")
    assert find(conditions, "Ready")["reason"] == "Ok" and find(None, "Ready") is None


def test_fields_set_by_others_are_kept():
    existing = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ok",
            "message": "",
            "lastTransitionTime": "x",
            "severity": "Info",
        }
    ]
    updated = set_condition(existing, Condition("Ready", TRUE, "Ok", "new"), T1)
    assert updated[0]["severity"] == "Info" and updated[0]["lastTransitionTime"] == "x"
