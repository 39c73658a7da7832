"""Typed bindings for the project's contracts, built from the committed artifacts."""
