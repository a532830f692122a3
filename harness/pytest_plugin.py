"""pytest plugin (entry point pytest11): scenarios as tests, one item per journey per
candidate. Off unless `--shadow SCENARIO` (repeatable) or `--shadow-collect` (collect
`scenarios/*.yaml`) is given.

Each scenario is replayed and compared once per session, by the first item that needs it,
under a file lock in a directory every process of the session shares (the controller
makes it and hands it to pytest-xdist's workers), so `pytest -n N` judges the same run a
serial session would. Items read their journey's outcomes; a journey fails when it has an
error or a real difference the scenario's gate counts. The controller writes the reports
when the session ends.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.gate import GateConfig
    from harness.model import Outcome

_STORE = pytest.StashKey["SessionRuns"]()
_SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shadow", "stripe-shadow: scenarios as tests")
    group.addoption(
        "--shadow",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="Replay SCENARIO and make one test per journey per candidate (repeatable).",
    )
    group.addoption(
        "--shadow-collect",
        action="store_true",
        help="Collect every scenarios/*.yaml under the paths pytest is given.",
    )
    group.addoption(
        "--shadow-out",
        metavar="DIR",
        help="Directory for the session's runs (default: runs/pytest-<time>).",
    )
    group.addoption(
        "--shadow-report",
        metavar="DIR",
        help="Directory for the reports written at the end (default: reports/pytest-<time>).",
    )


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("shadow") or config.getoption("shadow_collect"))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class _XdistHooks:
    """Hands the session's directory to each pytest-xdist worker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["shadow_dir"] = str(self.directory)


def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    config.addinivalue_line("markers", "shadow: a journey of a stripe-shadow scenario")
    stamp = f"pytest-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    if _is_worker(config):
        directory = Path(config.workerinput["shadow_dir"])  # type: ignore[attr-defined]
    else:
        given = config.getoption("shadow_out")
        directory = Path(given) if given else config.rootpath / "runs" / stamp
        if directory.is_dir() and any(directory.iterdir()):
            raise pytest.UsageError(
                f"--shadow-out {directory}: exists and is not empty; each session needs "
                "a directory of its own"
            )
        directory.mkdir(parents=True, exist_ok=True)
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistHooks(directory), "stripe-shadow-xdist")
    given_report = config.getoption("shadow_report")
    reports = Path(given_report) if given_report else config.rootpath / "reports" / stamp
    config.stash[_STORE] = SessionRuns(directory.absolute(), reports.absolute())
    # `--shadow` files are collected like any path given on the command line.
    known = {Path(arg).absolute() for arg in config.args}
    for scenario in config.getoption("shadow"):
        if Path(scenario).absolute() not in known:
            config.args.append(scenario)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    config = parent.config
    if not _active(config) or file_path.suffix not in _SUFFIXES:
        return None
    named = {Path(p).absolute() for p in config.getoption("shadow")}
    collected = config.getoption("shadow_collect") and file_path.parent.name == "scenarios"
    if collected or file_path.absolute() in named:
        return ScenarioFile.from_parent(parent, path=file_path)  # type: ignore[no-any-return]
    return None


# --- the session's runs --------------------------------------------------------------------


class ShadowRunFailed(Exception):
    """The scenario could not be replayed or compared; every item of it says why."""


