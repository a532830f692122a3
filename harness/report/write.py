"""The report stage's I/O: read a compared run directory (summary.json, and for the sample
seqs only, outcomes.jsonl and the baseline's and candidates' exchanges), redact it all
again, and write index.html, summary.json, junit.xml and summary.md."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.compare.pipeline import OUTCOMES_FILE, SUMMARY_FILE, read_outcomes
from harness.errors import InputError, ShadowWarning
from harness.model import Exchange, Outcome
from harness.recording import RecordingReader
from harness.replay.rundir import iter_results
from harness.report.content import Report, as_object, exchange_view, outcome_view, sample_seqs
from harness.report.facts import without_secrets
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.report.redaction import redact_tree
from harness.upgrade.check import read_upgrade_check

SUMMARY_VERSION = 1
FILES = ("index.html", "summary.json", "junit.xml", "summary.md")


@dataclass(slots=True)
class WrittenReport:
    """Where a report went and how big its page is."""

    directory: Path
    files: list[Path]
    html_bytes: int
    summary: dict[str, Any]


def load_summary(run_dir: Path) -> dict[str, Any]:
    """RUN_DIR/summary.json, checked for the fields the report reads."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    path = run_dir / SUMMARY_FILE
    if not path.exists():
        raise InputError(f"{path}: missing; run `shadow compare {run_dir}` first to write it")
    return read_summary_file(path)


def read_json_document(file: Path, missing: str, name: str) -> Any:
    """The JSON a user gave by path, or an InputError of one line naming the file: `missing`
    says what writes one, `name` the file a directory should have been given as."""
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{file}: {missing}") from None
    except IsADirectoryError:
        raise InputError(f"{file}: is a directory; give its {name}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not UTF-8 text") from None


def read_summary_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A summary.json (a run's or a report's copy), checked for the fields the report and
    the gate read."""
    file = Path(path)
    data = read_json_document(
        file, "no such summary file; `shadow compare RUN_DIR` writes one", "summary.json"
    )
    check_summary(data, str(file))
    for name, candidate in data["candidates"].items():
        for index, group in enumerate(candidate["groups"]):
            if not isinstance(group.get("id"), str):
                raise InputError(f"{file}: candidates.{name}.groups[{index}].id: missing")
    return data  # type: ignore[no-any-return]


_CANDIDATE_FIELDS = (
    ("outcomes", dict),
    ("severities", dict),
    ("groups", list),
    ("endpoints", dict),
)


def check_summary(data: Any, where: str) -> None:
    """The shape the report relies on (docs/summary-format.md), one field at a time."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    if data.get("version") != SUMMARY_VERSION:
        raise InputError(
            f"{where}: version: {data.get('version')!r} is not a summary version this "
            f"stripe-shadow reads ({SUMMARY_VERSION}); re-run `shadow compare`"
        )
    candidates = data.get("candidates")
    if not isinstance(candidates, dict):
        raise InputError(f"{where}: candidates: expected an object of candidate name → results")
    for name, candidate in candidates.items():
        field = f"candidates.{name}"
        if not isinstance(candidate, dict):
            raise InputError(f"{where}: {field}: expected an object")
        for key, kind in _CANDIDATE_FIELDS:
            if not isinstance(candidate.get(key), kind):
                raise InputError(f"{where}: {field}.{key}: missing or not a JSON {kind.__name__}")
        for index, group in enumerate(candidate["groups"]):
            if not isinstance(group, dict):
                raise InputError(f"{where}: {field}.groups[{index}]: expected an object")
            for key in ("endpoint", "path", "kind", "severity", "count", "samples"):
                if key not in group:
                    raise InputError(f"{where}: {field}.groups[{index}].{key}: missing")
            if not isinstance(group["samples"], list) or not all(
                isinstance(s, int) for s in group["samples"]
            ):
                raise InputError(
                    f"{where}: {field}.groups[{index}].samples: expected a list of seqs"
                )


def sample_outcomes(run_dir: Path, wanted: dict[str, set[int]]) -> dict[str, dict[int, Outcome]]:
    """The outcomes of the wanted (candidate, seq) pairs, streaming outcomes.jsonl."""
    found: dict[str, dict[int, Outcome]] = {name: {} for name in wanted}
    path = run_dir / OUTCOMES_FILE
    if not path.is_file():
        warnings.warn(
            f"{path}: missing; samples are shown without their outcome", ShadowWarning, stacklevel=2
        )
        return found
    try:
        for outcome in read_outcomes(run_dir):
            if outcome.seq in wanted.get(outcome.candidate, ()):
                found[outcome.candidate][outcome.seq] = outcome
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{path}: not a list of outcomes ({exc}); re-run `shadow compare`"
        ) from None
    return found


