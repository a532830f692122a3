"""Resume is exact: a replay of the demo recording SIGKILLed at random points, any number
of times, then resumed to the end, ends with the outcomes of a replay that was never
interrupted, and creates no object twice on a target that keeps its state.

Two targets: `fresh` is launched (localstripe, started afresh on every resume) and
`kept` is reached by url (localstripe behind tests/idempotentproxy.py, which answers an
Idempotency-Key seen before as Stripe does and counts what it forwards). Outcomes are
compared with what was recorded, so a target that broke would show, not hide behind a
twin that broke alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.formats.recording import iter_exchanges
from harness.formats.results import latest_exchanges
from harness.formats.rundir import load_run
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from harness.replay.launch.process import LocalProcess, free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
SHADOW = str(Path(sys.executable).parent / "shadow")
RECORDING = REPO / "recordings" / "demo.jsonl"
EXCHANGES = sum(1 for _ in iter_exchanges(RECORDING))
KEY_ENV = "SHADOW_KEPT_KEY"


@dataclass
class Kept:
    """The target that keeps its state: its URL (the proxy's)."""

    url: str

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/_stats", timeout=10, trust_env=False).json())


@contextlib.contextmanager
def kept_target(folder: Path) -> Iterator[Kept]:
    """A localstripe of its own behind the idempotency proxy, running within the block."""
    with localstripe("kept-store", folder / "localstripe.log") as store:
        port = free_port()
        command = [
            sys.executable,
            str(REPO / "tests" / "idempotentproxy.py"),
            "--port",
            str(port),
            "--upstream",
            store.url,
        ]
        with LocalProcess(
            "kept",
            command,
            f"http://127.0.0.1:{port}",
            ready_path="/_stats",
            log_path=folder / "proxy.log",
        ):
            yield Kept(f"http://127.0.0.1:{port}")


def scenario(folder: Path, kept: Kept) -> Path:
    path = folder / "exact.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "exact",
                "recording": str(RECORDING),
                "baseline": "recording",
                "targets": [
                    {"name": "fresh", "launch": "localstripe"},
                    {"name": "kept", "url": kept.url, "api_key_env": KEY_ENV},
                ],
            }
        )
    )
    return path


