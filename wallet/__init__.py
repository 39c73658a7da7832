"""credledger wallet: enterprise keys, assets, materials bank, grants and presentations.

The wallet service is built on the node's chain bindings; see docs/architecture.md.
"""

__version__ = "0.1.0"
