"""Targets in containers, against a real Docker engine: an image built FROM scratch (no
registry is reachable) holding busybox httpd and a CGI script that answers Stripe-shaped
JSON, launched as a target, replayed through, and gone afterwards whatever happens.

Tests marked `docker` need an engine: `.ci/run` starts one (dockerd --storage-driver=vfs
--iptables=false --bridge=none). Without one they are skipped, except under CI=true,
where a missing engine fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound
from parts import missing, static_busybox
from replayfixtures import exchange, recording
from sockets import is_loopback, listening, listening_on_port

from harness.errors import InfrastructureError
from harness.formats.rundir import load_run
from harness.model import Exchange
from harness.replay.launch.base import LaunchContext
from harness.replay.launch.docker import (
    LABEL_RUN,
    LABEL_TARGET,
    ContainerTarget,
    DockerLaunch,
    choose_network,
    plan_container,
)
from harness.replay.launch.stripemock import STRIPE_MOCK_IMAGE, STRIPE_MOCK_PORT, StripeMockLaunch

SHADOW = str(Path(sys.executable).parent / "shadow")
SERVER = Path(__file__).resolve().parent / "containerserver"
CUSTOMER = "cus_RecA1b2C3d4E5"

# --- fixtures: the engine, the image, a network ------------------------------------------


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerClient]:
    """The Docker engine DOCKER_HOST names, or the local one."""
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except DockerException:
        missing(
            "no Docker engine answers at "
            f"{os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}",
            "install Debian's docker.io and start one with "
            "`dockerd --storage-driver=vfs --iptables=false --bridge=none` (as .ci/run does)",
        )
    yield client
    client.close()


@pytest.fixture(scope="session")
def server_image(engine: DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """tests/containerserver built FROM scratch with the machine's static busybox, under a
    tag of this test session's own; removed at the end."""
    context = tmp_path_factory.mktemp("image")
    shutil.copytree(SERVER, context, dirs_exist_ok=True)
    shutil.copy(static_busybox(), context / "busybox")
    (context / "data").mkdir()
    (context / "data" / ".keep").touch()
    tag = f"stripe-shadow-test-server:{uuid.uuid4().hex[:12]}"
    engine.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
    yield tag
    engine.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def bridge_network(engine: DockerClient) -> Iterator[str]:
    """A bridge network of this test session's own (the engine may run without its default
    bridge, but can still create one)."""
    network = engine.networks.create(f"stripe-shadow-test-{uuid.uuid4().hex[:12]}", driver="bridge")
    yield str(network.name)
    network.remove()


# --- helpers -------------------------------------------------------------------------------


def customer_journey() -> list[Exchange]:
    """Create a customer, read it, delete it, miss it; read the balance."""
    customer = {
        "id": CUSTOMER,
        "object": "customer",
        "created": 1_700_000_000,
        "email": "jenny@example.com",
        "livemode": False,
        "metadata": {},
    }
    missing = {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": f"No such customer: '{CUSTOMER}'",
        }
    }
    balance = {
        "object": "balance",
        "available": [{"amount": 0, "currency": "usd"}],
        "livemode": False,
        "pending": [],
    }
    return [
        exchange(0, "POST", "/v1/customers", form="email=jenny%40example.com", answer=customer),
        exchange(1, "GET", f"/v1/customers/{CUSTOMER}", answer=customer),
        exchange(
            2,
            "DELETE",
            f"/v1/customers/{CUSTOMER}",
            answer={"id": CUSTOMER, "object": "customer", "deleted": True},
        ),
        exchange(3, "GET", f"/v1/customers/{CUSTOMER}", status=404, answer=missing),
        exchange(4, "GET", "/v1/balance", answer=balance),
    ]


def write_scenario(folder: Path, launch: str, exchanges: list[Exchange] | None = None) -> Path:
    """A scenario replaying `exchanges` (the customer journey) against one target `box`
    launched by `launch` (YAML under `launch:`), compared with the recording."""
    recording(folder / "r.jsonl", exchanges if exchanges is not None else customer_journey())
    scenario = folder / "s.yaml"
    scenario.write_text(
        "name: box\nrecording: r.jsonl\nbaseline: recording\nconcurrency: 1\ntargets:\n"
        "  - name: box\n    launch:\n" + "".join(f"      {line}\n" for line in launch.splitlines())
    )
    return scenario


def box(image: str, *extra: str) -> str:
    """The test image as a docker launch: httpd on the port it is given, the API under
    its CGI script."""
    lines = [
        "docker:",
        f"  image: {image}",
        "  base_path: /cgi-bin/stripe",
        "  ready_path: /v1/balance",
        *(f"  {line}" for line in extra),
    ]
    return "\n".join(lines)


