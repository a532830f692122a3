"""The files a run sharded over a cluster writes while it goes on (docs/distributed.md),
and folding them into the run directory's own format (docs/run-format.md).

Each shard of a sharded replay appends its results to `<target>.shard-<K>-<ATTEMPT>.jsonl`
and writes its id map to `<target>.shard-<K>-<ATTEMPT>.idmap.json`: one writer per file,
whichever machine the shard runs on, and a shard the cluster runs again (its worker
died) writes files of its own beside those of the attempt before. When the replay ends
(or a later `--resume` begins), `fold_shards` appends every shard's lines to
`<target>.jsonl` and merges the id maps into `<target>.idmap.json`: the run directory is
then the one a single machine writes, and nothing downstream knows the difference.
Lines are in completion order in either, and a reader takes the last line per seq.
"""

from __future__ import annotations

import fcntl
import re
import time
from collections.abc import Iterator
from pathlib import Path

from harness.errors import InfrastructureError
from harness.formats.idmap import iter_idmap, write_idmap
from harness.formats.recording import Header
from harness.formats.results import ResultWriter, iter_results
from harness.pairstore import PairStore

# A shard whose coordinator is gone stops within this many seconds (harness.distributed
# sends a heartbeat every second); a resume waits until the shard files have been quiet
# this long, so that no shard of the killed run writes on while they are folded.
SHARDS_STOP_WITHIN = 10.0

_SHARD_FILE = re.compile(r"^(?P<target>.+)\.shard-(?P<shard>\d+)-(?P<attempt>[0-9a-f]+)\.jsonl$")


def shard_results_file(run_dir: Path, target: str, shard: int, attempt: str) -> Path:
    """Where one attempt at one shard appends a target's results."""
    return run_dir / f"{target}.shard-{shard}-{attempt}.jsonl"


def shard_idmap_file(results: Path) -> Path:
    """The id map written beside a shard's results file."""
    return results.with_name(results.name.removesuffix(".jsonl") + ".idmap.json")


def shard_files(run_dir: Path, target: str, shard: int | None = None) -> list[Path]:
    """A target's shard results files (of one shard, or of all), oldest first."""
    found: list[tuple[float, str, Path]] = []
    for path in run_dir.glob(f"{glob_escape(target)}.shard-*.jsonl"):
        match = _SHARD_FILE.match(path.name)
        if match is None or match["target"] != target:
            continue
        if shard is not None and int(match["shard"]) != shard:
            continue
        found.append((path.stat().st_mtime, path.name, path))
    return [path for _, _, path in sorted(found)]


def glob_escape(text: str) -> str:
    """`text` matched literally by Path.glob."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def wait_until_quiet(run_dir: Path, quiet: float = SHARDS_STOP_WITHIN) -> None:
    """Wait (at most `quiet` seconds more than that) until no shard file of the run has
    changed for `quiet` seconds: the shards of a killed coordinator have stopped."""
    deadline = time.monotonic() + 2 * quiet + 1
    while time.monotonic() < deadline:
        newest = max((p.stat().st_mtime for p in run_dir.glob("*.shard-*")), default=None)
        if newest is None or time.time() - newest >= quiet:
            return
        time.sleep(min(quiet - (time.time() - newest), deadline - time.monotonic()) + 0.05)


def wait_for_writer(path: Path, timeout: float = 60.0) -> None:
    """Wait until no process writes `path` any more (the result writer of a shard's
    earlier attempt, still writing what its dead worker handed it), so that reading it
    sees every line. InfrastructureError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with open(path, "rb") as file:
        while True:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise InfrastructureError(
                        f"{path}: still written by another process after {timeout:g} s "
                        "(an earlier attempt at this shard is alive)"
                    ) from None
                time.sleep(0.05)
                continue
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
            return


def fold_shards(run_dir: Path, target: str, header: Header) -> int:
    """Append every shard's result lines for `target` to `<target>.jsonl` (made with
    `header` if it is not there) and merge their id maps into `<target>.idmap.json`
    (the pairs it has first, then each shard's; the first pairing of an id wins), then
    remove the shard files. Returns how many lines were moved."""
    files = shard_files(run_dir, target)
    if not files:
        return 0
    for path in files:
        # A shard of a killed coordinator may still be ending (it stops within
        # SHARDS_STOP_WITHIN of its last heartbeat, later on a busy machine): its last
        # lines and its id map are on disk once its writer lets go of the file.
        wait_for_writer(path)
    moved = 0
    main = run_dir / f"{target}.jsonl"
    with ResultWriter(main, header) as writer:
        for path in files:
            for exchange in iter_results(path):
                writer.write(exchange)
                moved += 1
    idmap = run_dir / f"{target}.idmap.json"
    pairs = PairStore(iter_idmap(idmap) if idmap.exists() else ())
    try:
        for path in files:
            shard_map = shard_idmap_file(path)
            if shard_map.exists():
                for recorded, replayed in iter_idmap(shard_map):
                    pairs.add(recorded, replayed)
        write_idmap(idmap, target, pairs)
    finally:
        pairs.close()
    for path in files:
        shard_idmap_file(path).unlink(missing_ok=True)
        path.unlink()
    return moved


def targets_with_shards(run_dir: Path) -> Iterator[str]:
    """The targets some shard file of the run directory is for."""
    seen: set[str] = set()
    for path in sorted(run_dir.glob("*.shard-*.jsonl")):
        match = _SHARD_FILE.match(path.name)
        if match is not None and match["target"] not in seen:
            seen.add(match["target"])
            yield match["target"]
