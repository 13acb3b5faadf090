"""Running the checks: the scheduler, the result store it fills, and the two readers of that
store (the Prometheus collector and the ``check`` report)."""
