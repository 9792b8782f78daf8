"""The ADK adapter: maps a real Google ADK 2.x run onto agentnb's neutral trace.

`NotebookRunner` builds an ADK `App` whose plugins include `AdkObserver`, and runs it on ADK's
own `Runner`. The observer only copies what ADK hands it into records; it returns None from every
hook and never raises into ADK (a plugin that raises aborts the run).
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

from google.adk.apps.app import App
from google.adk.memory.base_memory_service import BaseMemoryService
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_response import LlmResponse
from google.adk.plugins.base_plugin import BasePlugin
from google.genai import types

from ._recorded import Recorded
from ._render import RASTER_IMAGES
from ._records import (ArtifactVersion, ContextSnapshot, Event, Fact, InvocationEnd,
                       InvocationStart, Session, StateChange, copy_value, scope_of)
from ._steps import Call, Script, call, reply
from ._trace import Trace
from ._views import Invocation

__all__ = ["NotebookRunner", "ScriptedLlm", "AdkObserver", "reply", "call"]

log = logging.getLogger("agentnb.adk")

_APP_NAME = re.compile(r"^[A-Za-z][\w-]*$")
PREVIEW_CHARS = 2000
IMAGE_PREVIEW_BYTES = 64_000

# The seed's four kinds of context, by the hook that receives one. ADK 2.x passes a single class,
# `Context`, for both CallbackContext and ToolContext: the records keep both names.
CONTEXT_KIND = {
    "on_user_message_callback": "InvocationContext", "before_run_callback": "InvocationContext",
    "on_event_callback": "InvocationContext", "after_run_callback": "InvocationContext",
    "before_agent_callback": "CallbackContext", "after_agent_callback": "CallbackContext",
    "before_model_callback": "CallbackContext", "after_model_callback": "CallbackContext",
    "before_tool_callback": "ToolContext", "after_tool_callback": "ToolContext",
}


# --- the scripted model ---------------------------------------------------------------------

class ScriptedLlm(BaseLlm):
    """A real ADK `BaseLlm` that plays a script instead of calling a model (see `_steps`)."""

    model: str = "scripted"

    def __init__(self, steps=None, *, model: str = "scripted"):
        super().__init__(model=model)
        object.__setattr__(self, "_script", Script(steps, "ScriptedLlm"))

    @property
    def calls(self) -> int:
        """How many times the model has been called."""
        return self._script.calls

    async def generate_content_async(self, llm_request, stream=False):
        step = self._script.next(llm_request, lambda: _last_user_text(llm_request.contents))
        if isinstance(step[0], Call):
            parts = [types.Part(function_call=types.FunctionCall(name=c.name, args=dict(c.args)))
                     for c in step]
        else:
            parts = [types.Part(text=step[0].text)]
        yield LlmResponse(
            content=types.Content(role="model", parts=parts),
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=0, candidates_token_count=0, total_token_count=0))


def _last_user_text(contents) -> str:
    for content in reversed(contents or []):
        if content.role == "user":
            text = _text_of(content)
            if text:
                return text
    return ""


def _text_of(content) -> str:
    if content is None or not content.parts:
        return ""
    return "".join(p.text for p in content.parts if p.text and not p.thought)


# The tool call running in this task: memory searches made through a ToolContext name it.
_tool_call = contextvars.ContextVar("agentnb_tool_call", default=None)


# --- the observer ---------------------------------------------------------------------------

@dataclass
class _Run:
    """What the observer keeps about one running invocation until its events arrive."""
    session_id: str
    tool_writes: list = field(default_factory=list)      # (tool name, key, value)
    tool_artifacts: list = field(default_factory=list)   # (tool name, filename, version)
    callback_keys: set = field(default_factory=set)      # keys seen written before a model call
    agent_contexts: list = field(default_factory=list)   # each agent runs on its own context copy
    failures_seen: int = 0                                # observer failures when last caught up


def _state_of(ctx) -> dict:
    """A copy of a context's state without reading through ADK's `State` (whose reads take
    snapshots of containers for its nested-write tracking)."""
    state = ctx.session.state if type(ctx).__name__ == "InvocationContext" else ctx.state
    raw = getattr(state, "_value", None)
    return dict(raw if raw is not None else state)


def _call_dicts(event):
    calls = [{"id": c.id, "name": c.name, "args": copy_value(dict(c.args or {}))}
             for c in event.get_function_calls()]
    responses = [{"id": r.id, "name": r.name, "response": copy_value(r.response)}
                 for r in event.get_function_responses()]
    return calls, responses


def _event_kind(event, calls, responses, text) -> str:
    if event.author == "user":
        return "rewind" if event.actions.rewind_before_invocation_id else "user"
    if event.error_code or event.error_message:
        return "error"
    if calls:
        return "function_call"
    if responses:
        return "function_response"
    if event.actions.transfer_to_agent:
        return "transfer"
    if text:
        return "model"
    return "state" if event.actions.state_delta else "other"


class AdkObserver(BasePlugin):
    """An ADK plugin that records every hook into a `Trace`. Returns None, never raises."""

    def __init__(self, trace: Trace, name: str = "agentnb"):
        super().__init__(name=name)
        self.trace = trace
        self.failures = 0           # hooks whose recording failed (the run went on)
        self._runs: dict[str, _Run] = {}
        self._recorded: set[str] = set()    # ids of the ADK events in the trace
        self._state: dict[str, dict] = {}   # session id -> key -> last recorded value
        self._lock = threading.Lock()
        self._last_user_text = (None, "")

    # Each hook delegates to a _record_* method; a failure there is counted and logged once,
    # never passed to ADK.
    def _guard(self, what, fn, *args):
        try:
            fn(*args)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.warning("agentnb could not record %s; the run goes on", what, exc_info=True)

    async def _guard_async(self, what, coro_fn, *args):
        try:
            await coro_fn(*args)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.warning("agentnb could not record %s; the run goes on", what, exc_info=True)

    # -- sessions --
    def start_session(self, session_id, app, user, state, parent=None, forked_at=None):
        """Record a session's starting state (ADK makes no event for `create_session(state=)`)."""
        now = time.time()
        records = [Session(session_id, app, user, "adk", now, dict(state), parent, forked_at)]
        records += [StateChange(session_id, None, None, now, "", "initial", k, scope_of(k), None,
                                copy_value(v), not k.startswith("temp:")) for k, v in state.items()]
        with self._lock:
            self._state[session_id] = {k: copy_value(v) for k, v in state.items()}
        self.trace.extend(records)

    def _changes(self, session_id, invocation_id, event_id, now, author, writes):
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

    def _snapshot(self, hook, ctx, session_id, invocation_id, agent=None, exposed=None):
        return ContextSnapshot(
            session_id, invocation_id, time.time(), hook, CONTEXT_KIND.get(hook, hook),
            type(ctx).__name__, agent, getattr(ctx, "function_call_id", None),
            self._user_text(getattr(ctx, "user_content", None)), getattr(ctx, "branch", None),
            _state_of(ctx), exposed or {})

    def _user_text(self, content) -> str:
        # Every snapshot of an invocation shows the same user content: walk its parts once.
        cached = self._last_user_text
        if cached[0] is not content:
            cached = self._last_user_text = (content, _text_of(content))
        return cached[1]

    # -- invocation-level hooks (InvocationContext) --
    async def on_user_message_callback(self, *, invocation_context, user_message):
        self._guard("the user message", self._record_user_message, invocation_context)

    def _record_user_message(self, ic):
        self.trace.append(self._snapshot(
            "on_user_message_callback", ic, ic.session.id, ic.invocation_id,
            exposed=self._invocation_exposed(ic)))

    @staticmethod
    def _invocation_exposed(ic) -> dict:
        return {"invocation_id": ic.invocation_id, "session_id": ic.session.id,
                "app_name": ic.app_name, "user_id": ic.user_id,
                "agent": getattr(ic.agent, "name", None), "branch": ic.branch,
                "end_invocation": ic.end_invocation,
                "session_service": type(ic.session_service).__name__,
                "artifact_service": type(ic.artifact_service).__name__,
                "memory_service": type(ic.memory_service).__name__,
                "credential_service": type(ic.credential_service).__name__,
                "n_session_events": len(ic.session.events)}

    async def before_run_callback(self, *, invocation_context):
        self._guard("the start of the invocation", self._record_start, invocation_context)

    def _record_start(self, ic):
        sid, inv = ic.session.id, ic.invocation_id
        self._begin(ic)
        records = [self._snapshot("before_run_callback", ic, sid, inv,
                                  exposed=self._invocation_exposed(ic))]
        # The user's own event never reaches on_event_callback; it is in the session by now.
        user_event = next((e for e in reversed(ic.session.events)
                           if e.invocation_id == inv and e.author == "user"), None)
        if user_event is not None:
            records += self._event_records(user_event, sid, "user", "InvocationContext")
        self.trace.extend(records)

    def _begin(self, ic):
        """The least an invocation needs recorded: its start, and a way to learn of its end.
        ADK calls no hook when a run is interrupted or cancelled, so the end of the task that
        runs it marks it interrupted unless a hook ended it first."""
        sid, inv = ic.session.id, ic.invocation_id
        with self._lock:
            self._runs[inv] = _Run(sid, failures_seen=self.failures)
        self.trace.append(InvocationStart(sid, inv, getattr(ic.agent, "name", ""),
                                          _text_of(ic.user_content), time.time()))
        task = asyncio.current_task()
        if task is not None:
            task.add_done_callback(lambda _: self.end(
                sid, inv, "interrupted", "the run stopped without ending (interrupted or cancelled)"))

    def _catch_up(self, ic):
        """Make good what a failed hook did not record: the invocation's start, and any of its
        events already in ADK's session that the trace lacks. Only looks after a failure."""
        run = self._runs.get(ic.invocation_id)
        if run is not None and run.failures_seen == self.failures:
            return
        if run is None:
            self._begin(ic)
            run = self._runs[ic.invocation_id]
        run.failures_seen = self.failures
        missing = [e for e in ic.session.events
                   if e.invocation_id == ic.invocation_id and e.id not in self._recorded]
        for event in missing:
            user = event.author == "user"
            self.trace.extend(self._event_records(
                event, ic.session.id, "user" if user else None, "InvocationContext" if user else None,
                run, getattr(ic.agent, "output_key", None)))

    async def on_event_callback(self, *, invocation_context, event):
        # ADK calls this before it appends the event: earlier events are in the session.
        self._guard("missed records", self._catch_up, invocation_context)
        # Copy at once: ADK strips `temp:` keys from the delta when it appends the event.
        self._guard("an event", self._record_event, invocation_context, event)
        if event.actions.artifact_delta or self._pending_artifacts(invocation_context.invocation_id):
            await self._guard_async("artifacts", self._record_artifacts, invocation_context, event)

    def _record_event(self, ic, event):
        run = self._runs.get(ic.invocation_id)
        self.trace.extend(self._event_records(event, ic.session.id, None, None, run,
                                              getattr(ic.agent, "output_key", None)))

    def _event_records(self, event, session_id, source, context_kind, run=None, output_key=None):
        self._recorded.add(event.id)
        calls, responses = _call_dicts(event)
        actions = event.actions
        delta = copy_value(dict(actions.state_delta))
        now = time.time()
        text = _text_of(event.content)
        record = Event(
            session_id, event.invocation_id, event.id, event.timestamp or now, event.author,
            _event_kind(event, calls, responses, text), text, calls, responses,
            delta, dict(actions.artifact_delta), actions.transfer_to_agent,
            bool(actions.escalate), bool(actions.end_of_agent),
            list((actions.requested_auth_configs or {}).keys()),
            event.error_message or event.error_code, event.branch)
        writes = []
        if run is not None and responses:
            # Writes of each tool, in the order the tools ran: parallel calls share one merged
            # event whose delta keeps only the last value of each key.
            with self._lock:
                tool_writes, run.tool_writes = run.tool_writes, []
            writes += [(f"tool:{name}", "ToolContext", k, v) for name, k, v in tool_writes]
        last_written = {k: v for _, _, k, v in writes}
        for key, value in delta.items():
            if key in last_written and _same(last_written[key], value):
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

    def _pending_artifacts(self, invocation_id):
        run = self._runs.get(invocation_id)
        return run is not None and run.tool_artifacts

    async def _record_artifacts(self, ic, event):
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

    async def _artifact(self, ic, event_id, source, filename, version):
        part = None
        if ic.artifact_service is not None:
            part = await ic.artifact_service.load_artifact(
                app_name=ic.app_name, user_id=ic.user_id, session_id=ic.session.id,
                filename=filename, version=version)
        mime, size, preview = describe_part(part)
        return ArtifactVersion(ic.session.id, ic.invocation_id, event_id, time.time(), filename,
                               version, mime, size, preview, source)

    async def after_run_callback(self, *, invocation_context):
        # ADK counts a generator closed early as success; a cancelled task or an aborted
        # invocation did not finish its work.
        task = asyncio.current_task()
        cut_short = (task is not None and task.cancelling()) or invocation_context.is_aborted
        await self._guard_async("the end of the invocation", self._finish, invocation_context,
                                "interrupted" if cut_short else "ok",
                                "the run was closed early" if cut_short else None)

    async def on_run_error_callback(self, *, invocation_context, error):
        await self._guard_async("a run error", self._finish, invocation_context, "error",
                                f"{type(error).__name__}: {error}")

    async def _finish(self, ic, status, error):
        self._guard("missed records", self._catch_up, ic)
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
        self.end(ic.session.id, ic.invocation_id, status, error)

    def end(self, session_id, invocation_id, status, error=None):
        """Record the end of an invocation once; `temp:` keys end with it."""
        with self._lock:
            if self._runs.pop(invocation_id, None) is None:
                return False
            current = self._state.get(session_id, {})
            for key in [k for k in current if k.startswith("temp:")]:
                del current[key]
        self.trace.append(InvocationEnd(session_id, invocation_id, time.time(), status, error))
        return True

    # -- agent and model hooks (CallbackContext) --
    async def before_agent_callback(self, *, agent, callback_context):
        self._guard("before_agent", self._record_before_agent, agent, callback_context)

    def _record_before_agent(self, agent, cc):
        run = self._runs.get(cc.invocation_id)
        if run is not None:
            run.agent_contexts.append(cc._invocation_context)
        self._record_context("before_agent_callback", cc, agent.name)

    async def after_agent_callback(self, *, agent, callback_context):
        self._guard("after_agent", self._record_context, "after_agent_callback",
                    callback_context, agent.name)

    async def before_model_callback(self, *, callback_context, llm_request):
        self._guard("before_model", self._record_context, "before_model_callback",
                    callback_context, callback_context.agent_name,
                    {"model": llm_request.model, "n_contents": len(llm_request.contents or []),
                     "tools": sorted(getattr(llm_request, "tools_dict", {}) or {})})

    async def after_model_callback(self, *, callback_context, llm_response):
        self._guard("after_model", self._record_after_model, callback_context)

    def _record_after_model(self, cc):
        run = self._runs.get(cc.invocation_id)
        if run is not None:  # keys the agent's before_model callbacks wrote for this step
            run.callback_keys.update(cc.actions.state_delta)
        self._record_context("after_model_callback", cc, cc.agent_name)

    async def on_model_error_callback(self, *, callback_context, llm_request, error):
        self._guard("a model error", self._record_fact, callback_context, "model_error",
                    {"agent": callback_context.agent_name,
                     "error": f"{type(error).__name__}: {error}"})

    # -- tool hooks (ToolContext) --
    async def before_tool_callback(self, *, tool, tool_args, tool_context):
        _tool_call.set((tool_context.session.id, tool_context.invocation_id,
                        tool_context.function_call_id, tool.name))
        self._guard("before_tool", self._record_context, "before_tool_callback", tool_context,
                    tool_context.agent_name, {"tool": tool.name, "args": copy_value(tool_args)})

    async def after_tool_callback(self, *, tool, tool_args, tool_context, result):
        self._guard("after_tool", self._record_after_tool, tool, tool_context, result)

    def _record_after_tool(self, tool, tc, result):
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
                                                   "auth_config": _dump(config)})

    async def on_tool_error_callback(self, *, tool, tool_args, tool_context, error):
        self._guard("a tool error", self._record_tool_error, tool, tool_context, error)

    def _record_tool_error(self, tool, tc, error):
        run = self._runs.get(tc.invocation_id)
        if run is not None:  # ADK drops a failed tool's state writes; its artifacts stay saved
            with self._lock:
                run.tool_artifacts += [(f"tool:{tool.name} (failed)", f, v)
                                       for f, v in tc.actions.artifact_delta.items()]
        self._record_fact(tc, "tool_error", {
            "tool": tool.name, "function_call_id": tc.function_call_id,
            "error": f"{type(error).__name__}: {error}",
            "lost_state_writes": copy_value(dict(tc.actions.state_delta))})

    def _record_context(self, hook, ctx, agent, exposed=None):
        session = ctx.session
        self.trace.append(self._snapshot(hook, ctx, session.id, ctx.invocation_id, agent, exposed))

    def _record_fact(self, ctx, topic, data):
        self.trace.append(Fact(ctx.session.id, ctx.invocation_id, time.time(), topic, data))


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _dump(model):
    try:
        return model.model_dump(mode="json", exclude_none=True)
    except Exception:
        return repr(model)


