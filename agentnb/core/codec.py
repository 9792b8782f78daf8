"""The trace codec: traces as JSON Lines, a header line, then one record a line.

Values that JSON cannot hold are stored tagged, never dropped: NaN and infinities, bytes,
tuples, sets, dicts with non-string keys, dates and times, and the data classes programs keep in
state (pydantic models, dataclasses, enums) with their type's dotted name. Anything else is kept
as a typed repr.

A trace file is input from anywhere, so loading one never runs code it names: no module is
imported, and nothing is called but the construction of a pydantic model (`model_validate`), a
dataclass or an enum whose class is *already imported* (found in `sys.modules`, read through
module and class dictionaries only). Any other type name loads as a `TypedValue`: the type's
name and the plain data.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import json
import math
import os
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .mask import mask_text, mask_value
from .records import Record, record_from_dict, record_to_dict
from .values import safe_repr

FORMAT = "agentnb-trace"
VERSION = 1
_CLASS_TAGS = ("$model", "$dataclass", "$enum")


@dataclass(frozen=True)
class TypedRepr:
    """An object JSON could not hold, kept as its type's name and its repr."""
    type: str
    repr: str

    def __repr__(self) -> str:
        return self.repr


@dataclass(frozen=True)
class TypedValue:
    """A pydantic model, dataclass or enum whose class was not imported when the trace was
    loaded (or would not take its data): its type's dotted name, its kind (`model`,
    `dataclass`, `enum`) and its data as plain values. Saved again, it is saved as it came."""
    type: str
    kind: str
    data: Any

    def __repr__(self) -> str:
        return f"<{self.kind} {self.type} {self.data!r}>"


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _pydantic_model(value: Any) -> bool:
    pydantic = sys.modules.get("pydantic")   # never imported here: a model implies it is loaded
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def encode(value: Any, masking: bool = False) -> Any:
    """`value` as JSON-able data, tagged where JSON has no name for it. `masking` masks secrets
    inside the data classes' fields too (by field name, as `mask_value` does by key)."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if isinstance(value, enum.Enum):   # before int and str: IntEnum, StrEnum
        return {"$enum": encode(value.value, masking), "$type": _type_name(value)}
    if isinstance(value, int):   # past ~4,300 digits Python will not write an int as text
        return value if value.bit_length() < 12_000 else {"$int": hex(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(float(value))}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [encode(v, masking) for v in value]
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: encode(v, masking) for k, v in value.items()}
        return {"$dict": [[encode(k, masking), encode(v, masking)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, masking) for v in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": [encode(v, masking) for v in value]}
    if isinstance(value, set):
        return {"$set": [encode(v, masking) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if kind is _dt.datetime:
        return {"$datetime": value.isoformat()}
    if kind.__name__ == "Timestamp" and hasattr(value, "nanosecond"):   # pandas, to the ns
        return {"$timestamp": value.isoformat()}
    if kind is _dt.date:
        return {"$date": value.isoformat()}
    if kind is _dt.time:
        return {"$time": value.isoformat()}
    if kind is _dt.timedelta:
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if kind is TypedRepr:
        return {"$repr": value.repr, "$type": value.type}
    if kind is TypedValue:
        return {f"${value.kind}": encode(value.data, masking), "$type": value.type}
    tagged = _encode_class(value, masking)
    if tagged is not None:
        return tagged
    return {"$repr": safe_repr(value), "$type": _type_name(value)}


def _encode_class(value: Any, masking: bool) -> dict[str, Any] | None:
    """A pydantic model or dataclass instance as its fields, tagged with its type; None for
    anything else, or for one whose fields cannot be read."""
    try:
        if _pydantic_model(value):
            data = value.model_dump(by_alias=True, round_trip=True, exclude_computed_fields=True)
            tag = "$model"
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = {f.name: getattr(value, f.name) for f in fields(value)}
            tag = "$dataclass"
        else:
            return None
        return {tag: encode(mask_value(data, keep_objects=True) if masking else data, masking),
                "$type": _type_name(value)}
    except Exception:
        return None


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$float" in value:
        return float(value["$float"])
    if "$dict" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["$dict"]}
    if "$tuple" in value:
        return tuple(decode(v) for v in value["$tuple"])
    if "$int" in value:
        return int(value["$int"], 16)
    if "$set" in value:
        return {_hashable(decode(v)) for v in value["$set"]}
    if "$frozenset" in value:
        return frozenset(_hashable(decode(v)) for v in value["$frozenset"])
    if "$timestamp" in value:
        import pandas
        return pandas.Timestamp(value["$timestamp"])
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$datetime" in value:
        return _dt.datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return _dt.date.fromisoformat(value["$date"])
    if "$time" in value:
        return _dt.time.fromisoformat(value["$time"])
    if "$timedelta" in value:
        days, seconds, micros = value["$timedelta"]
        return _dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if "$repr" in value:
        return TypedRepr(str(value.get("$type")), str(value["$repr"]))
    for tag in _CLASS_TAGS:
        if tag in value:
            return restore(str(value.get("$type")), tag[1:], decode(value[tag]))
    return {k: decode(v) for k, v in value.items()}


def imported_class(type_name: str) -> type | None:
    """The class a dotted name names, if its module is already imported: looked up in
    `sys.modules` and then through module and class `__dict__`s only (no import, no module
    `__getattr__`, no descriptor runs)."""
    parts = type_name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        found: Any = module
        for name in parts[cut:]:
            if not isinstance(found, (types.ModuleType, type)):
                return None
            found = vars(found).get(name)
        return found if isinstance(found, type) else None
    return None


def restore(type_name: str, kind: str, data: Any) -> Any:
    """A data class instance rebuilt from its saved data, by validated construction, when the
    class named is already imported and is of the kind saved; else a `TypedValue`."""
    cls = imported_class(type_name)
    try:
        if cls is not None and kind == "enum" and issubclass(cls, enum.Enum):
            return cls(data)
        if cls is not None and kind == "model" and _is_model_class(cls) and isinstance(data, dict):
            return cls.model_validate(data)  # type: ignore[attr-defined]
        if cls is not None and kind == "dataclass" and dataclasses.is_dataclass(cls) \
                and isinstance(data, dict):
            given = {f.name for f in fields(cls)}
            if set(data) <= given:
                init = {f.name: data[f.name] for f in fields(cls) if f.init and f.name in data}
                obj = cls(**init)
                for f in fields(cls):
                    if not f.init and f.name in data:
                        object.__setattr__(obj, f.name, data[f.name])
                return obj
    except Exception:
        pass
    return TypedValue(type_name, kind, data)


def _is_model_class(cls: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def masked(record: Record) -> Record:
    """A copy of `record` with every secret in it masked (the trace itself is never touched)."""
    changes: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        # Objects keep their type: `encode` masks their fields (and `_masked_strings` reprs).
        if f.name in ("old", "new"):
            shown = mask_value(value, getattr(record, "key", None), keep_objects=True)
        elif isinstance(value, (str, dict, list, tuple)):
            shown = mask_value(value, keep_objects=True)
        else:
            continue
        if shown is not value and shown != value:
            changes[f.name] = shown
    return replace(record, **changes) if changes else record


# Tags whose value is an encoding, not text: type names, base64, hex, ISO dates. Masked, a
# digit run in them (a card number's shape) would corrupt the value.
_ENCODINGS = frozenset({"$type", "$bytes", "$int", "$float", "$date", "$datetime", "$time",
                        "$timedelta", "$timestamp"})


def _masked_strings(tree: Any) -> Any:
    """Every string of an encoded record (keys, members, reprs) with secrets masked; type
    names and the encodings of values that are not text stay as they are."""
    if isinstance(tree, str):
        return mask_text(tree)
    if isinstance(tree, list):
        return [_masked_strings(v) for v in tree]
    if isinstance(tree, dict):
        return {_masked_strings(k): v if k in _ENCODINGS else _masked_strings(v)
                for k, v in tree.items()}
    return tree


def save(records: Iterable[Record], path: str | os.PathLike[str], *, reveal: bool = False) -> None:
    """Write the whole trace or nothing: a record that cannot be written leaves no half file."""
    header = {"format": FORMAT, "version": VERSION, "masked": not reveal,
              "saved": _dt.datetime.now(_dt.UTC).isoformat()}
    partial = f"{os.fspath(path)}.partial-{os.getpid()}"
    try:
        with open(partial, "w", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            for record in records:
                tree = encode(record_to_dict(record if reveal else masked(record)), not reveal)
                out.write(json.dumps(tree if reveal else _masked_strings(tree), ensure_ascii=False) + "\n")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def is_trace(path: str | os.PathLike[str]) -> bool:
    """Whether the file at `path` starts with a trace header (reads its first line only)."""
    try:
        with open(path, encoding="utf-8") as src:
            header = json.loads(src.readline())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT


def load(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Record]]:
    """The header and records of a trace file; a clear one-line ValueError for anything else."""
    with open(path, encoding="utf-8") as src:
        lines = src.read().split("\n")   # not splitlines(): JSON leaves U+2028 and kin unescaped
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if header.get("format") != FORMAT:
        raise ValueError(f"agentnb: {path} is not an agentnb trace (no '{FORMAT}' header)")
    if header.get("version", 0) > VERSION:
        raise ValueError(f"agentnb: {path} has trace version {header['version']}; "
                         f"this agentnb reads up to {VERSION}")
    records: list[Record] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            records.append(record_from_dict(decode(json.loads(line))))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise ValueError(f"agentnb: {path} line {number} is not a trace record: {exc}") from None
    return header, records
