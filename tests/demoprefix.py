"""The first exchanges of the demo recording, for end-to-end tests that need a real replay
but not all of it. Seqs 0-48 create products, plans, customers, payment methods and
payment intents, refund, and end with `GET /v1/charges`: the three things
tests/changingproxy.py changes all show, in a bit more than half the replay."""

from __future__ import annotations

from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "recordings" / "demo.jsonl"
EXCHANGES = 49


def demo_prefix(directory: Path, exchanges: int = EXCHANGES) -> Path:
    """A recording of the demo's header and its first `exchanges` exchanges (a recording is
    in recorded order, so every id a kept exchange uses is created by a kept one)."""
    lines = DEMO.read_text(encoding="utf-8").splitlines(keepends=True)
    path = directory / "demo-prefix.jsonl"
    path.write_text("".join(lines[: 1 + exchanges]), encoding="utf-8")
    return path
