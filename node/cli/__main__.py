from credledger.node.cli import main

main()
