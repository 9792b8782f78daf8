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
from dataclasses import dataclass
from typing import Any

from ..core.values import copy_value, same
from .mapping import response_ids, written

Write = tuple[str, str | None, str, Any]   # (source, context kind, key, value)

# The tool call running in this task, from the plugin's before_tool to its after_tool (then its
# `context` is None): the wrapper of its tool's `run_async` notes its start; memory searches
# made through its ToolContext name it; a run an AgentTool starts inside it is its child.
current_tool_call: contextvars.ContextVar[ToolCall | None] = \
    contextvars.ContextVar("agentnb_tool_call", default=None)
_watched: set[type] = set()   # tool classes whose run_async notes the start (see watch)
_watching = threading.Lock()
_MISSING = object()


# A mark: (actions, held so that its id stays its own; stage: agent | model; the writer of what
# it carries (agent stage); the agent; the delta when marked). A tuple: the hooks make six an
# invocation, and a dataclass's __init__ is a Python call each time.
Mark = tuple[Any, str, str, str, dict[str, Any]]


@dataclass(slots=True)
class ToolCall:
    call_id: str
    name: str
    agent: str
    context: Any                            # its ToolContext, until the plugin's after_tool
    actions: Any
    before: dict[str, Any]                  # the delta at the plugin's before_tool
    watched: bool
    started: dict[str, Any] | None = None   # the delta when the tool started (see watch)
    after: dict[str, Any] | None = None     # the delta at the plugin's after_tool
    copies: dict[str, Any] | None = None    # its values, copied then

    @classmethod
    def begin(cls, tool: Any, tool_context: Any, call_id: str, agent: str) -> ToolCall:
        """A call at the plugin's before_tool, made this task's `current_tool_call`."""
        actions = tool_context.actions
        call = cls(call_id, tool.name, agent, tool_context, actions, dict(actions.state_delta),
                   watch(tool))
        current_tool_call.set(call)
        return call

    def running_in(self) -> tuple[str, str] | None:
        """(session id, invocation id) while the call runs: until the plugin's after_tool."""
        context = self.context
        if context is None:
            return None
        ic = context._invocation_context
        return ic.session.id, ic.invocation_id

    def done(self) -> None:
        """At the plugin's after_tool: the call's delta and copies of its values, from which
        its writes are split at the build (`writes`)."""
        self.context = None   # the wrapper of a later call must not write here
        self.after = after = dict(self.actions.state_delta)
        self.copies = copy_value(after)

    def writes(self) -> list[Write]:
        """Its before_tool callbacks' writes, then the tool's (split at the tool's start)."""
        after, copies, started = self.after or {}, self.copies or {}, self.started
        callbacks = f"before_tool_callback:{self.agent}"
        out: list[Write] = []
        if started is not None:
            # A callback's value the tool replaced is not in the after_tool copies: copied now.
            out += [(callbacks, "ToolContext", k,
                     copies[k] if after.get(k, _MISSING) is started[k] else copy_value(started[k]))
                    for k in written(self.before, started)]
            since = started
        elif self.watched:   # the tool never started: a before_tool callback answered for it
            out += [(callbacks, "ToolContext", k, copies[k]) for k in written(self.before, after)]
            since = after
        else:
            since = self.before
        return out + [(f"tool:{self.name}", "ToolContext", k, copies[k])
                      for k in written(since, after)]


def running_tool_call() -> tuple[str, str, str, str] | None:
    """(session id, invocation id, call id, tool name) of the tool call running in this task:
    from the plugin's before_tool to its after_tool."""
    call = current_tool_call.get()
    where = call.running_in() if call is not None else None
    return None if call is None or where is None else (*where, call.call_id, call.name)