def shadow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHADOW, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def labelled(engine: DockerClient, run_id: str) -> list[str]:
    """Names of the containers, running or not, that carry this run's label."""
    # The SDK inspects each listed container; one the reaper removes in between is skipped.
    containers = engine.containers.list(
        all=True, filters={"label": f"{LABEL_RUN}={run_id}"}, ignore_removed=True
    )
    return [c.name for c in containers]


def running(engine: DockerClient, run_id: str) -> int:
    containers = engine.containers.list(
        filters={"label": f"{LABEL_RUN}={run_id}"}, ignore_removed=True
    )
    return sum(1 for c in containers if c.status == "running")


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def run_id(out: Path) -> str:
    return str(json.loads((out / "run.json").read_text())["run_id"])


# --- plain data: where a container listens and how it is reached -------------------------


def test_with_host_networking_a_server_told_its_port_listens_on_a_free_one() -> None:
    spec = DockerLaunch(image="box", command="httpd -p 127.0.0.1:{port}", env={"PORT": "{port}"})
    plan = plan_container(spec, "host", 43123)
    assert plan.host_network and plan.listen_port == 43123 and plan.published == ()
    assert plan.command == ["httpd", "-p", "127.0.0.1:43123"] and plan.env == {"PORT": "43123"}


def test_with_host_networking_a_server_with_a_fixed_port_is_reached_there() -> None:
    plan = plan_container(DockerLaunch(image="box", ports=[8080]), "host", 43123)
    assert plan.listen_port == 8080 and plan.command is None


def test_on_a_network_a_server_listens_on_its_first_port_which_is_published() -> None:
    spec = DockerLaunch(image="box", ports=[8080, 8443], env={"PORT": "{port}"})
    plan = plan_container(spec, "billing-net", 43123)
    assert not plan.host_network and plan.listen_port == 8080
    assert plan.published == (8080, 8443) and plan.env == {"PORT": "8080"}


def test_auto_networking_is_the_bridge_when_the_engine_has_one_else_host() -> None:
    assert choose_network("auto", {"bridge", "host", "none"}) == "bridge"
    assert choose_network("auto", {"host", "none"}) == "host"
    assert choose_network("billing-net", {"billing-net", "host"}) == "billing-net"
    with pytest.raises(InfrastructureError, match="the engine has no network 'billing-net'"):
        choose_network("billing-net", {"host", "none"})


def test_the_stripe_mock_preset_is_the_official_image_serving_http_on_its_port() -> None:
    spec = StripeMockLaunch().container()
    assert spec.image == STRIPE_MOCK_IMAGE == "stripe/stripe-mock:latest"
    bridged = plan_container(spec, "bridge", 43123)
    https = ["-https-addr", "127.0.0.1:0"]
    assert bridged.entrypoint == ["/bin/stripe-mock", "-http-addr", "0.0.0.0:12111", *https]
    assert bridged.published == (STRIPE_MOCK_PORT,) == (12111,)
    hosted = plan_container(spec, "host", 43123)
    assert hosted.entrypoint == ["/bin/stripe-mock", "-http-addr", "127.0.0.1:43123", *https]


# --- a real engine ---------------------------------------------------------------------------


