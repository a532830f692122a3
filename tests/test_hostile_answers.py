"""A target that answers with JSON nested 1,000 levels deep, a lone surrogate, keys of
60,000 and 100,000 characters and bidi overrides (tests/hostileserver.py): replay,
compare and report each end with exit code 0, and every such answer is an outcome,
counted and shown."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hostileserver import BIDI_NAME, LONG_KEY, LONGER_KEY, replayed_and_compared

from harness.cli import main
from harness.formats.untrusted import MAX_DEPTH


def test_hostile_answers_are_outcomes_not_crashes(tmp_path: Path) -> None:
    run = replayed_and_compared(tmp_path)

    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "finished" and "error" not in status
    outcomes = {
        o["seq"]: o for o in map(json.loads, (run / "outcomes.jsonl").read_text().splitlines())
    }
    too_deep = f"answer could not be compared: nested deeper than {MAX_DEPTH} levels"
    assert outcomes[0]["kind"] == "error" and outcomes[0]["error"] == too_deep
    assert outcomes[1]["kind"] == "error" and outcomes[1]["error"] == too_deep
    assert outcomes[2]["kind"] == "error"
    assert outcomes[2]["error"].startswith("answer could not be compared: invalid unicode")
    [long_key] = outcomes[3]["differences"]
    assert long_key["path"] == f"$.metadata[{json.dumps(LONG_KEY)}]"
    assert long_key["candidate"] == "after"
    [longer_key] = outcomes[4]["differences"]
    assert longer_key["path"] == f"$.metadata.{LONGER_KEY}"
    [bidi] = outcomes[5]["differences"]
    assert bidi["path"] == "$.name" and bidi["candidate"] == BIDI_NAME
    assert outcomes[6]["kind"] == "match"
    assert outcomes[7]["kind"] == "error"
    assert outcomes[7]["error"] == (
        "answer not kept: its body is larger than 8 MB (half of SHADOW_MAX_LINE_MB, which "
        "raises it)"
    )

    summary = json.loads((run / "summary.json").read_text())["candidates"]["hostile"]
    assert summary["outcomes"]["error"] == 4
    assert {g["message"]: g["count"] for g in summary["error_groups"]}[too_deep] == 2

    result = CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "summary.md").read_text()
    junit = (tmp_path / "report" / "junit.xml").read_text()
    for text in (markdown, junit):
        assert "\u202e" not in text and "\u2066" not in text
    assert "\\u202e" in junit
