"""The facts of a run a reader needs to trust a report: scenario, recording and its
redaction, targets and their configuration (never keys), versions, times."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.report.content import as_object
from harness.report.phrasing import duration_text
from harness.stripe.times import describe_distance

# Configuration entries never shown, whatever their value: a run.json holds no
# credentials, but a report must not trust that.
_SECRET_NAME = re.compile(r"(?i)(secret|passw|token|credential|cookie|authorization|^api_?key$)")


@dataclass(slots=True)
class TargetFacts:
    name: str
    role: str
    url: str
    api_version: str
    headers: list[tuple[str, str]]
    launch: str
    credentials: str
    settings: list[tuple[str, str]]


@dataclass(slots=True)
class RunFacts:
    run_name: str
    scenario_name: str
    scenario_path: str
    recording_path: str
    recording_exchanges: str
    recording_created: str
    recording_tool: str
    recording_source: str
    redaction: str
    targets: list[TargetFacts]
    replay_tool: str
    compare_tool: str
    compared: str
    started: str
    finished: str
    duration: str
    status: str
    journeys: str
    api_versions: list[tuple[str, str]] = field(default_factory=list)
    config: str = ""
    times: str = "-"


def without_secrets(value: Any) -> Any:
    """A copy of configuration data with every secret-named entry left out."""
    if isinstance(value, dict):
        return {
            key: without_secrets(item)
            for key, item in value.items()
            if not _SECRET_NAME.search(str(key)) or str(key) == "api_key_env"
        }
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def _text(value: Any, default: str = "-") -> str:
    if value is None or value == "" or value == [] or value == {}:
        return default
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def redaction_statement(redaction: Any) -> str:
    """What the recording says was redacted when it was captured, in plain words."""
    if not isinstance(redaction, dict) or not redaction.get("applied"):
        return (
            "The recording says no redaction was applied when it was captured. This report "
            "removes secrets (API keys, card numbers, client secrets) again before writing."
        )
    rules = redaction.get("rules") or []
    text = "Secrets were removed when the traffic was recorded"
    if rules:
        text += f" ({', '.join(str(rule).replace('_', ' ') for rule in rules)})"
    text += "."
    pii = redaction.get("pii")
    if pii == "pseudonymize":
        text += " Personal data (names, emails, addresses) was replaced by consistent fakes."
    elif pii:
        text += " Personal data was kept as recorded."
    return text + " This report removes secrets again before writing anything."


def _moment(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "?"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_statement(run: dict[str, Any]) -> str:
    """How the replay treated absolute times in requests (run.json `time`), in words."""
    time = run.get("time")
    if not isinstance(time, dict):
        return "-"
    results = run.get("results")
    moved = 0
    if isinstance(results, dict):
        for result in results.values():
            count = result.get("times_shifted") if isinstance(result, dict) else None
            if isinstance(count, int) and not isinstance(count, bool):
                moved += count
    shift = time.get("shift")
    if time.get("mode") == "keep":
        return "Absolute times in requests were sent as recorded (time: keep)."
    if not isinstance(shift, int | float) or isinstance(shift, bool) or not shift:
        return "Absolute times in requests were sent as recorded (no shift was needed)."
    return (
        f"Absolute times in requests (trial_end, created[gte], …) were moved by "
        f"{describe_distance(shift)}, the replay's start ({_moment(time.get('replay_start'))}) "
        f"less the recording's ({_moment(time.get('recording_start'))}), so each kept its "
        "distance from the moment it was sent; a time the recording had copied from an answer "
        f"was sent as the target's own answer gave it. {moved} value{'s' if moved != 1 else ''} "
        "moved."
    )


def accounts_statement(used: Any) -> str:
    """The connected accounts a target's requests acted for (run.json `accounts_used`),
    in words: `acct_A (12 requests), acct_B as acct_C (3), acct_D not sent (1)`."""
    if not isinstance(used, list):
        return ""
    parts = []
    for entry in used:
        if not isinstance(entry, dict):
            continue
        recorded, sent, requests = entry.get("recorded"), entry.get("sent"), entry.get("requests")
        if sent is None:
            where = f"{recorded} not sent"
        elif sent == recorded:
            where = str(recorded)
        else:
            where = f"{recorded} as {sent}"
        unit = "request" if requests == 1 else "requests"
        parts.append(f"{where} ({requests} {unit})")
    return ", ".join(parts)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _target_facts(target: dict[str, Any]) -> TargetFacts:
    target = without_secrets(target)
    headers = [
        (str(k), str(v))
        for k, v in (target.get("headers") or {}).items()
        if not _SECRET_NAME.search(str(k))
    ]
    api_version = next((v for k, v in headers if k.lower() == "stripe-version"), "")
    env = target.get("api_key_env")
    known = {"name", "role", "url", "headers", "launch", "api_key_env", "accounts_used", "engine"}
    settings = [(str(k), _text(v)) for k, v in target.items() if k not in known]
    used = accounts_statement(target.get("accounts_used"))
    if used:
        settings.append(("connected accounts used", used))
    return TargetFacts(
        name=str(target.get("name", "?")),
        role=str(target.get("role", "")),
        url=_text(target.get("url")),
        api_version=api_version or "the account's default",
        headers=[(k, v) for k, v in headers if k.lower() != "stripe-version"],
        launch=_text(target.get("launch"), "already running (not started by the harness)"),
        credentials=f"a key from the environment variable {env}" if env else "none sent",
        settings=settings,
    )


def run_facts(summary: dict[str, Any]) -> RunFacts:
    """The facts section of a report, from a (redacted) summary and the run it embeds."""
    run = as_object(summary.get("run"))
    scenario = as_object(run.get("scenario"))
    recording = as_object(run.get("recording"))
    header = as_object(recording.get("header"))
    targets = [_target_facts(t) for t in run.get("targets") or [] if isinstance(t, dict)]
    started, finished = _parse_time(run.get("started")), _parse_time(run.get("finished"))
    duration = (finished - started).total_seconds() if started and finished else None
    api_versions = [(t.name, t.api_version) for t in targets]
    recorded_versions = header.get("api_versions") or run.get("api_versions")
    if recorded_versions:
        api_versions.insert(0, ("recording", _text(recorded_versions)))
    config = summary.get("config")
    return RunFacts(
        run_name=str(run.get("name") or "-"),
        scenario_name=_text(scenario.get("name")),
        scenario_path=_text(scenario.get("path")),
        recording_path=_text(recording.get("path")),
        recording_exchanges=_text(recording.get("exchanges")),
        recording_created=_text(header.get("created")),
        recording_tool=_text(header.get("tool")),
        recording_source=_text(without_secrets(header.get("source"))),
        redaction=redaction_statement(header.get("redaction")),
        targets=targets,
        replay_tool=_text(run.get("tool")),
        compare_tool=_text(summary.get("tool")),
        compared=_text(summary.get("compared")),
        started=_text(run.get("started")),
        finished=_text(run.get("finished")),
        duration=duration_text(duration),
        status=_text(run.get("status")),
        journeys=_text(run.get("journeys")),
        api_versions=api_versions,
        config=json.dumps(without_secrets(config), indent=2, ensure_ascii=False)
        if isinstance(config, dict)
        else "",
        times=time_statement(run),
    )
