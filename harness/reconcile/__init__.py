"""Reconciliation: the customer's own records (a database or CSV files) against what
Stripe holds, object by object and field by field (`shadow reconcile --source`).

mapping.py reads MAPPING.yaml (which table holds which object type, which column holds
the Stripe id and each compared field, and how a value converts); convert.py holds the
conversions, registered by name; source.py streams the customer's rows; stripe_side.py
gathers Stripe's objects (a recording's last known states, or a live target's lists)
into a scratch store on disk; match.py compares one row with one object and tallies the
outcomes; reconcile.py drives the three; page.py renders the page.
"""
