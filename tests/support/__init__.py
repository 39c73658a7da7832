"""Helpers shared by the test packages (and bench/): real processes, no mocks."""
