"""``kubectl wattbit receipt WORKLOAD``: the hour-by-hour ledger, totals and counterfactual.

WARNING: pure apart from the reader it is handed; decides nothing.
"""

from __future__ import annotations

from wattbit.kubectl.args import Output, WorkloadRef
from wattbit.kubectl.cluster import Reader
from wattbit.kubectl.errors import PluginError
from wattbit.kubectl.output import Reply
from wattbit.kubectl.workloads import find


def run(
    reader: Reader,
    ref: WorkloadRef,
    *,
    namespace: str,
    output: Output | None,
    csv: bool,
) -> Reply:
    find(reader, ref, namespace)
    raise PluginError("receipts are not recorded by this operator version yet")
