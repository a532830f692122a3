"""A validation run in one go: replay a scenario, compare, write the report, apply the
gate. The I/O edge that chains the stages' own entry points (start_replay, compare_run,
write_report, apply_gate); `shadow run`, `shadow gate`, the demo and the pytest plugin
use it."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.compare.pipeline import SideComparer, compare_run
from harness.compare.rules import resolve_config
from harness.errors import InputError, ShadowWarning
from harness.formats.summary import read_summary_file
from harness.gate import GateConfig, GateVerdict, apply_gate, override
from harness.reconcile.endstates import end_state_step
from harness.reconcile.states import compare_end_states
from harness.replay.progress import ProgressView
from harness.replay.session import ReplayResult, ReplaySession, check_reachable, start_replay
from harness.report import WrittenReport, write_report
from harness.report.phrasing import outcome_counts, percent, severity_counts
from harness.scenario import Scenario, load_scenario
from harness.upgrade.check import check_recording, write_upgrade_check


class Cluster(Protocol):
    """Where a run is sharded (harness.distributed.replay.ClusterRun): who drives the
    replay's targets, and who compares two sides of the run."""

    def sessions(self, *args: Any, **kwargs: Any) -> ReplaySession: ...

    def sides(self, run_dir: Path, rules: str | None) -> SideComparer: ...


@dataclass(slots=True)
class RunResult:
    """What a validation run left behind and what the gate made of it."""

    replay: ReplayResult
    summary: dict[str, Any]
    report: WrittenReport
    gate: GateConfig
    verdict: GateVerdict

    @property
    def run_dir(self) -> Path:
        return self.replay.run_dir


def gate_config(section: GateConfig | None, options: dict[str, Any]) -> GateConfig:
    """The scenario's gate with the command line's options over it."""
    try:
        return override(section or GateConfig(), options)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InputError(f"gate options: {exc}") from None


def baseline_summary(config: GateConfig) -> dict[str, Any] | None:
    """The earlier run's summary the gate compares with, read once before anything runs."""
    return None if config.baseline_summary is None else read_summary_file(config.baseline_summary)


def scenario_gate(summary: dict[str, Any]) -> GateConfig | None:
    """The gate section of the scenario a summarised run came from, if it is still there."""
    path = ((summary.get("run") or {}).get("scenario") or {}).get("path")
    if not path:
        return None
    if not Path(path).is_file():
        warnings.warn(
            f"{path}: the run's scenario is not there any more; its gate: section is not "
            "applied (only the command line's options)",
            ShadowWarning,
            stacklevel=2,
        )
        return None
    return load_scenario(path, check_files=False).gate


def replay_and_compare(
    scenario: Scenario,
    *,
    out: Path | None = None,
    rules: Path | None = None,
    concurrency: int | None = None,
    allow_live: bool = False,
    progress: ProgressView | None = None,
    runs_dir: Path = Path("runs"),
    cluster: Cluster | None = None,
) -> tuple[ReplayResult, dict[str, Any]]:
    """Replay a scenario and compare the run; the compare rules are checked before any
    target starts, and a target that cannot be started or reached raises
    InfrastructureError. With `cluster`, both are sharded over it (harness.distributed)."""
    resolve_config(scenario.compare, scenario.path, rules)
    check = None
    if scenario.upgrade_check is not None:
        check = check_recording(scenario.recording, scenario.upgrade_check)
    replay = start_replay(
        scenario,
        out=out,
        runs_dir=runs_dir,
        concurrency=concurrency,
        allow_live=allow_live,
        progress=progress,
        after_replay=end_state_step(scenario) if scenario.reconcile else None,
        session_type=ReplaySession if cluster is None else cluster.sessions,
    )
    if check is not None:
        write_upgrade_check(replay.run_dir, check)
    check_reachable(replay)
    if cluster is None:
        summary = compare_run(replay.run_dir, rules)
    else:
        sides = cluster.sides(replay.run_dir, str(rules) if rules is not None else None)
        summary = compare_run(replay.run_dir, rules, workers=1, sides=sides)
    if scenario.reconcile:
        compare_end_states(replay.run_dir, rules)
        summary = read_summary_file(replay.run_dir / "summary.json")
    return replay, summary


def run_scenario(
    scenario: Scenario,
    *,
    out: Path | None = None,
    report_dir: Path | None = None,
    rules: Path | None = None,
    gate_options: dict[str, Any] | None = None,
    concurrency: int | None = None,
    allow_live: bool = False,
    progress: ProgressView | None = None,
    runs_dir: Path = Path("runs"),
    cluster: Cluster | None = None,
) -> RunResult:
    """Replay, compare, report and gate. Every input is checked before a target starts."""
    config = gate_config(scenario.gate, gate_options or {})
    baseline = baseline_summary(config)
    replay, summary = replay_and_compare(
        scenario,
        out=out,
        rules=rules,
        concurrency=concurrency,
        allow_live=allow_live,
        progress=progress,
        runs_dir=runs_dir,
        cluster=cluster,
    )
    report = write_report(replay.run_dir, report_dir)
    return RunResult(replay, summary, report, config, apply_gate(summary, config, baseline))


# --- the terminal table ----------------------------------------------------------------------

_COLUMNS = (
    "candidate",
    "exchanges",
    "matching",
    "critical",
    "high",
    "medium",
    "low",
    "expected",
    "noise",
    "errors",
    "gate",
)


def summary_table(summary: dict[str, Any], verdict: GateVerdict | None = None) -> list[str]:
    """Per candidate: exchanges, matching, exchanges with regressions by their highest
    severity, expected, noise, errors (and the gate's verdict), as aligned text."""
    statuses = {c.name: c.status for c in verdict.candidates} if verdict else {}
    rows = [list(_COLUMNS if verdict else _COLUMNS[:-1])]
    for name, candidate in summary.get("candidates", {}).items():
        outcomes = outcome_counts(candidate)
        exchanges = int(candidate.get("exchanges", 0))
        row = [
            name,
            str(exchanges),
            f"{outcomes['match']} ({percent(outcomes['match'], exchanges)})",
            *(str(n) for n in severity_counts(candidate).values()),
            str(outcomes["expected"]),
            str(outcomes["noise"]),
            str(outcomes["error"]),
        ]
        if verdict:
            row.append(statuses.get(name, "-"))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = {0, len(_COLUMNS) - 1}  # the candidate and the gate columns are words
    return [
        "  ".join(
            cell.ljust(widths[i]) if i in text else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
