"""Framework values as records keep them: copied once, compared safely, shown safely."""
from __future__ import annotations

import base64
import copy
from typing import Any

_ATOMS = (str, int, float, bool, type(None))

PREVIEW_CHARS = 2000            # characters of a text artifact kept as its preview
IMAGE_PREVIEW_BYTES = 64_000    # images up to this size are kept whole, as a data: URL
RASTER_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_TEXT_TYPES = ("application/json", "image/svg+xml")


def copy_value(value: Any) -> Any:
    """A copy the framework cannot change under us, taken inside its callbacks. Plain JSON-like
    values (nearly all state) take a fast path: `copy.deepcopy` costs ~5 µs even for a one-key
    dict, at every hook. What cannot be copied is kept as it is."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: v if type(v) in _ATOMS else copy_value(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else copy_value(v) for v in value]
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def same(a: Any, b: Any) -> bool:
    """`a == b` for values whose `__eq__` may raise or return something odd (numpy arrays)."""
    try:
        return bool(a == b)
    except Exception:
        return a is b


def safe_repr(value: Any) -> str:
    """repr() that never raises: an object whose repr fails is named, not allowed to break a view."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object; repr failed: {type(exc).__name__}>"


def text_preview(text: str) -> tuple[str, int, str]:
    """(mime type, size in bytes, bounded preview) of a text artifact."""
    return "text/plain", len(text.encode()), text[:PREVIEW_CHARS]


def bytes_preview(mime: str | None, data: bytes) -> tuple[str, int, str]:
    """(mime type, size in bytes, bounded preview) of a binary artifact: small raster images
    as a data: URL, text-like types as text, anything else with no preview."""
    mime = mime or "application/octet-stream"
    if mime in RASTER_IMAGES and len(data) <= IMAGE_PREVIEW_BYTES:
        return mime, len(data), f"data:{mime};base64,{base64.b64encode(data).decode()}"
    if mime.startswith("text/") or mime in _TEXT_TYPES:
        return mime, len(data), data[:PREVIEW_CHARS * 4].decode("utf-8", "replace")[:PREVIEW_CHARS]
    return mime, len(data), ""
