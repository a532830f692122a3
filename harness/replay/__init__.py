"""Replay: plan journeys, map ids, send a recording to several targets at once, and write
the run directory that compare reads (docs/replay.md, docs/run-format.md)."""

from harness.formats.results import latest_exchanges
from harness.formats.rundir import Run, RunTarget, load_run

__all__ = ["Run", "RunTarget", "latest_exchanges", "load_run"]