def read_exchanges(exchanges: Iterator[Exchange], seqs: set[int]) -> dict[int, Exchange]:
    """The exchanges with the wanted seqs, the last one for each seq winning."""
    found: dict[int, Exchange] = {}
    if not seqs:
        return found
    for exchange in exchanges:
        if exchange.seq in seqs:
            found[exchange.seq] = exchange
    return found


def _recording_exchanges(path: Path) -> Iterator[Exchange]:
    with RecordingReader(path, allow_truncated=True) as reader:
        yield from reader


def _recording_source(run_dir: Path, summary: dict[str, Any]) -> Iterator[Exchange] | None:
    """The recording a run replayed, when the baseline is what was recorded."""
    recording = (summary.get("run") or {}).get("recording") or {}
    path = Path(str(recording.get("path", "")))
    if not path.is_file() and not path.is_absolute() and (run_dir / path).is_file():
        path = run_dir / path
    if not path.is_file():
        warnings.warn(
            f"{path}: the recording is not there any more; the report shows the candidates' "
            "side of its samples only",
            ShadowWarning,
            stacklevel=2,
        )
        return None
    return _recording_exchanges(path)


def _side(source: Iterator[Exchange] | None, seqs: set[int]) -> dict[int, dict[str, Any]]:
    if source is None:
        return {}
    return {seq: exchange_view(e) for seq, e in read_exchanges(source, seqs).items()}


def _target_source(run_dir: Path, name: str) -> Iterator[Exchange] | None:
    path = run_dir / f"{name}.jsonl"
    if not path.is_file():
        warnings.warn(
            f"{path}: missing; the report leaves out that side of its samples",
            ShadowWarning,
            stacklevel=2,
        )
        return None
    return iter_results(path)


def collect(run_dir: Path) -> Report:
    """Everything a report shows, read from a compared run directory and redacted."""
    summary = load_summary(run_dir)
    wanted = sample_seqs(summary)
    every = set().union(*wanted.values()) if wanted else set()
    baseline = str(summary.get("baseline", ""))
    if baseline == "recording":
        baseline_side = _side(_recording_source(run_dir, summary), every)
    else:
        baseline_side = _side(_target_source(run_dir, baseline), every)
    candidates = {name: _side(_target_source(run_dir, name), seqs) for name, seqs in wanted.items()}
    outcomes = sample_outcomes(run_dir, wanted)
    summary = redact_tree(summary)
    run = as_object(summary.get("run"))
    if isinstance(run.get("targets"), list):
        # run.json holds no credentials; a report does not rely on it.
        run["targets"] = without_secrets(run["targets"])
    return Report(
        summary=summary,
        baseline=baseline_side,
        candidates=candidates,
        outcomes={
            name: {seq: outcome_view(o) for seq, o in found.items()}
            for name, found in outcomes.items()
        },
        upgrade_check=redact_tree(read_upgrade_check(run_dir)),
    )


def default_out_dir(report: Report) -> Path:
    """reports/<run name>/ under the current directory."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", report.run_name).strip(".-") or "run"
    return Path("reports") / name


def write_text_atomically(path: Path, text: str) -> None:
    """Write a file whole or not at all. The temporary is this process's own: two reports
    written into one directory at once (the default reports/<run name>/) must not rename
    each other's half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_report(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> WrittenReport:
    """Write the four report files for a compared run; returns where they went."""
    report = collect(Path(run_dir))
    directory = Path(out_dir) if out_dir is not None else default_out_dir(report)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a directory; pass another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{directory}: cannot create the report directory ({exc.strerror})"
        ) from None
    html = render_html(report)
    texts = {
        "index.html": html,
        "summary.json": json.dumps(report.summary, indent=2, ensure_ascii=False) + "\n",
        "junit.xml": render_junit(report.summary),
        "summary.md": render_markdown(report.summary),
    }
    files = []
    for name in FILES:
        write_text_atomically(directory / name, texts[name])
        files.append(directory / name)
    return WrittenReport(
        directory=directory,
        files=files,
        html_bytes=len(html.encode("utf-8")),
        summary=report.summary,
    )
