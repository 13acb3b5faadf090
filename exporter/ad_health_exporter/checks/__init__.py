"""Checks: one module each, plain functions from inputs to typed results."""
