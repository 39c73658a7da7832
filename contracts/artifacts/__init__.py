"""Compiled contract artifacts, shipped as package data `credledger.artifacts` (written by
`credledger compile`; read through importlib.resources in node/core/artifacts.py)."""
