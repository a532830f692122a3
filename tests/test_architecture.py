"""The seams between the stages (docs/architecture.md), read from the source: no two
modules import each other, the core imports no stage, every registry's entries are what
they say, and the root of harness/ does not grow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.capture.importers.base import Format
from harness.capture.importers.registry import FORMATS
from harness.compare.correspondence import CORRESPONDENCES, Correspondence
from harness.compare.profile import PROFILE_CONTRIBUTORS
from harness.map.findings import FINDINGS, FindingRule
from harness.reconcile.convert import CONVERSIONS
from harness.registry import Registry
from harness.replay.launch import LAUNCHERS, Launcher, LaunchOptions
from harness.scenario import SECTIONS
from harness.transforms import TRANSFORMS, Transform
from harness.transforms.blueprints import BLUEPRINTS, Blueprint

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

HARNESS = Path(__file__).resolve().parent.parent / "harness"

# What the stages build on; none of it may import a stage.
CORE = ("harness.model", "harness.errors", "harness.scenario", "harness.registry")
CORE_PACKAGES = ("harness.formats", "harness.stripe")
STAGES = (
    "harness.capture",
    "harness.replay",
    "harness.compare",
    "harness.report",
    "harness.upgrade",
    "harness.map",
    "harness.reconcile",
    "harness.transforms",
    "harness.cli",
    "harness.gate",
    "harness.run",
    "harness.accept",
    "harness.demo",
    "harness.pytest_plugin",
)
# The modules the root of harness/ holds, each one concept; a new stage gets a package.
ROOT_MODULES = {
    "accept",
    "errors",
    "gate",
    "hashtable",
    "inspection",
    "model",
    "pairstore",
    "pytest_plugin",
    "registry",
    "run",
    "scenario",
    "target",
    "validation",
}


def _name(path: Path) -> str:
    parts = path.relative_to(HARNESS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in HARNESS.rglob("*.py")}


def _imported(path: Path) -> Iterator[str]:
    """The harness modules a file imports, at any depth of its code (type-only too)."""
    name = _name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target in MODULES and target != name:
                yield target


IMPORTS = {name: set(_imported(path)) for name, path in MODULES.items()}


def test_no_two_modules_import_each_other() -> None:
    mutual = sorted(
        (one, other) for one, found in IMPORTS.items() for other in found if one in IMPORTS[other]
    )
    assert mutual == []


def test_no_cycle_of_imports_at_all() -> None:
    # Depth-first search; a module met again on the current path closes a cycle.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(IMPORTS[name]):
            if state.get(other) == 1:
                cycles.append([*path[path.index(other) :], other])
            elif other not in state:
                visit(other, [*path, other])
        state[name] = 2

    for name in sorted(IMPORTS):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _is_core(name: str) -> bool:
    return name in CORE or name.startswith(CORE_PACKAGES)


def test_the_core_imports_no_stage() -> None:
    upward = sorted(
        (name, other)
        for name, found in IMPORTS.items()
        if _is_core(name)
        for other in found
        if other.startswith(STAGES)
    )
    assert upward == []


def test_the_root_of_harness_holds_only_its_known_modules() -> None:
    found = {p.stem for p in HARNESS.glob("*.py") if p.stem != "__init__"}
    assert found == ROOT_MODULES, "a new stage gets a package of its own (docs/architecture.md)"


# --- every registry, every entry --------------------------------------------------------

REGISTRIES: list[tuple[Registry[object], type]] = [
    (TRANSFORMS, Transform),
    (LAUNCHERS, Launcher),
    (BLUEPRINTS, Blueprint),
    (CORRESPONDENCES, Correspondence),
    (FORMATS, Format),
    (SECTIONS, type(lambda: None)),
    (PROFILE_CONTRIBUTORS, type(lambda: None)),
    (FINDINGS, FindingRule),
    (CONVERSIONS, type(lambda: None)),
]


@pytest.mark.parametrize(("registry", "kind"), REGISTRIES, ids=[r.kind for r, _ in REGISTRIES])
def test_every_registered_entry_is_of_its_kind_and_refuses_a_second_of_its_name(
    registry: Registry[object], kind: type
) -> None:
    assert len(registry) > 0
    for name in registry:
        entry = registry[name]
        assert isinstance(entry, kind) or callable(entry), (registry.kind, name)
        with pytest.raises(ValueError, match="registered already"):
            registry.register(name, entry)
    assert "did you mean" in registry.unknown(next(iter(registry)) + "x")


def test_each_launch_kind_names_itself_in_its_options() -> None:
    for name in LAUNCHERS:
        launcher = LAUNCHERS[name]
        assert issubclass(launcher.options, LaunchOptions)
        assert launcher.options.model_fields["kind"].default == name


def test_every_blueprint_names_a_transform_and_a_correspondence_that_exist() -> None:
    for name in BLUEPRINTS:
        blueprint = BLUEPRINTS[name]
        assert all(entry["name"] in TRANSFORMS for entry in blueprint.transforms)
        assert blueprint.correspondence is None or blueprint.correspondence in CORRESPONDENCES


def test_each_scenario_section_stripe_shadow_declares_is_installed() -> None:
    assert {"launch", "transforms", "blueprint", "gate"} <= set(SECTIONS)
