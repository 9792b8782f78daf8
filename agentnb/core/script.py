"""The step language of scripted models, shared by the ADK and LiveKit scripted models.

A script is a list of steps; each model call takes the next one, across the model's whole life:
`reply(text)`, `call(name, **args)`, a list of `call(...)` (parallel calls), or a callable
`f(request) -> step`. No script at all (None) echoes the last user text. Where a model can send
several kinds of part in one turn (ADK), a step may also be a list mixing `thought(text)`,
`reply(text)` and `call(...)`, played as parts in that order. One callable
instead of a list answers every model call (a script that never runs out).
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
class Thought:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def reply(text: str) -> Reply:
    """A model turn that answers with `text`."""
    return Reply(str(text))


def thought(text: str) -> Thought:
    """A thought part (a model's reasoning, not part of its answer), in a mixed step."""
    return Thought(str(text))


def call(name: str, /, **args: Any) -> Call:
    """A model turn that calls tool `name` with `args`."""
    return Call(name, args)


class ScriptRanOut(RuntimeError):
    pass


Part = Reply | Call | Thought
Step = str | Reply | Call | Sequence[Part] | Callable[[Any], Any]


class Script:
    """The steps of one scripted model, taken in order from any thread. `mixed=True` lets a step
    be a list mixing thoughts, text and calls (the models that can send them together)."""

    def __init__(self, steps: Sequence[Step] | Callable[[Any], Any] | None, owner: str, *,
                 mixed: bool = False) -> None:
        self.every: Callable[[Any], Any] | None = None   # one callable for every model call
        if callable(steps) and not isinstance(steps, (Reply, Call)):
            self.every, steps = steps, None
        elif steps is not None and not isinstance(steps, (list, tuple)):
            raise TypeError(f"agentnb: {owner} steps must be a list or a callable, "
                            f"not {type(steps).__name__}")
        self.steps = None if steps is None else list(steps)
        self.owner = owner
        self.mixed = mixed
        self.calls = 0
        self._lock = threading.Lock()

    def next(self, request: Any, last_user_text: Callable[[], str]) -> list[Part]:
        """The next step as a list of parts: one Reply, one or more Calls, or (`mixed`) any
        non-empty list of Thought/Reply/Call."""
        with self._lock:
            index = self.calls
            self.calls += 1
        if self.every is not None:
            return normalize(self.every(request), self.owner, index, self.mixed)
        if self.steps is None:
            return [Reply(last_user_text() or "")]
        if index >= len(self.steps):
            raise ScriptRanOut(
                f"agentnb: {self.owner} ran out of steps: it had {len(self.steps)} "
                f"step{'s' if len(self.steps) != 1 else ''} and this is model call {index + 1}. "
                f"To go on: give the agent a new {self.owner} (each model plays its script "
                f"once), add steps, or run the notebook from the top")
        step = self.steps[index]
        if callable(step) and not isinstance(step, (Reply, Call, Thought)):
            step = step(request)
        return normalize(step, self.owner, index, self.mixed)


def normalize(step: Any, owner: str, index: int, mixed: bool = False) -> list[Part]:
    if isinstance(step, str):
        step = Reply(step)
    if isinstance(step, (Reply, Call)) or (mixed and isinstance(step, Thought)):
        return [step]
    if isinstance(step, (list, tuple)) and step:
        parts = [Reply(s) if mixed and isinstance(s, str) else s for s in step]
        if all(isinstance(s, Call) for s in parts) or (
                mixed and all(isinstance(s, (Reply, Call, Thought)) for s in parts)):
            return parts
    expected = ("reply(...), call(...), a list mixing thought(...), reply(...) and call(...)"
                if mixed else "reply(...), call(...), a list of call(...)")
    raise TypeError(f"agentnb: {owner} step {index + 1} is {step!r:.60}; expected {expected}, "
                    f"or a callable returning one")
