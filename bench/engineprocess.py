"""`shadow ARGS...` in this process, then the CPU this process used itself written to
CPU_FILE: the engine's own CPU, apart from the planner and the result writers, which run
in child processes (their CPU is the children's, not this process's).

    python -m bench.engineprocess CPU_FILE replay SCENARIO --out RUN ...
"""

from __future__ import annotations

import gc
import json
import resource
import sys
from pathlib import Path

from harness.cli import main as shadow


def main(argv: list[str]) -> int:
    cpu_file, args = Path(argv[0]), argv[1:]
    code: int | str | None = 0
    try:
        shadow.main(args, prog_name="shadow", standalone_mode=False)
    except SystemExit as stop:
        code = stop.code
    finally:
        own = resource.getrusage(resource.RUSAGE_SELF)
        cpu_file.write_text(json.dumps({"cpu": own.ru_utime + own.ru_stime}))
        gc.freeze()  # as the `shadow` program ends (harness.cli.group.LazyGroup.__call__)
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
