"""Read the embedded Japan-grid dataset (package data) into `wattbit.core.replay` profiles.

This module's one job is the simulator's loader: it reads ``wattbit/data/japan_grid.yaml``
through importlib.resources and hands it to the checked parser shared with the operator
(`wattbit.core.dataset`); the simulator may not import the providers layer.

WARNING: no network, no paths outside the package; values are the dataset's derived
estimates, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Final

import yaml

from wattbit.core.dataset import parse_dataset
from wattbit.core.replay import GridProfile

DATASET_FILE: Final = "japan_grid.yaml"


@functools.cache
def load_profiles() -> Mapping[str, GridProfile]:
    """The embedded profiles, read once."""
    text = resources.files("wattbit.data").joinpath(DATASET_FILE).read_text(encoding="utf-8")
    return parse_dataset(yaml.safe_load(text))
