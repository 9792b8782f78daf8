"""The trace codec: traces as JSON Lines, a header line, then one record a line.

Values that JSON cannot hold are stored tagged, never dropped: NaN and infinities, bytes,
tuples, sets, dicts with non-string keys, datetimes, and any other object as a typed repr.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .mask import mask_text, mask_value
from .records import Record, record_from_dict, record_to_dict
from .values import safe_repr

FORMAT = "agentnb-trace"
VERSION = 1


@dataclass(frozen=True)
class TypedRepr:
    """An object JSON could not hold, kept as its type's name and its repr."""
    type: str
    repr: str

    def __repr__(self) -> str:
        return self.repr


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):   # past ~4,300 digits Python will not write an int as text
        return value if value.bit_length() < 12_000 else {"$int": hex(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(float(value))}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": [encode(v) for v in value]}
    if isinstance(value, set):
        return {"$set": [encode(v) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if type(value) is _dt.datetime:
        return {"$datetime": value.isoformat()}
    if type(value).__name__ == "Timestamp" and hasattr(value, "nanosecond"):   # pandas, to the ns
        return {"$timestamp": value.isoformat()}
    if isinstance(value, TypedRepr):
        return {"$repr": value.repr, "$type": value.type}
    return {"$repr": safe_repr(value), "$type": f"{type(value).__module__}.{type(value).__qualname__}"}


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
    if "$repr" in value:
        return TypedRepr(value["$type"], value["$repr"])
    return {k: decode(v) for k, v in value.items()}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def masked(record: Record) -> Record:
    """A copy of `record` with every secret in it masked (the trace itself is never touched)."""
    changes: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name in ("old", "new"):
            shown = mask_value(value, getattr(record, "key", None))
        elif isinstance(value, (str, dict, list, tuple)):
            shown = mask_value(value)
        else:
            continue
        if shown is not value and shown != value:
            changes[f.name] = shown
    return replace(record, **changes) if changes else record


def _masked_strings(tree: Any) -> Any:
    """Every string of an encoded record (keys, members, reprs) with secrets masked."""
    if isinstance(tree, str):
        return mask_text(tree)
    if isinstance(tree, list):
        return [_masked_strings(v) for v in tree]
    if isinstance(tree, dict):
        return {_masked_strings(k): _masked_strings(v) for k, v in tree.items()}
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
                tree = encode(record_to_dict(record if reveal else masked(record)))
                out.write(json.dumps(tree if reveal else _masked_strings(tree), ensure_ascii=False) + "\n")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


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
