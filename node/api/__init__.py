"""The node's HTTP API: thin routers over services (see node.runtime)."""
