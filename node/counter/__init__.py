"""The counter: presentation verification, split by concern (``verify.py`` lists the modules)."""
