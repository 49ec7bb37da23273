"""Which optional kinds the operator still has to pick up (handlers/discovery.py)."""

from __future__ import annotations

from kopf._cogs.structs.references import Resource

from wattbit.handlers.discovery import SERVED, unresolved


def resource(group: str, plural: str) -> Resource:
    return Resource(group=group, version="v1", plural=plural, namespaced=True)


def test_nothing_resolved_means_every_group_is_reread() -> None:
    missing = unresolved([])
    assert set(missing) == {"jobset.x-k8s.io", "trainer.kubeflow.org", "kueue.x-k8s.io"}
    assert sum(len(plurals) for plurals in missing.values()) == len(SERVED)


def test_a_group_is_reread_until_each_of_its_kinds_is_served() -> None:
    resolved = [resource(group, plural) for group, plural in SERVED if plural != "trainjobs"]
    assert unresolved(resolved) == {"trainer.kubeflow.org": {"trainjobs"}}
    assert unresolved([*resolved, resource("trainer.kubeflow.org", "trainjobs")]) == {}


def test_kinds_of_other_groups_do_not_count() -> None:
    assert "jobset.x-k8s.io" in unresolved([resource("example.com", "jobsets")])
