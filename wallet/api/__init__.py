"""The wallet HTTP API: thin routers over the wallet services."""
