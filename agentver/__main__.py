from agentver.cli.app import main

main()
