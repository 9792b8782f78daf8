"""Who wrote each state key of an event.

ADK hands its hooks the very `EventActions` objects that the events they cause will carry: a
before/after-agent callback's writes come out in an event whose `actions` is that callback
context's; both model-callback stages write into the model response event's `actions`; a single
tool call's response event carries the tool context's `actions`. So a writer is found by the
identity of `event.actions`, and stages that share one object are told apart by snapshots of its
`state_delta` taken at the plugin hooks between them (shallow copies: values are compared by
identity, nothing is deep-copied on the hot path). Marked objects are held until the invocation
ends, so their ids cannot be reused meanwhile.

Tools: plugin before_tool -> the agent's before_tool callbacks -> the tool -> plugin after_tool
-> the agent's after_tool callbacks. A tool class's `run_async` is wrapped once to note the
delta when the tool really starts, which splits the callbacks' writes from the tool's.
"""
from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.values import copy_value, same
from .mapping import written

Write = tuple[str, str | None, str, Any]   # (source, context kind, key, value)

# The tool call starting in this task, for the wrapper of its `run_async`:
# [tool context, the delta when the tool started (None until it starts)].
_tool_start: contextvars.ContextVar[list[Any] | None] = \
    contextvars.ContextVar("agentnb_tool_start", default=None)
_watched: set[type] = set()   # tool classes whose run_async notes the start (see watch)
_watching = threading.Lock()


@dataclass(slots=True)
class Mark:
    actions: Any                 # held, so that its id stays its own
    stage: str                   # agent | model
    label: str                   # the writer of what it carries (agent stage)
    agent: str
    before: dict[str, Any]       # the delta when marked
    after: dict[str, Any] | None = None   # model stage: the delta at the plugin's after_model


@dataclass(slots=True)
class ToolCall:
    name: str
    agent: str
    actions: Any
    before: dict[str, Any]
    watched: bool
    start: list[Any]                                    # shared with the wrapper: see _tool_start
    writes: list[Write] = field(default_factory=list)   # before_tool callbacks, then the tool
    after: dict[str, Any] | None = None                 # the delta at the plugin's after_tool


