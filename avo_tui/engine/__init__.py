"""The run: step loop, control inbox, safe points, supervisor and event fan-out.

No Textual: the engine runs headless or in a background thread of the app, and talks to the
app only through events. (Built in a later issue.)
"""
