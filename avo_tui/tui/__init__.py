"""The Textual app. The only package that imports Textual. (Built in a later issue.)"""
