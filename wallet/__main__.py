"""`python -m credledger.wallet serve|register|…` and `… grantee fetch`."""

from credledger.wallet.cli import main

main()
