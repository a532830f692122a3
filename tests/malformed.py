"""A generator of malformed inputs, one per way a new user (or a broken tool) could get a
file or an option wrong, for every reader of the command line: recordings, scenarios,
id maps, compare rules, summaries, run directories and their files, and options.

Each case writes its files into a folder of its own and names the `shadow` command that
reads them. `run_case` runs that command in this process and says how it ended:

- `refused`: exit code 2, with one line `shadow: error: …` (or click's own usage error
  naming the option), and no traceback;
- `accepted`: exit code 0;
- `traceback`: any other exception escaped the command line;
- `other`: anything else (another exit code, a message over several lines).

`python -m tests.malformed` prints how every case ended, per reader.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import json
import os
import shutil
import signal
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.formats.recording import Header, write_recording
from harness.model import Exchange, Request, Response

# Values that no field of any input may hold, as JSON text and as YAML.
TOO_BIG = {
    "huge-int": "1" * 4301,
    "deep-1000": "[" * 1000 + "]" * 1000,
    "deep-100000": "[" * 100_000 + "]" * 100_000,
}
HOSTILE_JSON = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "overflowing-float": "1e999",
    **TOO_BIG,
    "lone-surrogate": '"\\ud800"',
}
HOSTILE_YAML = {
    "nan": ".nan",
    "infinity": ".inf",
    "minus-infinity": "-.inf",
    "overflowing-float": "1.0e+999",
    **TOO_BIG,
    "non-text-key": "{1: 2}",
    "list-key": "{? [a]: 2}",
}
# Values of the wrong type or range for most fields: refused or accepted, never a crash.
ODD = {
    "minus-one": "-1",
    "two-to-63": str(1 << 63),
    "text": '"12"',
    "null": "null",
    "true": "true",
    "list": "[]",
    "object": "{}",
}
ODD_JSON = {**ODD, "max-float": "1e308", "minus-max-float": "-1e308", "nul-text": '"a\\u0000b"'}
ODD_YAML = {**ODD, "nul-escape": '"a\\0b"'}

RECORDED = {
    "seq": 0,
    "started": 1_700_000_000.5,
    "duration": 0.25,
    "request": {
        "method": "POST",
        "path": "/v1/customers",
        "query": "",
        "headers": [["Content-Type", "application/x-www-form-urlencoded"]],
        "body": "email=a%40example.com",
        "port": 443,
    },
    "response": {
        "status": 200,
        "headers": [["Content-Type", "application/json"]],
        "body": '{"id": "cus_A1b2C3d4E5", "object": "customer"}',
    },
    "error": None,
}
RECORDING_FIELDS = (
    ("seq",),
    ("started",),
    ("duration",),
    ("request",),
    ("request", "method"),
    ("request", "path"),
    ("request", "query"),
    ("request", "headers"),
    ("request", "headers", 0),
    ("request", "headers", 0, 1),
    ("request", "body"),
    ("request", "body_encoding"),
    ("request", "port"),
    ("response",),
    ("response", "status"),
    ("response", "headers"),
    ("response", "body"),
    ("error",),
    ("extra_field",),
)
HEADER_FIELDS = (("version",), ("created",), ("redaction",), ("format",), ("source",))

SCENARIO = {
    "name": "malformed",
    "recording": "rec.jsonl",
    "baseline": "recording",
    "retry": {"attempts": 1, "budget": 1},
    "timeout": 1,
    "targets": [{"name": "candidate", "url": "http://127.0.0.1:9"}],
}
SCENARIO_FIELDS = (
    ("name",),
    ("recording",),
    ("baseline",),
    ("on_unresolved",),
    ("allow_live",),
    ("concurrency",),
    ("timeout",),
    ("retry",),
    ("retry", "attempts"),
    ("retry", "budget"),
    ("targets",),
    ("targets", 0),
    ("targets", 0, "name"),
    ("targets", 0, "url"),
    ("targets", 0, "headers"),
    ("targets", 0, "headers", "Stripe-Version"),
    ("targets", 0, "id_map"),
    ("targets", 0, "concurrency"),
    ("targets", 0, "rate_limit"),
    ("targets", 0, "api_key_env"),
    ("targets", 0, "launch"),
    ("compare",),
    ("compare", "timestamp_tolerance"),
    ("gate",),
    ("gate", "max_error_rate"),
    ("gate", "max_regressions"),
)
RULES_FIELDS = (
    ("ignore",),
    ("ignore", 0, "path"),
    ("expect",),
    ("expect", 0, "reason"),
    ("severity", 0, "severity"),
    ("headers",),
    ("timestamp_tolerance",),
    ("samples",),
    ("noise", "relative"),
)
SUMMARY_COUNTS = (
    ("exchanges",),
    ("outcomes", "match"),
    ("outcomes", "error"),
    ("severities", "high"),
    ("groups", 0, "count"),
    ("groups", 0, "journeys"),
    ("error_groups", 0, "count"),
    ("endpoints", "POST /v1/customers", "difference"),
)
SUMMARY_FIELDS = (
    ("version",),
    ("baseline",),
    ("candidates",),
    ("candidates", "candidate"),
    ("candidates", "candidate", "groups"),
    ("candidates", "candidate", "groups", 0),
    ("candidates", "candidate", "groups", 0, "id"),
    ("candidates", "candidate", "groups", 0, "samples"),
    ("candidates", "candidate", "groups", 0, "severity"),
    ("candidates", "candidate", "errors"),
    ("candidates", "candidate", "error_groups"),
)
# Counts a summary holds that are not counts.
NOT_COUNTS = {
    "text": '"12"',
    "null": "null",
    "nan": "NaN",
    "negative": "-1",
    "fraction": "1.5",
    "absurd": "1" * 40,
    "huge-int": "1" * 4301,
    "true": "true",
}
RUN_FIELDS = (
    ("version",),
    ("name",),
    ("baseline",),
    ("targets",),
    ("targets", 0),
    ("targets", 0, "name"),
    ("targets", 0, "role"),
    ("targets", 0, "headers"),
    ("recording",),
    ("recording", "path"),
    ("scenario",),
    ("scenario", "path"),
    ("status",),
)
TARGET_NAMES = ("../escape", "a" * 300, "has space", "outcomes")

LONG_NAME = "n" * 300


@dataclass(frozen=True, slots=True)
class Case:
    """One malformed input: the reader it is for, a name, and how to build it (files in a
    folder; returns the command line)."""

    reader: str
    name: str
    build: Callable[[Path], list[str]]
    env: tuple[tuple[str, str], ...] = ()
    must_refuse: bool = True

    @property
    def id(self) -> str:
        return f"{self.reader}:{self.name}"


# --- the valid inputs every case starts from ------------------------------------------


def recorded_exchange() -> Exchange:
    return Exchange.from_json(json.loads(json.dumps(RECORDED)))


_TEMPLATES: dict[str, Path] = {}


def write_base(folder: Path) -> dict[str, Path]:
    """A recording, a scenario, an id map, rules and a compared run directory, all valid:
    made once per process and copied (its run.json keeps naming the first one's
    scenario and recording, which no case changes)."""
    template = _TEMPLATES.get("base")
    if template is None or not template.exists():
        import tempfile

        scratch = tempfile.mkdtemp(prefix="shadow-malformed-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        template = Path(scratch) / "base"
        _make_base(template)
        _TEMPLATES["base"] = template
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return {
        "recording": folder / "rec.jsonl",
        "scenario": folder / "scenario.yaml",
        "run": folder / "run",
    }


def _make_base(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    recording = folder / "rec.jsonl"
    second = recorded_exchange()
    second.seq = 1
    second.request = Request(method="GET", path="/v1/customers/cus_A1b2C3d4E5")
    write_recording(recording, Header(redaction={"applied": True}), [recorded_exchange(), second])
    scenario = folder / "scenario.yaml"
    scenario.write_text(json.dumps(SCENARIO, indent=1))
    (folder / "ids.csv").write_text("old_id,new_id\ncus_A1b2C3d4E5,cus_Z9y8X7w6V5\n")
    (folder / "ids.json").write_text(json.dumps({"cus_A1b2C3d4E5": "cus_Z9y8X7w6V5"}))
    (folder / "rules.yaml").write_text(
        json.dumps(
            {
                "ignore": [{"path": "$.x", "reason": "r"}],
                "expect": [{"path": "$.y", "reason": "r"}],
                "severity": [{"path": "$.z", "severity": "low"}],
            }
        )
    )
    run = folder / "run"
    run.mkdir()
    (run / "run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "name": "run",
                "run_id": "0123456789abcdef",
                "scenario": {"name": "malformed", "path": str(scenario)},
                "recording": {"path": str(recording), "exchanges": 2},
                "baseline": "recording",
                "targets": [{"name": "candidate", "role": "candidate", "url": SCENARIO_URL}],
                "status": "interrupted",
            }
        )
    )
    answered = recorded_exchange()
    answered.response = Response(
        status=200,
        headers=[("Content-Type", "application/json")],
        body='{"id": "cus_Z9y8X7w6V5", "object": "customer"}',
    )
    answered.extra = {"journey": 0}
    again = Exchange.from_json({**answered.to_json(), "seq": 1})
    again.request = second.request
    write_recording(run / "candidate.jsonl", Header(redaction={"applied": True}), [answered, again])
    (run / "candidate.idmap.json").write_text(
        json.dumps({"version": 1, "target": "candidate", "ids": {"cus_A1b2C3d4E5": "cus_Z9"}})
    )
    with warnings_ignored():
        compare_run(run)
    return {"recording": recording, "scenario": scenario, "run": run}


SCENARIO_URL = "http://127.0.0.1:9"


@contextlib.contextmanager
def warnings_ignored() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- editing JSON and YAML text at a field --------------------------------------------


def _set(data: Any, path: tuple[Any, ...], marker: str) -> Any:
    """`data` with the value at `path` replaced by a marker string (created if missing)."""
    data = json.loads(json.dumps(data))
    node = data
    for step in path[:-1]:
        if isinstance(node, dict) and step not in node:
            node[step] = {}
        node = node[step]
    node[path[-1]] = marker
    return data


def json_with(data: Any, path: tuple[Any, ...], raw: str, **dump: Any) -> str:
    """JSON text of `data` with the raw JSON text `raw` at `path`."""
    marker = "\u0007MARKER\u0007"
    return json.dumps(_set(data, path, marker), **dump).replace(json.dumps(marker), raw)


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(step) for step in path)


# --- the cases, reader by reader --------------------------------------------------------


def _recording_with_line(line: str, header: str | None = None) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        base = write_base(folder)
        lines = base["recording"].read_text().splitlines()
        if header is not None:
            lines[0] = header
        lines[1] = line
        base["recording"].write_text("\n".join(lines) + "\n")
        return base["recording"]

    return build


def _inspect(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda folder: ["inspect", str(make(folder))]


def _plan(make: Callable[[Path], Path]) -> Callable[[Path], list[str]]:
    return lambda folder: ["plan", str(make(folder))]


def _header_text() -> dict[str, Any]:
    return Header(redaction={"applied": True}).to_json()


def recording_cases() -> Iterator[Case]:
    values = {**HOSTILE_JSON, **ODD_JSON}
    for path in RECORDING_FIELDS:
        for label, raw in values.items():
            hostile = label in HOSTILE_JSON
            line = json_with(RECORDED, path, raw)
            refuse = hostile
            name = f"{_dotted(path)}={label}"
            yield Case(
                "recording", f"inspect {name}", _inspect(_recording_with_line(line)), (), refuse
            )
            if hostile:
                yield Case("recording", f"plan {name}", _plan(_recording_with_line(line)), (), True)
    for path in HEADER_FIELDS:
        for label, raw in values.items():
            header = json_with(_header_text(), path, raw)
            refuse = label in HOSTILE_JSON
            yield Case(
                "recording",
                f"header.{_dotted(path)}={label}",
                _inspect(_recording_with_line(json.dumps(RECORDED), header)),
                (),
                refuse,
            )
    yield from _recording_file_cases()


def _gzip_bomb(folder: Path, megabytes: int) -> Path:
    """A gzip recording whose second line is `megabytes` MB of one letter, no newline:
    a few hundred KB on disk."""
    base = write_base(folder)
    path = folder / "bomb.jsonl.gz"
    header = (json.dumps(_header_text()) + "\n").encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as file:
        file.write(compressor.compress(header))
        chunk = b"a" * (1 << 20)
        for _ in range(megabytes):
            file.write(compressor.compress(chunk))
        file.write(compressor.flush())
    del base
    return path


def _corrupt_gzip(folder: Path) -> Path:
    base = write_base(folder)
    path = folder / "corrupt.jsonl.gz"
    data = gzip.compress(base["recording"].read_bytes() * 50)
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes(64) + data[middle + 64 :])
    return path


def _gzip_garbage_after(folder: Path) -> Path:
    base = write_base(folder)
    path = folder / "trailing.jsonl.gz"
    path.write_bytes(gzip.compress(base["recording"].read_bytes()) + b"not gzip at all")
    return path


def _file(content: bytes, name: str = "rec.jsonl") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        write_base(folder)
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def _long_name(folder: Path) -> Path:
    write_base(folder)
    return folder / (LONG_NAME + ".jsonl")


def _under_a_file(folder: Path) -> Path:
    base = write_base(folder)
    return base["recording"] / "x.jsonl"


def _duplicate_seq(folder: Path) -> Path:
    base = write_base(folder)
    lines = base["recording"].read_text().splitlines()
    lines.append(lines[1])
    base["recording"].write_text("\n".join(lines) + "\n")
    return base["recording"]


def _long_line(folder: Path) -> Path:
    base = write_base(folder)
    data = json.loads(json.dumps(RECORDED))
    data["request"]["body"] = "a" * (3 << 20)
    lines = base["recording"].read_text().splitlines()
    lines[1] = json.dumps(data)
    base["recording"].write_text("\n".join(lines) + "\n")
    return base["recording"]


def _recording_file_cases() -> Iterator[Case]:
    header = json.dumps(_header_text()) + "\n"
    good = json.dumps(RECORDED) + "\n"
    files: dict[str, Callable[[Path], Path]] = {
        "empty": _file(b""),
        "blank-lines": _file(b"\n\n\n"),
        "binary": _file(bytes(range(256)) * 4),
        "invalid-utf8": _file((header + good).encode()[:-20] + b'\xff\xfe"}\n'),
        "nul-bytes": _file(header.encode() + b"\x00" * 100 + b"\n"),
        "header-only-garbage": _file(b"{not json\n"),
        "header-a-list": _file(b"[]\n" + good.encode()),
        "exchange-a-list": _file(header.encode() + b"[1, 2]\n"),
        "truncated-last-line": _file((header + good[:-30]).encode()),
        "gzip-truncated": _file(gzip.compress((header + good).encode())[:-12], "r.jsonl.gz"),
        "not-gzip": _file((header + good).encode(), "r.jsonl.gz"),
        "gzip-corrupt-inside": _corrupt_gzip,
        "gzip-garbage-after": _gzip_garbage_after,
        "duplicate-seq": _duplicate_seq,
        "name-over-255": _long_name,
        "under-a-file": _under_a_file,
        "directory": lambda folder: (write_base(folder), folder)[1],
        "missing": lambda folder: folder / "nowhere.jsonl",
    }
    for name, make in files.items():
        yield Case("recording", f"inspect {name}", _inspect(make))
        yield Case("recording", f"plan {name}", _plan(make))
    small = (("SHADOW_MAX_LINE_MB", "1"),)
    yield Case("recording", "inspect line-over-limit", _inspect(_long_line), small)
    yield Case("recording", "plan line-over-limit", _plan(_long_line), small)
    yield Case("recording", "inspect gzip-bomb-64MB", _inspect(lambda f: _gzip_bomb(f, 64)), small)
    yield Case(
        "recording", "inspect bad-line-limit", _inspect(_file(b"")), (("SHADOW_MAX_LINE_MB", "x"),)
    )


def _scenario_text(folder: Path, text: str) -> list[str]:
    write_base(folder)
    path = folder / "s.yaml"
    path.write_text(text)
    return ["validate", str(path)]


def _scenario_bytes(content: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write_base(folder)
        path = folder / "s.yaml"
        path.write_bytes(content)
        return ["validate", str(path)]

    return build


def scenario_cases() -> Iterator[Case]:
    values = {**HOSTILE_YAML, **ODD_YAML}
    for path in SCENARIO_FIELDS:
        for label, raw in values.items():
            text = json_with(SCENARIO, path, raw, indent=1)
            refuse = label in HOSTILE_YAML
            yield Case(
                "scenario",
                f"{_dotted(path)}={label}",
                lambda folder, text=text: _scenario_text(folder, text),
                (),
                refuse,
            )
    good = json.dumps(SCENARIO, indent=1)
    target = SCENARIO["targets"][0]  # type: ignore[index]
    special = {
        "empty": b"",
        "binary": bytes(range(256)) * 4,
        "invalid-utf8": good.encode()[:20] + b"\xff\xfe" + good.encode()[20:],
        "nul-byte": good.encode()[:20] + b"\x00" + good.encode()[20:],
        "a-list": b"- 1\n- 2\n",
        "top-level-number-key": b"1: 2\n" + good.encode()[1:-1].replace(b"\n", b"\n"),
        "aliases-bomb": _billion_laughs().encode(),
        "tab-indent": b"name: x\n\ttargets: []\n",
    }
    for name, content in special.items():
        yield Case("scenario", name, _scenario_bytes(content))
    for name in ("outcomes", "summary", "run", "Recording", "OUTCOMES"):
        data = {**SCENARIO, "targets": [{**target, "name": name}]}
        yield Case("scenario", f"target-named-{name}", _scenario_json(data))
    twins = {**SCENARIO, "targets": [target, {**target, "name": "Candidate"}]}
    yield Case("scenario", "target-names-differ-by-case", _scenario_json(twins))
    for label, url in {
        "space": "http://127.0.0.1:9/a b",
        "space-in-host": "http://127.0 .0.1:9",
        "live-key-userinfo": "http://sk_live_" + "abcdefgh:@127.0.0.1:9",
        "test-key-userinfo": "http://sk_test_abcdefgh:@127.0.0.1:9",
        "user-password": "http://user:secret@127.0.0.1:9",
        "bad-port": "http://127.0.0.1:port",
        "newline": "http://127.0.0.1:9\nHost: x",
    }.items():
        data = {**SCENARIO, "targets": [{**target, "url": url}]}
        yield Case("scenario", f"url-{label}", _scenario_json(data))
        launch = {"command": "server --port {port}", "url": url.replace(":9", ":{port}")}
        data = {**SCENARIO, "targets": [{"name": "candidate", "launch": launch}]}
        yield Case("scenario", f"launch-url-{label}", _scenario_json(data))
    for label, value in {"crlf": "a\r\nInjected: yes", "lf": "a\nb", "cr": "a\rb"}.items():
        data = {**SCENARIO, "targets": [{**target, "headers": {"Stripe-Version": value}}]}
        yield Case("scenario", f"header-value-{label}", _scenario_json(data))
        transform = [{"set_header": {"header": "X-Test", "value": value}}]
        data = {**SCENARIO, "targets": [{**target, "transforms": transform}]}
        yield Case("scenario", f"set-header-value-{label}", _scenario_json(data))
    for label, value in {"over-255": LONG_NAME + ".jsonl", "nul": "a\u0000b.jsonl"}.items():
        yield Case(
            "scenario", f"recording-path-{label}", _scenario_json({**SCENARIO, "recording": value})
        )
        data = {**SCENARIO, "targets": [{**target, "id_map": value}]}
        yield Case("scenario", f"id-map-path-{label}", _scenario_json(data))
    yield Case(
        "scenario",
        "file-name-over-255",
        lambda folder: ["validate", str(folder / (LONG_NAME + ".yaml"))],
    )


def _scenario_json(data: Any) -> Callable[[Path], list[str]]:
    text = json.dumps(data, indent=1)
    return lambda folder: _scenario_text(folder, text)


def _billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


def _id_map_scenario(folder: Path, content: bytes, name: str) -> list[str]:
    write_base(folder)
    (folder / name).write_bytes(content)
    data = {**SCENARIO, "targets": [{**SCENARIO["targets"][0], "id_map": name}]}  # type: ignore[index]
    (folder / "s.yaml").write_text(json.dumps(data))
    return ["validate", str(folder / "s.yaml")]


def id_map_cases() -> Iterator[Case]:
    contents: dict[str, tuple[bytes, str]] = {
        "csv-field-over-limit": (
            b"old_id,new_id\ncus_A1b2C3d4E5," + b"x" * 200_000 + b"\n",
            "ids.csv",
        ),
        "csv-nul-bytes": (b"old_id,new_id\ncus_A1b2C3d4E5,\x00\x00\n", "ids.csv"),
        "csv-invalid-utf8": (b"old_id,new_id\ncus_A1b2C3d4E5,\xff\xfe\n", "ids.csv"),
        "csv-binary": (bytes(range(1, 256)) * 8, "ids.csv"),
        "csv-one-column": (b"cus_A1b2C3d4E5\n", "ids.csv"),
        "csv-long-id": (b"cus_A1b2C3d4E5," + b"cus_" + b"A" * 300 + b"\n", "ids.csv"),
        "json-duplicate-key": (
            b'{"cus_A1b2C3d4E5": "cus_Z9y8X7w6V5", "cus_A1b2C3d4E5": "cus_Q1w2E3r4T5"}',
            "ids.json",
        ),
        "json-duplicate-key-in-ids": (
            b'{"version": 1, "ids": {"cus_A1b2C3d4E5": "cus_Z9y8X7w6V5", '
            b'"cus_A1b2C3d4E5": "cus_Z9y8X7w6V5"}}',
            "ids.json",
        ),
        "json-a-number": (b"12", "ids.json"),
        "json-values-not-text": (b'{"cus_A1b2C3d4E5": 12}', "ids.json"),
        "json-list-of-garbage": (b"[1, 2, 3]", "ids.json"),
        "json-nested-garbage": (b'{"customers": {"cus_A1b2C3d4E5": {"id": 5}}}', "ids.json"),
        "json-empty": (b"", "ids.json"),
        "json-invalid-utf8": (b'{"cus_A1b2C3d4E5": "\xff"}', "ids.json"),
    }
    for label, raw in HOSTILE_JSON.items():
        contents[f"json-value-{label}"] = (f'{{"cus_A1b2C3d4E5": {raw}}}'.encode(), "ids.json")
        contents[f"json-ids-{label}"] = (f'{{"version": 1, "ids": {raw}}}'.encode(), "ids.json")
    for name, (content, file) in contents.items():
        yield Case(
            "id map",
            f"seed {name}",
            lambda folder, content=content, file=file: _id_map_scenario(folder, content, file),
        )
    target = {**SCENARIO["targets"][0], "id_map": LONG_NAME}  # type: ignore[index]
    yield Case("id map", "seed name-over-255", _scenario_json({**SCENARIO, "targets": [target]}))
    run_idmaps: dict[str, bytes] = {
        "invalid-utf8": b'{"version": 1, "target": "candidate", "ids": {"a": "\xff"}}',
        "values-not-text": b'{"version": 1, "target": "candidate", "ids": {"a": [1]}}',
        "duplicate-key": b'{"version": 1, "ids": {"a": "b", "a": "c"}}',
        "binary": bytes(range(256)),
    }
    for label, raw in HOSTILE_JSON.items():
        run_idmaps[label] = f'{{"version": 1, "target": "candidate", "ids": {raw}}}'.encode()
        run_idmaps[f"pair-{label}"] = (
            '{\n "version": 1,\n "target": "candidate",\n "ids": {\n  "cus_A": ' + raw + "\n }\n}\n"
        ).encode()
    for name, content in run_idmaps.items():
        yield Case("id map", f"run {name}", _run_file("candidate.idmap.json", content, "compare"))


def _run_file(name: str, content: bytes, command: str, *extra: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        base = write_base(folder)
        (base["run"] / name).write_bytes(content)
        return [command, str(base["run"]), *extra]

    return build


def rules_cases() -> Iterator[Case]:
    rules = {
        "ignore": [{"path": "$.x", "reason": "r"}],
        "expect": [{"path": "$.y", "reason": "r"}],
        "severity": [{"path": "$.z", "severity": "low"}],
        "headers": ["content-type"],
        "timestamp_tolerance": 5,
        "samples": 5,
        "noise": {"relative": 20},
    }
    for path in RULES_FIELDS:
        for label, raw in {**HOSTILE_YAML, **ODD_YAML}.items():
            text = json_with(rules, path, raw, indent=1)
            refuse = label in HOSTILE_YAML
            yield Case("rules", f"{_dotted(path)}={label}", _rules(text.encode()), (), refuse)
    special = {
        "binary": bytes(range(256)) * 4,
        "invalid-utf8": b"ignore: [\xff]\n",
        "nul-byte": b"ignore:\x00 []\n",
        "a-list": b"- 1\n",
        "aliases-bomb": _billion_laughs().encode(),
        "unknown-field": b"ignroe: []\n",
        "names-another-rules-file": b"rules_file: other.yaml\n",
    }
    for name, content in special.items():
        yield Case("rules", name, _rules(content))
    yield Case(
        "rules",
        "file-name-over-255",
        lambda folder: [
            "compare",
            str(write_base(folder)["run"]),
            "--rules",
            str(folder / LONG_NAME),
        ],
    )


def _rules(content: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        base = write_base(folder)
        (folder / "r.yaml").write_bytes(content)
        return ["compare", str(base["run"]), "--rules", str(folder / "r.yaml")]

    return build


def _summary(folder: Path) -> tuple[Path, dict[str, Any]]:
    base = write_base(folder)
    path = base["run"] / "summary.json"
    return path, json.loads(path.read_text())


def _summary_with(path_in: tuple[Any, ...], raw: str, command: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        path, data = _summary(folder)
        candidate = data["candidates"]["candidate"]
        candidate.setdefault("groups", [])
        if not candidate["groups"]:
            candidate["groups"].append(
                {
                    "id": "0123456789",
                    "endpoint": "POST /v1/customers",
                    "path": "$.deleted",
                    "kind": "added",
                    "severity": "low",
                    "outcome": "expected",
                    "count": 1,
                    "occurrences": 1,
                    "journeys": 1,
                    "samples": [0],
                }
            )
        candidate.setdefault("error_groups", [])
        if not candidate["error_groups"]:
            candidate["error_groups"].append({"message": "m", "count": 1, "samples": [1]})
        candidate["endpoints"].setdefault("POST /v1/customers", {})
        full = (
            path_in
            if path_in[0] in ("version", "baseline", "candidates")
            else ("candidates", "candidate", *path_in)
        )
        path.write_text(json_with(data, full, raw))
        return [command, str(path)] if command == "gate" else [command, str(path.parent)]

    return build


def summary_cases() -> Iterator[Case]:
    for command in ("gate", "report"):
        for path in SUMMARY_COUNTS:
            for label, raw in NOT_COUNTS.items():
                yield Case(
                    "summary",
                    f"{command} {_dotted(path)}={label}",
                    _summary_with(path, raw, command),
                )
        for path in SUMMARY_FIELDS:
            for label, raw in ({**HOSTILE_JSON, **ODD_JSON} if command == "gate" else {}).items():
                if path == ("candidates",) and label == "object":
                    continue  # no candidates at all: a summary of nothing, but valid
                yield Case(
                    "summary",
                    f"{command} {_dotted(path)}={label}",
                    _summary_with(path, raw, command),
                    (),
                    label in HOSTILE_JSON,
                )
        for name, content in {
            "invalid-utf8": b'{"version": 1, "candidates": {"\xff": {}}}',
            "binary": bytes(range(256)),
            "empty": b"",
            "a-list": b"[]",
        }.items():
            if command == "gate":
                yield Case("summary", f"gate {name}", _gate_file(content))
            else:
                yield Case(
                    "summary", f"report {name}", _run_file("summary.json", content, "report")
                )
    yield Case("summary", "gate name-over-255", lambda folder: ["gate", str(folder / LONG_NAME)])


def _gate_file(content: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        write_base(folder)
        (folder / "summary.json").write_bytes(content)
        return ["gate", str(folder / "summary.json")]

    return build


def _run_json_with(path_in: tuple[Any, ...], raw: str, command: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        base = write_base(folder)
        run_file = base["run"] / "run.json"
        data = json.loads(run_file.read_text())
        run_file.write_text(json_with(data, path_in, raw))
        return _run_command(command, base["run"])

    return build


def _run_command(command: str, run: Path) -> list[str]:
    if command == "resume":
        return ["replay", "--resume", str(run), "--no-progress"]
    return [command, str(run)]


def run_dir_cases() -> Iterator[Case]:
    for command in ("compare", "resume"):
        values = {**HOSTILE_JSON, **ODD_JSON} if command == "compare" else HOSTILE_JSON
        for path in RUN_FIELDS:
            for label, raw in values.items():
                refuse = label in HOSTILE_JSON
                yield Case(
                    "run dir",
                    f"{command} run.json {_dotted(path)}={label}",
                    _run_json_with(path, raw, command),
                    (),
                    refuse,
                )
        for name in TARGET_NAMES:
            yield Case(
                "run dir",
                f"{command} run.json target-named-{name[:20]}",
                _run_json_with(("targets", 0, "name"), json.dumps(name), command),
            )
        for name, content in {
            "invalid-utf8": b'{"version": 1, "name": "\xff"}',
            "binary": bytes(range(256)),
            "empty": b"",
        }.items():
            yield Case(
                "run dir",
                f"{command} run.json {name}",
                lambda folder, content=content, command=command: _run_json_bytes(
                    folder, content, command
                ),
            )
        yield Case(
            "run dir",
            f"{command} name-over-255",
            lambda folder, command=command: _run_command(command, folder / LONG_NAME),
        )
    for label, raw in HOSTILE_JSON.items():
        line = json_with({**RECORDED, "extra": {"journey": 0}}, ("response", "status"), raw)
        content = (json.dumps(_header_text()) + "\n" + line + "\n").encode()
        yield Case(
            "run dir",
            f"compare target-file status={label}",
            _run_file("candidate.jsonl", content, "compare"),
        )
        outcome = '{"seq": 0, "candidate": "candidate", "kind": "match", "journey": ' + raw + "}"
        yield Case(
            "run dir",
            f"report outcomes {label}",
            _run_file("outcomes.jsonl", (outcome + "\n").encode(), "report"),
        )
    yield Case(
        "run dir", "report outcomes garbage", _run_file("outcomes.jsonl", b"{not json\n", "report")
    )
    yield Case(
        "run dir",
        "report outcomes invalid-utf8",
        _run_file("outcomes.jsonl", b'{"seq": "\xff"}\n', "report"),
    )


def _run_json_bytes(folder: Path, content: bytes, command: str) -> list[str]:
    base = write_base(folder)
    (base["run"] / "run.json").write_bytes(content)
    return _run_command(command, base["run"])


def option_cases() -> Iterator[Case]:
    def summary(folder: Path) -> str:
        return str(write_base(folder)["run"] / "summary.json")

    for label, value in {
        "huge-max": "POST /v1/customers=high:" + "9" * 5000,
        "over-int64-max": "POST /v1/customers=high:" + "9" * 30,
        "no-severity": "POST /v1/customers",
        "unknown-severity": "POST /v1/customers=urgent",
        "negative": "POST /v1/customers=high:-1",
        "unicode-digits": "POST /v1/customers=high:١٢",
    }.items():
        yield Case(
            "options",
            f"gate --endpoint {label}",
            lambda f, v=value: ["gate", summary(f), "--endpoint", v],
        )
    for value in ("nan", "inf", "-inf", "1e999", "5%%", "2", "-0.1", "x", "1" * 5000):
        yield Case(
            "options",
            f"gate --max-error-rate {value[:12]}",
            lambda f, v=value: ["gate", summary(f), "--max-error-rate", v],
        )
    for value in ("-1", "9" * 5000, "x"):
        yield Case(
            "options",
            f"gate --max-regressions {value[:12]}",
            lambda f, v=value: ["gate", summary(f), "--max-regressions", v],
        )
    yield Case(
        "options",
        "gate --baseline-summary missing",
        lambda f: ["gate", summary(f), "--baseline-summary", str(f / "none.json")],
    )
    for label, out in {
        "under-a-file": lambda f: str(write_base(f)["recording"] / "out"),
        "in-proc": lambda f: "/proc/shadow-malformed/out",
        "name-over-255": lambda f: str(f / LONG_NAME),
    }.items():
        for command in ("replay", "run"):
            yield Case(
                "options",
                f"{command} --out {label}",
                lambda f, out=out, command=command: [
                    command,
                    str(write_base(f)["scenario"]),
                    "--out",
                    out(f),
                    "--no-progress",
                ],
            )
        yield Case(
            "options",
            f"report --out {label}",
            lambda f, out=out: ["report", str(write_base(f)["run"]), "--out", out(f)],
        )
        yield Case(
            "options",
            f"record --out {label}",
            lambda f, out=out: ["record", "--out", out(f) + "/r.jsonl", "--listen", "127.0.0.1:0"],
        )
        yield Case(
            "options",
            f"demo --out {label}",
            lambda f, out=out: ["demo", "--out", out(f), "--no-progress"],
        )
    for label, content in {
        "garbage": b"not a certificate",
        "empty": b"",
        "binary": bytes(range(256)),
    }.items():

        def ca(folder: Path, content: bytes = content) -> list[str]:
            (folder / "ca.pem").write_bytes(content)
            return [
                "record",
                "--out",
                str(folder / "r.jsonl"),
                "--upstream-ca",
                str(folder / "ca.pem"),
                "--listen",
                "127.0.0.1:0",
            ]

        yield Case("options", f"record --upstream-ca {label}", ca)
    for label, value in {
        "credentials": "https://sk_test_abcdefgh:@127.0.0.1:9",
        "space": "https://127.0 .0.1",
        "bad-port": "https://127.0.0.1:x",
        "path": "https://127.0.0.1/v1",
    }.items():
        yield Case(
            "options",
            f"record --upstream {label}",
            lambda f, v=value: [
                "record",
                "--out",
                str(f / "r.jsonl"),
                "--upstream",
                v,
                "--listen",
                "127.0.0.1:0",
            ],
        )
    for value in ("127.0.0.1:99999", "nohost", ":", "127.0.0.1:" + "9" * 5000):
        yield Case(
            "options",
            f"record --listen {value[:16]}",
            lambda f, v=value: ["record", "--out", str(f / "r.jsonl"), "--listen", v],
        )
    for value in ("0", "99999", "9" * 5000):
        yield Case(
            "options",
            f"replay --concurrency {value[:8]}",
            lambda f, v=value: ["replay", str(write_base(f)["scenario"]), "--concurrency", v],
        )
        yield Case(
            "options",
            f"compare --workers {value[:8]}",
            lambda f, v=value: ["compare", str(write_base(f)["run"]), "--workers", v],
            (),
            value != "99999",
        )


READERS: dict[str, Callable[[], Iterator[Case]]] = {
    "recording": recording_cases,
    "scenario": scenario_cases,
    "id map": id_map_cases,
    "rules": rules_cases,
    "summary": summary_cases,
    "run dir": run_dir_cases,
    "options": option_cases,
}


def all_cases() -> list[Case]:
    return [case for make in READERS.values() for case in make()]


# --- running one ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ending:
    """How a case ended: `refused`, `accepted`, `traceback` or `other`, and the output."""

    kind: str
    exit_code: int
    output: str


CASE_SECONDS = 60
GATES = ("gate", "run")


class CaseHung(Exception):
    """A command that was still running after CASE_SECONDS (a recorder that started)."""


def run_case(case: Case, folder: Path) -> Ending:
    """Build the case's files in `folder` and run its command in this process."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = case.build(folder)
    env = dict(case.env)
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)

    def hang(signum: int, frame: object) -> None:
        raise CaseHung(f"no answer within {CASE_SECONDS} s")

    former = signal.signal(signal.SIGALRM, hang)
    signal.alarm(CASE_SECONDS)
    try:
        result = CliRunner().invoke(main, argv, catch_exceptions=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, former)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    output = result.stderr + result.stdout
    if isinstance(result.exception, CaseHung):
        kind = "other"
        output += "\nhung"
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        kind = "traceback"
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    elif result.exit_code == 0 or (argv[0] in GATES and result.exit_code in (1, 3)):
        kind = "accepted"  # a gate's verdict (failed, cannot judge) is an answer too
    elif result.exit_code == 2 and _one_clear_line(result.stderr):
        kind = "refused"
    else:
        kind = "other"
    return Ending(kind, result.exit_code, output)


