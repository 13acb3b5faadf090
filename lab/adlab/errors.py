"""The one exception type the lab raises for anything it refuses or fails to do."""


class LabError(RuntimeError):
    """A lab operation failed; the message names the step, the DC and where the logs are."""
