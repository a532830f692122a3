"""The registry of pluggable things: entries found through entry points."""

from __future__ import annotations

import threading

from harness.registry import Registry


def _look_up_at_once(name: str, threads: int) -> tuple[list[object], list[BaseException]]:
    """`threads` threads of a new registry of scenario sections look `name` up at the same
    moment: what they found, and what they met instead."""
    registry: Registry[object] = Registry("scenario section", "stripe_shadow.scenario_sections")
    start = threading.Barrier(threads)
    found: list[object] = []
    failed: list[BaseException] = []

    def look_up() -> None:
        start.wait()
        try:
            found.append(registry[name])
        except BaseException as exc:  # what the thread met goes to the assertion
            failed.append(exc)

    running = [threading.Thread(target=look_up) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=60)
    return found, failed


def test_threads_looking_up_an_entry_point_at_once_all_get_it() -> None:
    """An entry point is loaded on its first lookup. Threads asking for it at the same
    moment (a replay's coordinator checks its scenario while its other threads run) all
    get the one entry; none is told it is registered already, or that it is not there."""
    for _ in range(20):
        found, failed = _look_up_at_once("launch", 8)
        assert failed == []
        assert len(found) == 8 and all(entry is found[0] for entry in found)
