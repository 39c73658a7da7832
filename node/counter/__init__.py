"""The counter: presentation verification (node/counter/verify.py) and its single-use store."""