def describe_part(part):
    """(mime type, size in bytes, bounded preview) of an artifact's `types.Part`."""
    if part is None:
        return None, 0, ""
    if part.text is not None:
        data = part.text.encode()
        return "text/plain", len(data), part.text[:PREVIEW_CHARS]
    blob = part.inline_data
    if blob is not None and blob.data is not None:
        mime, data = blob.mime_type or "application/octet-stream", blob.data
        if mime in RASTER_IMAGES and len(data) <= IMAGE_PREVIEW_BYTES:
            import base64
            return mime, len(data), f"data:{mime};base64,{base64.b64encode(data).decode()}"
        if mime.startswith("text/") or mime in ("application/json", "image/svg+xml"):
            return mime, len(data), data[:PREVIEW_CHARS * 4].decode("utf-8", "replace")[:PREVIEW_CHARS]
        return mime, len(data), ""
    if part.file_data is not None:  # a reference saved instead of the content
        return part.file_data.mime_type, 0, f"reference: {part.file_data.file_uri}"
    return None, 0, ""


class ObservedMemory(BaseMemoryService):
    """A memory service that records each search (query and hits) and each session added,
    then hands the call to the real service."""

    def __init__(self, inner: BaseMemoryService, trace: Trace):
        self.inner, self.trace = inner, trace

    async def add_session_to_memory(self, session):
        await self.inner.add_session_to_memory(session)
        self.trace.append(Fact(session.id, None, time.time(), "memory_add",
                               {"session_id": session.id, "events": len(session.events)}))

    async def search_memory(self, *, app_name, user_id, query):
        response = await self.inner.search_memory(app_name=app_name, user_id=user_id, query=query)
        session_id, invocation_id, call_id, tool = _tool_call.get() or (None, None, None, None)
        hits = [{"author": m.author, "text": _text_of(m.content)} for m in response.memories]
        self.trace.append(Fact(session_id, invocation_id, time.time(), "memory_search",
                               {"query": query, "tool": tool, "function_call_id": call_id,
                                "hits": hits}))
        return response

    def __getattr__(self, name):
        return getattr(self.inner, name)


