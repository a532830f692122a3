"""Migrated setups: mapping files in every shape and every mistake they can hold, and the
account-to-account migration demo end to end (a copied localstripe, its mapping file, a
replay with no unresolved reference)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.errors import InputError
from harness.formats.mapping import read_mapping_file
from harness.formats.recording import iter_exchanges
from harness.formats.rundir import load_run
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from harness.stripe import ID_PREFIXES, id_prefix
from scenarios.migration.new_account import new_account

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "migrated-account.yaml"
RECORDING = ROOT / "recordings" / "migrated-account.jsonl"


def mapping(tmp_path: Path, name: str, text: str) -> dict[str, str]:
    path = tmp_path / name
    path.write_text(text)
    return read_mapping_file(path)


def mistake(tmp_path: Path, name: str, text: str) -> str:
    with pytest.raises(InputError) as caught:
        mapping(tmp_path, name, text)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / name)) and "\n" not in message
    return message[len(str(tmp_path)) + 1 :]


# --- shapes --------------------------------------------------------------------------------


def test_a_csv_may_carry_a_type_column_and_a_header_in_any_order(tmp_path: Path) -> None:
    expected = {"cus_Old00000001": "cus_New00000001", "gold": "price_New0000001"}
    assert (
        mapping(
            tmp_path,
            "a.csv",
            "cus_Old00000001,cus_New00000001,customer\ngold,price_New0000001,plan\n",
        )
        == expected
    )
    assert (
        mapping(
            tmp_path,
            "b.csv",
            "type,new_id,old_id\ncustomer,cus_New00000001,cus_Old00000001\n\n"
            "plan,price_New0000001,gold\n",
        )
        == expected
    )


def test_a_copys_csv_maps_each_column_pair_and_may_repeat_a_customer(tmp_path: Path) -> None:
    text = (
        "customer_id_old,source_id_old,customer_id_new,source_id_new\n"
        "cus_Old00000001,card_Old0000001,cus_Old00000001,card_New0000001\n"
        "cus_Old00000001,card_Old0000002,cus_Old00000001,card_New0000002\n"
        "cus_Old00000002,,cus_Old00000002,\n"
    )
    assert mapping(tmp_path, "copy.csv", text) == {
        "cus_Old00000001": "cus_Old00000001",  # a copy keeps customer ids
        "card_Old0000001": "card_New0000001",
        "card_Old0000002": "card_New0000002",
        "cus_Old00000002": "cus_Old00000002",
    }


def test_the_nested_json_of_a_migration_maps_every_level(tmp_path: Path) -> None:
    data = {
        "customers": {
            "cus_Old00000001": {
                "id": "cus_New00000001",
                "sources": {"card_Old0000001": {"id": "card_New0000001", "fingerprint": "x"}},
                "metadata": {},
            }
        },
        "payment_methods": {"pm_Old000000001": {"id": "pm_New000000001"}},
    }
    assert mapping(tmp_path, "m.json", json.dumps(data)) == {
        "cus_Old00000001": "cus_New00000001",
        "card_Old0000001": "card_New0000001",
        "pm_Old000000001": "pm_New000000001",
    }
    listed = [{"old_id": "pm_Old000000001", "new_id": "pm_New000000001", "type": "payment_method"}]
    assert mapping(tmp_path, "l.json", json.dumps(listed)) == {"pm_Old000000001": "pm_New000000001"}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("m.csv", "cus_12,cus_New00000001\n", "m.csv:1: cus_12 is a malformed id: a customer id"),
        ("m.csv", "cus_Old00000001,cus New\n", "m.csv:1: 'cus New' is a malformed id"),
        (
            "m.csv",
            "old_id,new_id\ncust_A1b2C3d4E5,cus_New00000001\n",
            "m.csv:2: cust_A1b2C3d4E5: unknown id prefix cust_",
        ),
        (
            "m.csv",
            "cus_Old00000001,pm_New000000001\n",
            "m.csv:1: cus_Old00000001 is a customer but pm_New000000001 is a payment_method",
        ),
        (
            "m.csv",
            "pm_Old000000001,pm_New000000001,customer\n",
            "m.csv:1: pm_Old000000001 is a payment_method id, but the type column says customer",
        ),
        ("m.csv", "gold,silver,planet\n", "m.csv:1: unknown type 'planet'"),
        (
            "m.csv",
            "cus_Old00000001,cus_New00000001\ncus_Old00000001,cus_New00000001\n",
            "m.csv:2: cus_Old00000001 is listed twice (first at line 1)",
        ),
        (
            "m.csv",
            "cus_Old00000001,cus_New00000001\ncus_Old00000001,cus_New00000002\n",
            "m.csv:2: cus_Old00000001 is mapped twice (cus_New00000001 at line 1, cus_New00000002",
        ),
        (
            "m.csv",
            "cus_Old00000001,cus_New00000001\ncus_Old00000002,cus_New00000001\n",
            "m.csv:2: cus_New00000001 is the new id of both cus_Old00000001 and cus_Old00000002",
        ),
        (
            "m.csv",
            "req_A1b2C3d4E5F6,cus_New00000001\n",
            "m.csv:1: req_A1b2C3d4E5F6 is a request id",
        ),
        ("m.csv", "old_id,new,type,old\nx,y,z,w\n", "m.csv:1: header old_id,new,type,old"),
        (
            "m.json",
            '{"customers": {"cus_Old00000001": {"id": "cus_1"}}}',
            "m.json: customers.cus_Old00000001: cus_1 is a malformed id",
        ),
        (
            "m.json",
            '{"customers": {"cus_Old00000001": "x"}}',
            'm.json: customers.cus_Old00000001: expected {"id": new id',
        ),
        (
            "m.json",
            '{"customers": {"cus_Old00000001": {"x": 1}}}',
            'm.json: customers.cus_Old00000001: expected {"id": new id',
        ),
        ("m.json", '{"cus_Old00000001": ["x"]}', "m.json: 'cus_Old00000001': ids must be"),
        ("m.json", '[{"old_id": "a", "new_id": "b", "type": 3}]', "m.json: [0].type:"),
    ],
)
def test_a_mapping_mistake_is_one_line_naming_file_and_place(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    assert mistake(tmp_path, name, text).startswith(expected), mistake(tmp_path, name, text)


PREFIXES = st.sampled_from(["cus", "pm", "card", "src", "sub", "in", "price", "prod"])
BODIES = st.text(alphabet="abcdefghijkLMNOP0123456789", min_size=7, max_size=20)


@given(
    rows=st.lists(st.tuples(PREFIXES, BODIES, BODIES), max_size=20, unique_by=lambda r: r[1]),
    header=st.booleans(),
    typed=st.booleans(),
)
def test_any_well_formed_mapping_reads_back_as_written(
    rows: list[tuple[str, str, str]], header: bool, typed: bool
) -> None:
    pairs = {f"{p}_{old}9": f"{p}_{new}9X" for p, old, new in rows}
    if len(set(pairs.values())) != len(pairs):
        return  # two old ids given one new id is a mistake, tested above
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(["old_id", "new_id", "type"] if typed else ["old_id", "new_id"])
    for old, new in pairs.items():
        kind = ID_PREFIXES[id_prefix(old)]
        writer.writerow([old, new, kind] if typed else [old, new])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mapping.csv"
        path.write_text(buffer.getvalue())
        assert read_mapping_file(path) == pairs


def test_shadow_validate_reports_a_bad_mapping_as_one_line(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"format": "stripe-shadow-recording", "version": 1}\n')
    (tmp_path / "map.csv").write_text("old_id,new_id\ncus_Old00000001,cus_New00000001\ncus_x,y\n")
    (tmp_path / "s.yaml").write_text(
        "name: m\nrecording: r.jsonl\n"
        "targets: [{name: new, url: 'http://127.0.0.1:9', id_map: map.csv}]\n"
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2
    assert result.output == (
        f"shadow: error: {tmp_path}/map.csv:3: cus_x is a malformed id: a customer id is cus_ "
        "followed by 8 or more letters and digits\n"
    )


# --- the migration demo, end to end --------------------------------------------------------


def committed_scenario_against(tmp_path: Path, url: str, mapping_file: Path) -> Path:
    """scenarios/migrated-account.yaml as committed, addressed to a live new account."""
    text = SCENARIO.read_text()
    for old, new in (
        ("url: http://127.0.0.1:12180", f"url: {url}"),
        ("id_map: migration/mapping.csv", f"id_map: {mapping_file}"),
        ("recording: ../recordings/", f"recording: {ROOT}/recordings/"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "migrated-account.yaml"
    path.write_text(text)
    return path


def test_the_committed_scenario_and_mapping_validate_and_cover_what_the_recording_uses() -> None:
    result = CliRunner().invoke(main, ["validate", str(SCENARIO)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["plan", str(SCENARIO), "--json"])
    assert json.loads(result.output)["unproduced"] == {
        "count": 1,
        "examples": ["cus_doesnotexist0"],  # asked for on purpose, recorded as a 404
    }
    result = CliRunner().invoke(main, ["plan", str(RECORDING), "--json"])
    assert json.loads(result.output)["unproduced"]["count"] == 11


# What compare may report for the migrated account, and why; nothing else may show.
EXPLAINED = {
    # The copy made the customers and cards when it ran: their `created` is as old as the
    # copy, not as old as the sign-up was when the recording was made (within 5 s of it,
    # the same). Expected, with the scenario's reason.
    ("POST /v1/customers/{customer}", "$.created", "value"): "expected",
    ("GET /v1/customers", "$.data[].created", "value"): "expected",
    ("GET /v1/payment_intents/{payment_intent}", "$.customer.created", "value"): "expected",
    ("POST /v1/payment_methods/{payment_method}/detach", "$.created", "value"): "expected",
    # localstripe orders invoices made in the same second by store order: the page of
    # `GET /v1/invoices?limit=5` can hold another of them, an item each side lacks, which
    # compare counts as noise (docs/compare.md, "Pages of longer lists").
    ("GET /v1/invoices", "$.data[]", "unpaired"): "noise",
}


@pytest.mark.e2e
def test_the_migrated_account_replays_with_every_reference_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATED_ACCOUNT_KEY", LOCALSTRIPE_TEST_KEY)
    mapping_file = tmp_path / "mapping.csv"
    snapshot = json.loads((ROOT / "scenarios" / "migration" / "old-account.json").read_text())
    with new_account(mapping_file, log=tmp_path / "new-account.log") as url:
        seeded = read_mapping_file(mapping_file)
        old_ids = {c["id"] for c in snapshot["customers"]} | {
            m["id"] for c in snapshot["customers"] for m in c["payment_methods"]
        }
        assert set(seeded) == old_ids and len(old_ids) == 12
        # localstripe refuses a customer id on create: every copied object has a new id.
        assert not set(seeded.values()) & old_ids
        scenario = committed_scenario_against(tmp_path, url, mapping_file)
        start_replay(load_scenario(scenario), out=tmp_path / "run")

        recorded = {e.seq: e for e in iter_exchanges(RECORDING)}
        run = load_run(tmp_path / "run")
        results = run.exchanges("new-account")
        assert run.info.results["new-account"]["unresolved"] == 0
        assert not any(e.extra["skipped"] for e in results.values())
        assert {s: e.response.status for s, e in results.items()} == {  # type: ignore[union-attr]
            s: e.response.status  # type: ignore[union-attr]
            for s, e in recorded.items()
        }
        sent = "\n".join(e.request.path + e.request.text for e in results.values())
        assert not any(old in sent for old in old_ids)  # every reference reached the copy
        assert sum(new in sent for new in seeded.values()) >= 10

        summary = compare_run(tmp_path / "run")["candidates"]["new-account"]
        assert summary["outcomes"]["error"] == 0
        assert summary["outcomes"]["match"] >= 54
        reported = {
            (place["endpoint"], place["path"], g["kind"]): g["outcome"]
            for g in summary["groups"]
            for place in g["locations"]
        }
        assert reported.items() <= EXPLAINED.items(), reported
        assert summary["outcomes"]["difference"] == 0

        # Without the mapping, the same recording cannot reach the copied objects.
        unmapped = tmp_path / "unmapped.yaml"
        unmapped.write_text(
            "\n".join(line for line in scenario.read_text().splitlines() if "id_map:" not in line)
        )
        start_replay(load_scenario(unmapped), out=tmp_path / "unmapped")
        results_without: dict[str, Any] = load_run(tmp_path / "unmapped").info.results
        assert results_without["new-account"]["unresolved"] >= 20
        assert results_without["new-account"]["skipped"] >= 20
