"""A tool call's input, checked before its handler runs: against the tool's schema
(tool_schemas.py), so that a hostile or confused input is an ``is_error`` result the model
learns everything wrong from, and the few checks a schema cannot say (a text that is blank, an
editor command's own argument, a knob setting's form)."""

from __future__ import annotations

from typing import Any

from . import report
from .api import INVALID_INPUT
from .workspace import ToolError, check_text

_KINDS: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "array": list}
MAX_ECHOED_CHARS = 200  # of a refused input, in the message that refuses it


def validated(name: str, arguments: object, schema: dict[str, Any]) -> dict[str, Any]:
    """Check the input against the tool's schema; the model learns everything that was wrong.
    A null value counts as left out: a required one is missing, an optional one takes its
    default."""
    if not isinstance(arguments, dict):
        raise ToolError(f"{name} takes a JSON object, got {_json_type(arguments)}")
    if INVALID_INPUT in arguments:
        echoed = report.clip(str(arguments[INVALID_INPUT]), MAX_ECHOED_CHARS)
        raise ToolError(f"the input of {name} was not valid JSON: {echoed!r}")
    properties = schema["properties"]
    given = {k: v for k, v in arguments.items() if v is not None}
    problems = [f"{k} is required" + (" (it was null)" if k in arguments else "")
                for k in schema["required"] if k not in given]
    unknown = [k for k in arguments if k not in properties]
    if unknown:
        problems.append(report.clip(f"unknown {', '.join(map(repr, unknown))}",
                                    MAX_ECHOED_CHARS))
    problems += [p for k, v in given.items() if k in properties
                 if (p := _problem(k, v, properties[k]))]
    if problems:
        raise ToolError(f"invalid input for {name}: " + "; ".join(problems))
    return given


def _problem(key: str, value: object, schema: dict[str, Any]) -> str | None:
    """What is wrong with one value under its JSON schema (type, enum, maxLength, minimum and
    maximum, an array's length and items); None if nothing is."""
    kind = _KINDS[schema["type"]]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return f"{key} must be {kind.__name__}, got {_json_type(value)}"
    if isinstance(value, str):
        return _string_problem(key, value, schema)
    if isinstance(value, list):
        return _array_problem(key, value, schema)
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = schema["minimum"], schema["maximum"]
        if not low <= value <= high:
            return f"{key} must be from {low:,} to {high:,}, got {_number(value)}"
    return None


def _string_problem(key: str, value: str, schema: dict[str, Any]) -> str | None:
    if len(value) > schema["maxLength"]:
        return f"{key} is {len(value):,} characters long; the limit is {schema['maxLength']:,}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{key} must be one of {', '.join(schema['enum'])}, got {value[:40]!r}"
    try:
        check_text(value, key)
    except ToolError as error:
        return str(error)
    return None


def _array_problem(key: str, value: list[Any], schema: dict[str, Any]) -> str | None:
    if not schema["minItems"] <= len(value) <= schema["maxItems"]:
        return f"{key} must hold {schema['minItems']} to {schema['maxItems']} items, " \
               f"got {len(value):,}"
    found = [p for i, item in enumerate(value)
             if (p := _problem(f"{key}[{i}]", item, schema["items"]))]
    return "; ".join(found) or None


def _number(value: int) -> str:
    """An integer as the message shows it: a huge one by its size (Python refuses to print
    an integer of more than 4,300 digits)."""
    if abs(value) < 10**40:
        return f"{value:,}"
    return f"a number of about {round(value.bit_length() * 0.30103):,} digits"


def _json_type(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
             list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# -- what a schema cannot say ----------------------------------------------------------------

def nonempty(text: str, field: str) -> str:
    if not text.strip():
        raise ToolError(f"{field} is empty; write a few words")
    return text.strip()


def required(args: dict[str, Any], key: str, command: str) -> Any:
    if key not in args or args[key] is None:
        raise ToolError(f"{command} needs {key}")
    return args[key]


def knob_settings(text: str) -> dict[str, str]:
    """'BLOCK_N=176, STAGES=3' as {knob: value}; ToolError when it does not read so."""
    settings = {}
    for part in (p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ToolError(f"a variant is KNOB=VALUE[,KNOB=VALUE...], not {text!r}")
        settings[name.strip()] = value.strip()
    return settings