class Writers:
    """The marks and tool calls of one invocation."""

    __slots__ = ("calls", "marks")

    def __init__(self) -> None:
        self.marks: dict[int, Mark] = {}
        self.calls: dict[str, ToolCall] = {}

    def mark(self, actions: Any, stage: str, label: str, agent: str) -> None:
        self.marks[id(actions)] = Mark(actions, stage, label, agent, dict(actions.state_delta))

    def model_done(self, actions: Any) -> None:
        mark = self.find(actions)
        if mark is not None:
            mark.after = dict(actions.state_delta)

    def find(self, actions: Any) -> Mark | None:
        mark = self.marks.get(id(actions))
        return mark if mark is not None and mark.actions is actions else None

    # -- tools --
    def tool_started(self, call_id: str, tool: Any, agent: str, tool_context: Any) -> None:
        watched = watch(tool)
        start = [tool_context, None]
        _tool_start.set(start)
        actions = tool_context.actions
        self.calls[call_id] = ToolCall(tool.name, agent, actions, dict(actions.state_delta),
                                       watched, start)

    def tool_done(self, call_id: str) -> None:
        """At the plugin's after_tool: split what was written since before_tool."""
        call = self.calls.get(call_id)
        if call is None:
            return
        copy = copy_value
        raw = call.actions.state_delta
        started = call.start[1]
        call.start[0] = None   # the wrapper of a later call must not write here
        callbacks = f"before_tool_callback:{call.agent}"
        if started is not None:
            call.writes += [(callbacks, "ToolContext", k, copy(started[k]))
                            for k in written(call.before, started)]
            since = started
        elif call.watched:   # the tool never started: a before_tool callback answered for it
            call.writes += [(callbacks, "ToolContext", k, copy(raw[k]))
                            for k in written(call.before, raw)]
            since = raw
        else:
            since = call.before
        call.writes += [(f"tool:{call.name}", "ToolContext", k, copy(raw[k]))
                        for k in written(since, raw)]
        call.after = dict(raw)

    def event_writes(self, event: Any, delta: Mapping[str, Any], response_ids: list[str],
                     output_key: str | None, has_text: bool) -> list[Write]:
        """The writes an event carries, each with its writer, in the order they happened.
        `delta` is the event's delta as copied (values for the records); the event's own
        `actions.state_delta` is compared against the snapshots."""
        raw = event.actions.state_delta
        author = event.author
        out: list[Write] = []
        for call_id in response_ids:
            call = self.calls.pop(call_id, None)
            if call is None:
                continue
            out += call.writes
            if call.after is not None:   # the agent's after_tool callbacks, on the call's own delta
                out += [(f"after_tool_callback:{call.agent}", "ToolContext", k, delta[k])
                        for k in written(call.after, call.actions.state_delta) if k in delta]
        mark = self.find(event.actions)
        if mark is not None and mark.stage == "agent":
            out += [(mark.label, "CallbackContext", k, v) for k, v in delta.items()]
        elif mark is not None:   # model: before_model callbacks, then after_model, then output_key
            since = mark.before
            if mark.after is not None:
                out += [(f"before_model_callback:{mark.agent}", "CallbackContext", k,
                         copy_value(mark.after[k])) for k in written(mark.before, mark.after)]
                since = mark.after
            late = "after_model_callback" if mark.after is not None else "before_model_callback"
            for key in written(since, raw):
                source = (f"output_key:{author}" if has_text and key == output_key
                          else f"{late}:{mark.agent}")
                out.append((source, "CallbackContext", key, delta[key]))
        elif not out:
            out += [(f"output_key:{author}" if has_text and key == output_key
                     else f"event:{author}", None, key, value) for key, value in delta.items()]
        return _complete(out, delta, author)


def _complete(out: list[Write], delta: Mapping[str, Any], author: str) -> list[Write]:
    """Every key of the delta ends at the value the event stores: a value ADK changed on the way
    (parallel calls' deltas are deep-merged into one) is one more row by the key's last writer."""
    last: dict[str, Write] = {}
    for w in out:
        last[w[2]] = w
    for key, value in delta.items():
        previous = last.get(key)
        if previous is None or not same(previous[3], value):
            source, kind = (previous[0], previous[1]) if previous else (f"event:{author}", None)
            out.append((source, kind, key, value))
    return out


def watch(tool: Any) -> bool:
    """Wrap `run_async` of the tool's class once, to note the delta when a tool really starts;
    outside a call agentnb records, the wrapper only looks at a context variable. The class,
    not the instance: ADK makes a FunctionTool per model call for each plain function, and a
    wrapper on the instance, holding its bound method, made each one a reference cycle left
    for the GC. False for a tool that is not watched (its writes are then all `tool:<name>`):
    a pydantic tool, or one with a `run_async` of its own on the instance."""
    cls = type(tool)
    if "run_async" in getattr(tool, "__dict__", ()):
        return False
    if cls in _watched:
        return True
    if hasattr(cls, "model_fields"):
        return False
    with _watching:
        if cls not in _watched:
            try:
                cls.run_async = _noting_start(cls.run_async)
            except Exception:
                return False
            _watched.add(cls)
    return True


def _noting_start(run_async: Any) -> Any:
    @functools.wraps(run_async)
    async def noting_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            holder = _tool_start.get()
            # The first start counts: a subclass's run_async calling its base's runs both.
            if holder is not None and holder[1] is None:
                context = kwargs.get("tool_context")
                if holder[0] is context:
                    holder[1] = dict(context.actions.state_delta)
        except Exception:
            pass
        return await run_async(self, *args, **kwargs)
    return noting_start
