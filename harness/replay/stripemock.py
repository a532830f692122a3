"""`launch: stripe-mock`: Stripe's official emulator as a target. A `stripe-mock` binary on
PATH runs as a local process on a free port; without one, the image runs as a container
(harness.replay.container). Either way it serves plain HTTP only (`-http-port`).

stripe-mock is stateless: it validates each request against Stripe's OpenAPI spec and
answers a fixture with a random id, `created: 1234567890` and `Request-Id: req_123`
(compare knows those fixed values as noise).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from harness.containerspec import StripeMockLaunch
from harness.process import start_on_free_port
from harness.replay.container import ContainerTarget

if TYPE_CHECKING:
    from harness.replay.targets import LaunchContext, Launched
    from harness.scenario import TargetSpec

BINARY = "stripe-mock"


def stripe_mock_command(binary: str, port: int) -> list[str]:
    """Plain HTTP on `port` only (given a port, stripe-mock opens no HTTPS listener)."""
    return [binary, "-http-port", str(port)]


def launch_stripe_mock(target: TargetSpec, context: LaunchContext) -> Launched:
    spec = target.launch
    assert isinstance(spec, StripeMockLaunch)
    binary = shutil.which(BINARY)
    if binary is None:
        return ContainerTarget(target, spec.container(), context).start()
    return start_on_free_port(
        target.name,
        lambda port: stripe_mock_command(binary, port),
        ready_path="/v1/balance",
        ready_timeout=spec.ready_timeout,
        log_path=context.log_path,
        tied_to_parent=True,
    )
