"""Returning the C heap's free pages after a pass (wattbit.heap).

Matrix: on glibc (this machine, the image's Debian base) the trim is available; memory freed
in the middle of the heap, which glibc keeps by itself, goes back to the OS.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from wattbit import heap


def rss_mib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_pages_in_the_middle_of_the_heap_go_back_to_the_os() -> None:
    assert heap.available()
    blocks = [bytearray(4096) for _ in range(20_000)]  # 80 MiB from glibc's heap
    kept = blocks[::100]  # one page in a hundred stays in use: the heap cannot shrink by itself
    del blocks
    before = rss_mib()
    assert heap.trim()
    assert rss_mib() < before - 40
    assert len(kept) == 200
