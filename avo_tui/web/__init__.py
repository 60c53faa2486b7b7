"""``avo serve``: the app in a browser (textual-serve), behind a token (guard.py) on the
address the operator chose (server.py). Imported only by that command: it needs the
``[serve]`` extra's aiohttp and textual-serve."""

from __future__ import annotations

from .guard import cookie_name, new_token
from .server import GuardedServer

__all__ = ["GuardedServer", "cookie_name", "new_token"]
