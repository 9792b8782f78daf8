"""`AdkObserver`: an ADK plugin that records every hook into a trace. It returns None from
every hook and never raises into ADK (a plugin that raises aborts the run): each hook's work
runs under the adapter's `Guard`. A hook takes only what could change after it returns (the
state, the deltas, the time, a tool's arguments) and keeps the building of its records for the
next read of the trace (`core.backlog`): built in each hook, they cost ~1 ms an invocation,
5% of a scripted ADK run."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from google.adk.plugins.base_plugin import BasePlugin

from ..core.backlog import Backlog
from ..core.failure import full_traceback
from ..core.guard import Guard
from ..core.records import ArtifactVersion, ContextSnapshot, Fact, InvocationStart, Record
from ..core.trace import Trace
from ..core.values import copy_value
from .mapping import CONTEXT_KIND, describe_part, dump, invocation_exposed, text_of
from .provenance import ToolCall, Writers, current_tool_call, running_tool_call
from .sessions import SHARED_PREFIXES, SessionBook

log = logging.getLogger("agentnb.adk")

# The agent running in this task (session, invocation, agent): what preload_memory searches for.
current_agent: contextvars.ContextVar[tuple[str, str, Any] | None] = \
    contextvars.ContextVar("agentnb_agent", default=None)


@dataclass
class _Run:
    """What the observer keeps about one running invocation until its events arrive."""
    session_id: str
    writers: Writers = field(default_factory=Writers)    # who wrote what (see provenance.py)
    tool_artifacts: list = field(default_factory=list)   # (source, filename, version)
    agent_contexts: list = field(default_factory=list)   # each agent runs on its own context copy
    failures_seen: int = 0                                # observer failures when last caught up


class AdkObserver(SessionBook, BasePlugin):
    """An ADK plugin that records every hook into a `Trace`. Returns None, never raises.
    `root` names the root of the app (a Workflow runs with no agent in its context)."""

    def __init__(self, trace: Trace, name: str = "agentnb", root: str = "") -> None:
        BasePlugin.__init__(self, name=name)
        self.trace = trace
        self.root = root
        self.guard = Guard(log)     # hooks whose recording failed are counted there
        self._runs: dict[str, _Run] = {}
        self._init_book()
        self._last_user_text: tuple[Any, str] = (None, "")
        self._later = Backlog(trace, self.guard).keep
        # Bound once: a method read off `self` is a new object each time, one per kept hook.
        self._context_build = self._build_context
        self._event_build = self._build_event

    @property
    def failures(self) -> int:
        """Hooks whose recording failed (each time, the run went on)."""
        return self.guard.failures

    def _build_context(self, hook: str, sid: str, inv: str, context_type: type,
                       call_id: str | None, agent: str | None, exposed: dict[str, Any] | None,
                       now: float, state: dict[str, Any], branch: str | None,
                       content: Any) -> list[Record]:
        return [ContextSnapshot(sid, inv, now, hook, CONTEXT_KIND[hook], context_type.__name__,
                                agent, call_id, self._user_text(content), branch, state,
                                exposed or {})]

    def _user_text(self, content: Any) -> str:
        # Every snapshot of an invocation shows the same user content: walk its parts once.
        cached = self._last_user_text
        if cached[0] is not content:
            cached = self._last_user_text = (content, text_of(content))
        return cached[1]

    # -- invocation-level hooks (InvocationContext) --
    async def on_user_message_callback(self, *, invocation_context: Any, user_message: Any) -> None:
        try:
            self._record_user_message(invocation_context)
        except Exception:
            self.guard.failed("the user message")

    def _record_user_message(self, ic: Any) -> None:
        self._record_context("on_user_message_callback", ic, ic, None, invocation_exposed(ic))

    async def before_run_callback(self, *, invocation_context: Any) -> None:
        try:
            self._record_start(invocation_context)
        except Exception:
            self.guard.failed("the start of the invocation")

    def _record_start(self, ic: Any) -> None:
        sid, inv = ic.session.id, ic.invocation_id
        # The user's own event never reaches on_event_callback; it is in the session by now.
        user_event = next((e for e in reversed(ic.session.events)
                           if e.invocation_id == inv and e.author == "user"), None)
        running = running_tool_call()
        parent = None   # (invocation, call) of the tool call this run is inside: AgentTool's
        if running is not None and running[0] != sid:
            current_tool_call.set(None)   # the child's own tool calls are not the parent's
            parent = (running[1], running[2])
        if not self.knows(sid):   # a session made elsewhere (AgentTool makes one per call)
            delta = user_event.actions.state_delta if user_event is not None else {}
            self.start_session(sid, ic.app_name, ic.user_id,
                               {k: v for k, v in ic.session.state.items() if k not in delta},
                               events=[e for e in ic.session.events if e is not user_event])
        self._begin(ic, parent)
        self._record_context("before_run_callback", ic, ic, None, invocation_exposed(ic))
        shared = {k: copy_value(v) for k, v in ic.session.state.items()
                  if k.startswith(SHARED_PREFIXES)}
        # Events appended outside the runner since the last run (ADK fires no hook for them).
        events = self._capture_unseen(ic.session, user_event)
        if user_event is not None:
            events.append(self._capture_event(user_event, sid, None, "user"))
        self._later("the start of the invocation", self._build_start, sid, events, shared)

    def _build_start(self, sid: str, events: list[tuple[Any, ...]], shared: dict[str, Any]) -> list[Record]:
        records = [record for capture in events for record in self._build_event(*capture)]
        return records + self.drift_records(sid, shared)   # app:/user: keys written elsewhere

    def _begin(self, ic: Any, parent: tuple[str, str] | None = None) -> None:
        """The least an invocation needs recorded: its start, and a way to learn of its end.
        ADK calls no hook when a run is interrupted or cancelled, so the end of the task that
        runs it marks it interrupted unless a hook ended it first. `parent`: (invocation, call)
        of the tool call it runs inside."""
        sid, inv = ic.session.id, ic.invocation_id
        with self._lock:
            self._runs[inv] = _Run(sid, failures_seen=self.guard.failures)
        agent = getattr(ic.agent, "name", None) or self.root
        self._later("the start of the invocation", self._build_begin, sid, inv, agent,
                    ic.user_content, time.time(), parent)
        task = asyncio.current_task()
        if task is not None:
            task.add_done_callback(lambda _: self.end(
                sid, inv, "interrupted", "the run stopped without ending (interrupted or cancelled)"))

    @staticmethod
    def _build_begin(sid: str, inv: str, agent: str, content: Any, now: float,
                     parent: tuple[str, str] | None) -> list[Record]:
        return [InvocationStart(sid, inv, agent, text_of(content), now,
                                *(parent or (None, None)))]

    def _catch_up(self, ic: Any) -> _Run | None:
        """Make good what a failed hook did not record: the invocation's start, and any of its
        events already in ADK's session that the trace lacks. Only looks after a failure.
        Returns the invocation's run."""
        run = self._runs.get(ic.invocation_id)
        if run is not None and run.failures_seen == self.guard.failures:
            return run
        if run is None:
            self._begin(ic)
            run = self._runs[ic.invocation_id]
        run.failures_seen = self.guard.failures
        missing = [e for e in ic.session.events
                   if e.invocation_id == ic.invocation_id and e.id not in self._recorded]
        for event in missing:
            user = event.author == "user"
            self._later("missed records", self._event_build, *self._capture_event(
                event, ic.session.id, None if user else run.writers, "user" if user else None))
        return run

    async def on_event_callback(self, *, invocation_context: Any, event: Any) -> None:
        # ADK calls this before it appends the event: earlier events are in the session.
        # The hook ADK calls most: one look at the run serves all it does.
        ic = invocation_context
        run = self._runs.get(ic.invocation_id)
        if run is None or run.failures_seen != self.guard.failures:
            try:
                run = self._catch_up(ic)
            except Exception:
                self.guard.failed("missed records")
        if ic.live_request_queue is not None:
            try:
                self._record_live_input(ic)
            except Exception:
                self.guard.failed("live input")
        # Copy at once: ADK strips `temp:` keys from the delta when it appends the event.
        try:
            self._record_event(ic, event, run)
        except Exception:
            self.guard.failed("an event")
        if event.actions.artifact_delta or (run is not None and run.tool_artifacts):
            try:
                await self._record_artifacts(ic, event)
            except Exception:
                self.guard.failed("artifacts")

    def _record_event(self, ic: Any, event: Any, run: _Run | None) -> None:
        self._later("an event", self._event_build, *self._capture_event(
            event, ic.session.id, run.writers if run is not None else None))

    def _record_live_input(self, ic: Any) -> None:
        """A live run's flow appends the user's messages (and state deltas) to the session
        itself, with no hook: record those appended since the last look, before what answers
        them (and at each message the flow screens, before it reaches the model)."""
        for capture in self._capture_unseen(ic.session, live=True):
            self._later("live input", self._event_build, *capture)

    async def _record_artifacts(self, ic: Any, event: Any) -> None:
        """Artifact versions this event announces, plus those tools saved that no event names
        (parallel calls keep only the last version of each file in the merged event)."""
        run = self._runs.get(ic.invocation_id)
        saved = []
        if run is not None:
            with self._lock:
                saved, run.tool_artifacts = run.tool_artifacts, []
        seen = {(f, v) for _, f, v in saved}
        writer = run.writers.agent_writer(event.actions) if run is not None else None
        source = writer or f"event:{event.author}"
        saved += [(source, f, v) for f, v in event.actions.artifact_delta.items() if (f, v) not in seen]
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
        try:
            await self._finish(invocation_context, "interrupted" if cut_short else "ok",
                               "the run was closed early" if cut_short else None)
        except Exception:
            self.guard.failed("the end of the invocation")

    async def on_run_error_callback(self, *, invocation_context: Any, error: Any) -> None:
        try:
            await self._finish(invocation_context, "error", f"{type(error).__name__}: {error}",
                               full_traceback(error))
        except Exception:
            self.guard.failed("a run error")

    async def _finish(self, ic: Any, status: str, error: str | None,
                      traceback: str | None = None) -> None:
        try:
            self._catch_up(ic)
        except Exception:
            self.guard.failed("missed records")
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
                fact = Fact(ic.session.id, ic.invocation_id, time.time(), "end_invocation",
                            {"agent": getattr(ctx.agent, "name", None), "branch": ctx.branch})
                self._later("end_invocation", lambda fact: [fact], fact)
                break
        self.end(ic.session.id, ic.invocation_id, status, error, traceback)

    def end(self, session_id: str, invocation_id: str, status: str, error: str | None = None,
            traceback: str | None = None) -> bool:
        """Record the end of an invocation once; `temp:` keys end with it. An invocation
        that ends "ok" with a call still unanswered (a long-running call, a confirmation, a
        credential) is "waiting"."""
        with self._lock:
            if self._runs.pop(invocation_id, None) is None:
                return False
        self._later("the end of the invocation", self._build_end, session_id, invocation_id,
                    time.time(), status, error, traceback)
        return True

    # -- agent and model hooks (CallbackContext) --
    async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        try:
            self._record_before_agent(agent, callback_context)
        except Exception:
            self.guard.failed("before_agent")

    def _record_before_agent(self, agent: Any, cc: Any) -> None:
        ic = cc._invocation_context   # each of a Context's properties reads it: read it once
        self._agents[agent.name] = agent
        current_agent.set((ic.session.id, ic.invocation_id, agent))
        run = self._runs.get(ic.invocation_id)
        if run is not None:
            run.agent_contexts.append(ic)
            # The agent's own before_agent callbacks get this context: their writes come out
            # in one event carrying its actions.
            run.writers.mark(cc.actions, "agent", f"before_agent_callback:{agent.name}", agent.name)
        self._record_context("before_agent_callback", cc, ic, agent.name)

    async def after_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        try:
            self._record_after_agent(agent, callback_context)
        except Exception:
            self.guard.failed("after_agent")

    def _record_after_agent(self, agent: Any, cc: Any) -> None:
        ic = cc._invocation_context
        run = self._runs.get(ic.invocation_id)
        if run is not None:
            run.writers.mark(cc.actions, "agent", f"after_agent_callback:{agent.name}", agent.name)
        self._record_context("after_agent_callback", cc, ic, agent.name)

    async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
        try:
            self._record_before_model(callback_context, llm_request)
        except Exception:
            self.guard.failed("before_model")

    def _record_before_model(self, cc: Any, llm_request: Any) -> None:
        ic, agent = cc._invocation_context, cc.agent_name
        run = self._runs.get(ic.invocation_id)
        if run is not None:   # both model-callback stages write into the response's actions
            run.writers.mark(cc.actions, "model", "", agent)
        if ic.live_request_queue is not None:
            self._record_live_input(ic)
        self._record_context("before_model_callback", cc, ic, agent,
                             {"model": llm_request.model, "n_contents": len(llm_request.contents or []),
                              "tools": sorted(getattr(llm_request, "tools_dict", {}) or {})})

    async def after_model_callback(self, *, callback_context: Any, llm_response: Any) -> None:
        try:
            self._record_after_model(callback_context)
        except Exception:
            self.guard.failed("after_model")

    def _record_after_model(self, cc: Any) -> None:
        ic = cc._invocation_context
        run = self._runs.get(ic.invocation_id)
        if run is not None:   # what the agent's before_model callbacks wrote, so far
            run.writers.model_done(cc.actions)
        self._record_context("after_model_callback", cc, ic, cc.agent_name)

    async def on_model_error_callback(self, *, callback_context: Any, llm_request: Any, error: Any) -> None:
        try:
            self._record_fact(callback_context, "model_error", {
                "agent": callback_context.agent_name, "error": f"{type(error).__name__}: {error}"})
        except Exception:
            self.guard.failed("a model error")

    # -- tool hooks (ToolContext) --
    async def before_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any) -> None:
        try:
            call = ToolCall.begin(tool, tool_context, tool_context.function_call_id,
                                  tool_context.agent_name)
            self._record_before_tool(call, tool_args, tool_context, tool_context._invocation_context)
        except Exception:
            self.guard.failed("before_tool")

    def _record_before_tool(self, call: ToolCall, tool_args: Any, tc: Any, ic: Any) -> None:
        run = self._runs.get(ic.invocation_id)
        if run is not None:
            run.writers.calls[call.call_id] = call
        self._record_context("before_tool_callback", tc, ic, call.agent,
                             {"tool": call.name, "args": copy_value(tool_args)}, call.call_id)

    async def after_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, result: Any) -> None:
        try:
            self._record_after_tool(tool, tool_context, result)
        except Exception:
            self.guard.failed("after_tool")

    def _record_after_tool(self, tool: Any, tc: Any, result: Any) -> None:
        ic, call_id, actions = tc._invocation_context, tc.function_call_id, tc.actions
        run = self._runs.get(ic.invocation_id)
        call = run.writers.calls.get(call_id) if run is not None else current_tool_call.get()
        if call is not None and call.call_id == call_id:
            call.done()
        if run is not None and actions.artifact_delta:
            with self._lock:
                run.tool_artifacts += [(f"tool:{tool.name}", f, v)
                                       for f, v in actions.artifact_delta.items()]
        self._record_context("after_tool_callback", tc, ic, tc.agent_name,
                             {"tool": tool.name, "result": copy_value(result)}, call_id)
        for auth_call_id, config in (actions.requested_auth_configs or {}).items():
            self._record_fact(tc, "auth_request", {"function_call_id": auth_call_id,
                                                   "tool": tool.name, "auth_config": dump(config)})

    async def on_tool_error_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, error: Any) -> None:
        try:
            self._record_tool_error(tool, tool_context, error)
        except Exception:
            self.guard.failed("a tool error")

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

    def _record_context(self, hook: str, ctx: Any, ic: Any, agent: str | None,
                        exposed: dict[str, Any] | None = None, call_id: str | None = None) -> None:
        # Ids, not the context: it holds its invocation's copy of the session, which would stay
        # alive (and GC-scanned) until the next read. `ic` is the context's InvocationContext.
        session = ic.session
        self._later("a context", self._context_build, hook, session.id, ic.invocation_id,
                    type(ctx), call_id, agent, exposed, time.time(), dict(session.state),
                    ic.branch, ic.user_content)

    def _record_fact(self, ctx: Any, topic: str, data: dict[str, Any]) -> None:
        self.trace.append(Fact(ctx.session.id, ctx.invocation_id, time.time(), topic, data))
