"""Case domain logic: plain functions that take data and return data."""
