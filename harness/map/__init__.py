"""The integration map: what an integration does with Stripe, read from its own traffic,
and what it should do better (docs/map.md).

`shadow map RECORDING...` streams recordings into a map (harness.map.model: endpoints,
objects, flows, API versions, Connect accounts, idempotency, expand and pagination,
clients, rates), judges it with the registered findings (harness.map.findings), and
writes map.json and a self-contained index.html (harness.map.page). Maps merge: `shadow
map --update map.json NEW_RECORDING` adds traffic without reading the old recordings.
"""
