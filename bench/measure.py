"""Run a command as a child process and measure it: wall time, CPU time of the process
and every descendant it waited for (from wait4), the peak resident memory of the largest
of them (each process's VmHWM, its high-water mark since exec, read from /proc), and the
peak of their sum (sampled).

Not `ru_maxrss`: a child's counts the memory of the process it was forked from, so it
never reads below the benchmark's own size. VmHWM is read every `sample_every` seconds
and only ever rises, so only a peak in the last moments before a process exits could be
missed.

CPU and memory come from the kernel, so they hold however busy the machine is; wall
time does not, which is why every figure of the benchmarks is a ratio against a
baseline measured in the same run.
"""

from __future__ import annotations

import compileall
import functools
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Measured:
    """What one command cost."""

    wall: float  # seconds
    cpu: float  # user + system seconds, the command and the children it waited for
    peak_rss: int  # bytes, the largest single process
    peak_tree_rss: int  # bytes, the largest sum over the process and its descendants
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        return self.peak_rss / 2**20

    @property
    def peak_tree_mib(self) -> float:
        return self.peak_tree_rss / 2**20


def _children() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children = _children()
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def rss(pid: int) -> int:
    """Resident bytes of one process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            return int(file.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def high_water(pid: int) -> int:
    """Peak resident bytes of one process since it exec'd (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as file:
            for line in file:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system seconds a running process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


@functools.cache
def compile_harness() -> None:
    """Write the bytecode of the harness (and of the bench) beside its sources, as
    installing a package does, once per bench process.

    An editable install runs the sources in place, and where the environment sets
    PYTHONDONTWRITEBYTECODE every start of `shadow` then compiles every module it imports
    (about a third of a second of CPU for a replay). The bench measures the harness as a
    user runs it installed; a module changed after this call is compiled at each start
    again, as Python does with a stale file."""
    for package in ("harness", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1, workers=1)


def run_measured(
    command: Sequence[str],
    *,
    timeout: float = 3600.0,
    env: dict[str, str] | None = None,
    sample_every: float = 0.05,
) -> Measured:
    """Run `command` from the repository root, bounded by `timeout` seconds, with the
    harness's bytecode written first (compile_harness)."""
    compile_harness()
    out_path = ROOT / "build" / "bench" / f".stdout-{os.getpid()}"
    err_path = out_path.with_name(f".stderr-{os.getpid()}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    with open(out_path, "w+b") as out, open(err_path, "w+b") as err:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            stdout=out,
            stderr=err,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
        peak_tree = 0
        peaks: dict[int, int] = {}
        tree = [process.pid]
        last_scan = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now - begin > timeout:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            if now - last_scan > 1.0:
                tree, last_scan = descendants(process.pid), now
            peak_tree = max(peak_tree, sum(rss(p) for p in tree))
            for pid in tree:
                peaks[pid] = max(peaks.get(pid, 0), high_water(pid))
            time.sleep(sample_every)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - begin
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        err.seek(0)
        stderr = err.read()[-4000:].decode("utf-8", "replace")
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    peak = max(peaks.values(), default=0)
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss=peak,
        peak_tree_rss=max(peak_tree, peak),
        returncode=process.returncode,
        stdout=stdout,
        stderr=stderr,
    )
