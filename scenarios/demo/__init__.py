"""The demo: an integration driver and the script that records it through localstripe."""
