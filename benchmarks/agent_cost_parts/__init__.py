"""agent_cost.py's parts, each of one job (the script keeps its command line and its run)."""