def shadow(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SHADOW, *args, "--no-progress"] if args[0] == "replay" else [SHADOW, *args],
        env={**os.environ, KEY_ENV: LOCALSTRIPE_TEST_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(run: Path) -> int:
    """Result lines written so far, over both targets."""
    return result_lines(run / "fresh.jsonl") + result_lines(run / "kept.jsonl")


def result_lines(path: Path) -> int:
    """The results in a target file (0 while it is not there: a resumed run removes the
    launched target's file of void results)."""
    with contextlib.suppress(FileNotFoundError):
        return max(0, path.read_bytes().count(b"\n") - 1)
    return 0


def killed_at(replay: subprocess.Popen[str], run: Path, point: int) -> bool:
    """SIGKILL the replay once `point` more results are written (0: once it made its run
    directory, targets perhaps still starting); False when it finished first."""
    start = results(run) if (run / "run.json").exists() else 0
    deadline = time.monotonic() + 120
    try:
        while replay.poll() is None and time.monotonic() < deadline:
            if (run / "run.json").exists() and results(run) - start >= point:
                replay.send_signal(signal.SIGKILL)
                replay.communicate(timeout=60)
                return True
            time.sleep(0.005)
    except BaseException:
        replay.kill()  # nothing of a failed example may go on sending
        replay.communicate(timeout=60)
        raise
    _, stderr = replay.communicate(timeout=120)
    assert replay.returncode == 0, stderr
    return False


def finished(replay: subprocess.Popen[str]) -> None:
    _, stderr = replay.communicate(timeout=300)
    assert replay.returncode == 0, stderr
    assert "Traceback" not in stderr


def in_doubt(run: Path) -> dict[int, str]:
    """The kept target's exchanges a kill left in doubt: seq → the method."""
    return {
        seq: e.request.method
        for seq, e in latest_exchanges(run / "kept.jsonl").items()
        if e.extra.get("in_doubt")
    }


def outcomes(
    run: Path, names: tuple[str, ...] = ("fresh", "kept")
) -> dict[tuple[str, int], tuple[Any, ...]]:
    """Per target of `names` and seq: what the target answered (its status, or why it has none) and
    the outcome's status and error differences.

    Value differences are left out: localstripe orders items made within one second as
    it likes (a page of the demo's invoices can hold another of them), which is not what
    a resume can get wrong; a stale id, a skip or an object made twice shows as a
    status, an error or the idempotency proxy's count."""
    compare = subprocess.run(
        [SHADOW, "compare", str(run)], capture_output=True, text=True, timeout=300
    )
    assert compare.returncode == 0, compare.stderr
    answered = {
        name: {
            seq: e.response.status if e.response is not None else e.error
            for seq, e in latest_exchanges(run / f"{name}.jsonl").items()
        }
        for name in names
    }
    found: dict[tuple[str, int], tuple[Any, ...]] = {}
    for line in (run / "outcomes.jsonl").read_text().splitlines():
        outcome = json.loads(line)
        critical = sorted(
            (d["path"], d["kind"], d["baseline"], d["candidate"])
            for d in outcome["differences"]
            if d["kind"] in ("status", "error")
        )
        name, seq = outcome["candidate"], outcome["seq"]
        found[(name, seq)] = (answered[name].get(seq), outcome.get("error"), critical)
    return found


@dataclass
class Reference:
    outcomes: dict[tuple[str, int], tuple[Any, ...]]
    creations: int


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """The same scenario replayed without interruption."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    with kept_target(folder) as kept:
        run = folder / "run"
        finished(shadow("replay", str(scenario(folder, kept)), "--out", str(run)))
        yield Reference(outcomes(run), kept.stats()["posts"])


KILLS = 0  # kill points taken, over every example (printed with -s)
IN_DOUBT: list[int] = []  # exchanges those kills left in doubt


def check_kills_then_resume(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, points: list[int]
) -> None:
    """Replay with a SIGKILL at each point in turn, resume to the end, and compare."""
    folder = tmp_path_factory.mktemp("killed")
    with kept_target(folder) as kept:
        killed_then_resumed(folder, kept, reference, points)


def killed_then_resumed(folder: Path, kept: Kept, reference: Reference, points: list[int]) -> None:
    global KILLS
    run = folder / "run"
    replay = shadow("replay", str(scenario(folder, kept)), "--out", str(run))
    for point in points:
        if not killed_at(replay, run, point):
            break
        KILLS += 1
        assert load_run(run).status != "finished"
        replay = shadow("replay", "--resume", str(run))
    else:
        finished(replay)
    if load_run(run).status != "finished":
        finished(shadow("replay", "--resume", str(run)))

    # The launched target's file holds its last instance's results only, one per exchange.
    assert result_lines(run / "fresh.jsonl") == EXCHANGES
    # A DELETE in flight when the replay was killed may or may not have been applied, and
    # Stripe cannot replay it: the kept target's result says so, instead of a 404.
    doubtful = in_doubt(run)
    assert set(doubtful.values()) <= {"DELETE"}
    found = outcomes(run)
    changed = {
        key: (reference.outcomes.get(key), found.get(key))
        for key in reference.outcomes.keys() | found.keys()
        if reference.outcomes.get(key) != found.get(key)
        and not (key[0] == "kept" and key[1] in doubtful)
    }
    assert changed == {}, f"after kills at {points}"
    for seq in doubtful:
        assert found[("kept", seq)][1].startswith("in doubt: ")
    IN_DOUBT.extend(doubtful)
    stats = kept.stats()
    assert all(count == 1 for count in stats["forwarded"].values())  # no key sent twice
    assert stats["posts"] == reference.creations  # and no new key for an old request
    print(f"kill points so far: {KILLS}; exchanges left in doubt: {len(IN_DOUBT)}")


KILL_POINTS = st.lists(st.integers(0, 2 * EXCHANGES - 1), min_size=1, max_size=3)


def budget(examples: int) -> settings:
    """Hypothesis settings for a test whose every example replays a recording."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@budget(2)
@given(points=KILL_POINTS)
@example(points=[30, 60])  # journeys finished on both targets before each kill
def test_resume_after_kills_at_random_points_is_exact(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, points: list[int]
) -> None:
    check_kills_then_resume(tmp_path_factory, reference, points)


@pytest.mark.slow
@budget(25)
@given(points=st.lists(st.integers(0, 2 * EXCHANGES - 1), min_size=1, max_size=6))
def test_resume_after_many_kills_is_exact(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, points: list[int]
) -> None:
    check_kills_then_resume(tmp_path_factory, reference, points)
