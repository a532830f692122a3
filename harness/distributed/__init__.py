"""Replay and compare sharded by journey over a Dask cluster (docs/distributed.md).

Dask is optional (`pip install 'stripe-shadow[distributed]'`): nothing here is imported
unless `--cluster` is given, and `harness.distributed.cluster.connect` says in one line
how to install it when it is missing.
"""
