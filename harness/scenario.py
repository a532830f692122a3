"""The scenario file (docs/scenario-format.md): a recording, the targets to replay it
against, and how; validated strictly, every mistake reported as `FILE: field.path: what`.

Paths inside a scenario are relative to the scenario file. `compare:` belongs to a later
stage and is only checked to be a mapping here; `gate:` is validated by harness.gate's model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.containerspec import DockerLaunch, StripeMockLaunch
from harness.errors import InputError, ScenarioError, ScenarioProblem
from harness.formats.rundir import NAME_PATTERN, target_name_problem
from harness.formats.untrusted import YAMLLoader, yaml_problem
from harness.gate import GateConfig
from harness.model import header_value_problem
from harness.stripe import HARNESS_HEADERS
from harness.stripe.catalogue import resolve_version
from harness.stripe.times import REQUEST_TIME_FIELDS
from harness.transforms import TransformSpec, check_transforms
from harness.transforms.blueprints import blueprint_named
from harness.validation import field_path, model_at

ROLES = ("baseline", "candidate", "secondary")
BASELINE_RECORDING = "recording"

_NAME = NAME_PATTERN
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host, without a trailing slash, spaces or
    credentials (a target's key comes from its api_key_env only)."""
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        raise ValueError("not a URL (it holds a space or a control character)")
    parts = urlsplit(value.replace("{port}", "1"))
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("not a URL (bad port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not a URL (expected http://host:port or https://host)")
    if parts.query or parts.fragment:
        raise ValueError("not a URL a target can have (no query or fragment allowed)")
    if "@" in parts.netloc:
        raise ValueError(
            "a URL may not hold credentials (user:password@host): they would be sent to the "
            "target and written into run.json; put the key in the environment variable that "
            "api_key_env names"
        )
    return value.rstrip("/")


# --- launchers ---------------------------------------------------------------------------


class LocalstripeLaunch(_Strict):
    """Start localstripe on a free port with a store of its own."""

    kind: Literal["localstripe"] = "localstripe"

    def to_json(self) -> Any:
        return "localstripe"


