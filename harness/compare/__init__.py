"""Compare: normalise two targets' answers, diff them, tell noise and expected changes
from differences, and group what remains by cause (docs/compare.md).

The pure core is re-exported here; `harness.compare.pipeline.compare_run` is the I/O edge
that reads a run directory and writes outcomes.jsonl and summary.json. The re-exports
are imported when first used (PEP 562), so importing one module of the package (as
`shadow compare` imports the pipeline) does not import all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.compare.cause import Cause, cause_of
    from harness.compare.classify import DEFAULT_SEVERITY, Classifier
    from harness.compare.diff import diff_responses, diff_trees
    from harness.compare.group import Group, group_differences, group_id
    from harness.compare.noise import FieldCounts, is_real_difference
    from harness.compare.normalize import ById, Normalized, normalize_response, normalize_tree
    from harness.compare.rules import CompareConfig, parse_compare_config
    from harness.compare.timemap import Moment, TimeMap

# Name → the module of harness.compare that defines it.
_EXPORTS = {
    "Cause": "cause",
    "cause_of": "cause",
    "DEFAULT_SEVERITY": "classify",
    "Classifier": "classify",
    "diff_responses": "diff",
    "diff_trees": "diff",
    "Group": "group",
    "group_differences": "group",
    "group_id": "group",
    "FieldCounts": "noise",
    "is_real_difference": "noise",
    "ById": "normalize",
    "Normalized": "normalize",
    "normalize_response": "normalize",
    "normalize_tree": "normalize",
    "CompareConfig": "rules",
    "parse_compare_config": "rules",
    "Moment": "timemap",
    "TimeMap": "timemap",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.compare.{module}"), name)


__all__ = [
    "DEFAULT_SEVERITY",
    "ById",
    "Cause",
    "Classifier",
    "CompareConfig",
    "FieldCounts",
    "Group",
    "Moment",
    "Normalized",
    "TimeMap",
    "cause_of",
    "diff_responses",
    "diff_trees",
    "group_differences",
    "group_id",
    "is_real_difference",
    "normalize_response",
    "normalize_tree",
    "parse_compare_config",
]
