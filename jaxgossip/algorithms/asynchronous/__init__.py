"""Event-driven (asynchronous) algorithms, one per module."""
