"""The demo: the shipped recordings against local targets, one of them a simulated API
upgrade, replayed, compared, reported and gated in one go (`make demo`, `shadow demo`)."""
