"""The process's heap around a reconcile pass: no cycle collection during it, and the C heap's
free pages given back to the OS after it (glibc's `malloc_trim`).

A pass makes hundreds of thousands of short-lived objects (snapshots, decisions, copies of
records), freed by their reference counts when it ends. Each batch of them started the cycle
collector, whose oldest generation walks every object in the process, the indexes' tens of
thousands of records included: at 10,000 workloads the idle full pass took 8.4 s with it and
5.2 s without (bench/bench_operator.py --synthetic 10000). The pass makes no cycles of its
own; whatever the rest of the process makes meanwhile is collected when the pass ends.

A pass over 10,000 workloads makes hundreds of MB of short-lived objects, in the loop's
worker threads. glibc keeps the pages they freed in its heaps for reuse, so the operator's
RSS stayed at the peak of its busiest pass. `malloc_trim(0)` returns the free ones. Where the C
library is not glibc (musl, macOS) there is nothing to call and `trim` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    function = getattr(libc, "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_TRIM = _malloc_trim()


def available() -> bool:
    """Whether this C library can return free heap pages."""
    return _TRIM is not None


def trim() -> bool:
    """Return the heap's free pages to the OS; True when some were returned."""
    return _TRIM is not None and bool(_TRIM(0))


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector for the block (process-wide); as it was after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
