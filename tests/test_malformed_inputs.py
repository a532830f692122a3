"""Every malformed input of tests/malformed.py, through the command line that reads it:
one line naming the file, line, field or option and what to do, exit code 2, never a
traceback; inputs that are odd but valid are accepted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from malformed import Case, all_cases, run_case

from harness.formats.recording import Header

# Compare says, as a warning, that the hand-made run was interrupted.
# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.no_clock]

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_malformed_input_ends_in_one_clear_line(case: Case, tmp_path: Path) -> None:
    ending = run_case(case, tmp_path)
    assert ending.kind in ("refused", "accepted"), ending.output
    if case.must_refuse:
        assert ending.kind == "refused", ending.output


def test_a_gzip_bomb_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    # 2 GB of one letter and no newline, 2 MB on disk: 32 gzip members of 64 MB each.
    header = json.dumps(Header(redaction={"applied": True}).to_json()) + "\n"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = compressor.compress(b"a" * (64 << 20)) + compressor.flush()
    first = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(first.compress(header.encode()) + first.flush() + member * 32)
    assert bomb.stat().st_size < 4 << 20

    # The peak of the command's own memory (VmHWM): getrusage's ru_maxrss would count the
    # test worker's too, which the child inherits across fork and exec on Linux.
    script = textwrap.dedent(
        f"""
        import sys
        from click.testing import CliRunner
        from harness.cli import main
        result = CliRunner().invoke(main, ["inspect", {str(bomb)!r}])
        print(result.exit_code)
        print(result.stderr.strip())
        with open("/proc/self/status") as status:
            peak = next(line for line in status if line.startswith("VmHWM:"))
        print(int(peak.split()[1]) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    code, message, megabytes = done.stdout.strip().splitlines()
    assert code == "2"
    assert (
        message == f"shadow: error: {bomb}:2: line longer than 16 MB; if the recording "
        "really holds such a body, raise the limit with SHADOW_MAX_LINE_MB=<megabytes>"
    )
    assert int(megabytes) < 400
