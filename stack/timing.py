"""Every duration of the stack, derived from ONE time factor.

Real-time values come from prometheus/scaling.json (alerting, read through
issue E's renderer) and from the deployment's defaults (timers, cooldowns);
the stack divides each by the factor, so a run at factor F shows in 1/F of
the time what the cloud would do. Results are reported back in equivalent
(real-time) seconds.
"""

from dataclasses import dataclass, field

from .renderer import render

# Deployment defaults in real seconds: the systemd timers, and the defaults of
# src/config.rs (tests/py/test_stack_timing.py fails if these drift apart).
TICK_SECONDS = 60
DISCOVER_SECONDS = 10
SCALE_UP_COOLDOWN_SECONDS = 240
SCALE_DOWN_COOLDOWN_SECONDS = 300
MARKER_MAX_AGE_SECONDS = 180
# The acceptance criteria, in real seconds after the load starts.
DEADLINE_SECONDS = 600
HOLD_SECONDS = 120
# Prometheus' default staleness lookback, compressed like everything else.
LOOKBACK_SECONDS = 300


@dataclass(frozen=True)
class Timing:
    factor: float
    scaling: dict = field(default_factory=render.load_scaling)

    def scaled(self, real_seconds: float) -> float:
        """Wall-clock seconds for `real_seconds` of cloud time."""
        return real_seconds / self.factor

    def equivalent(self, wall_seconds: float) -> float:
        """Cloud-time seconds that `wall_seconds` of this run stand for."""
        return wall_seconds * self.factor

    def whole_seconds(self, real_seconds: float) -> int:
        """For settings the autoscaler takes in whole seconds; never 0, which means 'disabled'."""
        return max(1, round(self.scaled(real_seconds)))

    def duration(self, real_seconds: float) -> str:
        """A scaled Prometheus/Alertmanager duration string."""
        return render.duration(real_seconds, self.factor)

    @property
    def scrape(self) -> float:
        return self.scaled(self.scaling["scrape_interval_seconds"])

    @property
    def tick(self) -> float:
        return self.scaled(TICK_SECONDS)

    @property
    def discover(self) -> float:
        return self.scaled(DISCOVER_SECONDS)

    @property
    def deadline(self) -> float:
        return self.scaled(DEADLINE_SECONDS)

    @property
    def hold(self) -> float:
        return self.scaled(HOLD_SECONDS)
