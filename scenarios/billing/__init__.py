"""A subscription business at a month's end, recorded to show how times are replayed."""
