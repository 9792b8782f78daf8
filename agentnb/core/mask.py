"""Masking of secrets: values under credential-like keys (payment data too: card numbers, CVV,
expiry), and values that look like tokens or card numbers (digit runs that pass the Luhn check).

Masking happens when something is shown or saved, never in the trace itself, so it can never
change the agent's real state and `reveal=True` can always give the raw value back.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from itertools import pairwise
from typing import Any

MASK = "••••••"

# Whole words of a key that mark its value as a secret. "auth" counts only as a whole word,
# so `author` or `authority` are not secrets, while `auth`, `auth_token` and `oauth2` are.
_SECRET_WORDS = {
    "token", "secret", "secrets", "password", "passwd", "pwd", "passphrase",
    "credential", "credentials", "authorization", "auth", "oauth", "oauth2", "bearer",
    "apikey", "cookie", "privatekey", "accesskey", "jwt",
    *("cvv", "cvc", "cvv2", "cvc2", "expiry", "cardnumber", "ccnumber"),   # payment data
}
# Payment words: under them even a number is masked (a CVV of 381, an expiry of 1229), where
# under other secret words numbers stay (`input_tokens` is a count).
_PAYMENT_WORDS = {"cvv", "cvc", "cvv2", "cvc2", "expiry", "cardnumber", "ccnumber"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# JWTs, bearer headers and common API-key shapes, wherever they stand in a text.
_SECRET_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{12,}=*"
    r"|\b(?:sk|pk|rk|AIza|ghp|xox[abp])[-_][A-Za-z0-9_-]{16,}"
)
# A card number: 13 to 19 digits, in groups of at least 3 split by single spaces or dashes,
# standing on its own (not inside a longer run of digits, a word or an identifier, nor the
# digits of a decimal number); masked only when it passes the Luhn check.
_DIGIT_RUN = re.compile(r"(?<![\w.])\d{3,19}(?:[ -]\d{3,19})*(?![\w]|[.,]\d)")
_SEPARATORS = re.compile(r"[ -]")


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _key_words(key)[0]


def is_payment_key(key: object) -> bool:
    """A key naming payment data (`cvv`, `card_number`, `expiry`...): even a number is masked."""
    return isinstance(key, str) and _key_words(key)[1]


@lru_cache(maxsize=65536)   # a view asks about the same few keys at every record
def _key_words(key: str) -> tuple[bool, bool]:
    """(names a secret, names payment data)."""
    words = [w.lower() for w in _WORD.findall(key)]
    named = set(words) | {a + b for a, b in pairwise(words)}  # api_key -> apikey, card_number ...
    return bool(named & _SECRET_WORDS), bool(named & _PAYMENT_WORDS)


def luhn(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (as every payment card number does)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_number(match: re.Match[str]) -> str:
    """The groups of a run of digits, with each span of them that is a card number masked
    (a card number may stand beside other numbers: "4539 1488 0343 6467 381")."""
    text = match.group()
    groups = _SEPARATORS.split(text)
    if len(groups) == 1:
        return MASK if 13 <= len(text) <= 19 and luhn(text) else text
    seps = _SEPARATORS.findall(text)
    out, i = [], 0
    while i < len(groups):
        end = next((j for j in range(len(groups), i, -1)
                    if 13 <= sum(map(len, groups[i:j])) <= 19 and luhn("".join(groups[i:j]))),
                   None)
        out.append(MASK if end is not None else groups[i])
        i = end if end is not None else i + 1
        if i < len(groups):
            out.append(seps[i - 1])
    return "".join(out)


_SHORTEST_SECRET = 13   # characters: a card number; every _SECRET_TEXT shape is longer
_NO_DIGITS = str.maketrans("", "", "0123456789")


def mask_text(text: Any) -> Any:
    if not isinstance(text, str) or len(text) < _SHORTEST_SECRET:
        return text   # most of a frame's texts: ids, names, short words (events() calls this ~5x per row)
    text = _SECRET_TEXT.sub(MASK, text)
    # Most texts hold no run of 13 digits: the search is skipped for them.
    return _DIGIT_RUN.sub(_card_number, text) if _has_long_digits(text) else text


def _has_long_digits(text: str) -> bool:
    """At least 13 ASCII digits in all (counted in C: a loop per character was a third of
    masking's time)."""
    return len(text) - len(text.translate(_NO_DIGITS)) >= 13


def _fields(value: Any) -> dict[str, Any] | None:
    """A dataclass's or pydantic model's fields, else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    names = getattr(type(value), "model_fields", None)
    if isinstance(names, dict) and callable(getattr(value, "model_dump", None)):
        return {name: getattr(value, name, None) for name in names}
    return None


def mask_value(value: Any, key: object = None, *, keep_objects: bool = False) -> Any:
    """`value` with every secret in it masked: all of it under a secret key (numbers and
    booleans excepted, `input_tokens` is a count, but not under a payment key), else
    recursively: keys and members, a dataclass's or pydantic model's fields (it is then shown
    as a dict of them), and any other object's repr. `keep_objects` leaves dataclass, pydantic
    and other objects as they are, for a caller that masks their insides itself (the codec)."""
    if key is not None and value is not None and is_secret_key(key) and (
            not isinstance(value, (bool, int, float)) or is_payment_key(key)):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {mask_text(k) if isinstance(k, str) else mask_value(k, keep_objects=keep_objects):
                mask_value(v, k, keep_objects=keep_objects) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [mask_value(v, keep_objects=keep_objects) for v in value]
        if isinstance(value, list):
            return items
        if hasattr(value, "_fields"):          # a namedtuple takes its fields one by one
            return type(value)(*items)
        try:
            return type(value)(items)
        except Exception:
            return tuple(items) if isinstance(value, tuple) else set(items)
    if keep_objects:
        return value
    fields = _fields(value)
    if fields is not None:
        shown = {name: mask_value(v, name) for name, v in fields.items()}
        return value if all(shown[n] is v for n, v in fields.items()) else shown
    return _masked_repr(value)


def _masked_repr(value: Any) -> Any:
    """Any other object: itself, or its repr masked when the repr shows a secret."""
    try:
        text = repr(value)
    except Exception:
        return value
    shown = mask_text(text)
    return value if shown == text else shown
