"""Issue E's prometheus/render.py, loaded as a module: the one place that turns
scaling.json into Prometheus/Alertmanager configs and durations."""

import importlib.util

from .paths import ROOT

_spec = importlib.util.spec_from_file_location("prometheus_render", ROOT / "prometheus" / "render.py")
render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)
