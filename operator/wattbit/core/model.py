"""The decision core's vocabulary: what it is told (snapshots, policy) and what it answers.

This module's one job is to define the plain, frozen input and output values of the
spatio-temporal planner (`wattbit.core.planner`): region snapshots with a forecast per slot,
APN links, workload snapshots, the placement policy, and the `Decision` for each workload with
its CamelCase `Reason`, a human message and the figures behind it.

WARNING: no I/O, no clock and no Kubernetes here. Every instant is a timezone-aware `datetime`
given by the caller (`now` is always a parameter) and every number carries its unit in its name.
`Reason` and `DecisionKind` are the project's one vocabulary: the API models, the records,
conditions, Events and metric labels all use these values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

RegionName = NewType("RegionName", str)
"""A Region resource's name, e.g. `kyushu-itoshima`."""
WorkloadId = NewType("WorkloadId", str)
"""A stable id of a managed workload, e.g. `namespace/job-name`."""

GRAMS_PER_TONNE = 1_000_000.0
GRAMS_PER_KG = 1_000.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
BITS_PER_BYTE = 8.0


class DecisionKind(StrEnum):
    """What the operator should do with one workload."""

    RUN_NOW = "RunNow"
    """Release a pending workload into `Decision.region` now."""
    WAIT = "Wait"
    """Keep a pending workload held; the plan is to start it in `region` at `start_at`."""
    MOVE = "Move"
    """Checkpoint a running workload and resume it in `region`."""
    STAY = "Stay"
    """Leave a running workload where it is."""
    HOLD = "Hold"
    """Keep a pending workload held with no plan yet; the reason says what blocks it."""


