"""Build the shipped catalogues: download the chosen `stripe` SDK releases from the
package registry with pip (into a temporary directory, never into an environment), read
each (harness.stripe.catalogue.sdk) and write one file per API version into data/.

    python -m harness.stripe.catalogue build                    # every version in RELEASES
    python -m harness.stripe.catalogue build 2025-03-31.basil   # one
    python -m harness.stripe.catalogue show 2025-03-31.basil invoice

Adding a version (README, docs/catalogue.md): add the API version and the first `stripe`
release that pins it to RELEASES, then run `build` for it and commit the new file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import InfrastructureError, InputError, ShadowError
from harness.formats.atomic import replacing
from harness.stripe.catalogue import (
    DATA,
    SUFFIX,
    catalogue,
    read_catalogue_file,
    shipped_versions,
)
from harness.stripe.catalogue.sdk import read_sdk

# Each major API version from 2024-09-30.acacia on, and the first `stripe` release that
# pins it (its stripe/_api_version.py) and whose sdist carries the generated examples
# that show id prefixes (13.0.0's sdist has no tests/; 13.0.1 pins the same version).
RELEASES: dict[str, str] = {
    "2024-09-30.acacia": "11.0.0",
    "2025-03-31.basil": "12.0.0",
    "2025-09-30.clover": "13.0.1",
    "2026-03-25.dahlia": "15.0.0",
    "2026-09-30.endive": "16.0.0",
}

# A download and its build of metadata take about 20 s; a stalled registry must not hang.
DOWNLOAD_TIMEOUT = 300.0


def download_sdk(release: str, into: Path) -> Path:
    """Download the sdist of `stripe==release` with pip into `into` and unpack it there;
    returns the directory holding its `stripe/` and `tests/`."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-binary=:all:",
        "--dest",
        str(into),
        f"stripe=={release}",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise InfrastructureError(
            f"pip download stripe=={release}: no answer within {DOWNLOAD_TIMEOUT:.0f} s"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InfrastructureError(f"pip download stripe=={release} failed: {last}")
    archives = sorted(into.glob(f"stripe-{release}.tar.gz"))
    if not archives:
        raise InfrastructureError(f"pip download stripe=={release} left no sdist in {into}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(into, filter="data")
    root = into / f"stripe-{release}"
    if not (root / "stripe").is_dir():
        raise InfrastructureError(f"stripe-{release}.tar.gz holds no stripe/ package")
    return root


def build_version(version: str, release: str) -> dict[str, Any]:
    """The catalogue of `version`, read from a fresh download of `stripe==release`."""
    with tempfile.TemporaryDirectory(prefix="shadow-catalogue-") as work:
        data = read_sdk(download_sdk(release, Path(work)))
    if data["api_version"] != version:
        raise InputError(
            f"stripe {release} pins {data['api_version']}, not {version}: fix RELEASES in "
            f"{__file__}"
        )
    return {"api_version": version, "sdk": f"stripe {release}", **data}


def encode(data: dict[str, Any]) -> bytes:
    """The file's bytes: JSON, keys sorted, gzip with no timestamp, so a rebuild of the
    same release writes the same bytes."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def write_version(data: dict[str, Any], out: Path = DATA) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{data['api_version']}{SUFFIX}"
    with replacing(path) as temporary:
        temporary.write_bytes(encode(data))
    return path


def summary_line(path: Path) -> str:
    """`2025-03-31.basil: 148 object types (1,402 with nested), 8,012 fields, 512
    endpoints, 231 KB` for a written file."""
    built = read_catalogue_file(path)
    types = built.raw_types
    resources = [name for name in types if "#" not in name]
    fields = sum(len(raw["fields"]) for raw in types.values())
    return (
        f"{built.api_version} ({built.sdk}): {len(resources)} object types "
        f"({len(types):,} with nested objects), {fields:,} fields, "
        f"{len(built.id_prefixes)} id prefixes, {len(built.endpoints)} endpoints, "
        f"{path.stat().st_size / 1024:,.0f} KB"
    )


def _build(args: argparse.Namespace) -> None:
    versions = args.versions or list(RELEASES)
    for version in versions:
        if version not in RELEASES:
            raise InputError(
                f"{version}: not in RELEASES (known: {', '.join(RELEASES)}); add it with the "
                "stripe release that pins it"
            )
    for version in versions:
        path = write_version(build_version(version, RELEASES[version]), Path(args.out))
        print(summary_line(path))


def _show(args: argparse.Namespace) -> None:
    found = catalogue(args.version)
    if not args.type:
        for path in (DATA / f"{v}{SUFFIX}" for v in shipped_versions()):
            if path.name.startswith(args.version):
                print(summary_line(path))
        return
    object_type = found.object_type(args.type)
    if object_type is None:
        raise InputError(f"{args.version}: no object type {args.type}")
    print(f"{object_type.name} (id prefix {object_type.id_prefix or 'unknown'})")
    for name, kind in object_type.fields.items():
        print(f"  {name}: {kind}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.stripe.catalogue",
        description="Build or show the catalogue of Stripe API versions (docs/catalogue.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="download SDK releases and write data/ files")
    build.add_argument("versions", nargs="*", help="API versions (default: every one)")
    build.add_argument("--out", default=str(DATA), help="where to write (default: %(default)s)")
    build.set_defaults(run=_build)
    show = commands.add_parser("show", help="a shipped version's figures, or one object type")
    show.add_argument("version")
    show.add_argument("type", nargs="?")
    show.set_defaults(run=_show)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ShadowError as exc:
        print(f"catalogue: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
