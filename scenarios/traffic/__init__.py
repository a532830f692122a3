"""Seeded stateful traffic: a generator that drives the stripe SDK against localstripe,
and the script that records it through `shadow record` (replay fidelity tests, bench)."""
