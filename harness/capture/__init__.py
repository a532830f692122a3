"""Capture: the mitmproxy recorder addon, the embedded proxy, and redaction at capture."""
