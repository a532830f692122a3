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

from harness.capture.redact import redact_tree
from harness.errors import InputError, ShadowWarning
from harness.formats.atomic import write_text_atomically
from harness.formats.outcomes import OUTCOMES_FILE, read_outcomes
from harness.formats.recording import RecordingReader
from harness.formats.results import iter_results
from harness.formats.summary import load_summary
from harness.formats.untrusted import JSONProblem
from harness.model import Exchange, Outcome
from harness.report.content import Report, as_object, exchange_view, outcome_view, sample_seqs
from harness.report.events import add_event_suites, events_markdown
from harness.report.facts import without_secrets
from harness.report.html import render_html
from harness.report.junit import junit_text, junit_tree
from harness.report.markdown import render_markdown
from harness.upgrade.check import read_upgrade_check

FILES = ("index.html", "summary.json", "junit.xml", "summary.md")


@dataclass(slots=True)
class WrittenReport:
    """Where a report went and how big its page is."""

    directory: Path
    files: list[Path]
    html_bytes: int
    summary: dict[str, Any]


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
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = exc.problem if isinstance(exc, JSONProblem) else f"not a list of outcomes ({exc})"
        raise InputError(f"{path}: {problem}; re-run `shadow compare`") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
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


def _junit(summary: dict[str, Any]) -> str:
    root = junit_tree(summary)
    add_event_suites(root, summary)
    return junit_text(root)


def write_report(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> WrittenReport:
    """Write the four report files for a compared run; returns where they went."""
    report = collect(Path(run_dir))
    directory = Path(out_dir) if out_dir is not None else default_out_dir(report)
    try:
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{directory}: exists and is not a directory; pass another --out")
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{directory}: cannot create the report directory ({exc.strerror})"
        ) from None
    html = render_html(report)
    texts = {
        "index.html": html,
        "summary.json": json.dumps(report.summary, indent=2, ensure_ascii=False) + "\n",
        "junit.xml": _junit(report.summary),
        "summary.md": "\n".join(
            [render_markdown(report.summary), *events_markdown(report.summary)]
        ),
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
