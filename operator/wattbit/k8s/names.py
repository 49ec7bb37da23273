"""Label, annotation and gate names that wattbit reads and writes on workloads.

These strings are part of the user-facing contract (documented in the README);
change them only with a migration note.
"""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "wattbit.io"

LABEL_DEFERRABLE: Final = "wattbit.io/deferrable"
"""Opt-in label: ``"true"`` makes a Job or Pod deferrable and managed by wattbit."""

SCHEDULING_GATE: Final = "wattbit.io/placement"
"""Scheduling gate the webhook adds to deferrable Pods until a region is chosen."""

ANNOTATION_HELD: Final = "wattbit.io/held"
"""Set by the webhook when it held the workload (Job created suspended, or Pod gated)."""

ANNOTATION_HELD_AT: Final = "wattbit.io/held-at"
"""RFC 3339 time the webhook held the workload."""

ANNOTATION_REGION: Final = "wattbit.io/region"
"""Region the operator placed the workload in."""

ANNOTATION_EXPECTED_DURATION: Final = "wattbit.io/expected-duration"
"""Workload hint: expected runtime, e.g. ``"90m"``, ``"2h30m"``, ``"3600s"`` or seconds."""

ANNOTATION_GPU_POWER_WATTS: Final = "wattbit.io/gpu-power-watts"
"""Workload hint: power drawn by one GPU, in watts."""

ANNOTATION_POLICY: Final = "wattbit.io/policy"
"""Name of the PlacementPolicy (same namespace) that governs the workload."""

ANNOTATION_DEADLINE: Final = "wattbit.io/deadline"
"""Workload hint: RFC 3339 time by which the workload must have completed."""

ANNOTATION_CHECKPOINT_SIZE: Final = "wattbit.io/checkpoint-size"
"""Workload hint: checkpoint size as a Kubernetes quantity, e.g. ``"40Gi"``."""

ANNOTATION_CHECKPOINT_DURATION: Final = "wattbit.io/checkpoint-duration"
"""Workload hint: time the trainer needs to write a checkpoint, e.g. ``"90s"``; when unset it is
estimated from the checkpoint size and the policy's write speed."""

ANNOTATION_CHECKPOINT_REQUESTED_AT: Final = "wattbit.io/checkpoint-requested-at"
"""Set by the operator on a moving workload's pods: RFC 3339 time a checkpoint was asked for
(the trainer sees it through a downward-API volume; docs/checkpoint-protocol.md)."""

ANNOTATION_CHECKPOINT_DEADLINE: Final = "wattbit.io/checkpoint-deadline"
"""Set by the operator with the request: RFC 3339 time after which the workload is suspended
(its pods get SIGTERM and their grace period) whether or not the trainer acknowledged."""

ANNOTATION_CHECKPOINT_ACKNOWLEDGED_AT: Final = "wattbit.io/checkpoint-acknowledged-at"
"""Set by the trainer on its own pod: RFC 3339 time its checkpoint became durable. An
acknowledgement at or after the request lets the move proceed before the deadline."""

ANNOTATION_QUEUE_NAME: Final = "kueue.x-k8s.io/queue-name"
"""Kueue's opt-in label: such a workload is Kueue's to suspend and resume, never wattbit's."""

GPU_RESOURCE: Final = "nvidia.com/gpu"
"""Extended resource counted as GPUs."""

REGION_LABEL: Final = "topology.kubernetes.io/region"
"""Well-known node label; a Region without a nodeSelector selects nodes by it."""
