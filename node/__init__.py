"""credledger node: chain client, deployment, anchoring, indexer, licence services, HTTP API."""

__version__ = "0.1.0"
