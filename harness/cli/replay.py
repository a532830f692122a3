"""`shadow replay`: a scenario's recording against its targets, or a resumed run."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import (
    allow_live_option,
    cluster_option,
    concurrency_option,
    no_progress_option,
    run_dir_out_option,
)
from harness.cli.output import print_replay, reports_errors


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@run_dir_out_option
@concurrency_option
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Finish an interrupted run in RUN_DIR.",
)
@allow_live_option
@cluster_option
@no_progress_option
@reports_errors
def replay(
    scenario: str | None,
    out: str | None,
    concurrency: int | None,
    resume_dir: str | None,
    allow_live: bool,
    cluster: str | None,
    no_progress: bool,
) -> None:
    """Replay a scenario's recording against all its targets at once; prints the run
    directory. With --resume RUN_DIR, finish a run that was interrupted."""
    from pathlib import Path

    from harness.distributed.replay import on_cluster_if
    from harness.errors import InputError
    from harness.replay.progress import progress_view
    from harness.replay.session import (
        ReplaySession,
        check_reachable,
        resume_replay,
        start_replay,
    )
    from harness.scenario import load_scenario

    progress = None if no_progress else progress_view()
    if (scenario is None) == (resume_dir is None):
        raise InputError("give a SCENARIO to start a replay, or --resume RUN_DIR to finish one")
    if resume_dir is not None and out is not None:
        raise InputError("--out: a resumed run stays in its own directory")
    with on_cluster_if(cluster, allow_live) as on:
        session_type = ReplaySession if on is None else on.sessions
        if resume_dir is not None:
            result = resume_replay(
                Path(resume_dir),
                concurrency=concurrency,
                allow_live=allow_live,
                progress=progress,
                session_type=session_type,
            )
        else:
            assert scenario is not None
            result = start_replay(
                load_scenario(scenario),
                out=Path(out) if out else None,
                concurrency=concurrency,
                allow_live=allow_live,
                progress=progress,
                session_type=session_type,
            )
    print_replay(result)
    check_reachable(result)
