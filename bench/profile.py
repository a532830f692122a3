"""Where the time goes: `shadow replay` and `shadow compare` under cProfile.

    python -m bench.profile                    # 20,000 exchanges
    python -m bench.profile --exchanges 50000 --top 30 --out build/bench/profiles

Replays a synthetic recording against the fast target (latency 0, so the harness is the
bottleneck), then compares a run whose answers all match and one whose answers all differ,
each in this process (compare with one worker, so no time hides in a pool). Prints, per
stage, the share of CPU time by package or module and the functions with the most time of
their own, and keeps each profile (`.prof`, for snakeviz or pstats) under --out.

The replay's result writers run in processes of their own and are not in its profile; the
benchmark's CPU figures (`python -m bench --only replay`) count them.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.compare import replayed_run
from bench.measure import ROOT
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget
from harness.cli import main as shadow

_SITE = "site-packages/"
_STDLIB = str(Path(shutil.__file__).parent) + "/"


def _where(filename: str) -> str:
    """A function's file as the reader thinks of it: a harness module, a package, the
    standard library's module, or a builtin."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    path = filename.replace("\\", "/")
    if _SITE in path:
        return path.split(_SITE, 1)[1].split("/", 1)[0].removesuffix(".py")
    root = str(ROOT) + "/"
    if path.startswith(root):
        return path[len(root) :].removesuffix(".py").replace("/", ".")
    if path.startswith(_STDLIB):
        rest = path[len(_STDLIB) :]
        return "stdlib " + rest.split("/", 1)[0].removesuffix(".py")
    return path


def by_place(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time summed by module or package, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        totals[_where(filename)] += own
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


def report(slug: str, title: str, profile: cProfile.Profile, top: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    dump = out / f"{slug}.prof"
    profile.dump_stats(dump)
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n## {title}: {total:.2f} s of CPU in this process, under the profiler ({dump})\n")
    print("own time by place:")
    for place, seconds in by_place(stats)[:top]:
        print(f"  {seconds / total:6.1%}  {seconds:7.2f} s  {place}")
    print(f"\nfunctions with the most own time (top {top}):")
    rows = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )
    for (filename, line, name), (_, calls, own, cumulative, _) in rows[:top]:
        print(
            f"  {own / total:6.1%}  {own:7.2f} s own  {cumulative:7.2f} s cum  "
            f"{calls:>9,} calls  {_where(filename)}:{line} {name}"
        )


def _run(args: list[str]) -> cProfile.Profile:
    # CPU time, not wall time: waiting on the target, the planner or a pipe costs nothing.
    profile = cProfile.Profile(time.process_time)
    try:
        profile.runcall(shadow.main, args, prog_name="shadow", standalone_mode=False)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    return profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--exchanges", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--out", type=Path, help="where .prof files go (default: WORK/profiles)")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    out = (args.out or work / "profiles").resolve()
    recording = cached(work, args.exchanges)

    run_dir = work / "runs" / "profile-replay"
    shutil.rmtree(run_dir, ignore_errors=True)
    with FastTarget() as target:
        scenario_file = scenario(work / "profile-replay.yaml", recording, {"fast": target.url})
        profile = _run(["replay", str(scenario_file), "--out", str(run_dir), "--no-progress"])
    report("replay", f"replay of {args.exchanges} exchanges", profile, args.top, out)
    shutil.rmtree(run_dir, ignore_errors=True)

    for name, variant in (("identical", ""), ("differing", "all")):
        run = replayed_run(work, recording, f"compare-{name}", variant)
        profile = _run(["compare", str(run), "--workers", "1"])
        title = f"compare of {args.exchanges} exchanges, {name}"
        report(f"compare-{name}", title, profile, args.top, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
