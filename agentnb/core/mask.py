"""Masking of secrets: values under credential-like keys, and values that look like tokens.

Masking happens when something is shown or saved, never in the trace itself, so it can never
change the agent's real state and `reveal=True` can always give the raw value back.
"""
from __future__ import annotations

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
}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# JWTs, bearer headers and common API-key shapes, wherever they stand in a text.
_SECRET_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{12,}=*"
    r"|\b(?:sk|pk|rk|AIza|ghp|xox[abp])[-_][A-Za-z0-9_-]{16,}"
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _names_a_secret(key)


@lru_cache(maxsize=65536)   # a view asks about the same few keys at every record
def _names_a_secret(key: str) -> bool:
    words = [w.lower() for w in _WORD.findall(key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    joined = {a + b for a, b in pairwise(words)}  # api_key -> apikey, private_key -> ...
    return bool(joined & _SECRET_WORDS)


def mask_text(text: Any) -> Any:
    return _SECRET_TEXT.sub(MASK, text) if isinstance(text, str) else text


def mask_value(value: Any, key: object = None) -> Any:
    """`value` with every secret in it masked: all of it under a secret key (numbers and
    booleans excepted: `input_tokens` is a count), else recursively, keys and members too."""
    if key is not None and is_secret_key(key) and value is not None \
            and not isinstance(value, (bool, int, float)):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(k) if isinstance(k, str) else mask_value(k): mask_value(v, k)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [mask_value(v) for v in value]
        if isinstance(value, list):
            return items
        if hasattr(value, "_fields"):          # a namedtuple takes its fields one by one
            return type(value)(*items)
        try:
            return type(value)(items)
        except Exception:
            return tuple(items) if isinstance(value, tuple) else set(items)
    return value
