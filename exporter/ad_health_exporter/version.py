"""The version, read from the installed package's metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("ad-health-exporter")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0+unknown"
