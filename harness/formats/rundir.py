"""The run directory (docs/run-format.md) and its run.json: what ran, which targets, where
each target's files are. The target files are harness.formats.results, the id maps
harness.formats.idmap; compare and report read a run only through these modules, so
each file has one reader and one writer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.formats.atomic import write_json_atomically
from harness.formats.idmap import load_idmap
from harness.formats.results import latest_exchanges
from harness.formats.untrusted import JSONProblem, load_json
from harness.model import Exchange

RUN_FORMAT_VERSION = 1
RUN_FILE = "run.json"

# What a scenario, a run and a target may be called: each names files and folders.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Target names a run directory keeps for itself: its own files (run.json, and compare's
# outcomes.jsonl and summary.json) and the recording as a baseline. Compared without
# case, as a file system may.
RESERVED_TARGET_NAMES = {
    "run": "run.json is the run's own file",
    "outcomes": "outcomes.jsonl is compare's file",
    "summary": "summary.json is compare's file",
    "recording": "it means the recording itself, as in `baseline: recording`",
}


def target_name_problem(name: str) -> str | None:
    """Why `name` cannot name a target's files in a run directory, or None."""
    if not re.fullmatch(NAME_PATTERN, name):
        return "use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit)"
    reserved = RESERVED_TARGET_NAMES.get(name.lower())
    if reserved is not None:
        return f"{name!r} is reserved in a run directory ({reserved}); rename the target"
    return None


@dataclass(slots=True)
class RunTarget:
    """One target of a run as run.json describes it (its key is never written)."""

    name: str
    role: str
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    launch: Any = None
    api_key_env: str | None = None
    transforms: list[Any] = field(default_factory=list)
    concurrency: int | None = None
    rate_limit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "url": self.url,
            "headers": self.headers,
            "launch": self.launch,
            "api_key_env": self.api_key_env,
            "transforms": self.transforms,
            "concurrency": self.concurrency,
            "rate_limit": self.rate_limit,
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunTarget:
        known = {
            "name",
            "role",
            "url",
            "headers",
            "launch",
            "api_key_env",
            "transforms",
            "concurrency",
            "rate_limit",
        }
        return cls(
            name=data["name"],
            role=data["role"],
            url=data.get("url"),
            headers=dict(data.get("headers") or {}),
            launch=data.get("launch"),
            api_key_env=data.get("api_key_env"),
            transforms=list(data.get("transforms") or []),
            concurrency=data.get("concurrency"),
            rate_limit=data.get("rate_limit"),
            extra={k: v for k, v in data.items() if k not in known},
        )


# The keys of run.json this version writes and reads; any other is kept as it was.
_INFO_KEYS = (
    "version",
    "name",
    "run_id",
    "scenario",
    "recording",
    "baseline",
    "targets",
    "journeys",
    "plan",
    "time",
    "settings",
    "tool",
    "started",
    "finished",
    "status",
    "results",
    "resumed",
    "error",
)