def _one_clear_line(stderr: str) -> bool:
    """`shadow: error: …` on one line (warnings may come before it), or click's usage
    error naming what was wrong."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("shadow: error: ")]
    if errors:
        return len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in stderr
    return any(line.startswith("Error: ") for line in lines) and "Traceback" not in stderr


def tally(root: Path) -> dict[str, Counter[str]]:
    """Run every case; per reader, how many ended each way."""
    endings: dict[str, Counter[str]] = defaultdict(Counter)
    for index, case in enumerate(all_cases()):
        ending = run_case(case, root / str(index))
        wrongly = ending.kind == "accepted" and case.must_refuse
        endings[case.reader]["accepted, should refuse" if wrongly else ending.kind] += 1
        if ending.kind in ("traceback", "other") or (
            ending.kind == "accepted" and case.must_refuse
        ):
            print(
                f"{case.id}: {ending.kind}: {ending.output.strip().splitlines()[-1:]}",
                file=sys.stderr,
            )
    return endings


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        results = tally(Path(scratch))
    total: Counter[str] = Counter()
    for reader, counts in results.items():
        total.update(counts)
        print(f"{reader:10} {sum(counts.values()):4} tried: {dict(counts)}")
    print(f"{'all':10} {sum(total.values()):4} tried: {dict(total)}")
