"""`launch: localstripe`: localstripe on a free port of 127.0.0.1 with a store of its own,
until the replay ends (docs/scenario-format.md, STRIPE.md's facts about localstripe).
localstripe (GPL-3) runs as a program of its own, never imported by the harness."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx

from harness.errors import InfrastructureError
from harness.replay.launch.base import LAUNCHERS, LaunchContext, Launcher, LaunchOptions
from harness.replay.launch.process import LocalProcess, start_on_free_port

LOCALSTRIPE_TEST_KEY = "sk_test_shadowlocalstripe0000"


class LocalstripeLaunch(LaunchOptions):
    """Start localstripe on a free port with a store of its own."""

    kind: Literal["localstripe"] = "localstripe"
    # localstripe accepts this one test-mode key and refuses requests without a key.
    fixed_key: ClassVar[str | None] = LOCALSTRIPE_TEST_KEY
    sends_webhooks: ClassVar[bool] = True

    def to_json(self) -> Any:
        return "localstripe"

    def subscribe_webhooks(self, url: str, endpoint: str, secret: str) -> None:
        """localstripe's own webhook configuration (`POST /_config/webhooks/{id}`): it
        signs every event it makes with `secret` and posts it to `endpoint`."""
        try:
            answer = httpx.post(
                f"{url}/_config/webhooks/shadow", data={"url": endpoint, "secret": secret}
            )
        except httpx.HTTPError as exc:
            raise InfrastructureError(
                f"localstripe at {url}: cannot subscribe its webhooks ({exc})"
            ) from None
        if answer.status_code != 200:
            raise InfrastructureError(
                f"localstripe at {url}: POST /_config/webhooks answered {answer.status_code}"
            )


# Where localstripe writes its whole store after every change, whichever instance it is.
SHARED_STORE = "/tmp/localstripe.pickle"
# The wrapper it runs under (a script of the standard library only, never imported here).
LOOPBACK_WRAPPER = Path(__file__).resolve().with_name("loopback.py")


def _interpreter(script: str) -> str:
    """The Python a console script names in its first line (its own environment's), else
    this one."""
    try:
        with open(script, "rb") as file:
            first = file.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return sys.executable
    program = first[2:].strip().split(" ")[0] if first.startswith("#!") else ""
    return program if program and os.access(program, os.X_OK) else sys.executable


def localstripe_command(port: int) -> list[str]:
    """localstripe on 127.0.0.1:`port` with a store of its own, in memory only.

    localstripe binds every interface (`::`) and has no option to say otherwise, and it
    writes its store to SHARED_STORE, one file for every instance on the machine. So it
    runs under harness/replay/launch/loopback.py, which turns its bind into a loopback
    one and sends its writes of SHARED_STORE to the null device; `--from-scratch` keeps it
    from reading the file, so nothing of another instance's store (or of an earlier
    run's) is ever loaded."""
    script = shutil.which("localstripe", path=str(Path(sys.executable).parent)) or shutil.which(
        "localstripe"
    )
    if script is None:
        raise InfrastructureError(
            "localstripe is not installed: install it with `pip install 'stripe-shadow[local]'`"
        )
    return [
        _interpreter(script),
        str(LOOPBACK_WRAPPER),
        "--discard",
        SHARED_STORE,
        "--",
        script,
        "--port",
        str(port),
        "--from-scratch",
    ]


def localstripe(
    name: str = "localstripe", log_path: Path | None = None, *, tied_to_parent: bool = False
) -> LocalProcess:
    """Start localstripe on a free port on 127.0.0.1 with a store of its own; returns the
    running process."""
    return start_on_free_port(
        name,
        localstripe_command,
        ready_path="/v1/balance",
        log_path=log_path,
        tied_to_parent=tied_to_parent,
        # localstripe adds a period's months in the machine's time zone; Stripe, in UTC.
        env={"TZ": "UTC"},
    )


def launch_localstripe(spec: LocalstripeLaunch, context: LaunchContext) -> LocalProcess:
    """localstripe on a free port of 127.0.0.1 with a store of its own (localstripe_command)."""
    return localstripe(context.target, context.log_path, tied_to_parent=True)


LAUNCHERS.register("localstripe", Launcher(LocalstripeLaunch, launch_localstripe))