@dataclass(slots=True)
class RunInfo:
    """run.json (docs/run-format.md): what ran, written by the replay as it goes (a
    reader, or a killed replay, finds it `running`) and read by every later stage."""

    name: str
    baseline: str  # a target name, or `recording` to compare with what was recorded
    recording: dict[str, Any]  # path, header, exchanges
    targets: list[RunTarget]
    run_id: str = ""
    scenario: dict[str, Any] = field(default_factory=dict)  # name, path
    journeys: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    time: dict[str, Any] | None = None  # how absolute times in requests were moved
    settings: dict[str, Any] = field(default_factory=dict)
    tool: str = ""
    started: str = ""
    finished: str | None = None
    status: str = "running"
    results: dict[str, dict[str, int]] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)
    error: str | None = None
    version: int = RUN_FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "name": self.name,
            "run_id": self.run_id,
            "scenario": self.scenario,
            "recording": self.recording,
            "baseline": self.baseline,
            "targets": [t.to_json() for t in self.targets],
            "journeys": self.journeys,
            "plan": self.plan,
            "time": self.time,
            "settings": self.settings,
            "tool": self.tool,
            "started": self.started,
            "finished": self.finished,
            "status": self.status,
        }
        for key in ("results", "resumed", "error"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        """From a run.json already checked by `_check_run`."""
        return cls(
            name=data["name"],
            baseline=data["baseline"],
            recording=data["recording"],
            targets=[RunTarget.from_json(t) for t in data["targets"]],
            run_id=str(data.get("run_id") or ""),
            scenario=data.get("scenario") or {},
            journeys=data.get("journeys") or 0,
            plan=data.get("plan") or {},
            time=data.get("time") if isinstance(data.get("time"), dict) else None,
            settings=data.get("settings") or {},
            tool=str(data.get("tool") or ""),
            started=str(data.get("started") or ""),
            finished=data.get("finished"),
            status=str(data.get("status") or "running"),
            results=data.get("results") or {},
            resumed=list(data.get("resumed") or []),
            error=data.get("error"),
            version=data["version"],
            extra={k: v for k, v in data.items() if k not in _INFO_KEYS},
        )

    @property
    def scenario_path(self) -> Path | None:
        path = self.scenario.get("path")
        return Path(path) if path else None

    @property
    def recording_path(self) -> Path:
        return Path(self.recording["path"])


@dataclass(slots=True)
class Run:
    """A run directory: what ran (run.json) and where each target's results are."""

    path: Path
    info: RunInfo

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def baseline(self) -> str:
        """A target name, or `recording` to compare with what was recorded."""
        return self.info.baseline

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def targets(self) -> list[RunTarget]:
        return self.info.targets

    @property
    def recording_path(self) -> Path:
        return self.info.recording_path

    @property
    def scenario_path(self) -> Path | None:
        return self.info.scenario_path

    def target(self, name: str) -> RunTarget:
        for target in self.targets:
            if target.name == name:
                return target
        raise InputError(f"{self.path}: run has no target named {name!r}")

    def by_role(self, role: str) -> list[RunTarget]:
        return [t for t in self.targets if t.role == role]

    def target_file(self, name: str) -> Path:
        return self.path / f"{name}.jsonl"

    def idmap_file(self, name: str) -> Path:
        return self.path / f"{name}.idmap.json"

    def exchanges(self, name: str) -> dict[int, Exchange]:
        """The replayed exchanges of one target, last line per seq."""
        return latest_exchanges(self.target_file(name))

    def idmap(self, name: str) -> dict[str, str]:
        return load_idmap(self.idmap_file(name))


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Read run.json of a run directory; a missing or malformed one is an InputError."""
    path = Path(run_dir)
    run_file = path / RUN_FILE
    try:
        if not path.is_dir():
            raise InputError(f"{path}: no such run directory")
        data = load_json(run_file.read_bytes())
    except NotADirectoryError:
        raise InputError(f"{path}: no such run directory") from None
    except FileNotFoundError:
        raise InputError(f"{run_file}: missing (is {path} a run directory?)") from None
    except OSError as exc:
        raise InputError(f"{run_file}: cannot be read ({exc.strerror})") from None
    except JSONProblem as exc:
        raise InputError(
            f"{exc.located(run_file)}; a run.json is written by `shadow replay`"
        ) from None
    _check_run(data, run_file)
    try:
        info = RunInfo.from_json(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(f"{run_file}: targets: malformed ({exc})") from None
    return Run(path=path, info=info)


# Fields of run.json the stages read, and what each must be.
_RUN_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("name", str),
    ("baseline", str),
    ("targets", list),
    ("recording", dict),
)
_TARGET_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("name", str),
    ("role", str),
    ("url", (str, type(None))),
    ("headers", (dict, type(None))),
    ("transforms", (list, type(None))),
)


def _check_run(data: Any, run_file: Path) -> None:
    """The shape of run.json that compare, report and resume rely on, field by field."""
    if not isinstance(data, dict):
        raise InputError(f"{run_file}: expected a JSON object")
    version = data.get("version")
    if type(version) is not int or not 1 <= version <= RUN_FORMAT_VERSION:
        raise InputError(
            f"{run_file}: version: run format {str(version)[:20]!r} is not one this "
            f"stripe-shadow reads (1 to {RUN_FORMAT_VERSION})"
        )
    for key, kind in _RUN_FIELDS:
        if key not in data:
            raise InputError(f"{run_file}: {key}: missing")
        if not isinstance(data[key], kind):
            raise InputError(f"{run_file}: {key}: expected {_json_kind(kind)}")
    recording_path = data["recording"].get("path")
    if not isinstance(recording_path, str) or not recording_path or "\0" in recording_path:
        raise InputError(f"{run_file}: recording.path: expected the path of the recording")
    for key, kind in (("scenario", dict), ("status", str), ("settings", dict)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise InputError(f"{run_file}: {key}: expected {_json_kind(kind)}")
    scenario_path = (data.get("scenario") or {}).get("path")
    if scenario_path is not None and (not isinstance(scenario_path, str) or "\0" in scenario_path):
        raise InputError(f"{run_file}: scenario.path: expected the path of the scenario")
    names: set[str] = set()
    for index, target in enumerate(data["targets"]):
        where = f"{run_file}: targets[{index}]"
        if not isinstance(target, dict):
            raise InputError(f"{where}: expected an object")
        for key, kind in _TARGET_FIELDS:
            if key in target and not isinstance(target[key], kind):
                raise InputError(f"{where}.{key}: expected {_json_kind(kind)}")
        if "name" not in target or "role" not in target:
            raise InputError(f"{where}: needs a name and a role")
        problem = target_name_problem(target["name"])
        if problem is not None:
            raise InputError(f"{where}.name: {problem}")
        if target["name"].lower() in names:
            raise InputError(f"{where}.name: {target['name']!r} is given twice")
        names.add(target["name"].lower())


def _json_kind(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", dict: "an object", list: "a list", int: "an integer"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, "null") for k in kinds)


def write_run_json(run_dir: Path, info: RunInfo) -> None:
    """Replace run.json atomically, so a reader (or a killed replay) never sees half of it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run_dir / RUN_FILE, info.to_json())


def new_run_dir(base: Path, scenario_name: str, when: datetime) -> Path:
    """`base/<scenario>-<YYYYmmdd-HHMMSS>`, with `-2`, `-3`… when that name is taken."""
    stem = f"{scenario_name}-{when.strftime('%Y%m%d-%H%M%S')}"
    candidate = base / stem
    suffix = 2
    while candidate.exists():
        candidate = base / f"{stem}-{suffix}"
        suffix += 1
    return candidate