class JourneyDiffers(Exception):
    """A journey has errors or differences the gate counts."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class SessionRuns:
    """The runs of one pytest session: replayed and compared once each, whichever
    process asks first; outcomes indexed by (candidate, journey) once per process."""

    def __init__(self, directory: Path, reports: Path) -> None:
        self.directory = directory
        self.reports = reports
        self._outcomes: dict[Path, dict[tuple[str, int], list[Outcome]]] = {}
        self.written: list[tuple[Path, dict[str, Any]]] = []

    def run_dir(self, scenario: Path) -> Path:
        digest = hashlib.sha256(str(scenario.absolute()).encode()).hexdigest()[:8]
        return self.directory / f"{scenario.stem}-{digest}"

    def _state_file(self, run_dir: Path) -> Path:
        return run_dir.with_name(run_dir.name + ".state.json")

    def ensure(self, scenario: Path) -> Path:
        """The compared run of a scenario, replaying it first if no process has."""
        import fcntl

        from harness.errors import ShadowError
        from harness.run import replay_and_compare
        from harness.scenario import load_scenario

        run_dir = self.run_dir(scenario)
        state_file = self._state_file(run_dir)
        with open(run_dir.with_name(run_dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not state_file.is_file():
                try:
                    replay_and_compare(load_scenario(scenario), out=run_dir)
                    state = {"status": "compared"}
                except ShadowError as exc:
                    state = {"status": "failed", "message": str(exc)}
                state_file.write_text(json.dumps(state), encoding="utf-8")
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if state["status"] != "compared":
            raise ShadowRunFailed(f"{scenario}: {state['message']}")
        return run_dir

    def outcomes(self, scenario: Path, candidate: str, journey: int) -> list[Outcome]:
        from harness.formats.outcomes import read_outcomes

        key = scenario.absolute()
        if key not in self._outcomes:
            run_dir = self.ensure(scenario)
            index: dict[tuple[str, int], list[Outcome]] = {}
            for outcome in read_outcomes(run_dir):
                index.setdefault((outcome.candidate, outcome.journey), []).append(outcome)
            self._outcomes[key] = index
        return self._outcomes[key].get((candidate, journey), [])

    def compared(self) -> Iterator[Path]:
        """The run directories this session compared."""
        for state in sorted(self.directory.glob("*.state.json")):
            if json.loads(state.read_text(encoding="utf-8")).get("status") == "compared":
                yield state.with_name(state.name.removesuffix(".state.json"))


# --- collection ----------------------------------------------------------------------------


class ScenarioFile(pytest.File):
    """A scenario: one collector per candidate."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from harness.replay.idmap import read_id_map_file
        from harness.replay.plan import plan_recording
        from harness.scenario import load_scenario

        scenario = load_scenario(self.path)
        known: set[str] = set()
        for target in scenario.targets:
            if target.id_map is not None:
                known.update(read_id_map_file(target.id_map))
        journeys = plan_recording(scenario.recording, known).journeys
        for target in scenario.targets:
            if target.role == "candidate":
                yield CandidateCollector.from_parent(
                    self, name=target.name, journeys=journeys, gate=scenario.gate
                )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from harness.errors import ShadowError

        if isinstance(excinfo.value, ShadowError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CandidateCollector(pytest.Collector):
    """One candidate of a scenario: one item per journey."""

    def __init__(self, *, journeys: int, gate: GateConfig | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journeys = journeys
        self.gate = gate

    def collect(self) -> Iterator[pytest.Item]:
        for journey in range(self.journeys):
            item = JourneyItem.from_parent(
                self, name=f"journey-{journey}", candidate=self.name, journey=journey
            )
            item.add_marker("shadow")
            yield item


class JourneyItem(pytest.Item):
    """One journey of one candidate: passes when each of its exchanges matches, or differs
    only in expected ways, in noise, or below the gate's severity."""

    def __init__(self, *, candidate: str, journey: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.candidate = candidate
        self.journey = journey

    def runtest(self) -> None:
        from harness.gate import GateConfig

        store = self.config.stash[_STORE]
        outcomes = store.outcomes(self.path, self.candidate, self.journey)
        if not outcomes:
            raise JourneyDiffers([f"{self.candidate}, journey {self.journey}: no outcome"])
        parent = self.parent
        gate = (parent.gate if isinstance(parent, CandidateCollector) else None) or GateConfig()
        failing = failing_exchanges(outcomes, gate, known_ids(gate, self.candidate))
        if failing:
            header = (
                f"{self.candidate}, journey {self.journey}: {len(failing)} of {len(outcomes)} "
                f"exchanges fail (an error, or a real difference of severity {gate.fail_on} "
                "or above)"
            )
            lines = [line for exchange in failing for line in exchange]
            raise JourneyDiffers([header, *lines, f"run: {store.run_dir(self.path)}"])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (JourneyDiffers, ShadowRunFailed)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.candidate} journey {self.journey}"


def known_ids(gate: GateConfig, candidate: str) -> set[str] | None:
    """The baseline summary's difference groups of this candidate, when the gate names one."""
    if gate.baseline_summary is None:
        return None
    from harness.formats.summary import read_summary_file
    from harness.gate import known_groups

    return known_groups(read_summary_file(gate.baseline_summary)).get(candidate, set())


def failing_exchanges(
    outcomes: list[Outcome], gate: GateConfig, known: set[str] | None
) -> list[list[str]]:
    """The exchanges that fail a journey, each as lines: the exchange, then the
    differences the gate counts (or the error)."""
    from harness.compare.group import difference_ids
    from harness.report.phrasing import change_text

    failing = []
    for outcome in sorted(outcomes, key=lambda o: o.seq):
        where = f"seq {outcome.seq} {outcome.endpoint}"
        if outcome.kind == "error":
            failing.append([f"{where}: could not be compared: {outcome.error}"])
            continue
        counted = [
            d
            for d in outcome.differences
            if d.outcome == "difference"
            and gate.counts(d.endpoint, d.severity)
            and (known is None or not known.intersection(difference_ids(d)))
        ]
        if counted:
            failing.append(
                [f"{where}:"]
                + [
                    f"    {d.severity} {d.kind} {d.path}: "
                    + change_text(d.kind, d.baseline, d.candidate)
                    for d in counted
                ]
            )
    return failing


# --- the end of the session ----------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not _active(config) or _is_worker(config):
        return
    from harness.errors import ShadowError
    from harness.report import write_report

    store = config.stash[_STORE]
    for run_dir in store.compared():
        try:
            written = write_report(run_dir, store.reports / run_dir.name)
        except ShadowError as exc:
            store.written.append((run_dir, {"error": str(exc)}))
            continue
        store.written.append((written.directory / "index.html", written.summary))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _active(config) or _is_worker(config):
        return
    from harness.report.phrasing import verdict_line

    store = config.stash[_STORE]
    if not store.written:
        return
    terminalreporter.section("stripe-shadow")
    for page, summary in store.written:
        if "error" in summary:
            terminalreporter.write_line(f"{page}: no report: {summary['error']}")
            continue
        for name, candidate in summary["candidates"].items():
            terminalreporter.write_line(f"{name}: {verdict_line(candidate)}")
        terminalreporter.write_line(f"report: {page}")
