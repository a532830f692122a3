"""The replay's engine reads a recording its planner has checked with orjson alone
(RecordingReader(checked=True)): the same exchanges as a reader that checks every line,
and a line changed between the two reads still ends in one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import RecordingError
from harness.formats.recording import RecordingReader

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", ["demo.jsonl", "charges.jsonl", "month-end.jsonl", "migrated-account.jsonl"]
)
def test_a_checked_recording_reads_as_any_other(name: str) -> None:
    path = ROOT / "recordings" / name
    with RecordingReader(path) as checking, RecordingReader(path, checked=True) as checked:
        assert list(checked) == list(checking)


def _changed(tmp_path: Path, change: str) -> Path:
    """The demo recording with its third line made `change`."""
    lines = (ROOT / "recordings" / "demo.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[2])
    if change == "not json":
        lines[2] = lines[2][:-5]
    elif change == "seq past 64 bits":
        lines[2] = lines[2].replace(f'"seq":{first["seq"]}', '"seq":123456789012345678901', 1)
        assert lines[2] != json.dumps(first)
    elif change == "status a text":
        first["response"]["status"] = "200"
        lines[2] = json.dumps(first)
    path = tmp_path / "changed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("change", ["not json", "seq past 64 bits", "status a text"])
def test_a_line_changed_since_it_was_checked_is_refused_in_one_line(
    tmp_path: Path, change: str
) -> None:
    path = _changed(tmp_path, change)
    with pytest.raises(RecordingError) as checking, RecordingReader(path) as reader:
        list(reader)
    with pytest.raises(RecordingError) as checked, RecordingReader(path, checked=True) as reader:
        list(reader)
    message = str(checked.value)
    assert message.startswith(f"{path}:3: ") and "\n" not in message
    assert str(checking.value).startswith(f"{path}:3: ")
