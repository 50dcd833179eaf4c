from agentver.cli.entry import main

main()
