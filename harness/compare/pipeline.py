"""The I/O edge of compare: read a run directory, compare every candidate with the
baseline exchange by exchange, write outcomes.jsonl and summary.json into the run.

Reads only files (docs/run-format.md), so it can be rerun with other rules without
replaying. Normalises and compares with `==` in this process; when many exchanges
differ, their diffs go to a process pool, in order and with bounded memory.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.compare.classify import Classifier, NoiseCounts
from harness.compare.correspondence import PairProjection, apply_blueprint
from harness.compare.diff import diff_responses
from harness.compare.eventrun import events_section, side_events
from harness.compare.group import Group
from harness.compare.noise import FieldCounts
from harness.compare.normalize import (
    NO_COUNTERPART,
    Answer,
    KnownIds,
    Normalized,
    NotComparable,
    proven_same,
)
from harness.compare.profile import Profile, stripe_profile
from harness.compare.rules import CompareConfig, resolve_config
from harness.compare.summary import CandidateSummary, build_summary
from harness.compare.timemap import TimeMap, Window
from harness.compare.upgrade import explain_upgrade
from harness.compare.windows import (
    at_filter_edges,
    created_bounds,
    explain_filter_edges,
    explain_page_windows,
)
from harness.errors import InputError, ScenarioError
from harness.formats.idmap import iter_idmap
from harness.formats.outcomes import OutcomeWriter, writing_outcomes
from harness.formats.results import iter_in_seq_order
from harness.formats.rundir import Run, load_run
from harness.formats.summary import write_summary
from harness.formats.untrusted import load_yaml, yaml_problem
from harness.model import Difference, Exchange
from harness.pairstore import PairStore
from harness.stripe import endpoint_template
from harness.stripe.catalogue import answer_version

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

RECORDING = "recording"

# Above this many mismatching exchanges, diffs run in a process pool.
PARALLEL_THRESHOLD = 2000
# Exchanges handed to a worker at a time.
CHUNK_SIZE = 256


@dataclass(slots=True)
class Side:
    """One side of a comparison: the file holding a target's (or the recording's)
    exchanges and its id map (recorded id → target id; None for the recording, whose ids
    are recorded). Its exchanges are streamed in seq order, never held: a million of
    them would take gigabytes."""

    name: str
    path: Path
    idmap: PairStore | None
    origin: float | None = None  # the moment request times were counted from (run_origins)
    # The account's default API version (the recording's header), for answers to requests
    # that named none: each answer is normalised with its version's catalogue.
    default_version: str | None = None
    # Only these seqs (a shard's, harness.distributed.compare), or all.
    seqs: Container[int] | None = None

    def exchanges(self) -> Iterator[Exchange]:
        """In ascending seq, the last result for each seq."""
        return iter_in_seq_order(self.path, self.seqs)


@dataclass(slots=True)
class RawOutcome:
    """An exchange compared but not yet classified."""

    seq: int
    journey: int
    endpoint: str
    differences: list[Difference]
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "journey": self.journey,
            "endpoint": self.endpoint,
            "differences": [d.to_json() for d in self.differences],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawOutcome:
        return cls(
            data["seq"],
            data["journey"],
            data["endpoint"],
            [Difference.from_json(d) for d in data["differences"]],
            data["error"],
        )


@dataclass(slots=True)
class _Pending:
    """A pair whose normalised forms differ: deepdiff will say how."""

    seq: int
    journey: int
    endpoint: str
    baseline: Normalized
    candidate: Normalized
    # (baseline's API version, candidate's) when the candidate expects an upgrade and the
    # two answers were made under versions of different catalogues.
    upgrade: tuple[str, str] | None = None
    # Of a list filtered by creation time: the objects one side lists that the other
    # made at the filter's bound (compare.windows.at_filter_edges).
    edges: frozenset[str] = frozenset()


_Item = RawOutcome | _Pending


# --- id maps ----------------------------------------------------------------------------


class Counterparts(Mapping[str, str]):
    """One side's id → the recorded id, for the recorded ids both sides know: a view over
    the two id maps (`own` None: the recording, whose ids are the recorded ones; `other`
    None: the recording on the other side, which knows every recorded id). Nothing is
    copied, so a million ids cost what the maps cost (harness.pairstore), and the answers
    to the last texts asked are remembered in `known` (normalize.KnownIds: the strings of
    answers repeat, and an id map on file answers each question in Python), which the
    fused walk reads directly."""

    def __init__(self, own: PairStore | None, other: PairStore | None) -> None:
        self.own = own
        self.other = other
        self.known = KnownIds(self._look_up)

    def get(self, value: str, default: str | None = None) -> str | None:  # type: ignore[override]
        found = self.known[value]
        return default if found is NO_COUNTERPART else found

    def _look_up(self, value: str) -> str | None:
        if self.own is None:
            recorded: str | None = value
        else:
            recorded = self.own.key_of(value)
        if not recorded or (self.other is not None and self.other.get(recorded) is None):
            return None
        return recorded

    def __getitem__(self, value: str) -> str:
        found = self.get(value)
        if found is None:
            raise KeyError(value)
        return found

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.get(value) is not None

    def __iter__(self) -> Iterator[str]:
        source = self.own if self.own is not None else self.other
        assert source is not None
        for recorded, value in source.items():
            if self.own is None:
                value = recorded
            if self.get(value) is not None:
                yield value

    def __len__(self) -> int:
        return sum(1 for _ in self)


def counterparts(
    baseline: PairStore | None, candidate: PairStore
) -> tuple[Counterparts, Counterparts]:
    """For each side, its id → the recorded id, for the recorded ids both sides know.

    An id only one side learnt stays unmapped on both and becomes a placeholder, so an
    id map that learnt more on one side does not show up as a difference.
    """
    if baseline is None:
        return Counterparts(None, candidate), Counterparts(candidate, None)
    return Counterparts(baseline, candidate), Counterparts(candidate, baseline)


# --- comparing one pair of sides --------------------------------------------------------


def _journey(*exchanges: Exchange | None) -> int:
    for exchange in exchanges:
        if exchange is not None and isinstance(exchange.extra.get("journey"), int):
            return int(exchange.extra["journey"])
    return -1


def _failure(exchange: Exchange) -> str | None:
    """Why an exchange has nothing to compare, or None when it has an answer."""
    if exchange.response is None or exchange.extra.get("skipped"):
        if exchange.error:
            return exchange.error
        return "skipped" if exchange.extra.get("skipped") else "no response"
    if exchange.response.status == 429:
        # Rate limiting is the infrastructure pushing back, never a difference.
        return "rate limited (429)"
    return None


def _pairs(baseline: Side, other: Side) -> Iterator[tuple[int, Exchange | None, Exchange | None]]:
    """(seq, baseline's, other's) for every seq of either side, in seq order: a merge of
    two ascending streams."""
    ours, theirs = baseline.exchanges(), other.exchanges()
    b, c = next(ours, None), next(theirs, None)
    while b is not None or c is not None:
        if c is None or (b is not None and b.seq < c.seq):
            assert b is not None
            yield b.seq, b, None
            b = next(ours, None)
        elif b is None or c.seq < b.seq:
            yield c.seq, None, c
            c = next(theirs, None)
        else:
            yield b.seq, b, c
            b, c = next(ours, None), next(theirs, None)


def compare_items(
    baseline: Side,
    other: Side,
    profile: Profile,
    projection: PairProjection | None = None,
    expect_upgrade: bool = False,
    fast: bool = True,
    times: tuple[TimeMap, TimeMap] | None = None,
) -> Iterator[_Item]:
    """Every exchange of either side, in seq order: decided (error or `==`) or pending.
    With `fast`, answers proven equal in one walk (normalize.proven_same) are decided
    without normalising them; the outcomes are the same without it."""
    base_ids, other_ids = counterparts(baseline.idmap, other.idmap or PairStore())
    # Each side's time map, learnt in seq order from its own answers (compare.timemap);
    # given by a caller that compares the sides' events with them afterwards, or that
    # preloads a shard's with what the other shards saw first.
    base_times, other_times = times or (TimeMap(baseline.origin), TimeMap(other.origin))
    for seq, b, c in _pairs(baseline, other):
        if projection is not None and b is not None and c is not None:
            b, c = projection(b, c)
        request = (b or c).request  # type: ignore[union-attr]
        endpoint = endpoint_template(request.method, request.path)
        journey = _journey(c, b)
        if c is None:
            yield RawOutcome(
                seq, journey, endpoint, [], f"{other.name} has no result for this exchange"
            )
            continue
        if b is None:
            yield RawOutcome(
                seq,
                journey,
                endpoint,
                [],
                f"baseline {baseline.name} has no result for this exchange",
            )
            continue
        failed = _failure(c)
        if failed is not None:
            yield RawOutcome(seq, journey, endpoint, [], failed)
            continue
        failed = _failure(b)
        if failed is not None:
            yield RawOutcome(seq, journey, endpoint, [], f"baseline {baseline.name}: {failed}")
            continue
        assert b.response is not None and c.response is not None
        base_times.note_request(b.request, seq)
        other_times.note_request(c.request, seq)
        base_profile = profile.for_version(answer_version(b, baseline.default_version))
        other_profile = profile.for_version(answer_version(c, other.default_version))
        base_answer = Answer(
            b.response, b.started, b.started + b.duration, base_ids, base_profile, base_times
        )
        other_answer = Answer(
            c.response, c.started, c.started + c.duration, other_ids, other_profile, other_times
        )
        parsed_base = parsed_other = None
        if fast:
            try:
                same, parsed_base, parsed_other = proven_same(base_answer, other_answer)
            except NotComparable:
                same = False  # normalising says which side, below
            if same:
                yield RawOutcome(seq, journey, endpoint, [])
                continue
        try:
            nc = other_answer.normalize(parsed_other)
        except NotComparable as exc:
            yield RawOutcome(seq, journey, endpoint, [], str(exc))
            continue
        try:
            nb = base_answer.normalize(parsed_base)
        except NotComparable as exc:
            yield RawOutcome(seq, journey, endpoint, [], f"baseline {baseline.name}: {exc}")
            continue
        if nb == nc:
            yield RawOutcome(seq, journey, endpoint, [])
            continue
        upgrade = None
        base_catalogue, other_catalogue = base_profile.catalogue, other_profile.catalogue
        if (
            expect_upgrade
            and base_catalogue is not None
            and other_catalogue is not None
            and base_catalogue is not other_catalogue
        ):
            upgrade = (base_catalogue.api_version, other_catalogue.api_version)
        edges: frozenset[str] = frozenset()
        if "created" in b.request.query and "created" in c.request.query:
            edges = at_filter_edges(
                nb,
                nc,
                (created_bounds(b.request.query), created_bounds(c.request.query)),
                (_births(baseline, base_times), _births(other, other_times)),
                base_profile.timestamp_tolerance,
            )
        yield _Pending(seq, journey, endpoint, nb, nc, upgrade, edges)


def _births(side: Side, times: TimeMap) -> Callable[[str], Window | None]:
    """The request that first named an object on `side`, by the object's recorded id."""

    def birth(recorded: str) -> Window | None:
        own = recorded if side.idmap is None else side.idmap.get(recorded)
        return None if own is None else times.birth(own)

    return birth


