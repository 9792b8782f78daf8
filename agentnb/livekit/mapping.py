"""Pure mapping functions: LiveKit objects -> the plain values records hold. No state, no I/O."""
from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import os
import pathlib
import re
import types
import uuid
from collections.abc import Mapping
from typing import Any

from ..core.values import safe_repr, same

_MISSING = object()
REF_REPR_CHARS = 200     # how much of an object held by identity is shown
SNAPSHOT_DEPTH = 12      # deeper than this, a value is held by identity
# Values that never change in place: a snapshot keeps them as they are.
_ATOMS = frozenset({str, int, float, bool, type(None), bytes, complex})
_IMMUTABLE = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal,
              fractions.Fraction, uuid.UUID, enum.Enum, pathlib.PurePath, range, frozenset)
# Functions and classes are kept by reference (a deep copy would give them back anyway).
_BY_REFERENCE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                 types.ModuleType)


def new_id(prefix: str) -> str:
    # 48 random bits, as the first 12 hex digits of a uuid4 were: without building a UUID (a
    # turn makes several ids; uuid4() cost ~3 µs each on the job's loop)
    return f"{prefix}-{os.urandom(6).hex()}"


class Ref:
    """An object a snapshot cannot copy faithfully (an `Agent`, a client holding a lock or a
    connection): held by identity. Equal only to a `Ref` of the same object; shown by its repr
    as it was when the snapshot was taken, bounded."""

    __slots__ = ("obj", "text")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        text = safe_repr(obj)
        self.text = text if len(text) <= REF_REPR_CHARS else text[:REF_REPR_CHARS] + "…"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:
        return self.text

    def __copy__(self) -> Ref:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Ref:
        return self


def _is_dataclass(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _is_pydantic(value: Any) -> bool:
    return isinstance(getattr(type(value), "model_fields", None), dict) and \
        callable(getattr(value, "model_copy", None))


def snapshot(value: Any, depth: int = 0) -> Any:
    """`value` as it is now, for a history row: what copies faithfully is copied (plain values,
    containers, dataclass and pydantic objects, element by element and field by field), what
    has value semantics of its own is deep-copied, and anything else is a `Ref`. Two snapshots
    are `equal` exactly when nothing in them changed."""
    kind = type(value)
    if kind in _ATOMS or isinstance(value, _IMMUTABLE) or isinstance(value, _BY_REFERENCE):
        return value
    if depth >= SNAPSHOT_DEPTH:
        return Ref(value)
    try:
        if kind is list:
            return [snapshot(v, depth + 1) for v in value]
        if kind is tuple:
            return tuple(snapshot(v, depth + 1) for v in value)
        if kind is dict:
            return {k: snapshot(v, depth + 1) for k, v in value.items()}
        if kind is set:
            return {snapshot(v, depth + 1) for v in value}
        if _is_dataclass(value):
            copied = copy.copy(value)
            for f in dataclasses.fields(value):
                object.__setattr__(copied, f.name, snapshot(getattr(value, f.name), depth + 1))
            return copied
        if _is_pydantic(value):
            return value.model_copy(update={name: snapshot(getattr(value, name), depth + 1)
                                            for name in type(value).model_fields})
        if kind.__eq__ is not object.__eq__:   # value semantics of its own (a namedtuple, ...)
            return copy.deepcopy(value)
    except Exception:
        pass
    return Ref(value)


def equal(a: Any, b: Any, depth: int = 0) -> bool:
    """Whether two snapshots hold the same values: field by field and element by element (a
    dataclass with `eq=False` compares by identity, its snapshots would never be equal)."""
    if a is b:
        return True
    if type(a) is not type(b) or depth > SNAPSHOT_DEPTH:
        return same(a, b)
    if isinstance(a, Ref):
        return a.obj is b.obj
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(equal(x, y, depth + 1) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(equal(v, b[k], depth + 1) for k, v in a.items())
    if _is_dataclass(a):
        return all(equal(getattr(a, f.name), getattr(b, f.name), depth + 1)
                   for f in dataclasses.fields(a))
    if _is_pydantic(a):
        return all(equal(getattr(a, name), getattr(b, name), depth + 1)
                   for name in type(a).model_fields)
    return same(a, b)


def fields_of(userdata: Any) -> dict[str, Any]:
    """A snapshot of `userdata` as {field: value}: a dataclass's fields, a mapping's items, a
    pydantic model's fields or an object's public attributes."""
    if userdata is None:
        return {}
    if _is_dataclass(userdata):
        return {f.name: snapshot(getattr(userdata, f.name), 1) for f in dataclasses.fields(userdata)}
    if isinstance(userdata, Mapping):
        return {str(k): snapshot(v, 1) for k, v in userdata.items()}
    if _is_pydantic(userdata):
        return {name: snapshot(getattr(userdata, name), 1) for name in type(userdata).model_fields}
    if hasattr(userdata, "__dict__"):
        return {k: snapshot(v, 1) for k, v in vars(userdata).items() if not k.startswith("_")}
    return {"userdata": snapshot(userdata, 1)}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every key whose value differs; a removed key's new value is None."""
    keys = list(old) + [k for k in new if k not in old]
    return [(k, old.get(k), new.get(k)) for k in keys
            if not equal(old.get(k, _MISSING), new.get(k, _MISSING))]


def arguments(text: str) -> Any:
    """A tool call's arguments: the JSON LiveKit holds, parsed, or the text if it is not JSON."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def enum_name(enum_type: Any, value: Any) -> str:
    """The name of a protobuf enum value (LiveKit's rtc enums), or the value as text."""
    try:
        return str(enum_type.Name(value))
    except Exception:
        return str(value)


def participant_data(participant: Any, kinds: Any) -> dict[str, Any]:
    """A participant's identity, sid, kind (named through `kinds`, rtc.ParticipantKind) and
    attributes."""
    attributes = participant.attributes
    return {"identity": participant.identity, "sid": participant.sid,
            "kind": enum_name(kinds, participant.kind),
            "attributes": dict(attributes) if isinstance(attributes, Mapping) else {}}


def track_data(publication: Any, kinds: Any, sources: Any) -> dict[str, Any]:
    """A track publication's sid, name, kind and source (named through `kinds` and `sources`,
    rtc.TrackKind and rtc.TrackSource) and whether it is muted."""
    return {"sid": publication.sid, "name": publication.name,
            "kind": enum_name(kinds, publication.kind),
            "source": enum_name(sources, publication.source),
            "muted": bool(getattr(publication, "muted", False))}


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_REFUSED_TOKEN = ("401", "invalid token", "signature is invalid", "token is expired")


def connection_cause(text: str) -> str:
    """Why a connection failed, in one line: LiveKit's text with the access token it quotes
    cut out, and what to check when the server refused the token."""
    cause = " ".join(_JWT.sub("<token>", text).split())
    if any(word in cause for word in _REFUSED_TOKEN):
        cause += " (the server refused the access token: check api_key and api_secret)"
    return cause
