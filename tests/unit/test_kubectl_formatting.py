"""`wattbit.kubectl.formatting` and `output`: sparklines, ages, numbers, tables and dumps.

Matrix: sparkline scaling (own range, a shared range, flat values, gaps, clamping, empty);
two-hour means; kubectl's ages at each unit boundary; numbers and ``<none>``; RFC 3339 times;
tables aligned on display width with the last column unpadded; JSON and YAML dumps keep
unicode and key order; describe-style sections.
Skipped on purpose: terminal widths of East Asian text beyond one wide character.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from wattbit.kubectl.args import Output
from wattbit.kubectl.formatting import (
    BARS,
    NONE,
    age,
    number,
    pairs,
    since,
    sparkline,
    timestamp,
    yes_no,
)
from wattbit.kubectl.output import dump, section, table, width


def test_sparkline_spans_the_bars_from_lowest_to_highest() -> None:
    assert sparkline([0, 7, 14]) == BARS[0] + BARS[4] + BARS[7]
    assert sparkline(list(range(8))) == BARS


def test_sparkline_on_a_shared_scale_clamps_and_keeps_gaps() -> None:
    assert sparkline([100, 200], low=0, high=200) == BARS[4] + BARS[7]
    assert sparkline([-5, 500], low=0, high=200) == BARS[0] + BARS[7]
    assert sparkline([1, None, float("nan"), 2]) == BARS[0] + "  " + BARS[7]


def test_sparkline_flat_and_empty() -> None:
    assert sparkline([3, 3, 3]) == BARS[0] * 3
    assert sparkline([]) == ""
    assert sparkline([None]) == ""


def test_pairs_are_means_of_two_hours() -> None:
    assert pairs([1, 3, 5, 7, 9]) == [2, 6, 9]
    assert pairs([]) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-3, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (3599, "59m"),
        (3600, "1h"),
        (3 * 3600 + 20 * 60, "3h20m"),
        (12 * 3600 + 5 * 60, "12h"),
        (47 * 3600, "47h"),
        (2 * 86400 + 4 * 3600, "2d4h"),
        (9 * 86400 + 4 * 3600, "9d"),
    ],
)
def test_age_as_kubectl_prints_it(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_since_numbers_times_and_yes_no() -> None:
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert since(now - timedelta(minutes=5), now) == "5m"
    assert since(None, now) == NONE
    assert number(None) == NONE
    assert number(12.0) == "12"
    assert number(3.14159, 2) == "3.14"
    assert number(2.5, 0) == "2"
    assert timestamp(now + timedelta(microseconds=5)) == "2026-12-02T10:00:00Z"
    assert timestamp(None) == NONE
    assert (yes_no(True), yes_no(False), yes_no(None)) == ("yes", "no", NONE)


def test_table_aligns_on_display_width() -> None:
    text = table(["NAME", "BARS", "X"], [["a", BARS[:3], "1"], ["long-name", "", "22"]])
    lines = text.splitlines()
    assert lines[0] == "NAME        BARS   X"
    assert lines[1] == "a           ▁▂▃    1"
    assert lines[2] == "long-name          22"
    assert width("日本") == 4


def test_dumps_keep_unicode_and_order() -> None:
    data = {"z": 1, "a": "▁█"}
    assert json.loads(dump(data, Output.JSON)) == data
    assert list(json.loads(dump(data, Output.JSON))) == ["z", "a"]
    assert "▁█" in dump(data, Output.YAML)
    assert yaml.safe_load(dump(data, Output.YAML)) == data


def test_section_aligns_labels() -> None:
    assert section("Job ml/train", [("Reason", "X"), ("Planned start", "Y")]) == (
        "Job ml/train\n  Reason:        X\n  Planned start: Y"
    )