def _diff_pending(pending: list[_Pending], own: bool = True) -> list[list[Difference]]:
    """Worker: the differences of each pending pair (run in a pool when there are many),
    those an expected upgrade explains marked expected, and a page's items that only the
    window's edge tells apart marked noise (compare.windows); `own` off: all found by
    deepdiff (diff.diff_trees)."""
    found = []
    for item in pending:
        differences = diff_responses(item.endpoint, item.baseline, item.candidate, own)
        if item.upgrade is not None:
            explain_upgrade(differences, item.baseline, item.candidate, *item.upgrade)
        explain_page_windows(differences, item.baseline, item.candidate)
        explain_filter_edges(differences, item.edges)
        found.append(differences)
    return found


def _chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    chunk: list[_Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _resolve(chunk: list[_Item], diffs: list[list[Difference]]) -> Iterator[RawOutcome]:
    found = iter(diffs)
    for item in chunk:
        if isinstance(item, _Pending):
            yield RawOutcome(item.seq, item.journey, item.endpoint, next(found))
        else:
            yield item


def compare_sides(
    baseline: Side,
    other: Side,
    profile: Profile,
    *,
    workers: int | None = None,
    parallel_threshold: int = PARALLEL_THRESHOLD,
    projection: PairProjection | None = None,
    expect_upgrade: bool = False,
    fast: bool = True,
    times: tuple[TimeMap, TimeMap] | None = None,
) -> Iterator[RawOutcome]:
    """Raw outcomes of `other` against `baseline`, in seq order (`fast` off: every answer
    normalised and every difference found by deepdiff); with `expect_upgrade`,
    differences the catalogue diff between the two answers' versions explains come
    marked expected (harness.compare.upgrade). `times`: the two sides' time maps
    (default: new ones, learnt as the sides are read).

    Mismatches are diffed here until more than `parallel_threshold` have been seen, then,
    with more than one of `workers` (default one), in a process pool, with at most two
    chunks per worker in flight. The own diff (harness.compare.diff) costs less than
    handing the normalised answers to a worker: at 20,000 differing exchanges a pool of
    two took a third more CPU and no less time, so it is used only when asked for.
    """
    workers = workers or 1
    pool: ProcessPoolExecutor | None = None
    in_flight: deque[
        tuple[list[_Item], Future[list[list[Difference]]] | list[list[Difference]]]
    ] = deque()
    mismatches = 0
    try:
        items = compare_items(
            baseline, other, profile, projection, expect_upgrade, fast=fast, times=times
        )
        for chunk in _chunks(items, CHUNK_SIZE):
            pending = [item for item in chunk if isinstance(item, _Pending)]
            mismatches += len(pending)
            if pool is None and workers > 1 and mismatches > parallel_threshold:
                from concurrent.futures import ProcessPoolExecutor

                pool = ProcessPoolExecutor(max_workers=workers)
            if pool is not None and pending:
                in_flight.append((chunk, pool.submit(_diff_pending, pending, fast)))
            else:
                in_flight.append((chunk, _diff_pending(pending, fast)))
            while in_flight and (
                len(in_flight) > 2 * workers or not isinstance(in_flight[0][1], Future)
            ):
                done_chunk, result = in_flight.popleft()
                yield from _resolve(
                    done_chunk, result.result() if isinstance(result, Future) else result
                )
        while in_flight:
            done_chunk, result = in_flight.popleft()
            yield from _resolve(
                done_chunk, result.result() if isinstance(result, Future) else result
            )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


SideComparer = Callable[..., Iterator[RawOutcome]]
"""compare_sides, or a function with its signature that compares elsewhere."""


# --- reading the run --------------------------------------------------------------------


def run_origins(run: Run) -> tuple[float | None, float | None]:
    """(the recording's origin, the targets' origin): the recording's first moment, and
    that moment moved by the shift the replay applied to request times (docs/replay.md).
    A time a request set is as far from its side's origin on every side. None for a run
    that did not note its times."""
    time = run.info.time
    if time is None:
        return None, None
    start, shift = time.get("recording_start"), time.get("shift", 0)
    if not isinstance(start, int | float) or not isinstance(shift, int | float):
        return None, None
    return float(start), float(start + shift)


def account_version(run: Run) -> str | None:
    """The account's default API version, as the recording's header records it."""
    header = run.info.recording.get("header")
    version = header.get("api_version") if isinstance(header, dict) else None
    return version if isinstance(version, str) and version else None


def load_side(run: Run, name: str) -> Side:
    recorded_origin, replayed_origin = run_origins(run)
    default = account_version(run)
    if name == RECORDING:
        return Side(RECORDING, run.recording_path, None, recorded_origin, default)
    target_file = run.target_file(name)
    if not target_file.exists():
        raise InputError(f"{target_file}: missing: target {name} has no results in this run")
    idmap_file = run.idmap_file(name)
    idmap = PairStore(iter_idmap(idmap_file) if idmap_file.exists() else ())
    return Side(name, target_file, idmap, replayed_origin, default)


def scenario_section(run: Run) -> tuple[dict[str, Any] | None, Path | None]:
    """The scenario's `compare:` section as run.json or the scenario file has it."""
    scenario = run.info.scenario
    path = run.scenario_path
    if "compare" in scenario:
        return scenario["compare"], path
    if path is None or not path.exists():
        if path is not None:
            warnings.warn(
                f"{path}: scenario not found; comparing with the built-in rules only "
                "(pass --rules FILE to add rules)",
                stacklevel=2,
            )
        return None, path
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(yaml_problem(exc, str(path), text)) from None
    return (data.get("compare") if isinstance(data, dict) else None), path


def profile_for(config: CompareConfig) -> Profile:
    return stripe_profile(
        mask=config.mask,
        timestamps=config.timestamps,
        headers=config.headers,
        timestamp_tolerance=config.timestamp_tolerance,
    )


# --- the stage --------------------------------------------------------------------------


def _field_counts(raw: Iterable[RawOutcome], counts: FieldCounts) -> Iterator[RawOutcome]:
    for outcome in raw:
        if outcome.error is None:
            counts.add(outcome.endpoint, outcome.differences)
        yield outcome


def _classified(
    name: str,
    raw: Iterable[RawOutcome],
    classifier: Classifier,
    out: OutcomeWriter,
    summary: CandidateSummary,
) -> None:
    for item in raw:
        outcome = classifier.outcome(
            item.seq, name, item.journey, item.endpoint, item.differences, item.error
        )
        out.write(outcome)
        summary.add(outcome)


def _with_noise_rates(groups: list[Group], classifier: Classifier) -> list[Group]:
    """Diffy's rates where the group was seen most (rates are per endpoint and path)."""
    for group in groups:
        first = group.first
        verdict = classifier.verdict(Difference(first.endpoint, first.path, first.kinds[0]))
        if verdict.candidate_rate is not None and verdict.secondary_rate is not None:
            group.noise = {
                "candidate_rate": verdict.candidate_rate,
                "secondary_rate": verdict.secondary_rate,
            }
    return groups


def _compare_candidate(
    run: Run,
    side: Side,
    baseline: Side,
    config: CompareConfig,
    profile: Profile,
    secondary_counts: FieldCounts | None,
    out: OutcomeWriter,
    *,
    workers: int | None,
    parallel_threshold: int,
    fast: bool,
    sides: SideComparer,
    times: tuple[TimeMap, TimeMap] | None = None,
) -> dict[str, Any]:
    """Write one candidate's outcomes to `out`; return its summary. `times`, when
    given, are the two sides' time maps, left as the answers taught them."""
    name = side.name
    target = run.target(name)
    projection, config = apply_blueprint(target, config)
    if times is not None:
        times[0].origin, times[1].origin = baseline.origin, side.origin
    raw = sides(
        baseline,
        side,
        profile,
        workers=workers,
        parallel_threshold=parallel_threshold,
        projection=projection,
        expect_upgrade=config.expect_upgrade or target.extra.get("expect_upgrade") is True,
        times=times,
        fast=fast,
    )
    summary = CandidateSummary(samples=config.samples)
    if secondary_counts is None:
        classifier = Classifier(config)
        _classified(name, raw, classifier, out, summary)
    else:
        # Diffy's rule needs the candidate's rates over all exchanges before any one
        # difference can be called noise: spill the raw outcomes to disk first.
        candidate_counts = FieldCounts()
        spill = run.path / f".{name}.raw.jsonl"
        try:
            with open(spill, "w", encoding="utf-8") as file:
                for item in _field_counts(raw, candidate_counts):
                    file.write(json.dumps(item.to_json(), separators=(",", ":")) + "\n")
            classifier = Classifier(config, NoiseCounts(candidate_counts, secondary_counts))
            with open(spill, encoding="utf-8") as file:
                spilled = (RawOutcome.from_json(json.loads(line)) for line in file)
                _classified(name, spilled, classifier, out, summary)
        finally:
            spill.unlink(missing_ok=True)
    return summary.to_json(_with_noise_rates(summary.groups.sorted(), classifier))


def compare_run(
    run_dir: str | os.PathLike[str],
    rules: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    parallel_threshold: int = PARALLEL_THRESHOLD,
    fast: bool = True,
    sides: SideComparer = compare_sides,
) -> dict[str, Any]:
    """Compare every candidate of a run with its baseline; write outcomes.jsonl and
    summary.json into the run directory and return the summary. `fast` off normalises
    every answer (the fast path's outcomes are the same; tests hold it to that). `sides`
    compares two sides (harness.distributed.compare does it in shards on a cluster)."""
    run = load_run(run_dir)
    if run.status != "finished":
        warnings.warn(
            f"{run.path}: the run is {run.status}; comparing the exchanges it has", stacklevel=2
        )
    section, scenario_path = scenario_section(run)
    config = resolve_config(section, scenario_path, Path(rules) if rules is not None else None)
    profile = profile_for(config)
    candidates = [t.name for t in run.by_role("candidate")]
    if not candidates:
        raise InputError(
            f"{run.path / 'run.json'}: targets: no target has role candidate; nothing to compare"
        )
    secondaries = [t.name for t in run.by_role("secondary")]
    secondary = secondaries[0] if secondaries else None

    if sides is not compare_sides and side_events(run, run.baseline) is not None:
        # The events are compared with the time maps the answers taught, which stay on
        # the workers of a sharded compare.
        raise InputError(
            f"{run.path}: the run heard webhook events, which a compare --cluster does not "
            "compare yet; run shadow compare without --cluster"
        )
    baseline = load_side(run, run.baseline)
    secondary_counts: FieldCounts | None = None
    if secondary is not None:
        secondary_counts = FieldCounts()
        for _ in _field_counts(
            sides(
                baseline,
                load_side(run, secondary),
                profile,
                workers=workers,
                parallel_threshold=parallel_threshold,
                fast=fast,
            ),
            secondary_counts,
        ):
            pass

    times = {name: (TimeMap(), TimeMap()) for name in candidates}
    # Each id map is read once, for its answers and then for its events.
    candidate_sides = {name: load_side(run, name) for name in candidates}
    with writing_outcomes(run.path) as out:
        summaries = {
            name: _compare_candidate(
                run,
                candidate_sides[name],
                baseline,
                config,
                profile,
                secondary_counts,
                out,
                workers=workers,
                parallel_threshold=parallel_threshold,
                times=times[name],
                fast=fast,
                sides=sides,
            )
            for name in candidates
        }
    document = build_summary(
        run.info.to_json(), run.baseline, secondary, config.settings_json(), summaries
    )
    ids = {
        name: counterparts(baseline.idmap, side.idmap or PairStore())
        for name, side in candidate_sides.items()
    }
    events = events_section(run, baseline.name, ids, times, profile, config)
    if events is not None:
        document["events"] = events
    write_summary(run.path, document)
    return document
