"""Variation operators behind one protocol: ``agent`` (Claude) and ``tuner`` (classical).

No Textual. (Built in later issues.)
"""