class Reason(StrEnum):
    """CamelCase reasons, shared by decisions, conditions, Events and metric labels.

    The order of the hold reasons below is the order of the rule chains in `wattbit.core.rules`.
    """

    # --- a pending workload is released or planned
    LOWEST_COST = "LowestCost"
    """Run now: this region is the cheapest (carbon-adjusted) of those free now."""
    WAITING_FOR_GREENER_WINDOW = "WaitingForGreenerWindow"
    """Wait: starting later in `region` saves more than the policy's minimum."""
    WAITING_FOR_ROOM = "WaitingForRoom"
    """Wait: the cheaper starts are taken (by running workloads, or by others planned in the
    same call), or a running workload will move out of `region` at the planned start to make
    room; the plan is the best one left."""
    ROOM_MADE = "RoomMade"
    """Run now: a running workload moves out of `region` now to make room for this one."""
    GAVE_WAY = "GaveWay"
    """Run now or wait: the cheaper plan gave way to a running workload that moves there and
    saves more than this plan costs extra."""
    DEADLINE_AT_RISK = "DeadlineAtRisk"
    """Run now: waiting would risk the deadline (in the cheapest region free now)."""
    SIGNALS_UNAVAILABLE = "SignalsUnavailable"
    """Run now, carbon-agnostic: signals were stale longer than the policy's maximum hold."""
    # --- a running workload moves or stays
    GREENER_REGION = "GreenerRegion"
    """Move: the saving over the remaining run beats the full cost of moving."""
    MAKING_ROOM = "MakingRoom"
    """Move: a pending workload saves more in this region than the move costs this one."""
    REGION_DRAINING = "RegionDraining"
    """Move: the current region is marked unavailable and is being drained."""
    ALREADY_BEST = "AlreadyBest"
    """Stay: no other region is cheaper over the remaining run."""
    # --- holds (the first failing rule explains them)
    NO_ELIGIBLE_REGION = "NoEligibleRegion"
    """No region is allowed, available and within the latency limits."""
    SIGNAL_STALE = "SignalStale"
    """The signals that would drive the decision are older than their maximum age."""
    DEADLINE_TOO_CLOSE = "DeadlineTooClose"
    """A move's overhead would make the workload finish after its deadline."""
    MIGRATION_DISABLED = "MigrationDisabled"
    """The policy allows no moves."""
    MOVE_LIMIT_REACHED = "MoveLimitReached"
    """The workload has used all the moves the policy allows."""
    COOLDOWN_ACTIVE = "CooldownActive"
    """The workload moved too recently (the region it left is penalised meanwhile)."""
    NO_LINK = "NoLink"
    """No APN link (within the latency limit) reaches a better region."""
    SIGNAL_DIP_TOO_SHORT = "SignalDipTooShort"
    """A better region is better for less than the stability (tolerance) window."""
    GAIN_BELOW_MOVE_COST = "GainBelowMoveCost"
    """The saving over the remaining run does not beat the cost of moving by the minimum."""
    INSUFFICIENT_CAPACITY = "InsufficientCapacity"
    """No eligible region has enough free GPUs or power headroom."""
    # --- the operator: what it found or did, beyond the planner's choice
    INVALID_WORKLOAD = "InvalidWorkload"
    """A hint (annotation) or the pod spec cannot be read; the workload is held until fixed."""
    POLICY_NOT_FOUND = "PolicyNotFound"
    """The PlacementPolicy named by `wattbit.io/policy` does not exist; held until it does."""
    MANAGED_BY_KUEUE = "ManagedByKueue"
    """Kueue suspends and resumes this workload; wattbit never does."""
    MANAGED_BY_OWNER = "ManagedByOwner"
    """Its owner controller suspends and resumes this workload; wattbit never does."""
    ADMITTED_UNGATED = "AdmittedUngated"
    """Created while the webhook was unavailable (it fails open), so never held: adopted, held
    and placed if it has not started, else placed where it runs and moved like any other."""
    NOT_MOVABLE = "NotMovable"
    """A standalone Pod: it would be lost if evicted, so it is never moved."""
    MOVES_IN_FLIGHT_LIMIT = "MovesInFlightLimit"
    """The cluster already has as many moves in flight as the policy allows."""
    EVICTION_BLOCKED = "EvictionBlocked"
    """A PodDisruptionBudget refused the eviction; it is retried later."""
    GRACE_PERIOD_TOO_SHORT = "GracePeriodTooShort"
    """The pods' termination grace period is shorter than the declared checkpoint time."""
    MOVED = "Moved"
    """A move completed: the workload runs in its new region."""
    MOVE_ABANDONED = "MoveAbandoned"
    """A move stopped before its end (the workload finished, or the target cannot take it)."""
    PLACEMENT_FAILED = "PlacementFailed"
    """Placing or moving failed too often: the workload runs where it can, carbon-agnostic."""
    SUSPENDED_TOO_LONG = "SuspendedTooLong"
    """A move kept the workload suspended longer than the policy allows; it is resumed."""
    COMPLETED = "Completed"
    """The workload finished; its record is final."""
    REGION_NOT_ALLOWED = "RegionNotAllowed"
    """This region is not among the workload's allowed regions (policy or draining)."""
    # --- other objects' conditions
    READY = "Ready"
    SIGNALS_FRESH = "SignalsFresh"
    NO_NODES = "NoNodes"
    REGION_UNAVAILABLE = "RegionUnavailable"
    INVALID_SPEC = "InvalidSpec"
    REGION_NOT_FOUND = "RegionNotFound"
    """An APNLink end or a PlacementPolicy's allowed region names no Region."""
    OVERLAPPING_NODES = "OverlappingNodes"
    """A Region selects nodes an earlier Region selects: they count for the earlier one only."""
    DRY_RUN = "DryRun"
    """The policy is DryRun: the decision is recorded, nothing is acted on."""


