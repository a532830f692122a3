"""End states compared across targets: each candidate's `<target>.state.jsonl` against
the baseline's, object by object, with compare's own normalisation (ids through the id
maps, times through each side's time map, learnt from the side's replayed answers),
rules (ignore, expect, severity) and causes (harness.compare.cause: the object type
holding the field, the field inside it, the kind, wherever the object appears).

Outcomes per object: `state match` (equal once normalised, or differing only in what
the rules call noise or expected), `state differs` (a real difference), `missing
object` (one side has it and the other does not, or never learnt its id). The result
is the `reconciliation` section of summary.json (docs/summary-format.md), which the
report, JUnit, the Markdown summary and the gate read."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.compare.cause import cause_of
from harness.compare.classify import Classifier
from harness.compare.diff import diff_responses
from harness.compare.normalize import NotComparable, normalize_response, to_jsonable
from harness.compare.pipeline import (
    Side,
    counterparts,
    load_side,
    profile_for,
    scenario_section,
)
from harness.compare.profile import Profile
from harness.compare.rules import resolve_config
from harness.compare.timemap import TimeMap
from harness.errors import InputError
from harness.formats.rundir import load_run
from harness.formats.summary import load_summary, write_summary
from harness.model import Difference, Response
from harness.pairstore import PairStore
from harness.reconcile.endstates import STATE_SUFFIX, read_states
from harness.stripe import endpoint_template
from harness.stripe.catalogue import answer_version

SECTION = "reconciliation"
SECTION_VERSION = 1
STATE_OUTCOMES = ("state match", "state differs", "missing object")
MAX_SAMPLES = 5


def learnt_times(side: Side, ids: Any, profile: Profile) -> TimeMap:
    """A side's time map as compare learns it: its answers read in seq order."""
    times = TimeMap(side.origin)
    for exchange in side.exchanges():
        if exchange.response is None or exchange.extra.get("skipped"):
            continue
        times.note_request(exchange.request, exchange.seq)
        version = profile.for_version(answer_version(exchange, side.default_version))
        try:
            normalize_response(
                exchange.response,
                exchange.started,
                ids,
                version,
                times,
                exchange.started + exchange.duration,
            )
        except NotComparable:
            continue
    return times


def _state_response(line: dict[str, Any]) -> Response | None:
    if line.get("status") is None:
        return None
    return Response(int(line["status"]), body=json.dumps(line.get("body")))


def _present(line: dict[str, Any]) -> bool:
    return line.get("status") == 200


class StateTally:
    """One candidate's outcomes, causes and samples; its size grows with the causes."""

    def __init__(self) -> None:
        self.outcomes = dict.fromkeys(STATE_OUTCOMES, 0)
        self.causes: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.missing: dict[str, Any] = {"count": 0, "samples": []}

    def miss(self, base: dict[str, Any], other: dict[str, Any], name: str, baseline: str) -> None:
        self.outcomes["missing object"] += 1
        self.missing["count"] += 1
        if len(self.missing["samples"]) < MAX_SAMPLES:
            gone = name if _present(base) else baseline
            self.missing["samples"].append(
                {
                    "object": base["object"],
                    "recorded_id": base["recorded_id"],
                    "missing_on": gone,
                    "why": (other if _present(base) else base).get("error")
                    or f"answered {(other if _present(base) else base).get('status')}",
                }
            )

    def compared(self, line: dict[str, Any], differences: list[Difference]) -> None:
        real = [d for d in differences if d.outcome == "difference"]
        self.outcomes["state differs" if real else "state match"] += 1
        counted: set[tuple[str, str, str]] = set()
        for difference in differences:
            cause = cause_of(difference)
            key = cause.key
            if key in counted:
                continue  # one object's state counts once per cause
            counted.add(key)
            found = self.causes.setdefault(
                key,
                {
                    "object": cause.object or cause.endpoint,
                    "field": cause.field,
                    "kind": cause.kind,
                    "outcome": difference.outcome,
                    "severity": difference.severity,
                    "reason": difference.reason,
                    "count": 0,
                    "samples": [],
                },
            )
            found["count"] += 1
            if len(found["samples"]) < MAX_SAMPLES:
                found["samples"].append(
                    {
                        "recorded_id": line["recorded_id"],
                        "path": difference.path,
                        "baseline": to_jsonable(difference.baseline),
                        "candidate": to_jsonable(difference.candidate),
                    }
                )

    def to_json(self) -> dict[str, Any]:
        causes = sorted(self.causes.values(), key=lambda c: (-c["count"], c["object"], c["field"]))
        return {
            "objects": sum(self.outcomes.values()),
            "outcomes": self.outcomes,
            "causes": causes,
            "missing": self.missing,
        }


