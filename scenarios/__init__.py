"""Example and demo scenarios; the demo integration lives in scenarios/demo."""