# --- the runner -----------------------------------------------------------------------------

def _as_content(message):
    if isinstance(message, types.Content):
        return message
    if isinstance(message, str):
        return types.Content(role="user", parts=[types.Part(text=message)])
    raise TypeError(f"agentnb: ask() takes a str or google.genai.types.Content, "
                    f"not {type(message).__name__}")


class NotebookRunner(Recorded):
    """An ADK `Runner` on an `App` observed by agentnb (CONTRACT.md)."""

    def __init__(self, agent, *, app_name="agentnb", user_id="user", state=None, session_id=None,
                 session_service=None, artifact_service=None, memory_service=None, plugins=(),
                 display=True, credential_service=None):
        from google.adk.agents.base_agent import BaseAgent
        from google.adk.artifacts import InMemoryArtifactService
        from google.adk.memory import InMemoryMemoryService
        from google.adk.runners import Runner
        from google.adk.sessions import InMemorySessionService

        if not isinstance(agent, BaseAgent):
            raise TypeError(f"agentnb: NotebookRunner needs an ADK agent, not {type(agent).__name__}")
        if not isinstance(app_name, str) or not _APP_NAME.match(app_name) or app_name == "user":
            raise ValueError(f"agentnb: app name {app_name!r} must match ^[A-Za-z][\\w-]*$ "
                             "and not be 'user' (ADK's rule)")
        if state is not None and not isinstance(state, dict):
            raise TypeError(f"agentnb: state must be a dict, not {type(state).__name__}")
        self.agent, self.app_name, self.user_id, self.display = agent, app_name, user_id, display
        self.title = f"ADK app {app_name}"
        self.trace = Trace()
        self.observer = AdkObserver(self.trace)
        self._plugins = tuple(plugins)
        self.app = App(name=app_name, root_agent=agent, plugins=[self.observer, *self._plugins])
        self.adk_runner = Runner(
            app=self.app,
            session_service=session_service or InMemorySessionService(),
            artifact_service=artifact_service or InMemoryArtifactService(),
            memory_service=ObservedMemory(memory_service or InMemoryMemoryService(), self.trace),
            credential_service=credential_service)
        self.session_id = session_id or f"s-{uuid.uuid4().hex[:12]}"
        self._initial_state = dict(state or {})
        self._ready: set[str] = set()
        self._parent = None
        self.last_invocation: Invocation | None = None

    def __repr__(self):
        return (f"<NotebookRunner app={self.app_name!r} agent={self.agent.name!r} "
                f"session={self.session_id!r}: {len(self.trace)} records>")

    @property
    def session_service(self):
        return self.adk_runner.session_service

    async def _ensure_session(self, session_id, state=None):
        """Create the session with the async API when first needed; reuse one that exists."""
        if session_id in self._ready:
            return
        service = self.session_service
        session = await service.get_session(app_name=self.app_name, user_id=self.user_id,
                                            session_id=session_id)
        if session is None:
            initial = self._initial_state if state is None else state
            session = await service.create_session(app_name=self.app_name, user_id=self.user_id,
                                                   state=dict(initial), session_id=session_id)
        parent, forked_at = self._parent or (None, None)
        self.observer.start_session(session_id, self.app_name, self.user_id, dict(session.state),
                                    parent, forked_at)
        self._ready.add(session_id)

    async def new_session(self, state=None) -> str:
        """Start another session of this app and user; it becomes the runner's current one."""
        self.session_id = f"s-{uuid.uuid4().hex[:12]}"
        await self._ensure_session(self.session_id, dict(state or {}))
        return self.session_id

    async def get_session(self, session_id=None):
        """ADK's own view of a session (state and events), from the session service."""
        return await self.session_service.get_session(
            app_name=self.app_name, user_id=self.user_id, session_id=session_id or self.session_id)

    async def ask(self, message, *, session_id=None, state_delta=None) -> Invocation:
        """Run one invocation; in a notebook its card updates live while it runs."""
        content = _as_content(message)
        if state_delta is not None and not isinstance(state_delta, dict):
            raise TypeError(f"agentnb: state_delta must be a dict, not {type(state_delta).__name__}")
        session_id = session_id or self.session_id
        await self._ensure_session(session_id)
        invocation_id = self._resumed_invocation(content, session_id) or f"e-{uuid.uuid4()}"
        invocation = self.last_invocation = Invocation(self.trace, session_id, invocation_id)
        with self._live(invocation_id) as shown:
            invocation.shown_live = shown
            try:
                async for _ in self.adk_runner.run_async(
                        user_id=self.user_id, session_id=session_id, invocation_id=invocation_id,
                        new_message=content, state_delta=state_delta):
                    pass
            except BaseException as exc:
                # Interrupts and cancellation skip ADK's after_run/on_run_error hooks.
                status = "error" if isinstance(exc, Exception) else "interrupted"
                self.observer.end(session_id, invocation_id, status, f"{type(exc).__name__}: {exc}")
                raise
            self.observer.end(session_id, invocation_id, "ok")   # if recording the end failed
        return invocation

    def _resumed_invocation(self, content, session_id):
        """The invocation a message of function responses resumes (e.g. the answer to a
        credential request): ADK continues the invocation that made the call, whatever id is
        passed, so the card must follow that one."""
        answered = {p.function_response.id for p in content.parts or () if p.function_response}
        if not answered:
            return None
        for event in reversed(self.trace.of("event", session_id)):
            if any(c["id"] in answered for c in event.function_calls):
                return event.invocation_id
        return None

    def ask_sync(self, message, *, session_id=None, state_delta=None) -> Invocation:
        """`ask` from synchronous code. Inside a running loop (a notebook cell) it runs the
        invocation on a private loop in a helper thread and blocks until it ends: the card then
        updates when the kernel is free again. Prefer top-level `await runner.ask(...)`."""
        coro = self.ask(message, session_id=session_id, state_delta=state_delta)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        outcome = {}

        def run():
            try:
                outcome["value"] = asyncio.run(coro)
            except BaseException as exc:
                outcome["error"] = exc
        worker = threading.Thread(target=run, name="agentnb-ask-sync")
        worker.start()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    # -- credentials (ADK's auth flow) --
    def pending_credentials(self, session_id=None) -> list[dict]:
        """Credential requests not answered yet: `{"id", "tool_call_id", "auth_type", "scheme"}`."""
        session_id = session_id or self.session_id
        asked, answered = {}, set()
        for event in self.trace.of("event", session_id):
            for c in event.function_calls:
                if c["name"] == "adk_request_credential":
                    config = c["args"].get("authConfig", {})
                    asked[c["id"]] = {
                        "id": c["id"], "invocation_id": event.invocation_id,
                        "tool_call_id": c["args"].get("functionCallId"),
                        "auth_type": (config.get("rawAuthCredential") or {}).get("authType", "apiKey"),
                        "scheme": (config.get("authScheme") or {}).get("type", "")}
            answered.update(r["id"] for r in event.function_responses)
        return [request for call_id, request in asked.items() if call_id not in answered]

    async def answer_credential(self, secret: str, *, request_id=None, session_id=None) -> Invocation:
        """Answer a tool's `request_credential` with `secret` (an API key, a bearer token or an
        OAuth2 access token, as the request's credential type says): ADK resumes the
        invocation that asked and runs the tool again with it."""
        from google.adk.auth import AuthConfig
        session_id = session_id or self.session_id
        pending = self.pending_credentials(session_id)
        request = next((p for p in pending if request_id in (None, p["id"])), None)
        if request is None:
            raise ValueError(f"agentnb: no pending credential request{f' {request_id!r}' if request_id else ''}"
                             f" in session {session_id!r}")
        if not isinstance(secret, str) or not secret:
            raise ValueError("agentnb: the credential must be a non-empty string")
        session = await self.get_session(session_id)
        call_args = next(c.args for e in session.events for c in e.get_function_calls()
                         if c.id == request["id"])
        config = AuthConfig.model_validate(call_args["authConfig"])
        config.exchanged_auth_credential = _credential_for(config, secret)
        answer = types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
            id=request["id"], name="adk_request_credential",
            response=config.model_dump(exclude_none=True, by_alias=True)))])
        return await self.ask(answer, session_id=session_id)

    # -- time travel --
    async def rewind(self, before, *, session_id=None):
        """ADK's `rewind_async`: the session goes back to before invocation `before`. ADK
        re-derives state from event deltas (keys from the starting state become None), leaves
        `app:`/`user:` keys alone, and keeps old events hidden from the model."""
        session_id = session_id or self.session_id
        self._check_invocation(before, session_id)
        await self.adk_runner.rewind_async(user_id=self.user_id, session_id=session_id,
                                           rewind_before_invocation_id=before)
        session = await self.get_session(session_id)
        event = session.events[-1]   # plugins never see the rewind event: read it back
        calls, responses = _call_dicts(event)
        now = time.time()
        record = Event(session_id, event.invocation_id, event.id, event.timestamp or now,
                       event.author, "rewind", f"rewind before {before}", calls, responses,
                       copy_value(dict(event.actions.state_delta)), dict(event.actions.artifact_delta))
        current = self.observer._state.get(session_id, {})
        writes = [("rewind", "InvocationContext", k, copy_value(v)) for k, v in session.state.items()
                  if k not in current or not _same(current[k], v)]
        self.trace.extend([record, *self.observer._changes(
            session_id, event.invocation_id, event.id, now, "user", writes),
            Fact(session_id, event.invocation_id, now, "rewind", {"before": before})])
        return event.id

    async def fork(self, at, *, state_overrides=None, session_id=None) -> "NotebookRunner":
        """A new runner on a new session of the same app and user, whose state is this
        session's state right after invocation `at`, plus `state_overrides`."""
        session_id = session_id or self.session_id
        self._check_invocation(at, session_id)
        if state_overrides is not None and not isinstance(state_overrides, dict):
            raise TypeError("agentnb: state_overrides must be a dict")
        state = state_after(self.trace.snapshot(), session_id, at)
        state.update(state_overrides or {})
        child = NotebookRunner(
            self.agent, app_name=self.app_name, user_id=self.user_id, state=state,
            session_service=self.session_service,
            artifact_service=self.adk_runner.artifact_service,
            memory_service=self.adk_runner.memory_service.inner, plugins=self._plugins,
            display=self.display, credential_service=self.adk_runner.credential_service)
        child._parent = (session_id, at)
        await child._ensure_session(child.session_id)
        self.trace.append(Fact(session_id, at, time.time(), "fork",
                               {"child_session_id": child.session_id,
                                "overrides": sorted(state_overrides or {})}))
        return child

    def _check_invocation(self, invocation_id, session_id):
        known = {r.invocation_id for r in self.trace.of("invocation_start", session_id)}
        if invocation_id not in known:
            raise ValueError(f"agentnb: no invocation {invocation_id!r} in session {session_id!r}")


