"""The upgrade check: what a recording's traffic will meet on another Stripe API version,
before anything is replayed (harness.upgrade.check, docs/catalogue.md)."""