class Writers:
    """The marks and tool calls of one invocation."""

    __slots__ = ("after", "calls", "marks")

    def __init__(self) -> None:
        self.marks: dict[int, Mark] = {}
        self.after: dict[int, dict[str, Any]] = {}   # model marks: the delta at after_model
        self.calls: dict[str, ToolCall] = {}

    def mark(self, actions: Any, stage: str, label: str, agent: str) -> None:
        key = id(actions)
        self.marks[key] = (actions, stage, label, agent, dict(actions.state_delta))
        self.after.pop(key, None)

    def model_done(self, actions: Any) -> None:
        if self.find(actions) is not None:
            self.after[id(actions)] = dict(actions.state_delta)

    def find(self, actions: Any) -> Mark | None:
        mark = self.marks.get(id(actions))
        return mark if mark is not None and mark[0] is actions else None

    def agent_writer(self, actions: Any) -> str | None:
        """The agent-stage writer of what `actions` carries (a before/after_agent callback)."""
        mark = self.find(actions)
        return mark[2] if mark is not None and mark[1] == "agent" else None

    def carried(self, event: Any, raw: dict[str, Any], output_key: str | None) -> Carried:
        """What an event carries of this invocation's writers, taken when it arrives; the writes
        are worked out from it at the build (`event_writes`). A single call's response event
        carries that call's `actions` (flows/llm_flows/tools/_caller.py); parallel calls'
        merged event has new ones, and is matched by its response ids. `raw`: the event's
        delta, shallow-copied. What a model mark holds is taken now: a streamed response's
        later chunks move its after_model snapshot on."""
        actions = event.actions
        answered: list[tuple[ToolCall, dict[str, Any]]] = []
        calls = self.calls
        if calls:
            call_id = next((i for i, call in calls.items() if call.actions is actions), None)
            if call_id is not None:
                answered.append((calls.pop(call_id), raw))
            else:
                for call_id in response_ids(event):
                    call = calls.pop(call_id, None)
                    if call is not None:
                        answered.append((call, dict(call.actions.state_delta)))
        mark = self.find(actions)
        after = early = None
        if mark is not None:
            after = self.after.get(id(actions))
            if after is not None:   # what before_model callbacks wrote
                early = [(k, copy_value(after[k])) for k in written(mark[4], after)]
        return answered, mark, after, early, raw, output_key


# What an event carries of its writers (see Writers.carried): (the tool calls it answers, each
# with its own delta; its mark; the mark's after_model snapshot; the before_model callbacks'
# writes, copied; the event's own delta; its author's output_key)
Carried = tuple[list[tuple[ToolCall, dict[str, Any]]], Mark | None, dict[str, Any] | None,
                list[tuple[str, Any]] | None, dict[str, Any], str | None]


def event_writes(carried: Carried, delta: Mapping[str, Any], author: str,
                 has_text: bool) -> list[Write]:
    """The writes an event carries, each with its writer, in the order they happened.
    `delta` is the event's delta as copied (values for the records); the snapshots are
    compared (by identity) against the shallow deltas `carried` holds."""
    answered, mark, after, early, raw, output_key = carried
    out: list[Write] = []
    for call, own in answered:
        out += call.writes()
        if call.after is not None:   # the agent's after_tool callbacks, on the call's own delta
            out += [(f"after_tool_callback:{call.agent}", "ToolContext", k, delta[k])
                    for k in written(call.after, own) if k in delta]
    if mark is not None:
        _, stage, label, agent, before = mark
        if stage == "agent":
            out += [(label, "CallbackContext", k, v) for k, v in delta.items()]
        else:   # model: before_model callbacks, then after_model, then output_key
            since = before
            if after is not None:
                out += [(f"before_model_callback:{agent}", "CallbackContext", k, v)
                        for k, v in early or ()]
                since = after
            late = "after_model_callback" if after is not None else "before_model_callback"
            for key in written(since, raw):
                source = (f"output_key:{author}" if has_text and key == output_key
                          else f"{late}:{agent}")
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
            call = current_tool_call.get()
            # The first start counts: a subclass's run_async calling its base's runs both.
            if call is not None and call.started is None:
                context = kwargs.get("tool_context")
                if call.context is context:
                    call.started = dict(context.actions.state_delta)
        except Exception:
            pass
        return await run_async(self, *args, **kwargs)
    return noting_start
