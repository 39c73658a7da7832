"""The devnet demo: departments, clerks, tokens and data `credledger up` adds on a devnet."""
