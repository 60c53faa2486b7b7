"""Modal screens: dialogs, version detail and comparison, the full log, scores and help."""
