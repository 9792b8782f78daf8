"""Text made safe to show: escaped for HTML, invisible characters made visible, long text
clipped, secrets masked. Every fragment agentnb renders goes through here."""
from __future__ import annotations

import datetime as _dt
import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

from ..mask import mask_text, mask_value
from ..values import safe_repr

MAX_CELL = 300          # characters of one value shown
# Characters that can reorder or hide text (Unicode "Cf": bidi controls, zero-width joiners,
# invisible operators, tag characters used to smuggle hidden text): shown as visible codes.
_INVISIBLE = re.compile("[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
                        "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
                        "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")


def visible(text: str) -> str:
    """`text` with every invisible or reordering character shown as its code."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def esc(value: object, quote: bool = True) -> str:
    """Text safe to put in HTML content or a quoted attribute (`quote=False`: content only;
    the quotes of JSON values then stay one character, not six)."""
    text = html.escape(str(value), quote=quote)
    return text if text.isascii() else visible(text)   # every invisible character is non-ASCII


def clip(text: object, limit: int = MAX_CELL) -> str:
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit:,} chars)"


def show(value: Any, key: object = None, reveal: bool = False, limit: int = MAX_CELL) -> str:
    """A value as short escaped text, masked unless `reveal`."""
    if not reveal:
        value = mask_value(value, key)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=safe_repr)
        except (TypeError, ValueError):
            text = safe_repr(value)
    if not reveal:   # secrets inside an object's repr, a set, a key
        text = mask_text(text)
    return esc(clip(text, limit), quote=False)   # values are only ever shown as content


def clock(t: float) -> str:
    """`t` (seconds since the epoch) as UTC `HH:MM:SS.mmm`, as datetime rounds it (to the
    microsecond, half to even) and truncated to the millisecond. Every row has one, so the
    `HH:MM:SS` of a second is made once (strftime was ~8 % of a view's flush)."""
    second = int(t // 1)
    micro = round((t - second) * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    return f"{_hms(second)}.{micro // 1000:03d}"


@lru_cache(maxsize=1024)
def _hms(second: int) -> str:
    return _dt.datetime.fromtimestamp(second, _dt.UTC).strftime("%H:%M:%S")


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """agentnb.css without its comments and spaces: every saved output that carries it pays."""
    css = resources.files("agentnb").joinpath("static/agentnb.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};:,>])\s*", r"\1", css).strip()


# Every view's root: JupyterLab typesets $...$ in an HTML output as LaTeX unless told not to
# (its MathJax skips elements of this class); an agent's text is text.
ROOT_CLASS = "anb-root mathjax_ignore"


def chip(text: object, cls: str = "") -> str:
    return f'<b class="anb-chip {cls}">{esc(text)}</b>' if cls else f"<b class=anb-chip>{esc(text)}</b>"


def names(items: Iterable[object], limit: int = 20) -> str:
    """The first `limit` names, and how many more there are."""
    shown = [clip(str(n), 80) for n in items]
    more = f" (+{len(shown) - limit:,} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
