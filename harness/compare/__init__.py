"""Compare: normalise two targets' answers, diff them, tell noise and expected changes
from differences, and group what remains by cause (docs/compare.md).

The pure core is re-exported here; `harness.compare.pipeline.compare_run` is the I/O edge
that reads a run directory and writes outcomes.jsonl and summary.json.
"""

from harness.compare.cause import Cause, cause_of
from harness.compare.classify import DEFAULT_SEVERITY, Classifier
from harness.compare.diff import diff_responses, diff_trees
from harness.compare.group import Group, group_differences, group_id
from harness.compare.noise import FieldCounts, is_real_difference
from harness.compare.normalize import ById, Normalized, normalize_response, normalize_tree
from harness.compare.rules import CompareConfig, parse_compare_config
from harness.compare.timemap import Moment, TimeMap

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
