"""The JSON merge patch (RFC 7386) a record write sends (wattbit.k8s.records.merge_patch).

Matrix:
- no change gives `{}` (nothing is written), also for equal nested objects;
- changed, added and removed keys (removed ones as null), at the top and nested;
- nested objects are diffed; lists are replaced whole (lists of objects too);
- an object replacing a scalar (or a scalar an object) is sent whole; an emptied object sends
  its members' removal;
- the inputs are not mutated;
- property: applying the patch to `old` with the RFC's own algorithm (written below) gives
  `new`, for random JSON-like objects; and an object's patch against itself is `{}`.
Skipped on purpose: a null *value* in `new`, which RFC 7386 cannot express (null means
"remove"); the operator serialises records with `exclude_none`. The API calls that send the
patch are covered by tests/integration.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattbit.k8s.records import merge_patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2, MergePatch(Target, Patch), word for word."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = apply_merge_patch(result.get(name), value)
    return result


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({}, {}, {}),
        ({"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [1, 2]}}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1}, {"a": 1, "b": "x"}, {"b": "x"}),
        ({"a": 1, "b": "x"}, {"a": 1}, {"b": None}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, {"a": {"c": None}}),
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 1, "d": 5}}}, {"a": {"b": {"d": 5}}}),
        ({"a": {"b": 1}, "z": 0}, {"a": {"b": 1}, "z": 1}, {"z": 1}),
        ({"l": [1, 2, 3]}, {"l": [1, 2]}, {"l": [1, 2]}),
        ({"l": [{"r": "a", "x": 1}]}, {"l": [{"r": "a"}]}, {"l": [{"r": "a"}]}),
        ({"a": 1}, {"a": {"b": 2}}, {"a": {"b": 2}}),
        ({"a": {"b": 2}}, {"a": 1}, {"a": 1}),
        ({"a": {"b": 2}}, {"a": {}}, {"a": {"b": None}}),
        ({"a": None}, {}, {"a": None}),
        ({"a": True}, {"a": False}, {"a": False}),
        ({"a": 0}, {"a": ""}, {"a": ""}),
    ],
    ids=[
        "empty",
        "equal-nested",
        "changed",
        "added",
        "removed",
        "nested-changed",
        "nested-removed",
        "deeply-nested",
        "equal-object-left-out",
        "list-replaced",
        "list-of-objects-replaced",
        "scalar-to-object",
        "object-to-scalar",
        "emptied-object",
        "null-removed",
        "bool-changed",
        "falsy-changed",
    ],
)
def test_merge_patch(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_patch(old, new) == patch
    assert apply_merge_patch(old, patch) == new


def test_a_status_write_sends_only_what_changed() -> None:
    old = {
        "decision": "Wait",
        "reason": "WaitingForGreenerWindow",
        "plannedStart": "2026-12-02T13:00:00Z",
        "conditions": [{"type": "Held", "status": "True"}],
        "migration": {"phase": "Planned", "fromRegion": "kyushu", "toRegion": "tokyo"},
    }
    new = {
        "decision": "RunNow",
        "reason": "LowestCost",
        "region": "kyushu",
        "conditions": [{"type": "Placed", "status": "True"}],
        "migration": {"phase": "Planned", "fromRegion": "kyushu", "toRegion": "osaka"},
    }
    assert merge_patch(old, new) == {
        "decision": "RunNow",
        "reason": "LowestCost",
        "region": "kyushu",
        "plannedStart": None,
        "conditions": [{"type": "Placed", "status": "True"}],
        "migration": {"toRegion": "osaka"},
    }


def test_the_inputs_are_not_mutated() -> None:
    old = {"a": {"b": 1, "c": [1]}, "d": 2}
    new = {"a": {"b": 2, "c": [1, 2]}}
    old_copy, new_copy = copy.deepcopy(old), copy.deepcopy(new)
    merge_patch(old, new)
    assert (old, new) == (old_copy, new_copy)


# ---------------------------------------------------------------- properties

KEYS = st.sampled_from(["a", "b", "c", "d"])
SCALARS = st.booleans() | st.integers(-3, 3) | st.text(alphabet="xy", max_size=2)


def json_values(*, nulls: bool) -> st.SearchStrategy[Any]:
    """JSON-like values: objects, lists and scalars; nulls as object members only if asked
    (inside lists they are plain values, kept as they are)."""
    leaves = (SCALARS | st.none()) if nulls else SCALARS
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner | st.none(), max_size=3) | st.dictionaries(KEYS, inner, max_size=4)
        ),
        max_leaves=12,
    )


def json_objects(*, nulls: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(KEYS, json_values(nulls=nulls), max_size=4)


@given(old=json_objects(nulls=True), new=json_objects(nulls=False))
def test_applying_the_patch_to_old_gives_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert apply_merge_patch(old, merge_patch(old, new)) == new


@given(json_objects(nulls=True))
def test_an_object_against_itself_needs_no_patch(value: dict[str, Any]) -> None:
    assert merge_patch(value, copy.deepcopy(value)) == {}
