"""The replay provider: the embedded Japan-grid model for one area (the demo default).

This module's one job is to adapt `wattbit.core.replay` to the `SignalProvider` port.
WARNING: it must not do I/O beyond what `wattbit.providers.dataset` loaded once; the model is
pure, so a replay region never goes stale and needs no network or account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattbit.core.replay import GridProfile, ReplaySettings, replay_reading
from wattbit.core.signals import SignalReading
from wattbit.providers.base import checked


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayProvider:
    """Replays `profile` with `settings` (seed, time scale, season, forecast error)."""

    profile: GridProfile
    settings: ReplaySettings
    name: str = "replay"

    def fetch(self, now: datetime) -> SignalReading:
        """The model's reading at `now`, with a forecast and curtailment windows."""
        return checked(replay_reading(self.profile, self.settings, now), now)
