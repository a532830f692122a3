"""`shadow inspect`: a summary of a recording, and one-line errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.formats.recording import iter_exchanges

DEMO = Path(__file__).resolve().parents[1] / "recordings/demo.jsonl"


def test_inspect_summarises_the_demo() -> None:
    result = CliRunner().invoke(main, ["inspect", str(DEMO)])
    assert result.exit_code == 0, result.output
    count = sum(1 for _ in iter_exchanges(DEMO))
    assert f"exchanges: {count}" in result.stdout
    assert "redaction: applied" in result.stdout
    assert "POST /v1/payment_intents" in result.stdout
    assert "POST /v1/payment_methods/{payment_method}/attach" in result.stdout


def test_inspect_json_counts_endpoints_and_errors() -> None:
    result = CliRunner().invoke(main, ["inspect", "--json", str(DEMO)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    exchanges = list(iter_exchanges(DEMO))
    assert data["exchanges"] == len(exchanges)
    assert sum(e["count"] for e in data["endpoints"].values()) == len(exchanges)
    failed = [e for e in exchanges if e.response is None or e.response.status >= 400]
    assert data["errors"] == len(failed) >= 3
    assert "402" in data["endpoints"]["POST /v1/payment_intents"]["statuses"]
    assert data["header"]["redaction"]["applied"] is True


def test_a_bad_recording_is_one_line_and_exit_2(tmp_path: Path) -> None:
    lines = DEMO.read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines[:3]) + '{"seq": "x"}\n' + "".join(lines[3:5]))
    result = CliRunner().invoke(main, ["inspect", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == f"shadow: error: {bad}:4: exchange.seq: expected int, got str\n"
    assert "Traceback" not in result.output


def test_a_truncated_recording_needs_consent(tmp_path: Path) -> None:
    lines = DEMO.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2])
    refused = CliRunner().invoke(main, ["inspect", str(cut)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"shadow: error: {cut}:7: truncated last line")
    accepted = CliRunner().invoke(main, ["inspect", "--json", "--allow-truncated", str(cut)])
    assert accepted.exit_code == 0
    assert json.loads(accepted.stdout)["exchanges"] == 5
    assert f"shadow: warning: {cut}:7: truncated last line skipped" in accepted.stderr


def test_a_missing_recording(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2
    assert result.stderr == f"shadow: error: {tmp_path / 'none.jsonl'}: no such file\n"