class CommandLaunch(_Strict):
    """Start any local server: `{port}` in command and url is replaced by a free port."""

    kind: Literal["command"] = "command"
    command: str = Field(min_length=1)
    url: str
    ready_path: str = "/"
    ready_timeout: float = Field(default=30.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("ready_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    def to_json(self) -> Any:
        return self.model_dump()


# The launch kinds a scenario may name, each with the model of its options. Later kinds
# (containers) register themselves here and in harness.replay.targets.LAUNCHERS.
LAUNCH_KINDS: dict[str, type[BaseModel]] = {
    "localstripe": LocalstripeLaunch,
    "command": CommandLaunch,
    "docker": DockerLaunch,
    "stripe-mock": StripeMockLaunch,
}


def _kind_with_options(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    kind, options = next(iter(value.items()))
    return kind in LAUNCH_KINDS and (options is None or isinstance(options, dict))


def _launch_spec(value: Any) -> Any:
    if value is None or isinstance(value, BaseModel):
        return value
    prefix = ""
    if isinstance(value, str):
        data: dict[str, Any] = {"kind": value}
        prefix = f"{value}."
    elif _kind_with_options(value):
        # `{docker: {image: ...}}`: the kind as the only key, its options beneath
        kind, options = next(iter(value.items()))
        data = {**(options or {}), "kind": kind}
        prefix = f"{kind}."
    elif isinstance(value, dict):
        data = dict(value)
        data.setdefault("kind", "command" if "command" in data else None)
    else:
        raise ValueError(
            "expected a launch kind (localstripe, stripe-mock), a mapping with a command, "
            "or {docker: {image: ...}}"
        )
    kind = data.get("kind")
    if kind not in LAUNCH_KINDS:
        raise ValueError(f"unknown launch kind {kind!r} (known: {', '.join(sorted(LAUNCH_KINDS))})")
    try:
        return LAUNCH_KINDS[kind].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_path(first["loc"], prefix.rstrip(".")) if first["loc"] else prefix.rstrip(".")
        message = _message(first, LAUNCH_KINDS[kind])
        raise ValueError(f"{where}: {message}" if where else message) from None


# --- the model ---------------------------------------------------------------------------


class RetrySettings(_Strict):
    """Retries on connection errors, timeouts, 429 and 5xx, bounded in count and time."""

    attempts: int = Field(default=4, ge=1, le=20)
    backoff: float = Field(default=0.5, ge=0, le=60)
    max_backoff: float = Field(default=8.0, ge=0, le=600)
    budget: float = Field(default=60.0, gt=0, le=3600)


_TIME_FIELD = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$")


class TimeSettings(_Strict):
    """What the replay does with absolute times in requests (docs/replay.md): `shift`
    moves each by the replay's start less the recording's, so it keeps its distance from
    "now"; `keep` sends it as recorded. `fields` adds parameter names to the built-in
    table (harness.stripe.times.REQUEST_TIME_FIELDS)."""

    mode: Literal["shift", "keep"] = "shift"
    fields: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value

    @field_validator("fields")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TIME_FIELD.match(name):
                raise ValueError(
                    f"{name!r} is not a parameter name (letters, digits and _, or "
                    "parent.name such as period.start)"
                )
        return value

    def field_names(self) -> frozenset[str]:
        return REQUEST_TIME_FIELDS | frozenset(self.fields)


class TargetSpec(_Strict):
    """One target: where requests go, with which key and headers, and how it is started."""

    name: str = Field(pattern=_NAME)
    url: str | None = None
    launch: Any = None
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    role: Literal["baseline", "candidate", "secondary"] | None = None
    id_map: Path | None = None
    transforms: list[TransformSpec] = Field(default_factory=list)
    blueprint: str | None = None
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    rate_limit: float | None = Field(default=None, gt=0)
    # A candidate on a newer API version than its baseline: differences the catalogue
    # diff explains are expected (docs/catalogue.md).
    expect_upgrade: bool = False

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        problem = target_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("launch", mode="before")
    @classmethod
    def _launch(cls, value: Any) -> Any:
        return _launch_spec(value)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("not an environment variable name (letters, digits, _)")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            why = HARNESS_HEADERS.get(name.lower())
            if why:
                raise ValueError(f"{name} may not be set here: {why}")
            problem = header_value_problem(text)
            if problem is not None:
                raise ValueError(f"{name}: {problem}")
        return value

    @field_validator("id_map")
    @classmethod
    def _id_map(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("transforms", mode="before")
    @classmethod
    def _transforms(cls, value: Any, info: ValidationInfo) -> list[TransformSpec]:
        return check_transforms(value, (info.context or {}).get("base"))

    @field_validator("blueprint")
    @classmethod
    def _blueprint(cls, value: str | None) -> str | None:
        if value is not None:
            blueprint_named(value)
        return value

    @model_validator(mode="after")
    def _blueprint_transforms(self) -> TargetSpec:
        if self.blueprint is not None:
            # A blueprint's transforms run first, so the target's own can adjust their output.
            self.transforms = [
                *check_transforms(list(blueprint_named(self.blueprint).transforms)),
                *self.transforms,
            ]
        return self

    @model_validator(mode="after")
    def _somewhere_to_send(self) -> TargetSpec:
        if self.url is None and self.launch is None:
            raise ValueError("needs a url or a launch")
        if self.url is not None and self.launch is not None:
            raise ValueError("give a url or a launch, not both (a launch provides the url)")
        return self

    @property
    def launch_kind(self) -> str | None:
        return None if self.launch is None else str(self.launch.kind)

    def launch_json(self) -> Any:
        return None if self.launch is None else self.launch.to_json()


class Scenario(_Strict):
    """A scenario file: recording + targets (+ compare rules and gate for later stages)."""

    name: str = Field(pattern=_NAME)
    description: str | None = None
    recording: Path
    baseline: str | None = None
    targets: list[TargetSpec] = Field(min_length=1)
    on_unresolved: Literal["send", "skip"] = "skip"
    allow_live: bool = False
    concurrency: int = Field(default=8, ge=1, le=1024)
    timeout: float = Field(default=30.0, gt=0, le=600)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    time: TimeSettings = Field(default_factory=TimeSettings)
    compare: dict[str, Any] | None = None
    gate: GateConfig | None = None
    # `shadow run` checks the recording against this API version before replaying, and
    # the report shows what it found (docs/catalogue.md).
    upgrade_check: str | None = None

    _path: Path = PrivateAttr(default=Path("scenario.yaml"))

    @field_validator("recording")
    @classmethod
    def _recording(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("upgrade_check")
    @classmethod
    def _covered_version(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                resolve_version(value)
            except InputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _roles(self) -> Scenario:
        names = [t.name for t in self.targets]
        folded = [name.lower() for name in names]
        for index, name in enumerate(names):
            if folded[index] in folded[:index]:
                earlier = names[folded.index(folded[index])]
                same = "" if earlier == name else f" (as {earlier!r}: file names may ignore case)"
                raise ScenarioProblem(
                    ("targets", index, "name"), f"duplicate target name {name!r}{same}"
                )
        declared = [t.name for t in self.targets if t.role == "baseline"]
        if self.baseline is None:
            if len(declared) > 1:
                raise ScenarioProblem(
                    ("baseline",),
                    f"several targets say role: baseline ({', '.join(declared)}); name one here",
                )
            self.baseline = declared[0] if declared else BASELINE_RECORDING
        elif self.baseline != BASELINE_RECORDING and self.baseline not in names:
            raise ScenarioProblem(
                ("baseline",),
                f"no target named {self.baseline!r} (targets: {', '.join(names)}; or 'recording')",
            )
        for index, target in enumerate(self.targets):
            if target.name == self.baseline:
                if target.role not in (None, "baseline"):
                    raise ScenarioProblem(
                        ("targets", index, "role"),
                        f"{target.name} is the baseline (baseline: {self.baseline}) "
                        f"but says role: {target.role}",
                    )
                target.role = "baseline"
            elif target.role == "baseline":
                raise ScenarioProblem(
                    ("targets", index, "role"),
                    f"baseline is {self.baseline!r}, so {target.name} cannot also be "
                    "role: baseline",
                )
            elif target.role is None:
                target.role = "candidate"
        return self

    @property
    def path(self) -> Path:
        """The scenario file this was loaded from."""
        return self._path

    def target(self, name: str) -> TargetSpec:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    context = info.context or {}
    base = context.get("base")
    path = value.expanduser()
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    path = Path(os.path.normpath(path))
    if "\0" in str(path):
        raise ValueError("a path may not hold a NUL character")
    if context.get("check_files", False):
        shown = value if value == path else f"{value} ({path})"
        try:
            found = path.is_file()
        except OSError as exc:
            raise ValueError(f"cannot be read: {exc.strerror}: {str(shown)[:80]}") from None
        if not found:
            raise ValueError(f"no such file: {shown}")
    return path


# --- loading -----------------------------------------------------------------------------


def _message(error: Any, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields) if model is not None else ""
        return "unknown key" + (f" (known keys: {known})" if known else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        known = ", ".join(model.model_fields) if model is not None else ""
        return (
            "expected a mapping of keys"
            + (f" ({known})" if known else "")
            + (f", got {_yaml_kind(error.get('input'))}")
        )
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit)"
    if kind in ("value_error", "assertion_error"):
        cause = error.get("ctx", {}).get("error")
        return str(cause) if cause is not None else error["msg"]
    message = str(error["msg"])
    message = message.replace("Input should be", "expected").replace("Input ", "")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        message += f", got {type(error.get('input')).__name__}"
    return message[:1].lower() + message[1:]


def _yaml_kind(value: Any) -> str:
    """What a YAML value is, in the words of someone writing YAML."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return "nothing" if value is None else type(value).__name__


def _problems(exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    problems: list[tuple[tuple[Any, ...], str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ScenarioProblem):
            # Its loc is from where the validator ran (the model's root for a model's).
            problems.append((loc + cause.loc, str(cause)))
            continue
        parent = loc[:-1] if error["type"] == "extra_forbidden" else loc
        problems.append((loc, _message(error, model_at(Scenario, parent))))
    return problems


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line in the file where the value at `loc` is written (1-based), if found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node = value_node
                    mark = key_node if isinstance(value_node, yaml.ScalarNode) else value_node
                    line = mark.start_mark.line + 1
                    break
            else:
                return line
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_scenario(text: str, path: Path, *, check_files: bool = True) -> Scenario:
    """Validate scenario text as if read from `path` (paths resolve against its folder)."""
    loader: YAMLLoader | None = None
    try:
        loader = YAMLLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ScenarioError(yaml_problem(exc, str(path), text)) from None
    finally:
        if loader is not None:
            loader.dispose()  # type: ignore[no-untyped-call]
    if data is None:
        raise ScenarioError(f"{path}: empty scenario; expected name, recording and targets")
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{path}: expected a mapping of keys (name, recording, targets…), "
            f"got {type(data).__name__}"
        )
    context = {"base": path.parent, "check_files": check_files}
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        located = [(_line_of(node, loc), loc, message) for loc, message in _problems(exc)]
        # In file order, so the first line names the first mistake a reader meets.
        located.sort(key=lambda item: item[0] if item[0] is not None else 0)
        lines = []
        for number, loc, message in located:
            where = f" (line {number})" if number is not None else ""
            lines.append(f"{path}: {field_path(loc) or 'scenario'}: {message}{where}")
        raise ScenarioError("\n".join(lines)) from None
    scenario._path = path
    return scenario


def load_scenario(path: str | os.PathLike[str], *, check_files: bool = True) -> Scenario:
    """Read and validate a scenario file; any mistake raises ScenarioError (exit code 2)
    whose first line is `FILE: field.path: what is wrong`."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{file}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{file}: is a directory, not a scenario file") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{file}: not a text file (expected YAML)") from None
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot be read ({exc.strerror})") from None
    return parse_scenario(text, file.absolute(), check_files=check_files)
