"""Reaching a Dask cluster: `--cluster tcp://HOST:8786` (a running `dask scheduler`) or
`--cluster local:N` (a LocalCluster of N worker processes on this machine, on
127.0.0.1, without a dashboard). Dask is the optional extra `stripe-shadow[distributed]`;
without it, `--cluster` says so in one line.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.errors import InfrastructureError, InputError

if TYPE_CHECKING:
    from distributed import Client

_LOCAL = re.compile(r"^local:(?P<workers>[1-9][0-9]{0,2})$")
_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/]+:[0-9]{1,5}$")
MISSING = (
    "--cluster needs Dask distributed, which is not installed: "
    "pip install 'stripe-shadow[distributed]'"
)
# Seconds to wait for a scheduler to answer, and for its workers to be there.
CONNECT_TIMEOUT = 20.0


def check_cluster(value: str) -> str:
    """The --cluster value, or an InputError that says what it should look like."""
    if _LOCAL.match(value) or _ADDRESS.match(value):
        return value
    raise InputError(
        f"--cluster {value!r}: expected tcp://HOST:PORT (a running dask scheduler) or "
        "local:N (N worker processes on this machine, N from 1 to 999)"
    )


def require_dask() -> Any:
    """The `distributed` module, or an InputError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise InputError(MISSING) from None
    return distributed


@contextlib.contextmanager
def connect(value: str) -> Iterator[Client]:
    """A client of the cluster `value` names, closed (and a local cluster stopped) after
    the block."""
    check_cluster(value)
    distributed = require_dask()
    local = _LOCAL.match(value)
    with contextlib.ExitStack() as stack:
        if local is not None:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=int(local["workers"]),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # the scheduler serves HTTP (health, metrics) even so: any free port
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL,  # a shard's failure is ours to say
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(
                    distributed.Client(value, timeout=CONNECT_TIMEOUT, set_as_default=False)
                )
            except OSError as exc:
                raise InfrastructureError(
                    f"--cluster {value}: no dask scheduler answered ({exc})"
                ) from None
        yield client


def worker_addresses(client: Client, wait: float = CONNECT_TIMEOUT) -> list[str]:
    """The workers of the cluster, once at least one is there."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise InfrastructureError(
            f"the dask scheduler has no worker (waited {wait:g} s): start `dask worker "
            "SCHEDULER_ADDRESS` on each machine"
        ) from None
    return sorted(client.scheduler_info(n_workers=-1)["workers"])
