"""Reports of a compared run: a self-contained HTML page to review with a customer, and
summary.json, junit.xml and summary.md for CI (docs/report.md)."""

from harness.report.write import WrittenReport, write_report

__all__ = ["WrittenReport", "write_report"]
