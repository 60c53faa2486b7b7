"""The evaluator's safe expressions, by this name: an exported package carries a copy of
expressions.py under it (the export writes the file in this one's place)."""

from ..declarations.expressions import ContractError, Environment

__all__ = ["ContractError", "Environment"]