def _credential_for(config, secret: str):
    """The exchanged credential of `config`'s type, holding `secret`."""
    from google.adk.auth.auth_credential import (AuthCredential, AuthCredentialTypes, HttpAuth,
                                                 HttpCredentials, OAuth2Auth)
    kind = config.raw_auth_credential.auth_type if config.raw_auth_credential else AuthCredentialTypes.API_KEY
    if kind == AuthCredentialTypes.API_KEY:
        return AuthCredential(auth_type=kind, api_key=secret)
    if kind == AuthCredentialTypes.HTTP:
        return AuthCredential(auth_type=kind, http=HttpAuth(
            scheme="bearer", credentials=HttpCredentials(token=secret)))
    if kind in (AuthCredentialTypes.OAUTH2, AuthCredentialTypes.OPEN_ID_CONNECT):
        return AuthCredential(auth_type=kind, oauth2=OAuth2Auth(access_token=secret))
    raise ValueError(f"agentnb: cannot fill a {kind.value} credential from one string; answer "
                     "with your own function response (see notebooks/04_tools_memory_auth.ipynb)")


def state_after(records, session_id, invocation_id) -> dict:
    """The persisted state of a session right after an invocation ended, from its trace."""
    state = {}
    for r in records:
        if r.session_id != session_id:
            continue
        if r.kind == "state_change" and r.persisted:
            state[r.key] = r.new
        elif r.kind == "invocation_end" and r.invocation_id == invocation_id:
            break
    return state