@pytest.mark.docker
def test_a_container_target_answers_the_replay_and_is_gone_afterwards(
    engine: DockerClient, server_image: str, tmp_path: Path
) -> None:
    scenario = write_scenario(
        tmp_path, box(server_image, 'env: {PORT: "{port}", HOST: 127.0.0.1}', "network: host")
    )
    out = tmp_path / "run"
    done = shadow("replay", str(scenario), "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    run = load_run(out)
    url = run.target("box").url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert url.endswith("/cgi-bin/stripe")
    statuses = {seq: e.response.status for seq, e in run.exchanges("box").items() if e.response}
    assert statuses == {0: 200, 1: 200, 2: 200, 3: 404, 4: 200}
    assert labelled(engine, run.info.run_id) == []  # removed, not only stopped

    log = (out / "box.log").read_text()
    assert f"test server: listening on 127.0.0.1:{url.split(':')[2].split('/')[0]}" in log
    assert "test server: POST /v1/customers" in log
    assert "test server: DELETE /v1/customers/cus_" in log

    compared = shadow("compare", str(out))
    assert compared.returncode == 0, compared.stderr
    assert "box vs recording: 5 exchanges: 5 match" in compared.stdout


@pytest.mark.docker
@pytest.mark.parametrize("network", ["host", "bridge"])
def test_a_container_target_listens_on_loopback_only(
    engine: DockerClient,
    server_image: str,
    network: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """With host networking the server is told `{host}`, 127.0.0.1, and listens there; on a
    network of its own it listens on the container's addresses, and the engine publishes
    its port on the machine's 127.0.0.1 only. Either way nothing else of the machine
    listens on its port."""
    name = str(request.getfixturevalue("bridge_network")) if network == "bridge" else "host"
    spec = DockerLaunch(
        image=server_image,
        env={"PORT": "{port}", "HOST": "{host}"},
        ports=[8080] if network == "bridge" else [],
        network=name,
        base_path="/cgi-bin/stripe",
        ready_path="/v1/balance",
    )
    target = ContainerTarget(spec, LaunchContext("box", tmp_path, tmp_path / "box.log", "sockets"))
    target.start()
    try:
        port = int(target.url.split(":")[2].split("/")[0])
        on_port = listening_on_port(port)
        assert on_port and all(is_loopback(host) for host, _ in on_port), on_port
        container = engine.containers.get(target.container_name)
        if network == "host":
            # Every socket the container's processes listen on, whatever its port.
            found = listening([int(container.attrs["State"]["Pid"])])
            assert found == {("127.0.0.1", port)}, found
    finally:
        target.stop()


@pytest.mark.docker
def test_a_container_on_a_network_of_its_own_is_reached_through_its_published_port(
    engine: DockerClient, server_image: str, bridge_network: str, tmp_path: Path
) -> None:
    scenario = write_scenario(
        tmp_path,
        box(server_image, 'env: {PORT: "{port}"}', "ports: [8080]", f"network: {bridge_network}"),
    )
    out = tmp_path / "run"
    done = shadow("replay", str(scenario), "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    run = load_run(out)
    url = run.target("box").url
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert not url.startswith("http://127.0.0.1:8080/")  # the published port, not its own
    assert "test server: listening on 0.0.0.0:8080" in (out / "box.log").read_text()
    assert labelled(engine, run.info.run_id) == []
    compared = shadow("compare", str(out))
    assert "box vs recording: 5 exchanges: 5 match" in compared.stdout, compared.stderr


@pytest.mark.docker
def test_a_container_that_exits_before_it_is_ready_is_exit_code_3_with_its_last_lines(
    engine: DockerClient, server_image: str, tmp_path: Path
) -> None:
    scenario = write_scenario(
        tmp_path, box(server_image, 'env: {PORT: "{port}", FAIL: "no billing config"}')
    )
    out = tmp_path / "run"
    done = shadow("replay", str(scenario), "--out", str(out), "--no-progress")
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("shadow: error: target box: container stripe-shadow-box-")
    assert f"({server_image}) exited with code 3 before it was ready" in done.stderr
    assert done.stderr.rstrip().endswith(
        "last log lines: test server: cannot start: no billing config"
    )
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "cannot start: no billing config" in (out / "box.log").read_text()
    run = load_run(out)
    assert run.status == "failed" and "exited with code 3" in run.info.error
    assert labelled(engine, run.info.run_id) == []


@pytest.mark.docker
def test_a_container_the_engine_cannot_start_is_exit_code_3_with_the_engines_reason(
    engine: DockerClient, server_image: str, tmp_path: Path
) -> None:
    launch = box(server_image, "entrypoint: [/bin/no-such-server]", "ports: [8080]")
    out = tmp_path / "run"
    done = shadow("replay", str(write_scenario(tmp_path, launch)), "--out", str(out))
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("shadow: error: target box: docker: ")
    assert '"/bin/no-such-server": stat /bin/no-such-server: no such file' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert labelled(engine, run_id(out)) == []


@pytest.mark.docker
def test_a_container_that_never_answers_is_given_up_after_ready_timeout(
    engine: DockerClient, server_image: str, tmp_path: Path
) -> None:
    launch = box(
        server_image,
        'entrypoint: ["/bin/busybox", "sh", "-c", '
        "\"trap 'exit 0' TERM; echo waiting for nothing; sleep 600 & wait\"]",
        "ports: [9]",
        "network: host",
        "ready_timeout: 1",
    )
    out = tmp_path / "run"
    done = shadow("replay", str(write_scenario(tmp_path, launch)), "--out", str(out))
    assert done.returncode == 3, done.stderr
    assert "/cgi-bin/stripe/v1/balance did not answer within 1 s" in done.stderr
    assert done.stderr.rstrip().endswith("last log lines: waiting for nothing")
    assert labelled(engine, run_id(out)) == []


@pytest.mark.docker
def test_the_stripe_mock_preset_without_a_binary_pulls_its_image_and_says_it_cannot(
    engine: DockerClient, tmp_path: Path
) -> None:
    """No registry is reachable here: the pull fails (or gives up after pull_timeout), and
    the replay ends with exit code 3 naming the image."""
    image = f"stripe/stripe-mock:shadow-absent-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ImageNotFound):
        engine.images.get(image)
    path = os.pathsep.join(
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if not (Path(folder) / "stripe-mock").exists()
    )
    scenario = write_scenario(tmp_path, f"stripe-mock: {{image: '{image}', pull_timeout: 30}}")
    done = shadow("replay", str(scenario), "--out", str(tmp_path / "run"), env={"PATH": path})
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"shadow: error: target box: docker: image {image} is not on ")
    assert "build it or `docker load` it first" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.docker
def test_a_pull_from_a_registry_that_never_answers_gives_up_after_pull_timeout(
    engine: DockerClient, tmp_path: Path
) -> None:
    """A registry of our own on 127.0.0.1 that accepts connections and never answers: the
    engine itself would wait about 25 s; the pull is abandoned after pull_timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        image = f"127.0.0.1:{listener.getsockname()[1]}/stripe-mock:latest"
        scenario = write_scenario(
            tmp_path, f"docker: {{image: '{image}', ports: [12111], pull_timeout: 2}}"
        )
        done = shadow("replay", str(scenario), "--out", str(tmp_path / "run"))
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        listener.close()
    assert done.returncode == 3, done.stderr
    assert f"image {image} is not on this machine and pulling it did not finish" in done.stderr
    assert "within pull_timeout (2 s): no registry answered in time" in done.stderr
    assert accepted  # the engine did try our registry


def test_an_engine_that_cannot_be_reached_is_exit_code_3(tmp_path: Path) -> None:
    socket_path = tmp_path / "no-engine.sock"
    scenario = write_scenario(tmp_path, "docker: {image: anything, ports: [8080]}")
    done = shadow(
        "replay",
        str(scenario),
        "--out",
        str(tmp_path / "run"),
        env={"DOCKER_HOST": f"unix://{socket_path}"},
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == (
        f"shadow: error: target box: docker: cannot reach the Docker engine at "
        f"unix://{socket_path}: start dockerd or set DOCKER_HOST"
    )


def slow_balances(count: int) -> list[Exchange]:
    """`count` reads of the balance, each its own journey."""
    return [exchange(i, "GET", "/v1/balance", answer={"object": "balance"}) for i in range(count)]


def result_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") - 1 if path.exists() else 0


@pytest.mark.docker
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_containers_never_outlive_the_replay(
    engine: DockerClient, server_image: str, tmp_path: Path, stop: signal.Signals
) -> None:
    launch = box(server_image, 'env: {PORT: "{port}", HOST: 127.0.0.1, DELAY: "0.3"}')
    scenario = write_scenario(tmp_path, launch, slow_balances(40))
    out = tmp_path / "run"
    replay = subprocess.Popen(
        [SHADOW, "replay", str(scenario), "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: result_lines(out / "box.jsonl") >= 2)
        run = run_id(out)
        [name] = labelled(engine, run)
        assert engine.containers.get(name).labels[LABEL_TARGET] == "box"
    finally:
        replay.send_signal(stop)
        _, stderr = replay.communicate(timeout=60)
    assert wait_until(lambda: labelled(engine, run) == [])
    if stop == signal.SIGKILL:
        assert replay.returncode == -signal.SIGKILL
    else:
        assert replay.returncode == 130, stderr
        assert stderr.strip().endswith("shadow: interrupted") and "Traceback" not in stderr
        assert load_run(out).status == "interrupted"
    assert wait_until(lambda: "test server: GET /v1/balance" in (out / "box.log").read_text())


@pytest.mark.docker
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_container_interrupted_while_it_starts_is_removed(
    engine: DockerClient, server_image: str, tmp_path: Path, stop: signal.Signals
) -> None:
    launch = box(
        server_image,
        'entrypoint: ["/bin/busybox", "sh", "-c", "trap \'exit 0\' TERM; sleep 600 & wait"]',
        "ports: [9]",
        "network: host",
        "ready_timeout: 120",
    )
    out = tmp_path / "run"
    replay = subprocess.Popen(
        [SHADOW, "replay", str(write_scenario(tmp_path, launch)), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: (out / "run.json").exists())
        run = run_id(out)
        # running, so the reaper (started before the container is) watches it
        assert wait_until(lambda: running(engine, run) == 1)
    finally:
        replay.send_signal(stop)
        _, stderr = replay.communicate(timeout=60)
    assert wait_until(lambda: labelled(engine, run) == [])
    if stop == signal.SIGINT:
        assert replay.returncode == 130 and "Traceback" not in stderr, stderr
