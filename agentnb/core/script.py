"""The step language of scripted models, shared by the ADK and LiveKit scripted models.

A script is a list of steps; each model call takes the next one, across the model's whole life:
`reply(text)`, `call(name, **args)`, a list of `call(...)` (parallel calls), or a callable
`f(request) -> step`. One callable instead of a list answers every model call (a script that
never runs out). No script at all (None) echoes the last user text.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def reply(text: str) -> Reply:
    """A model turn that answers with `text`."""
    return Reply(str(text))


def call(name: str, /, **args: Any) -> Call:
    """A model turn that calls tool `name` with `args`."""
    return Call(name, args)


class ScriptRanOut(RuntimeError):
    pass


Step = str | Reply | Call | Sequence[Call] | Callable[[Any], Any]


class Script:
    """The steps of one scripted model, taken in order from any thread."""

    def __init__(self, steps: Sequence[Step] | Callable[[Any], Any] | None, owner: str) -> None:
        self.every: Callable[[Any], Any] | None = None   # one callable for every model call
        if callable(steps) and not isinstance(steps, (Reply, Call)):
            self.every, steps = steps, None
        elif steps is not None and not isinstance(steps, (list, tuple)):
            raise TypeError(f"agentnb: {owner} steps must be a list or a callable, "
                            f"not {type(steps).__name__}")
        self.steps = None if steps is None else list(steps)
        self.owner = owner
        self.calls = 0
        self._lock = threading.Lock()

    def next(self, request: Any, last_user_text: Callable[[], str]) -> list[Reply | Call]:
        """The next step as a list of Reply/Call (one Reply, or one or more Calls)."""
        with self._lock:
            index = self.calls
            self.calls += 1
        if self.every is not None:
            return normalize(self.every(request), self.owner, index)
        if self.steps is None:
            return [Reply(last_user_text() or "")]
        if index >= len(self.steps):
            raise ScriptRanOut(
                f"agentnb: {self.owner} ran out of steps: it had {len(self.steps)} "
                f"step{'s' if len(self.steps) != 1 else ''} and this is model call {index + 1}. "
                f"To go on: give the agent a new {self.owner} (each model plays its script "
                f"once), add steps, or run the notebook from the top")
        step = self.steps[index]
        if callable(step) and not isinstance(step, (Reply, Call)):
            step = step(request)
        return normalize(step, self.owner, index)


def normalize(step: Any, owner: str, index: int) -> list[Reply | Call]:
    if isinstance(step, str):
        step = Reply(step)
    if isinstance(step, (Reply, Call)):
        return [step]
    if isinstance(step, (list, tuple)) and step and all(isinstance(s, Call) for s in step):
        return list(step)
    raise TypeError(f"agentnb: {owner} step {index + 1} is {step!r:.60}; expected reply(...), "
                    f"call(...), a list of call(...) or a callable returning one")
