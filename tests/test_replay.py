"""`shadow replay` end to end: real localstripe targets, the real CLI as a process, a
seeded migration, resume after SIGKILL, and launched targets stopped whatever happens."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import stripe
from replayfixtures import exchange, fault_server, recording, server_stats

from harness.formats.recording import iter_exchanges
from harness.formats.results import latest_exchanges
from harness.formats.rundir import load_run
from harness.model import Exchange
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from harness.replay.session import few_collections, start_replay
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
SHADOW = str(Path(sys.executable).parent / "shadow")

pytestmark = pytest.mark.e2e


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def wait_until(condition: object, seconds: float = 30.0) -> bool:
    """Poll `condition()` until it holds or `seconds` pass; returns whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") - 1 if path.exists() else 0


def stopped_replay(
    scenario: Path, out: Path, stop: signal.Signals, while_running: Callable[[], object]
) -> tuple[int, str]:
    """Start `shadow replay SCENARIO --out OUT`, call `while_running` (it waits for a state
    and checks it), then send `stop` whatever happened; returns the exit code and stderr."""
    replay = subprocess.Popen(
        [SHADOW, "replay", str(scenario), "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while_running()
    finally:
        replay.send_signal(stop)
        _, stderr = replay.communicate(timeout=60)
    return replay.returncode, stderr


def resumed(out: Path) -> subprocess.CompletedProcess[str]:
    """`shadow replay --resume OUT`, run to its end."""
    return subprocess.run(
        [SHADOW, "replay", "--resume", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_twin_demo_replays_every_exchange_against_two_localstripes(tmp_path: Path) -> None:
    """scenarios/twin.yaml: recordings/demo.jsonl against two localstripe instances at once.

    localstripe is nondeterministic in ids, timestamps, and the order of list items made
    within the same second (an unscoped list of refunds or invoices); none of that
    changes a status, so every status must match the recorded one.
    """
    out = tmp_path / "run"
    done = subprocess.run(
        [SHADOW, "replay", str(REPO / "scenarios" / "twin.yaml"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert "replay: control: 85/85 done" in done.stderr  # plain progress lines off a terminal

    recorded = {e.seq: e for e in iter_exchanges(REPO / "recordings" / "demo.jsonl")}
    run = load_run(out)
    assert run.status == "finished" and run.baseline == "control"
    targets: dict[str, set[str]] = {}
    for name in ("control", "twin"):
        replayed = run.exchanges(name)
        assert set(replayed) == set(recorded)  # every exchange accounted for
        assert [
            seq for seq, e in replayed.items() if e.extra["unresolved"] or e.extra["skipped"]
        ] == []
        statuses = {
            seq: e.response.status if e.response else e.error for seq, e in replayed.items()
        }
        assert statuses == {seq: e.response.status for seq, e in recorded.items() if e.response}
        assert "sk_test_shadowlocalstripe" not in run.target_file(name).read_text()
        assert "4242424242424242" not in run.target_file(name).read_text()  # redacted again
        targets[name] = set(run.idmap(name).values())
        assert (out / f"{name}.log").exists()
    # Two stores of their own: no object of one is an object of the other.
    created = {v for v in targets["control"] if v.startswith(("cus_", "pi_", "sub_"))}
    assert created and not created & targets["twin"]
    assert json.loads((out / "run.json").read_text())["results"]["twin"]["unresolved"] == 0
    for target in run.targets:
        assert target.url is not None and not answers(target.url + "/v1/balance")  # stopped


def test_a_seed_mapping_replays_onto_objects_that_already_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account-to-account migration: the customer exists on the target under another id."""
    with localstripe(log_path=tmp_path / "localstripe.log") as target:
        client = stripe.StripeClient(LOCALSTRIPE_TEST_KEY, base_addresses={"api": target.url})
        migrated = client.v1.customers.create(params={"email": "jenny@example.com"})
        recording(
            tmp_path / "r.jsonl",
            [
                exchange(
                    0,
                    "GET",
                    "/v1/customers/cus_OLDACCOUNT01",
                    answer={"id": "cus_OLDACCOUNT01", "object": "customer"},
                ),
                exchange(
                    1,
                    "POST",
                    "/v1/customers/cus_OLDACCOUNT01",
                    form="metadata[plan]=gold",
                    answer={"id": "cus_OLDACCOUNT01", "object": "customer"},
                ),
                exchange(
                    2,
                    "POST",
                    "/v1/payment_methods",
                    form="type=card&card[number]=<redacted:card:4242>&card[exp_month]=12"
                    "&card[exp_year]=2034&card[cvc]=<redacted:cvc>",
                    answer={"id": "pm_OLDACCOUNT01", "object": "payment_method"},
                ),
                exchange(
                    3,
                    "POST",
                    "/v1/payment_methods/pm_OLDACCOUNT01/attach",
                    form="customer=cus_OLDACCOUNT01",
                    answer={
                        "id": "pm_OLDACCOUNT01",
                        "object": "payment_method",
                        "customer": "cus_OLDACCOUNT01",
                    },
                ),
            ],
        )
        (tmp_path / "map.csv").write_text(f"old_id,new_id\ncus_OLDACCOUNT01,{migrated.id}\n")
        monkeypatch.setenv("NEW_ACCOUNT_KEY", LOCALSTRIPE_TEST_KEY)
        (tmp_path / "s.yaml").write_text(
            "name: migrate\nrecording: r.jsonl\nbaseline: recording\n"
            f"targets: [{{name: new, url: '{target.url}', api_key_env: NEW_ACCOUNT_KEY, "
            "id_map: map.csv}]\n"
        )
        start_replay(load_scenario(tmp_path / "s.yaml"), out=tmp_path / "run")
        replayed = load_run(tmp_path / "run").exchanges("new")
        assert [replayed[seq].response.status for seq in range(4)] == [200] * 4  # type: ignore[union-attr]
        assert replayed[0].request.path == f"/v1/customers/{migrated.id}"
        assert all(not e.extra["unresolved"] for e in replayed.values())
        attached = client.v1.payment_methods.list(params={"customer": migrated.id, "type": "card"})
        assert [pm.card.last4 for pm in attached.data] == ["4242"]  # type: ignore[union-attr]
        assert client.v1.customers.retrieve(migrated.id).metadata["plan"] == "gold"


@pytest.fixture
def faults(tmp_path: Path) -> Iterator[str]:
    with fault_server(tmp_path / "faults.log") as server:
        yield server.url


def slow_journeys(count: int) -> list[Exchange]:
    """`count` journeys of two exchanges: one creates an object, the next acts on it; every
    answer comes after a quarter of a second."""
    out: list[Exchange] = []
    for i in range(count):
        recorded_id = f"cus_REC{i:08d}"
        out.append(
            exchange(
                2 * i,
                "POST",
                f"/v1/hang/c{i}",
                query="times=99&hang=0.25",
                answer={"id": recorded_id, "object": "thing"},
            )
        )
        out.append(
            exchange(
                2 * i + 1,
                "POST",
                f"/v1/hang/{recorded_id}",
                query="times=99&hang=0.25",
                answer={"id": recorded_id, "object": "thing"},
            )
        )
    return out


def test_resume_after_sigkill_sends_a_url_target_only_what_it_did_not_answer(
    tmp_path: Path, faults: str
) -> None:
    recording(tmp_path / "r.jsonl", slow_journeys(16))
    (tmp_path / "s.yaml").write_text(
        "name: slow\nrecording: r.jsonl\nconcurrency: 2\n"
        f"targets: [{{name: slow, url: '{faults}'}}]\n"
    )
    out = tmp_path / "run"
    results = out / "slow.jsonl"

    def some_results() -> None:
        assert wait_until(lambda: lines(results) >= 9)

    stopped_replay(tmp_path / "s.yaml", out, signal.SIGKILL, some_results)
    assert load_run(out).status == "running"  # it never had the chance to say otherwise
    before = latest_exchanges(results)
    finished = [i for i in range(16) if 2 * i in before and 2 * i + 1 in before]
    assert 0 < len(finished) < 16

    done = resumed(out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    after = latest_exchanges(results)
    assert sorted(after) == list(range(32))
    assert all(e.response is not None and e.response.status == 200 for e in after.values())
    stats = server_stats(faults)
    for i in finished:  # a journey finished before the kill was not sent again
        assert len(stats[f"/v1/hang/c{i}"]) == 1 and len(stats[f"/v1/hang/obj_c{i}"]) == 1
    for seq, result in before.items():  # nor any exchange answered before it
        assert after[seq].started == result.started
        assert len(stats[result.request.path]) == 1
    idmap = load_run(out).idmap("slow")
    assert idmap == {f"cus_REC{i:08d}": f"obj_c{i}" for i in range(16)}  # finished ones re-learnt
    run = load_run(out)
    assert run.status == "finished" and len(run.info.resumed) == 1
    assert run.info.results["slow"]["exchanges"] == 32
    again = subprocess.run(
        [SHADOW, "replay", "--resume", str(out)], capture_output=True, text=True, check=False
    )
    assert again.returncode == 2 and "finished already" in again.stderr


def test_a_delete_in_flight_when_the_replay_is_killed_is_in_doubt_not_sent_again(
    tmp_path: Path, faults: str
) -> None:
    # Stripe takes no Idempotency-Key on a DELETE: sent again, it would answer 404.
    recording(
        tmp_path / "r.jsonl",
        [
            exchange(0, "DELETE", "/v1/hang/cus_GONE0001", query="times=99&hang=30"),
            exchange(1, "POST", "/v1/ok/c1", answer={"id": "cus_KEPT0001", "object": "thing"}),
        ],
    )
    (tmp_path / "s.yaml").write_text(
        "name: doubt\nrecording: r.jsonl\nbaseline: recording\non_unresolved: send\n"
        f"targets: [{{name: kept, url: '{faults}'}}]\n"
    )
    out = tmp_path / "run"

    def in_flight() -> None:
        assert wait_until(lambda: "/v1/hang/cus_GONE0001" in server_stats(faults))

    stopped_replay(tmp_path / "s.yaml", out, signal.SIGKILL, in_flight)
    done = resumed(out)
    assert done.returncode == 0, done.stderr
    results = latest_exchanges(out / "kept.jsonl")
    assert results[0].response is None and results[0].extra["in_doubt"]
    assert results[0].error is not None and results[0].error.startswith(
        "in doubt: the replay was stopped while this DELETE was in flight"
    )
    assert results[1].response is not None and results[1].response.status == 200
    assert len(server_stats(faults)["/v1/hang/cus_GONE0001"]) == 1  # not sent again


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_launched_targets_never_outlive_the_replay(tmp_path: Path, stop: signal.Signals) -> None:
    command = f"{sys.executable} {REPO / 'tests' / 'faultserver.py'} --port {{port}}"
    recording(tmp_path / "r.jsonl", slow_journeys(12))
    (tmp_path / "s.yaml").write_text(
        "name: launched\nrecording: r.jsonl\nconcurrency: 1\ntargets:\n"
        "  - {name: local, launch: localstripe}\n"
        f"  - name: slow\n    launch: {{command: '{command}', url: 'http://127.0.0.1:{{port}}', "
        "ready_path: /_ready}\n"
    )
    out = tmp_path / "run"
    urls: dict[str, str] = {}

    def both_answering() -> None:
        assert wait_until(lambda: lines(out / "slow.jsonl") >= 2)
        urls.update({t.name: t.url for t in load_run(out).targets})
        assert answers(f"{urls['local']}/v1/balance") and answers(f"{urls['slow']}/_ready")

    returncode, stderr = stopped_replay(tmp_path / "s.yaml", out, stop, both_answering)
    assert wait_until(lambda: not answers(f"{urls['local']}/v1/balance"), 15)
    assert wait_until(lambda: not answers(f"{urls['slow']}/_ready"), 15)
    run = load_run(out)
    if stop == signal.SIGKILL:
        assert returncode == -signal.SIGKILL and run.status == "running"
    else:
        assert returncode == 130, stderr
        assert stderr.strip().endswith("shadow: interrupted")
        assert run.status == "interrupted" and (out / "slow.idmap.json").exists()
        assert "Traceback" not in stderr
    assert os.path.exists(out / "slow.log") and os.path.exists(out / "local.log")


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_what_a_launched_program_starts_ends_with_the_replay(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # A wrapper script, as launch commands often are: a helper in the background, one
    # more in a session of its own (out of the process group), then the server itself.
    (tmp_path / "serve.sh").write_text(
        "#!/bin/sh\n"
        "sleep 300 &\n"
        "echo $! > helper.pid\n"
        "setsid sleep 300 &\n"
        "echo $! > escaped.pid\n"
        "echo $$ > server.pid\n"
        f'exec {sys.executable} {REPO / "tests" / "faultserver.py"} --port "$1"\n'
    )
    (tmp_path / "serve.sh").chmod(0o755)
    recording(tmp_path / "r.jsonl", slow_journeys(12))
    (tmp_path / "s.yaml").write_text(
        "name: wrapped\nrecording: r.jsonl\nconcurrency: 1\ntargets:\n"
        "  - name: slow\n    launch: {command: './serve.sh {port}', "
        "url: 'http://127.0.0.1:{port}', ready_path: /_ready}\n"
    )
    out = tmp_path / "run"

    def serving() -> None:
        assert wait_until(lambda: lines(out / "slow.jsonl") >= 2)

    stopped_replay(tmp_path / "s.yaml", out, stop, serving)
    pids = {
        name: int((tmp_path / f"{name}.pid").read_text())
        for name in ("helper", "escaped", "server")
    }
    assert wait_until(lambda: all(gone(pid) for pid in pids.values()), 15), pids


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_replay_stopped_while_a_target_starts_says_interrupted_and_stops_it(
    tmp_path: Path, stop: signal.Signals
) -> None:
    recording(tmp_path / "r.jsonl", [exchange(0, "GET", "/v1/balance")])
    # Never answers: the replay is still waiting for it to be ready when it is stopped.
    (tmp_path / "sleeper.py").write_text(
        "import os, pathlib, time\n"
        # Written whole, then renamed: the test never reads a half-written pid.
        "pathlib.Path('sleeper.tmp').write_text(str(os.getpid()))\n"
        "os.replace('sleeper.tmp', 'sleeper.pid')\n"
        "time.sleep(120)\n"
    )
    command = f"{sys.executable} sleeper.py"  # run in the scenario's folder
    (tmp_path / "s.yaml").write_text(
        "name: starting\nrecording: r.jsonl\ntargets:\n"
        f"  - name: slow\n    launch: {{command: '{command}', url: 'http://127.0.0.1:{{port}}'}}\n"
    )
    out = tmp_path / "run"

    def starting() -> None:
        assert wait_until(lambda: (tmp_path / "sleeper.pid").exists())

    returncode, stderr = stopped_replay(tmp_path / "s.yaml", out, stop, starting)
    assert returncode == 130, stderr
    assert stderr.strip().endswith("shadow: interrupted") and "Traceback" not in stderr
    run = load_run(out)
    assert run.status == "interrupted" and run.info.finished
    pid = int((tmp_path / "sleeper.pid").read_text())
    assert wait_until(lambda: gone(pid), 15)


def test_a_target_that_cannot_start_is_exit_code_3_and_nothing_is_left_running(
    tmp_path: Path,
) -> None:
    recording(tmp_path / "r.jsonl", [exchange(0, "GET", "/v1/balance")])
    (tmp_path / "broken.py").write_text("import sys\nprint('no config')\nsys.exit(3)\n")
    command = f"{sys.executable} broken.py"  # run in the scenario's folder
    (tmp_path / "s.yaml").write_text(
        "name: broken\nrecording: r.jsonl\ntargets:\n"
        "  - {name: local, launch: localstripe}\n"
        f"  - name: broken\n    launch: {{command: '{command}', url: 'http://127.0.0.1:{{port}}'}}\n"
    )
    out = tmp_path / "run"
    done = subprocess.run(
        [SHADOW, "replay", str(tmp_path / "s.yaml"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("shadow: error: target broken: ")
    assert "exited with code 3 before it was ready; last output: no config" in done.stderr
    run = load_run(out)
    assert run.status == "failed" and "exited with code 3" in run.info.error
    local = run.target("local").url
    assert local is None or not answers(f"{local}/v1/balance")


def test_the_garbage_collector_is_left_as_it_was_after_the_engine_ran() -> None:
    """While the engine runs, start-up's objects are frozen out of collections and the
    youngest generation is collected less often; afterwards (even after an error) the
    process collects as it did (a test run, a cluster worker go on in it)."""
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] > thresholds[0]
        assert gc.get_freeze_count() > frozen
        raise RuntimeError("the replay failed")
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen or frozen > 0  # another's freeze stays
