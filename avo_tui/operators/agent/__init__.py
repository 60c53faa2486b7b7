"""The agentic variation operator: Claude, through the anthropic SDK, with tools over the
lineage, the knowledge base, the workspace kernel, the evaluator and the commit gate.

Only the settings are imported here; ``agent.agent`` and ``agent.api`` load the SDK.
"""

from .settings import DEFAULT_MODEL, AgentSettings, SettingsError, load_settings

__all__ = ["DEFAULT_MODEL", "AgentSettings", "SettingsError", "load_settings"]