class WorkloadState(StrEnum):
    """Where a workload is in its life, as far as placement cares."""

    PENDING = "Pending"
    """Held (gated or suspended before its first start): placement decides where and when."""
    RUNNING = "Running"
    """Running in `current_region`: migration decides whether to move it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Horizon:
    """The planning grid: `slot_count` slots of `slot_s` seconds from `start`.

    Slot 0 should contain `now`. Forecasts, free GPUs and power headroom of every region are
    given per slot of this grid (JEPX trades 30-minute slots; the simulator uses hours).
    """

    start: datetime
    slot_s: float = SECONDS_PER_HOUR
    slot_count: int = 48

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Horizon.start must be timezone-aware")
        if not (self.slot_s > 0 and math.isfinite(self.slot_s)):
            raise ValueError("Horizon.slot_s must be a positive number of seconds")
        if self.slot_count < 1:
            raise ValueError("Horizon.slot_count must be at least 1")

    def slot_start(self, index: int) -> datetime:
        """The instant slot `index` begins."""
        return self.start + timedelta(seconds=index * self.slot_s)

    def position(self, moment: datetime) -> float:
        """`moment` in (fractional) slots from the grid's start."""
        return (moment - self.start).total_seconds() / self.slot_s

    def moment(self, position: float) -> datetime:
        """The instant at (fractional) slot `position`."""
        return self.start + timedelta(seconds=position * self.slot_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionSnapshot:
    """One regional site as the core sees it: signals, forecast and spare capacity.

    Per-slot tuples follow the `Horizon`; a shorter tuple repeats its last value, an empty
    forecast repeats the current signal.
    """

    name: RegionName
    carbon_g_per_kwh: float
    """Current carbon intensity (gCO2eq/kWh); it overrides the forecast for slot 0."""
    price_jpy_per_kwh: float
    """Current electricity price (JPY/kWh); it overrides the forecast for slot 0."""
    signal_observed_at: datetime
    """When the source measured the current signal (tz-aware)."""
    signal_max_age_s: float = SECONDS_PER_HOUR
    """Older than this at `now`, the region is stale: it never wins a placement or a move."""
    carbon_forecast_g_per_kwh: tuple[float, ...] = ()
    price_forecast_jpy_per_kwh: tuple[float, ...] = ()
    free_gpus: tuple[int, ...] = (0,)
    """GPUs not used by running workloads, per slot."""
    power_headroom_kw: tuple[float, ...] = ()
    """Facility power (GPU power x PUE) that may still be drawn, per slot; empty: no cap."""
    pue: float = 1.0
    available: bool = True
    """False: disaster or maintenance; nothing is placed here and running work is drained."""

    def is_stale(self, now: datetime) -> bool:
        """True when the current signal is older than `signal_max_age_s` at `now`."""
        return (now - self.signal_observed_at).total_seconds() > self.signal_max_age_s


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSnapshot:
    """An APN link between two regions, usable both ways unless `bidirectional` is False."""

    from_region: RegionName
    to_region: RegionName
    latency_ms: float
    bandwidth_gbps: float
    energy_kwh_per_gb: float = 0.001
    """Network energy to move one gigabyte (1 Wh/GB: APNLink's default of 3,600 J/GB)."""
    bidirectional: bool = True

    def transfer_s(self, size_gb: float) -> float:
        """Seconds to move `size_gb` gigabytes at the link's full bandwidth, latency included."""
        return size_gb * BITS_PER_BYTE / self.bandwidth_gbps + self.latency_ms / 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSnapshot:
    """One deferrable workload: what it needs, where it may run and where it is now."""

    workload_id: WorkloadId
    gpus: int
    power_kw_per_gpu: float = 0.7
    """Draw of one busy GPU with its share of the node (H100 SXM TDP, benchmark.md §4)."""
    idle_power_kw_per_gpu: float = 0.1
    """Draw of one allocated but idle GPU (while a checkpoint moves)."""
    remaining_runtime_s: float
    """Expected run time still needed, excluding any move overhead."""
    deadline: datetime | None = None
    state: WorkloadState = WorkloadState.PENDING
    current_region: RegionName | None = None
    """Where a running workload runs; None while pending."""
    home_region: RegionName | None = None
    """Where the workload would run without wattbit (the carbon-agnostic fallback)."""
    allowed_regions: frozenset[RegionName] | None = None
    """None: every region."""
    data_region: RegionName | None = None
    """Where the workload's data lives; `max_latency_ms` is measured from here."""
    max_latency_ms: float | None = None
    """Largest APN latency from `data_region` the workload tolerates; None: any."""
    checkpoint_size_gb: float = 0.0
    checkpoint_interval_s: float = SECONDS_PER_HOUR
    last_checkpoint_at: datetime | None = None
    """Unknown: half a checkpoint interval of work is expected to be lost on a move."""
    submitted_at: datetime | None = None
    """When the workload was first held; bounds waiting without a deadline and stale holds."""
    last_moved_at: datetime | None = None
    last_move_ended_at: datetime | None = None
    """When the last move was done and the workload ran again, where that is known (the
    operator's record); else its downtime is estimated from `last_moved_at` (the simulator)."""
    previous_region: RegionName | None = None
    """The region the last move left."""
    move_count: int = 0
    """Moves so far in the workload's life (the policy's move budget)."""
    runtime_overrun_fraction: float | None = None
    """How far runs like this one have overrun their expected duration, as a share of it
    (`wattbit.core.overrun.overrun_fraction` of finished runs); the deadline margin is sized
    from it. None: too little history, and the policy's `safety_margin_fraction` applies."""

    @property
    def busy_kw(self) -> float:
        """IT power of the whole workload while it computes."""
        return self.gpus * self.power_kw_per_gpu

    @property
    def idle_kw(self) -> float:
        """IT power of the whole workload while its GPUs are allocated but idle."""
        return self.gpus * self.idle_power_kw_per_gpu


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """How eagerly workloads are shifted, and how carbon is priced (PlacementPolicy's spec).

    Field mapping to the CRD: `stability_window_s` is the issue's "tolerance window" for
    signal dips and the CRD's `stabilityWindowMinutes`; `max_wait_s` is the CRD's
    `toleranceWindowMinutes` (longest wait without a deadline).
    """

    carbon_price_jpy_per_tonne: float = 10_000.0
    """Internal carbon price folding emissions into cost (10,000 JPY/t: 1 JPY per 100 g)."""
    price_weight: float = 1.0
    """Weight of the electricity bill in the objective."""
    carbon_weight: float = 1.0
    """Weight of carbon (priced at `carbon_price_jpy_per_tonne`) in the objective."""
    min_saving_fraction: float = 0.01
    """A move must save at least this share of the baseline's cost, a wait this share per
    half day of waiting (a charge linear in the wait keeps a planned start as its window
    nears)..."""
    min_saving_jpy: float = 0.0
    """...and at least this much (hysteresis against thrashing on tiny gains)."""
    forecast_uncertainty_fraction: float = 0.0
    """Extra share of the baseline cost a forecast-based gain must clear (forecast error)."""
    stability_window_s: float = SECONDS_PER_HOUR
    """A move target must be cheaper than the current region in every slot of this window."""
    cooldown_s: float = SECONDS_PER_HOUR
    """After a move, no further move for this long (the region just left is penalised)."""
    max_moves: int = 3
    """Moves allowed over a workload's life; 0 disables migration."""
    safety_margin_s: float = 1800.0
    """Slack kept before a deadline, on top of `safety_margin_fraction` of the runtime."""
    safety_margin_fraction: float = 0.05
    """Share of the remaining runtime kept before a deadline while the runtime estimates'
    error is unknown (`WorkloadSnapshot.runtime_overrun_fraction` replaces it once known)."""
    max_wait_s: float = 6 * SECONDS_PER_HOUR
    """Longest wait for a greener window of a workload without a deadline."""
    max_stale_hold_s: float = 6 * SECONDS_PER_HOUR
    """Longest hold on stale signals; then the workload runs carbon-agnostic."""
    max_link_latency_ms: float | None = None
    """Moves only over links at most this slow; None: any link."""
    restart_overhead_s: float = 300.0
    """Time from resume in the target region until training makes progress again."""
    checkpoint_write_gbps: float = 40.0
    """Speed at which a checkpoint is written before it is sent (storage, Gbit/s)."""
    gpu_hour_value_jpy: float = 0.0
    """Opportunity cost of one GPU-hour lost to a move (0: only its energy counts)."""
    allow_waiting: bool = True
    """False: no temporal shifting; pending work runs now in the best region."""
    exact_assignment_max_options: int = 4_000
    """Solve contended placements exactly with HiGHS when at most this many options compete."""
    options_per_workload: int = 12
    """Cheapest (region, start) options kept per pending workload for the assignment."""

    @property
    def carbon_price_jpy_per_g(self) -> float:
        """The carbon price per gram."""
        return self.carbon_price_jpy_per_tonne / GRAMS_PER_TONNE

    def required_saving_jpy(self, baseline_cost_jpy: float) -> float:
        """The smallest saving (JPY) a wait or a move must show against `baseline_cost_jpy`."""
        share = self.min_saving_fraction + self.forecast_uncertainty_fraction
        return max(self.min_saving_jpy, share * abs(baseline_cost_jpy))


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveCost:
    """Everything a move costs, itemised (issue: checkpoint write, transfer, restart, lost
    work, idle GPUs meanwhile, transfer energy)."""

    checkpoint_write_s: float
    transfer_s: float
    restart_s: float
    lost_work_s: float
    """Work since the last checkpoint that must be redone in the target region."""
    energy_kwh: float
    """Idle GPUs during the downtime, the redone work and the network transfer (facility)."""
    cost_jpy: float
    """Carbon-adjusted cost of `energy_kwh` plus the value of the GPU-hours lost."""

    @property
    def downtime_s(self) -> float:
        """Time the workload makes no progress: write, transfer, restart."""
        return self.checkpoint_write_s + self.transfer_s + self.restart_s

    @property
    def delay_s(self) -> float:
        """How much later the workload finishes because of the move."""
        return self.downtime_s + self.lost_work_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """The numbers behind a decision: the chosen plan against the baseline ("here")."""

    energy_kwh: float
    carbon_kg: float
    cost_jpy: float
    """Electricity bill of the chosen plan."""
    adjusted_cost_jpy: float
    """`cost_jpy` plus carbon at the policy's internal price (the objective, weighted)."""
    baseline_region: RegionName | None = None
    """Running: the current region. Pending: the home region (or the cheapest now)."""
    baseline_energy_kwh: float | None = None
    baseline_carbon_kg: float | None = None
    baseline_cost_jpy: float | None = None
    baseline_adjusted_cost_jpy: float | None = None
    move: MoveCost | None = None
    saving_jpy: float = 0.0
    """Baseline adjusted cost minus the plan's adjusted cost, move cost included."""
    required_saving_jpy: float = 0.0
    expected_completion: datetime | None = None
    slack_s: float | None = None
    """Deadline minus expected completion; None without a deadline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The answer for one workload."""

    workload_id: WorkloadId
    kind: DecisionKind
    reason: Reason
    message: str
    region: RegionName | None = None
    """RunNow/Move: where to go. Wait: where it is planned. Stay: where it is. Hold: None."""
    start_at: datetime | None = None
    """RunNow: `now`. Wait: the planned start slot's beginning."""
    figures: Figures | None = None
    occupancy: tuple[int, int] | None = None
    """Horizon slots [first, end) in which this decision reserves the workload's GPUs and
    power in `region` (RunNow, Wait, Move); None when it reserves nothing."""
    releases: tuple[int, int] | None = None
    """Horizon slots [first, end) in which the workload's current region gets its GPUs and
    power back (a Move now, or a Stay with a move planned to make room); None otherwise."""
