"""LiveKit's `RunResult.expect` checks, recorded and shown in the turn's card.

`RunResult.expect` is a `functools.cached_property`: `watch_checks` fills its cache with a
proxy of LiveKit's own `RunAssert`, so the user's `result.expect.next_event().is_message(...)`
runs LiveKit's check unchanged (same result, same AssertionError) and each check is recorded
as an `expect` fact of the turn: what was checked, whether it held, LiveKit's message when not.
Moving to the next event (`next_event`, `skip_next`, `[i]`) is recorded only when it fails.
"""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from ..core.faces import faces
from ..core.records import Fact
from ..core.trace import Trace

_MOVES = ("next_event", "skip_next", "__getitem__")
_CONTEXT = "\nContext around failure"   # where LiveKit's message starts listing the events

Record = Callable[[str, bool, "str | None"], None]


def watch_checks(result: Any, trace: Trace, session_id: str, invocation_id: str,
                 display: bool) -> None:
    """Record the checks made on `result.expect` into `trace`, as facts of `invocation_id`;
    a finished card of the turn is drawn again with them (`display`)."""
    getter = type(result).__dict__.get("expect")
    if getter is None or not hasattr(getter, "func") or "expect" in vars(result):
        return   # not the cached property this module knows: leave LiveKit's as it is

    def record(check: str, passed: bool, message: str | None) -> None:
        trace.append(Fact(session_id, invocation_id, time.time(), "expect",
                          {"check": check, "passed": passed, "message": message}))
        if display:
            faces().refresh_card(trace, invocation_id)
    vars(result)["expect"] = Checked(lambda: getter.func(result), "expect", record)


def _words(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return ", ".join(shown)


class Checked:
    """A LiveKit assert object (`RunAssert`, `EventAssert`, ...) whose checks are recorded."""

    def __init__(self, target: Callable[[], Any], path: str, record: Record) -> None:
        self._make, self._made, self._path, self._record = target, None, path, record

    def _target(self) -> Any:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target(), name)
        if name.startswith("_") or name == "event" or not callable(attr):
            return attr
        return lambda *args, **kwargs: self._check(name, attr, f".{name}({_words(args, kwargs)})",
                                                   args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._check("__getitem__", self._target().__getitem__, f"[{key!r}]", (key,), {})

    def __repr__(self) -> str:
        return repr(self._target())

    def _check(self, name: str, method: Any, words: str, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
        __tracebackhide__ = True
        path = self._path + words
        try:
            out = method(*args, **kwargs)
        except AssertionError as exc:
            self._record(path, False, str(exc).split(_CONTEXT)[0])
            raise
        if inspect.isawaitable(out):   # an LLM judge: the check is made when awaited
            return self._judged(out, path)
        if name not in _MOVES:
            self._record(path, True, None)
        return self._wrapped(out, path)

    async def _judged(self, awaitable: Any, path: str) -> Any:
        __tracebackhide__ = True
        try:
            out = await awaitable
        except AssertionError as exc:
            self._record(path, False, str(exc).split(_CONTEXT)[0])
            raise
        self._record(path, True, None)
        return self._wrapped(out, path)

    def _wrapped(self, out: Any, path: str) -> Any:
        if type(out).__module__.startswith("livekit.agents") and type(out).__name__.endswith("Assert"):
            return Checked(lambda: out, path, self._record)
        return out
