"""Watches one target container for the replay: follows its logs into the target's log
file and, when the replay's end of the pipe on stdin closes — `stop()`, or the replay died,
even by SIGKILL — stops the container, lets its last lines arrive and removes it.

    python -m harness.replay.launch.reaper CONTAINER_ID LOG_PATH GRACE_SECONDS

Exits 0 once the container is gone (1, with one line on stderr, when it could not be
removed). Started by harness.replay.launch.docker.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from docker.errors import NotFound

from harness.errors import InfrastructureError
from harness.replay.launch.docker import API_TIMEOUT, ENGINE_ERRORS, connect
from harness.replay.launch.targetlog import LogLines

_LOGS_WAIT = 10.0  # seconds for the last log lines once the container has stopped


def _follow_logs(container_id: str, log_path: Path, done: threading.Event) -> None:
    """Append the container's output to the log file until the container stops."""
    try:
        client = connect(timeout=None)  # a log stream may be quiet for as long as it likes
        # The reaper starts before the container does; following a container that has
        # not started yet would end at once.
        while not done.is_set():
            if client.api.inspect_container(container_id)["State"]["Status"] != "created":
                break
            time.sleep(0.05)
        lines = LogLines()  # written redacted: it may print the key the harness sent it
        with open(log_path, "ab") as log:
            for chunk in client.api.logs(container_id, stream=True, follow=True):
                log.write(lines.feed(chunk))
                log.flush()
            log.write(lines.flush())
    except (*ENGINE_ERRORS, InfrastructureError, OSError):
        pass


def reap(container_id: str, log_path: Path | None, grace: int) -> None:
    follower = None
    done = threading.Event()
    if log_path is not None:
        follower = threading.Thread(
            target=_follow_logs, args=(container_id, log_path, done), daemon=True
        )
        follower.start()
    sys.stdin.buffer.read()  # returns at EOF: the replay closed the pipe or is gone
    done.set()
    client = connect(API_TIMEOUT)
    try:
        client.api.stop(container_id, timeout=grace)
        if follower is not None:
            follower.join(_LOGS_WAIT)
        client.api.remove_container(container_id, force=True, v=True)
    except NotFound:
        pass
    finally:
        client.close()


def main(argv: list[str]) -> int:
    container_id, log, grace = argv
    try:
        reap(container_id, Path(log) if log else None, int(grace))
    except (*ENGINE_ERRORS, InfrastructureError) as exc:
        print(f"reaper: container {container_id[:12]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
