"""Turns check results into metric samples: the only layer that knows both."""
