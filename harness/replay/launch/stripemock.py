"""`launch: stripe-mock`: Stripe's official emulator as a target. A `stripe-mock` binary on
PATH runs as a local process on a free port of 127.0.0.1; without one, the image runs as a
container (harness.replay.launch.docker). Either way the replay uses its plain HTTP
listener, and its HTTPS one listens on a port of 127.0.0.1 the kernel picks.

stripe-mock is stateless: it validates each request against Stripe's OpenAPI spec and
answers a fixture with a random id, `created: 1234567890` and `Request-Id: req_123`
(compare knows those fixed values as noise).
"""

from __future__ import annotations

import shutil
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.replay.launch.base import LAUNCHERS, LaunchContext, Launched, Launcher, LaunchOptions
from harness.replay.launch.docker import HOST, PORT, ContainerTarget, DockerLaunch
from harness.replay.launch.process import start_on_free_port

BINARY = "stripe-mock"
STRIPE_MOCK_IMAGE = "stripe/stripe-mock:latest"
STRIPE_MOCK_PORT = 12111
# stripe-mock accepts any test-mode key and refuses requests without one.
STRIPE_MOCK_TEST_KEY = "sk_test_123"


class StripeMockLaunch(LaunchOptions):
    """Stripe's official emulator: a `stripe-mock` binary on PATH as a local process, else
    the image as a container."""

    kind: Literal["stripe-mock"] = "stripe-mock"
    fixed_key: ClassVar[str | None] = STRIPE_MOCK_TEST_KEY
    image: str = Field(default=STRIPE_MOCK_IMAGE, min_length=1)
    network: str = "auto"
    ready_timeout: float = Field(default=60.0, gt=0, le=600)
    pull_timeout: float = Field(default=120.0, gt=0, le=3600)

    def container(self) -> DockerLaunch:
        """The container that runs it; the image's own entrypoint fixes both ports, so it
        is replaced by one that serves plain HTTP on the address given."""
        return DockerLaunch(
            image=self.image,
            entrypoint=["/bin/stripe-mock", *_listen(f"{HOST}:{PORT}")],
            ports=[STRIPE_MOCK_PORT],
            network=self.network,
            ready_path="/v1/balance",
            ready_timeout=self.ready_timeout,
            pull_timeout=self.pull_timeout,
        )

    def to_json(self) -> Any:
        options = self.model_dump(exclude={"kind"}, exclude_defaults=True)
        return {"stripe-mock": options} if options else "stripe-mock"


def _listen(http_address: str) -> list[str]:
    """stripe-mock's options for HTTP on `http_address` and HTTPS on a port of 127.0.0.1
    the kernel picks. Without an HTTPS address it listens for HTTPS on every interface on
    12112 (`-http-addr` alone does not turn HTTPS off), which parallel instances share."""
    return ["-http-addr", http_address, "-https-addr", "127.0.0.1:0"]


def stripe_mock_command(binary: str, port: int) -> list[str]:
    """Plain HTTP on 127.0.0.1:`port`, HTTPS on a port of 127.0.0.1 nobody uses."""
    return [binary, *_listen(f"127.0.0.1:{port}")]


def launch_stripe_mock(spec: StripeMockLaunch, context: LaunchContext) -> Launched:
    binary = shutil.which(BINARY)
    if binary is None:
        return ContainerTarget(spec.container(), context).start()
    return start_on_free_port(
        context.target,
        lambda port: stripe_mock_command(binary, port),
        ready_path="/v1/balance",
        ready_timeout=spec.ready_timeout,
        log_path=context.log_path,
        tied_to_parent=True,
    )


LAUNCHERS.register("stripe-mock", Launcher(StripeMockLaunch, launch_stripe_mock))
