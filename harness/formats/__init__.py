"""The files on disk, each with its reader and writer together (docs/architecture.md).

recording (and its version upgrades), the run directory and run.json, target results
and seq order, id maps, outcomes and summaries, migration mapping files, the limits every
reader of untrusted input keeps, and the one atomic write. Stages import these, never
each other's I/O.
"""
