"""`AdkObserver`: an ADK plugin that records every hook into a trace. It returns None from
every hook and never raises into ADK (a plugin that raises aborts the run): each hook's work
runs under the adapter's `Guard`."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.adk.plugins.base_plugin import BasePlugin

from ..core.failure import full_traceback
from ..core.guard import Guard
from ..core.records import (ArtifactVersion, ContextSnapshot, Event, Fact, InvocationEnd,
                            InvocationStart, Record, Session, StateChange, scope_of)
from ..core.trace import Trace
from ..core.values import copy_value, same
from .mapping import (CONTEXT_KIND, call_dicts, describe_part, dump, event_kind, invocation_exposed,
                      state_of, text_of)

log = logging.getLogger("agentnb.adk")

# The tool call running in this task: memory searches made through a ToolContext name it.
current_tool_call: contextvars.ContextVar[tuple[str, str, str, str] | None] = \
    contextvars.ContextVar("agentnb_tool_call", default=None)


@dataclass
class _Run:
    """What the observer keeps about one running invocation until its events arrive."""
    session_id: str
    tool_writes: list = field(default_factory=list)      # (tool name, key, value)
    tool_artifacts: list = field(default_factory=list)   # (tool name, filename, version)
    callback_keys: set = field(default_factory=set)      # keys seen written before a model call
    agent_contexts: list = field(default_factory=list)   # each agent runs on its own context copy
    failures_seen: int = 0                                # observer failures when last caught up


class AdkObserver(BasePlugin):
    """An ADK plugin that records every hook into a `Trace`. Returns None, never raises."""

    def __init__(self, trace: Trace, name: str = "agentnb") -> None:
        super().__init__(name=name)
        self.trace = trace
        self.guard = Guard(log)     # hooks whose recording failed are counted there
        self._runs: dict[str, _Run] = {}
        self._recorded: set[str] = set()    # ids of the ADK events in the trace
        self._state: dict[str, dict] = {}   # session id -> key -> last recorded value
        self._lock = threading.Lock()
        self._last_user_text: tuple[Any, str] = (None, "")

    @property
    def failures(self) -> int:
        """Hooks whose recording failed (each time, the run went on)."""
        return self.guard.failures

    # -- sessions --
    def start_session(self, session_id: str, app: str, user: str, state: dict[str, Any],
                      parent: str | None = None, forked_at: str | None = None) -> None:
        """Record a session's starting state (ADK makes no event for `create_session(state=)`)."""
        now = time.time()
        records: list[Record] = [Session(session_id, app, user, "adk", now, dict(state), parent,
                                         forked_at)]
        records += [StateChange(session_id, None, None, now, "", "initial", k, scope_of(k), None,
                                copy_value(v), not k.startswith("temp:")) for k, v in state.items()]
        with self._lock:
            self._state[session_id] = {k: copy_value(v) for k, v in state.items()}
        self.trace.extend(records)

    def _changes(self, session_id: str, invocation_id: str | None, event_id: str | None, now: float,
                 author: str, writes: Sequence[tuple[str, str | None, str, Any]]) -> list[StateChange]:
        """StateChange records for (source, context kind, key, value) writes, updating old values."""
        out = []
        with self._lock:
            current = self._state.setdefault(session_id, {})
            for source, kind, key, value in writes:
                out.append(StateChange(session_id, invocation_id, event_id, now, author, source,
                                       key, scope_of(key), current.get(key), value,
                                       not key.startswith("temp:"), kind))
                current[key] = value
        return out

    def _snapshot(self, hook: str, ctx: Any, session_id: str, invocation_id: str | None,
                  agent: str | None = None, exposed: dict[str, Any] | None = None) -> ContextSnapshot:
        return ContextSnapshot(
            session_id, invocation_id, time.time(), hook, CONTEXT_KIND.get(hook, hook),
            type(ctx).__name__, agent, getattr(ctx, "function_call_id", None),
            self._user_text(getattr(ctx, "user_content", None)), getattr(ctx, "branch", None),
            state_of(ctx), exposed or {})

    def _user_text(self, content: Any) -> str:
        # Every snapshot of an invocation shows the same user content: walk its parts once.
        cached = self._last_user_text
        if cached[0] is not content:
            cached = self._last_user_text = (content, text_of(content))
        return cached[1]

    # -- invocation-level hooks (InvocationContext) --
    async def on_user_message_callback(self, *, invocation_context: Any, user_message: Any) -> None:
        self.guard.call("the user message", self._record_user_message, invocation_context)

    def _record_user_message(self, ic: Any) -> None:
        self.trace.append(self._snapshot(
            "on_user_message_callback", ic, ic.session.id, ic.invocation_id,
            exposed=invocation_exposed(ic)))

    async def before_run_callback(self, *, invocation_context: Any) -> None:
        self.guard.call("the start of the invocation", self._record_start, invocation_context)

    def _record_start(self, ic: Any) -> None:
        sid, inv = ic.session.id, ic.invocation_id
        self._begin(ic)
        records: list[Record] = [self._snapshot("before_run_callback", ic, sid, inv,
                                  exposed=invocation_exposed(ic))]
        # The user's own event never reaches on_event_callback; it is in the session by now.
        user_event = next((e for e in reversed(ic.session.events)
                           if e.invocation_id == inv and e.author == "user"), None)
        if user_event is not None:
            records += self._event_records(user_event, sid, "user", "InvocationContext")
        self.trace.extend(records)

    def _begin(self, ic: Any) -> None:
        """The least an invocation needs recorded: its start, and a way to learn of its end.
        ADK calls no hook when a run is interrupted or cancelled, so the end of the task that
        runs it marks it interrupted unless a hook ended it first."""
        sid, inv = ic.session.id, ic.invocation_id
        with self._lock:
            self._runs[inv] = _Run(sid, failures_seen=self.guard.failures)
        self.trace.append(InvocationStart(sid, inv, getattr(ic.agent, "name", ""),
                                          text_of(ic.user_content), time.time()))
        task = asyncio.current_task()
        if task is not None:
            task.add_done_callback(lambda _: self.end(
                sid, inv, "interrupted", "the run stopped without ending (interrupted or cancelled)"))

    def _catch_up(self, ic: Any) -> None:
        """Make good what a failed hook did not record: the invocation's start, and any of its
        events already in ADK's session that the trace lacks. Only looks after a failure."""
        run = self._runs.get(ic.invocation_id)
        if run is not None and run.failures_seen == self.guard.failures:
            return
        if run is None:
            self._begin(ic)
            run = self._runs[ic.invocation_id]
        run.failures_seen = self.guard.failures
        missing = [e for e in ic.session.events
                   if e.invocation_id == ic.invocation_id and e.id not in self._recorded]
        for event in missing:
            user = event.author == "user"
            self.trace.extend(self._event_records(
                event, ic.session.id, "user" if user else None, "InvocationContext" if user else None,
                run, getattr(ic.agent, "output_key", None)))

    async def on_event_callback(self, *, invocation_context: Any, event: Any) -> None:
        # ADK calls this before it appends the event: earlier events are in the session.
        self.guard.call("missed records", self._catch_up, invocation_context)
        # Copy at once: ADK strips `temp:` keys from the delta when it appends the event.
        self.guard.call("an event", self._record_event, invocation_context, event)
        if event.actions.artifact_delta or self._pending_artifacts(invocation_context.invocation_id):
            await self.guard.call_async("artifacts", self._record_artifacts, invocation_context, event)

    def _record_event(self, ic: Any, event: Any) -> None:
        run = self._runs.get(ic.invocation_id)
        self.trace.extend(self._event_records(event, ic.session.id, None, None, run,
                                              getattr(ic.agent, "output_key", None)))

    def _event_records(self, event: Any, session_id: str, source: str | None,
                       context_kind: str | None, run: _Run | None = None,
                       output_key: str | None = None) -> list[Record]:
        self._recorded.add(event.id)
        calls, responses = call_dicts(event)
        actions = event.actions
        delta = copy_value(dict(actions.state_delta))
        now = time.time()
        text = text_of(event.content)
        record = Event(
            session_id, event.invocation_id, event.id, event.timestamp or now, event.author,
            event_kind(event, calls, responses, text), text, calls, responses,
            delta, dict(actions.artifact_delta), actions.transfer_to_agent,
            bool(actions.escalate), bool(actions.end_of_agent),
            list((actions.requested_auth_configs or {}).keys()),
            event.error_message or event.error_code, event.branch)
        writes: list[tuple[str, str | None, str, Any]] = []
        if run is not None and responses:
            # Writes of each tool, in the order the tools ran: parallel calls share one merged
            # event whose delta keeps only the last value of each key.
            with self._lock:
                tool_writes, run.tool_writes = run.tool_writes, []
            writes += [(f"tool:{name}", "ToolContext", k, v) for name, k, v in tool_writes]
        last_written = {k: v for _, _, k, v in writes}
        for key, value in delta.items():
            if key in last_written and same(last_written[key], value):
                continue
            if source is not None:
                origin, kind = source, context_kind
            elif key in last_written:
                origin, kind = "merge", "ToolContext"   # e.g. dicts deep-merged across calls
            elif output_key and key == output_key:
                origin, kind = "output_key", "CallbackContext"
            elif run is not None and key in run.callback_keys:
                origin, kind = "before_model_callback", "CallbackContext"
            else:
                origin, kind = f"callback:{event.author}", "CallbackContext"
            writes.append((origin, kind, key, value))
        return [record, *self._changes(session_id, event.invocation_id, event.id, now,
                                       event.author, writes)]

    def _pending_artifacts(self, invocation_id: str) -> bool:
        run = self._runs.get(invocation_id)
        return run is not None and bool(run.tool_artifacts)

    async def _record_artifacts(self, ic: Any, event: Any) -> None:
        """Artifact versions this event announces, plus those tools saved that no event names
        (parallel calls keep only the last version of each file in the merged event)."""
        run = self._runs.get(ic.invocation_id)
        saved = []
        if run is not None:
            with self._lock:
                saved, run.tool_artifacts = run.tool_artifacts, []
        seen = {(f, v) for _, f, v in saved}
        saved += [(f"callback:{event.author}", f, v) for f, v in event.actions.artifact_delta.items()
                  if (f, v) not in seen]
        records = [await self._artifact(ic, event.id, source, f, v) for source, f, v in saved]
        self.trace.extend(records)

    async def _artifact(self, ic: Any, event_id: str | None, source: str, filename: str,
                        version: int) -> ArtifactVersion:
        part = None
        if ic.artifact_service is not None:
            part = await ic.artifact_service.load_artifact(
                app_name=ic.app_name, user_id=ic.user_id, session_id=ic.session.id,
                filename=filename, version=version)
        mime, size, preview = describe_part(part)
        return ArtifactVersion(ic.session.id, ic.invocation_id, event_id, time.time(), filename,
                               version, mime, size, preview, source)

    async def after_run_callback(self, *, invocation_context: Any) -> None:
        # ADK counts a generator closed early as success; a cancelled task or an aborted
        # invocation did not finish its work.
        task = asyncio.current_task()
        cut_short = (task is not None and task.cancelling()) or invocation_context.is_aborted
        await self.guard.call_async("the end of the invocation", self._finish, invocation_context,
                                "interrupted" if cut_short else "ok",
                                "the run was closed early" if cut_short else None)

    async def on_run_error_callback(self, *, invocation_context: Any, error: Any) -> None:
        await self.guard.call_async("a run error", self._finish, invocation_context, "error",
                                    f"{type(error).__name__}: {error}", full_traceback(error))

    async def _finish(self, ic: Any, status: str, error: str | None,
                      traceback: str | None = None) -> None:
        self.guard.call("missed records", self._catch_up, ic)
        run = self._runs.get(ic.invocation_id)
        if run is not None and run.tool_artifacts:
            # Saved by a tool whose response never became an event (it raised): kept, no event.
            with self._lock:
                left, run.tool_artifacts = run.tool_artifacts, []
            self.trace.extend([await self._artifact(ic, None, s, f, v) for s, f, v in left])
        # Each agent runs on a copy of the InvocationContext, so `end_invocation` set by a
        # callback or tool shows on that copy, not on the runner's.
        for ctx in (ic, *(run.agent_contexts if run else ())):
            if ctx.end_invocation:
                self.trace.append(Fact(ic.session.id, ic.invocation_id, time.time(), "end_invocation",
                                       {"agent": getattr(ctx.agent, "name", None), "branch": ctx.branch}))
                break
        self.end(ic.session.id, ic.invocation_id, status, error, traceback)

    def end(self, session_id: str, invocation_id: str, status: str, error: str | None = None,
            traceback: str | None = None) -> bool:
        """Record the end of an invocation once; `temp:` keys end with it."""
        with self._lock:
            if self._runs.pop(invocation_id, None) is None:
                return False
            current = self._state.get(session_id, {})
            for key in [k for k in current if k.startswith("temp:")]:
                del current[key]
        self.trace.append(InvocationEnd(session_id, invocation_id, time.time(), status, error,
                                        traceback))
        return True

    # -- agent and model hooks (CallbackContext) --
    async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        self.guard.call("before_agent", self._record_before_agent, agent, callback_context)

    def _record_before_agent(self, agent: Any, cc: Any) -> None:
        run = self._runs.get(cc.invocation_id)
        if run is not None:
            run.agent_contexts.append(cc._invocation_context)
        self._record_context("before_agent_callback", cc, agent.name)

    async def after_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        self.guard.call("after_agent", self._record_context, "after_agent_callback",
                    callback_context, agent.name)

    async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
        self.guard.call("before_model", self._record_context, "before_model_callback",
                    callback_context, callback_context.agent_name,
                    {"model": llm_request.model, "n_contents": len(llm_request.contents or []),
                     "tools": sorted(getattr(llm_request, "tools_dict", {}) or {})})

    async def after_model_callback(self, *, callback_context: Any, llm_response: Any) -> None:
        self.guard.call("after_model", self._record_after_model, callback_context)

    def _record_after_model(self, cc: Any) -> None:
        run = self._runs.get(cc.invocation_id)
        if run is not None:  # keys the agent's before_model callbacks wrote for this step
            run.callback_keys.update(cc.actions.state_delta)
        self._record_context("after_model_callback", cc, cc.agent_name)

    async def on_model_error_callback(self, *, callback_context: Any, llm_request: Any, error: Any) -> None:
        self.guard.call("a model error", self._record_fact, callback_context, "model_error",
                    {"agent": callback_context.agent_name,
                     "error": f"{type(error).__name__}: {error}"})

    # -- tool hooks (ToolContext) --
    async def before_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any) -> None:
        current_tool_call.set((tool_context.session.id, tool_context.invocation_id,
                        tool_context.function_call_id, tool.name))
        self.guard.call("before_tool", self._record_context, "before_tool_callback", tool_context,
                    tool_context.agent_name, {"tool": tool.name, "args": copy_value(tool_args)})

    async def after_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, result: Any) -> None:
        self.guard.call("after_tool", self._record_after_tool, tool, tool_context, result)

    def _record_after_tool(self, tool: Any, tc: Any, result: Any) -> None:
        run = self._runs.get(tc.invocation_id)
        actions = tc.actions
        if run is not None:
            with self._lock:
                run.tool_writes += [(tool.name, k, copy_value(v)) for k, v in actions.state_delta.items()]
                run.tool_artifacts += [(f"tool:{tool.name}", f, v)
                                       for f, v in actions.artifact_delta.items()]
        self._record_context("after_tool_callback", tc, tc.agent_name,
                             {"tool": tool.name, "result": copy_value(result)})
        for call_id, config in (actions.requested_auth_configs or {}).items():
            self._record_fact(tc, "auth_request", {"function_call_id": call_id, "tool": tool.name,
                                                   "auth_config": dump(config)})

    async def on_tool_error_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, error: Any) -> None:
        self.guard.call("a tool error", self._record_tool_error, tool, tool_context, error)

    def _record_tool_error(self, tool: Any, tc: Any, error: Any) -> None:
        run = self._runs.get(tc.invocation_id)
        if run is not None:  # ADK drops a failed tool's state writes; its artifacts stay saved
            with self._lock:
                run.tool_artifacts += [(f"tool:{tool.name} (failed)", f, v)
                                       for f, v in tc.actions.artifact_delta.items()]
        self._record_fact(tc, "tool_error", {
            "tool": tool.name, "function_call_id": tc.function_call_id,
            "error": f"{type(error).__name__}: {error}",
            "lost_state_writes": copy_value(dict(tc.actions.state_delta))})

    def _record_context(self, hook: str, ctx: Any, agent: str | None,
                        exposed: dict[str, Any] | None = None) -> None:
        session = ctx.session
        self.trace.append(self._snapshot(hook, ctx, session.id, ctx.invocation_id, agent, exposed))

    def _record_fact(self, ctx: Any, topic: str, data: dict[str, Any]) -> None:
        self.trace.append(Fact(ctx.session.id, ctx.invocation_id, time.time(), topic, data))
