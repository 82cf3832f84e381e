"""The end-to-end stack on the twin: processes, observation, analysis, chart.

Run it with `python -m stack --help` (./demo does) or from the acceptance
tests and the policy benchmark.
"""
