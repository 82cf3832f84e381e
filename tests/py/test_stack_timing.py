"""stack.timing: one factor scales everything, and the stack's copies of the
deployment defaults match src/config.rs."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from stack import timing  # noqa: E402
from stack.timing import Timing  # noqa: E402


@pytest.mark.parametrize(
    "const, name",
    [
        ("SCALE_UP_COOLDOWN_SECONDS", "DEFAULT_SCALE_UP_COOLDOWN"),
        ("SCALE_DOWN_COOLDOWN_SECONDS", "DEFAULT_SCALE_DOWN_COOLDOWN"),
        ("MARKER_MAX_AGE_SECONDS", "DEFAULT_MARKER_MAX_AGE"),
    ],
)
def test_defaults_match_the_autoscaler(const, name):
    src = (ROOT / "src" / "config.rs").read_text()
    m = re.search(rf"pub const {name}: u64 = (\d+);", src)
    assert m, f"{name} not found in src/config.rs"
    assert getattr(timing, const) == int(m.group(1))


def test_one_factor_scales_every_duration():
    t = Timing(20)
    assert t.tick == 3 and t.deadline == 30 and t.hold == 6
    assert t.scrape == t.scaling["scrape_interval_seconds"] / 20
    assert t.duration(60) == "3s" and t.duration(15) == "750ms"
    assert t.equivalent(t.scaled(600)) == 600


def test_whole_second_settings_never_become_zero():
    # 0 disables a cooldown in the autoscaler, so compression must not produce it.
    assert Timing(1000).whole_seconds(240) == 1
    assert Timing(20).whole_seconds(240) == 12
