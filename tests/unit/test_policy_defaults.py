"""The defaults users get: a PlacementPolicy with nothing set decides as the core's Policy().

Covers the minimum saving (the CRD's integer percent against the core's fraction), which the
benchmark's generated weeks run with. Skips: every other field (test_snapshots.py maps them).
"""

from __future__ import annotations

import dataclasses

import pytest

from wattbit.api.v1alpha1 import PlacementPolicySpec
from wattbit.core.model import Policy
from wattbit.k8s.snapshots import core_policy


def test_the_crd_default_minimum_saving_is_the_core_default() -> None:
    assert core_policy(PlacementPolicySpec()).min_saving_fraction == pytest.approx(
        Policy().min_saving_fraction
    )


def test_the_default_minimum_saving_is_one_percent() -> None:
    # Measured on generated weeks (docs/scenario-format.md, README bench_policies): 5 % (and
    # the CRD's 10 %) kept pre-trains from moves and waits that the optimum makes.
    assert Policy().min_saving_fraction == pytest.approx(0.01)
    assert PlacementPolicySpec().minimum_saving_percent == 1


def test_every_crd_default_is_the_core_default() -> None:
    # The operator decides with the CRD's defaults, the simulator and bench_policies with the
    # core's: they must be one set, or the benchmark's figures are not the users'.
    crd, core = core_policy(PlacementPolicySpec()), Policy()
    differing = {
        field.name: (getattr(crd, field.name), getattr(core, field.name))
        for field in dataclasses.fields(core)
        if getattr(crd, field.name) != getattr(core, field.name)
    }
    assert differing == {}
