"""The Textual app. The only package that imports Textual."""

from .app import AvoApp, make_app, make_preparing_app

__all__ = ["AvoApp", "make_app", "make_preparing_app"]
