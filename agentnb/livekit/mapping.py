"""Pure mapping functions: LiveKit objects -> the plain values records hold. No state, no I/O."""
from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from typing import Any

from ..core.values import copy_value, same

_MISSING = object()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def fields_of(userdata: Any) -> dict[str, Any]:
    """A copy of `userdata` as {field: value}: a dataclass's fields, a mapping's items, a
    pydantic model's dump or an object's public attributes."""
    if userdata is None:
        return {}
    if dataclasses.is_dataclass(userdata) and not isinstance(userdata, type):
        return {f.name: copy_value(getattr(userdata, f.name)) for f in dataclasses.fields(userdata)}
    if isinstance(userdata, Mapping):
        return {str(k): copy_value(v) for k, v in userdata.items()}
    if callable(getattr(userdata, "model_dump", None)):
        dumped: dict[str, Any] = copy_value(userdata.model_dump())
        return dumped
    if hasattr(userdata, "__dict__"):
        return {k: copy_value(v) for k, v in vars(userdata).items() if not k.startswith("_")}
    return {"userdata": copy_value(userdata)}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for every key whose value differs; a removed key's new value is None."""
    keys = list(old) + [k for k in new if k not in old]
    return [(k, old.get(k), new.get(k)) for k in keys
            if not same(old.get(k, _MISSING), new.get(k, _MISSING))]


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
