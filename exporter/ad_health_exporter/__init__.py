"""ad-health-exporter."""
