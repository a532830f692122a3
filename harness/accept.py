"""Accepting a known change: turn a group of a compared run into an `expect` rule with a
reason, written into the scenario's `compare:` section (or into the rules file it names),
so the next compare shows the group as expected and only new differences alert.

The file is edited round-trip (ruamel.yaml): comments, order and layout are kept.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.compare.cause import UNPAIRED
from harness.compare.rules import parse_compare_config
from harness.errors import InputError, ScenarioError
from harness.formats.atomic import write_text_atomically
from harness.formats.rundir import load_run
from harness.formats.summary import load_summary


@dataclass(slots=True)
class Accepted:
    """The rule written, where, and the group it explains."""

    file: Path
    rule: dict[str, str]
    group: dict[str, Any]
    candidates: list[str]
    added: bool


def expect_rule(group: dict[str, Any], reason: str) -> dict[str, str]:
    """The `expect` rule that matches exactly this group's cause: its object type, field
    and kind wherever it shows, or for a cause of no object its endpoint, path and kind."""
    if group.get("object"):
        where = {"object": str(group["object"]), "field": str(group.get("field") or "")}
        if group.get("kind") == UNPAIRED:
            where = {"object": str(group["object"])}
    else:
        where = {"endpoint": str(group["endpoint"]), "path": str(group["path"])}
    return {**where, "kind": str(group["kind"]), "reason": reason.strip()}


def _known_by(group: dict[str, Any], group_id: str) -> bool:
    """A group is found by its id, or by the id one of its locations had as a group of
    its own (summary.json version 1)."""
    if group.get("id") == group_id:
        return True
    return any(group_id in location.get("ids", []) for location in group.get("locations", []))


def find_group(
    summary: dict[str, Any], group_id: str, where: str
) -> tuple[dict[str, Any], list[str]]:
    """The group with this id and the candidates that show it; it must be a difference."""
    found: dict[str, Any] | None = None
    candidates = []
    for name, candidate in summary.get("candidates", {}).items():
        for group in candidate.get("groups", []):
            if _known_by(group, group_id) and (found is None or found["id"] == group["id"]):
                found = found or group
                candidates.append(name)
    if found is None:
        ids = sorted(
            {
                g["id"]
                for c in summary.get("candidates", {}).values()
                for g in c.get("groups", [])
                if g.get("outcome") == "difference" and "id" in g
            }
        )
        known = f"its difference groups are {', '.join(ids)}" if ids else "it has no differences"
        raise InputError(f"{where}: no group {group_id!r}; {known}")
    if found.get("outcome") != "difference":
        why = f" ({found['reason']})" if found.get("reason") else ""
        raise InputError(
            f"{where}: group {group_id} is already {found.get('outcome')}{why}; nothing to accept"
        )
    return found, candidates


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _read(path: Path, yaml: YAML) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc})") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{line}: not valid YAML") from None


def _write(path: Path, yaml: YAML, document: Any) -> None:
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, buffer.getvalue())
    except OSError as exc:
        raise InputError(f"{path}: cannot be written ({exc.strerror})") from None


def _signature(rule: Any) -> tuple[Any, ...]:
    return (
        tuple(rule.get(key) for key in ("endpoint", "path", "object", "field", "kind"))
        if isinstance(rule, dict)
        else ()
    )


def _append(section: Any, rule: dict[str, str], where: str) -> bool:
    """Add the rule to section's expect list; False when one for the same group is there."""
    expect = section.get("expect")
    if expect is None:
        section["expect"] = [rule]
        return True
    if not isinstance(expect, list):
        raise ScenarioError(f"{where}: expected a list of rules; fix it, then accept again")
    if any(_signature(existing) == _signature(rule) for existing in expect):
        return False
    expect.append(rule)
    return True


def write_expect_rule(scenario_path: Path, rule: dict[str, str]) -> tuple[Path, bool]:
    """Add `rule` to the scenario's compare.expect, or to its rules_file when it names one
    (created if missing), validated before it is written. Returns the file and whether
    the rule was added (False: a rule for the same endpoint, path and kind is there)."""
    yaml = _yaml()
    document = _read(scenario_path, yaml)
    if not isinstance(document, dict):
        raise ScenarioError(f"{scenario_path}: not a scenario (expected a mapping of keys)")
    compare = document.get("compare")
    if compare is not None and not isinstance(compare, dict):
        raise ScenarioError(f"{scenario_path}: compare: expected a mapping of compare settings")
    rules_file = compare.get("rules_file") if compare else None
    if rules_file:
        target = scenario_path.parent / str(rules_file)
        rules = _read(target, yaml)
        if rules is None:
            rules = {}
        if not isinstance(rules, dict):
            raise ScenarioError(f"{target}: expected a mapping of compare settings")
        if _append(rules, rule, f"{target}: expect"):
            parse_compare_config(dict(rules), str(target), prefix="")
            _write(target, yaml, rules)
            return target, True
        return target, False
    if compare is None:
        document["compare"] = compare = {}
    if _append(compare, rule, f"{scenario_path}: compare.expect"):
        parse_compare_config(dict(compare), str(scenario_path))
        _write(scenario_path, yaml, document)
        return scenario_path, True
    return scenario_path, False


def accept_group(run_dir: str | os.PathLike[str], group_id: str, reason: str) -> Accepted:
    """Write an expect rule for GROUP_ID of a compared run into its scenario's rules."""
    if not reason.strip():
        raise InputError("--reason: say why this change is expected (it is shown in the report)")
    path = Path(run_dir)
    run = load_run(path)
    summary = load_summary(path)
    group, candidates = find_group(summary, group_id.strip(), str(path / "summary.json"))
    scenario = run.scenario_path
    if scenario is None:
        raise InputError(f"{path / 'run.json'}: scenario.path: missing; cannot tell where to write")
    if not scenario.is_file():
        raise InputError(f"{scenario}: the run's scenario is not there any more")
    rule = expect_rule(group, reason)
    written, added = write_expect_rule(scenario, rule)
    return Accepted(written, rule, group, candidates, added)
