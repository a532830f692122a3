"""The scenario file (docs/scenario-format.md): a recording, the targets to replay it
against, and how; validated strictly, every mistake reported as `FILE: field.path: what`.

Paths inside a scenario are relative to the scenario file. `compare:` belongs to a later
stage and is only checked to be a mapping here; `gate:` is validated by harness.gate's model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

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

from harness.errors import InputError, NotRegistered, ScenarioError, ScenarioProblem
from harness.formats.rundir import NAME_PATTERN, target_name_problem
from harness.formats.untrusted import YAMLLoader, yaml_problem
from harness.registry import Registry
from harness.stripe import is_account_id
from harness.stripe.catalogue import resolve_version
from harness.stripe.times import REQUEST_TIME_FIELDS
from harness.target import check_headers, check_url
from harness.validation import error_message, field_path, model_at

ROLES = ("baseline", "candidate", "secondary")
BASELINE_RECORDING = "recording"

_NAME = NAME_PATTERN
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID_PREFIX = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*_$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- sections the stages check -------------------------------------------------------------

# A section of the scenario that a later stage owns is checked by that stage, found here
# by name: `launch` (harness.replay.launch), `transforms` and `blueprint`
# (harness.transforms), `gate` (harness.gate). Each is `check(value, context)`, returns
# the section as its stage's model and raises ScenarioProblem (located below the section)
# for a mistake; `context` has the scenario's folder (`base`) and `check_files`. They are
# declared as entry points (pyproject.toml), so this module imports no stage.
SectionCheck = Callable[[Any, dict[str, Any]], Any]
SECTIONS: Registry[SectionCheck] = Registry("scenario section", "stripe_shadow.scenario_sections")


def _checked(section: str, value: Any, info: ValidationInfo) -> Any:
    try:
        check = SECTIONS.named(section)
    except NotRegistered:
        raise ValueError(
            f"nothing checks `{section}` here: stripe-shadow is not installed as a package "
            "(`pip install -e .` in its folder, as `make` does)"
        ) from None
    return check(value, dict(info.context or {}))


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


class TargetEvents(_Strict):
    """How a target's events reach the replay (docs/events.md): to a receiver listening
    on `listen` (an endpoint the user set up on the target sends there, signed with the
    secret in `webhook_secret_env`), or by paging `GET /v1/events` after the replay
    (`poll`). A launched localstripe needs none: the replay subscribes it itself."""

    mode: Literal["webhook", "poll", "off"] = "webhook"
    webhook_secret_env: str | None = None
    listen: str = "127.0.0.1:0"
    # Each event received is signed again with the secret in `forward_secret_env` and
    # sent on to the customer's handler at `forward_to` (its ids the recorded ones with
    # `map_ids`), and the handler's status is kept with the event.
    forward_to: str | None = None
    forward_secret_env: str | None = None
    map_ids: bool = False

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"mode": value}
        if value is False:
            return {"mode": "off"}
        return value

    @field_validator("webhook_secret_env", "forward_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("not an environment variable name (letters, digits, _)")
        return value

    @field_validator("forward_to")
    @classmethod
    def _forward_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8765 (port 0: any free one)")
        return value

    @model_validator(mode="after")
    def _secret_to_forward_with(self) -> TargetEvents:
        if (self.forward_to is None) != (self.forward_secret_env is None):
            raise ValueError(
                "forward_to and forward_secret_env go together: the handler at forward_to "
                "checks the signature made with the secret forward_secret_env names"
            )
        if self.map_ids and self.forward_to is None:
            raise ValueError("map_ids applies to forwarded events: give forward_to too")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class EventSettings(_Strict):
    """How long a replay waits for events once every request was answered: until no
    target sent one for `quiet` seconds, at most `max_wait` seconds; `tolerance` is the
    age a delivery's signed time may have (Stripe's libraries: 300 s)."""

    quiet: float = Field(default=2.5, gt=0, le=600)
    max_wait: float = Field(default=30.0, gt=0, le=3600)
    tolerance: float = Field(default=300.0, gt=0, le=86400)


class TargetSpec(_Strict):
    """One target: where requests go, with which key and headers, and how it is started."""

    name: str = Field(pattern=_NAME)
    url: str | None = None
    launch: Any = None
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    role: Literal["baseline", "candidate", "secondary"] | None = None
    id_map: Path | None = None
    # The stage's models once checked: LaunchOptions (harness.replay.launch) and
    # TransformSpecs (harness.transforms).
    transforms: list[Any] = Field(default_factory=list)
    blueprint: str | None = None
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    rate_limit: float | None = Field(default=None, gt=0)
    # A candidate on a newer API version than its baseline: differences the catalogue
    # diff explains are expected (docs/catalogue.md).
    expect_upgrade: bool = False
    # How the target's events arrive (None: a launched localstripe is subscribed, any
    # other target sends none the replay hears).
    events: TargetEvents | None = None
    # The connected accounts a recorded Stripe-Account (or any acct_ id the traffic did
    # not create) stands for on this target: `same` (the target is the same platform),
    # a mapping recorded → target, or a mapping file (docs/replay.md, "Connect").
    accounts: Literal["same"] | dict[str, str] | Path = "same"
    # Id prefixes (`cus_`) of objects the traffic uses but did not create that exist on
    # the target as recorded: sent unchanged instead of skipped as unresolved.
    pass_through: list[str] = Field(default_factory=list)

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
    def _launch(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else _checked("launch", value, info)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("not an environment variable name (letters, digits, _)")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)

    @field_validator("id_map")
    @classmethod
    def _id_map(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and value != "same":
            if value.strip().lower() == "same":
                return "same"
            return _resolve(Path(value), info)
        if isinstance(value, dict):
            for recorded, target in value.items():
                for side in (recorded, target):
                    if not isinstance(side, str) or not is_account_id(side):
                        raise ValueError(
                            f"{side!r} is not a connected account id (acct_ and 8 or more "
                            "letters or digits); map each recorded account to the target's, "
                            "or say `same`"
                        )
        elif value is not None and not isinstance(value, str):
            raise ValueError(
                "expected `same`, a mapping {acct_recorded: acct_target}, or a mapping file"
            )
        return value

    @field_validator("pass_through")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not _ID_PREFIX.match(prefix):
                raise ValueError(
                    f"{prefix!r} is not an id prefix (lower-case letters and digits ending "
                    "in _, such as cus_ or sub_sched_)"
                )
            if prefix == "acct_":
                raise ValueError("acct_: connected accounts are mapped by `accounts`")
        return value

    @field_validator("transforms", mode="before")
    @classmethod
    def _transforms(cls, value: Any, info: ValidationInfo) -> Any:
        return _checked("transforms", value, info)

    @field_validator("blueprint")
    @classmethod
    def _blueprint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _checked("blueprint", value, info)
        return value

    @model_validator(mode="after")
    def _blueprint_transforms(self, info: ValidationInfo) -> TargetSpec:
        if self.blueprint is not None:
            # A blueprint's transforms run first, so the target's own can adjust their output.
            blueprint = _checked("blueprint", self.blueprint, info)
            self.transforms = [*blueprint, *self.transforms]
        return self

    @model_validator(mode="after")
    def _secret_for_webhooks(self) -> TargetSpec:
        events = self.events
        subscribed = self.launch is not None and bool(self.launch.sends_webhooks)
        unsigned = events is not None and events.webhook_secret_env is None
        if unsigned and events is not None and events.mode == "webhook" and not subscribed:
            raise ScenarioProblem(
                ("events", "webhook_secret_env"),
                "required: name the environment variable holding the whsec_ secret of "
                "the endpoint that sends this target's events (or say `events: poll`)",
            )
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

    @property
    def fixed_key(self) -> str | None:
        """The one key the emulator this target launches accepts (localstripe,
        stripe-mock), or None."""
        return None if self.launch is None else self.launch.fixed_key

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
    gate: Any = None  # a GateConfig once checked (harness.gate)
    # `shadow run` checks the recording against this API version before replaying, and
    # the report shows what it found (docs/catalogue.md).
    upgrade_check: str | None = None
    events: EventSettings = Field(default_factory=EventSettings)
    # `shadow run` fetches every target's end states after the replay and compares them
    # (harness.reconcile.states, docs/reconcile.md).
    reconcile: bool = False

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

    @field_validator("gate", mode="before")
    @classmethod
    def _gate(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else _checked("gate", value, info)

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
        problems.append((loc, error_message(error, model_at(Scenario, parent))))
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
