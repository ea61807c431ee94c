"""Patterns: one module per system built on the platform (import the module you need)."""
