"""Reading a dataclass back from a stored JSON document, checking each field against its type.

The session database holds plain JSON, and a session may have been written by an older or a
newer avo, or damaged. So a typed record is not built with ``cls(**doc)`` (which accepts a
string where a number belongs and fails later, far from the cause, in whatever reads it) but
field by field against the dataclass's annotations. The event payloads read strictly (a
problem rejects the document); the run state reads tolerantly (a problem costs one field).

Only the types these documents use are understood: str, int, float, bool, None, unions,
``Literal``, ``tuple[X, ...]``, ``dict[str, X]`` / ``Mapping[str, X]``, ``Any`` and nested
dataclasses. Anything else is a programming error and says so.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from .errors import StoreError

T = TypeVar("T")
KEY = "key"  # field metadata: the document's key when it differs from the field's name


class DocError(StoreError, ValueError):
    """A stored document lacks a field its type needs, or holds a value of the wrong type."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def doc_key(field: dataclasses.Field[Any]) -> str:
    """The key under which ``field`` is stored."""
    return str(field.metadata.get(KEY, field.name))


def has_default(field: dataclasses.Field[Any]) -> bool:
    return (field.default is not dataclasses.MISSING
            or field.default_factory is not dataclasses.MISSING)


def read_value(value: object, hint: Any) -> Any:
    """``value`` as the type ``hint`` names (JSON lists become tuples), or DocError."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return read_value(value, option)
            except DocError:
                continue
        raise DocError(f"{_shown(value)} is none of {_name(hint)}")
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise DocError(f"{_shown(value)} is not one of {', '.join(map(repr, args))}")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, list | tuple):
            raise DocError(f"{_shown(value)} is not a list")
        return tuple(read_value(item, args[0]) for item in value)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise DocError(f"{_shown(value)} is not a mapping with text keys")
        return {k: read_value(v, args[1]) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return read_dataclass(hint, value)
    return _read_scalar(value, hint)


def _read_scalar(value: object, hint: Any) -> Any:
    if hint is type(None):
        if value is None:
            return None
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool):
        if isinstance(value, hint):
            return value
    else:
        raise TypeError(f"doc_fields cannot read a field of type {hint!r}")
    raise DocError(f"{_shown(value)} is not {_name(hint)}")


def read_fields(cls: type, doc: object) -> tuple[dict[str, Any], dict[str, str]]:
    """The init fields of dataclass ``cls`` found in ``doc``, read to their types, and the
    problems met, by key: a missing field without a default, or a value of the wrong type
    (left out of the fields, so the dataclass's default stands in for it). Unknown keys are
    ignored: a newer writer may add fields an older reader does not need."""
    if not isinstance(doc, Mapping):
        return {}, {"": f"{_shown(doc)} is not a mapping"}
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    hints = _hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        key = doc_key(field)
        if key not in doc:
            if not has_default(field):
                problems[key] = f"no {key!r}"
            continue
        try:
            values[field.name] = read_value(doc[key], hints[field.name])
        except DocError as error:
            problems[key] = f"{key!r}: {error}"
    return values, problems


def read_dataclass(cls: type[T], doc: object) -> T:
    """``cls`` built from ``doc`` field by field; DocError naming every problem."""
    values, problems = read_fields(cls, doc)
    name = getattr(cls, "__name__", str(cls))
    if problems:
        raise DocError(f"{name}: {'; '.join(problems.values())}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:  # a check in the dataclass's __post_init__
        raise DocError(f"{name}: {error}") from error


def write_value(value: object) -> Any:
    """A field's value as JSON: tuples as lists, mappings as dicts, dataclasses as docs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_doc = getattr(value, "to_doc", None)
        return to_doc() if callable(to_doc) else write_fields(value)
    if isinstance(value, tuple | list):
        return [write_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): write_value(v) for k, v in value.items()}
    return value


def write_fields(record: object, *, omit_none: bool = False) -> dict[str, Any]:
    """A dataclass's init fields as a JSON document under their keys; with ``omit_none``, an
    optional field that is None (its default) is left out, so a document holds only the keys
    its shape uses."""
    doc: dict[str, Any] = {}
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        if not field.init:
            continue
        value = getattr(record, field.name)
        if omit_none and value is None and field.default is None:
            continue
        doc[doc_key(field)] = write_value(value)
    return doc


def _name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
