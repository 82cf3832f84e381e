"""Where things are in the repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
AUTOSCALER_BIN = RELEASE / "autoscaler"
TWIN_BIN = RELEASE / "twin"