def _paired(base_file: Path, other_file: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for file in (base_file, other_file):
        if not file.is_file():
            raise InputError(
                f"{file}: missing; `shadow reconcile RUN_DIR` (or `reconcile: true` in the "
                "scenario) fetches end states first"
            )
    ours, theirs = read_states(base_file), read_states(other_file)
    for base, other in zip(ours, theirs, strict=False):
        if base.get("recorded_id") != other.get("recorded_id"):
            raise InputError(
                f"{other_file}: its objects are not those of {base_file.name} in the same "
                "order; fetch the end states again"
            )
        yield base, other


def compare_candidate_states(
    run_dir: Path, baseline: Side, other: Side, profile: Profile, classifier: Classifier
) -> dict[str, Any]:
    """One candidate's end states against the baseline's."""
    base_ids, other_ids = counterparts(baseline.idmap, other.idmap or PairStore())
    base_times = learnt_times(baseline, base_ids, profile)
    other_times = learnt_times(other, other_ids, profile)
    tally = StateTally()
    for base, theirs in _paired(
        run_dir / f"{baseline.name}{STATE_SUFFIX}", run_dir / f"{other.name}{STATE_SUFFIX}"
    ):
        if not (_present(base) and _present(theirs)):
            gone_alike = base.get("status") is not None and base.get("status") == theirs.get(
                "status"
            )
            if gone_alike:
                tally.compared(base, [])  # deleted (404) on both sides alike
            else:
                tally.miss(base, theirs, other.name, baseline.name)
            continue
        endpoint = endpoint_template("GET", f"/v1/{base['collection']}/{base['recorded_id']}")
        answers = []
        for line, ids, times, side in (
            (base, base_ids, base_times, baseline),
            (theirs, other_ids, other_times, other),
        ):
            response = _state_response(line)
            assert response is not None
            moment = float(line.get("fetched") or 0)
            version = profile.for_version(side.default_version)
            answers.append(normalize_response(response, moment, ids, version, times, moment))
        if answers[0] == answers[1]:
            tally.compared(base, [])
            continue
        differences = [
            classifier.classify(d) for d in diff_responses(endpoint, answers[0], answers[1])
        ]
        tally.compared(base, differences)
    return tally.to_json()


def compare_end_states(
    run_dir: str | os.PathLike[str], rules: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Every candidate's end states against the baseline's; the section is added to the
    run's summary.json (written by compare first) and returned."""
    run = load_run(run_dir)
    section, scenario_path = scenario_section(run)
    config = resolve_config(section, scenario_path, Path(rules) if rules is not None else None)
    profile = profile_for(config)
    baseline = load_side(run, run.baseline)
    candidates = {}
    for target in run.by_role("candidate"):
        classifier = Classifier(config)
        candidates[target.name] = compare_candidate_states(
            run.path, baseline, load_side(run, target.name), profile, classifier
        )
    found = {"version": SECTION_VERSION, "baseline": run.baseline, "candidates": candidates}
    summary = load_summary(run.path)
    summary[SECTION] = found
    write_summary(run.path, summary)
    return found
