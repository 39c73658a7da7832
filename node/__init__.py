"""credledger node: chain client, deployment, anchoring pipeline, indexer, licence services, HTTP API."""

__version__ = "0.1.0"
