"""The registry of pluggable things: entries found through entry points."""

from __future__ import annotations

import threading

from harness.registry import Registry


def test_threads_looking_up_an_entry_point_at_once_all_get_it() -> None:
    """An entry point is loaded on its first lookup. Threads asking for it at the same
    moment (a replay's coordinator checks its scenario while its other threads run) all
    get the one entry; none is told it is registered already."""
    for _ in range(20):
        registry: Registry[object] = Registry("scenario section", "stripe_shadow.scenario_sections")
        start = threading.Barrier(8)
        found: list[object] = []
        failed: list[BaseException] = []

        def look_up(
            registry: Registry[object] = registry, start: threading.Barrier = start
        ) -> None:
            start.wait()
            try:
                found.append(registry["launch"])
            except BaseException as exc:  # what the thread met goes to the assertion
                failed.append(exc)

        threads = [threading.Thread(target=look_up) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failed == []
        assert len(found) == 8 and all(entry is found[0] for entry in found)
