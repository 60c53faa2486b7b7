"""soak.py's parts, each of one job (the script keeps its command line and report)."""
