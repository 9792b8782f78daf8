"""`JobObserver`: LiveKit's job, session and room events -> records. Its handlers are sync, run on
the job's thread, and never raise into LiveKit (each runs under the observer's `Guard`). The
session's handlers, which run several times a turn, take only what could change after they
return (the userdata's values, who is speaking, the turn) and keep the rest to be built when
the trace is next read (`core/backlog.py`)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..core.backlog import Backlog
from ..core.guard import Guard, guarded
from ..core.logdata import log_data
from ..core.records import ContextSnapshot, Event, Fact, Record, Session, StateChange
from ..core.trace import Trace
from ..core.values import copy_value
from .internals import activity_agent, emitted, input_sender, job_context, userdata_of
from .mapping import arguments, changes, describe, fields_of, new_id
from .room import RoomRecording

log = logging.getLogger("agentnb.livekit")
LOG_ERROR_CHARS = 200       # of a logged error, in the turn's error text
SESSION_EVENTS = ("conversation_item_added", "function_tools_executed", "tool_execution_updated",
                  "agent_state_changed", "error", "close")


class JobObserver(RoomRecording):
    """Records one job. The job tells it the turn that is running (`invocation`); it tells the
    job when the AgentSession is ready (`on_session_ready`) and why it closed
    (`session_closed`), and keeps each turn's errors and interruptions for the job to read."""

    def __init__(self, trace: Trace, *, mode: str, server_url: str | None, agent: Any,
                 on_session_ready: Callable[[], None]) -> None:
        self.trace, self.mode, self.server_url, self.agent = trace, mode, server_url, agent
        self.on_session_ready = on_session_ready
        self.guard = Guard(log)
        self.backlog = Backlog(trace, self.guard)
        self.session_id: str | None = None
        self.session: Any = None
        self.session_closed: str | None = None
        self.shutdown_reason: str | None = None     # LiveKit shut the job down, and why
        self.invocation: str | None = None         # the turn running now
        self.turn_errors: dict[str, list[str]] = {}
        self.turn_interrupted: set[str] = set()
        # Known once the job runs: whose log records are the job's.
        self.ctx: Any = None
        self.job_thread_id: int | None = None
        self.server_thread_id: int | None = None
        self.local_identity: str | None = None
        self.userdata_seen: dict[str, Any] = {}   # as of the last build (builds run in order)
        self._usage_seen: list[Any] | None = None
        self._call_names: dict[str, str] = {}
        self._call_errors: dict[str, str] = {}
        self._participant_attributes: dict[str, dict[str, Any]] = {}
        self._early_logs: list[Fact] = []
        self._sealed = False                  # set when the job is closed: nothing after
        self.dropped_after_close = 0
        self._log_lock = threading.RLock()    # a trace listener may log while it is held

    @property
    def sid(self) -> str:
        """The session id for event and state records (the job's id, once bound)."""
        return self.session_id or ""

    @property
    def failures(self) -> int:
        """Handlers whose recording failed (each time, LiveKit went on)."""
        return self.guard.failures

    # -- the job -----------------------------------------------------------------------------

    def bind(self, ctx: Any, userdata: Any) -> None:
        """The job's records, from its JobContext, and the log records that came before."""
        self.ctx, self.job_thread_id = ctx, threading.get_ident()
        now = time.time()
        sid = ctx.job.id
        fields = fields_of(userdata)
        identity = self.local_identity = ctx.local_participant_identity
        records: list[Record] = [Session(sid, ctx.job.room.name, identity, "livekit", now, dict(fields))]
        records += [StateChange(sid, None, None, now, "", "initial", key, "userdata", None, value,
                                True) for key, value in fields.items()]
        records += [
            Fact(sid, None, now, "job", {
                "job_id": sid, "room": ctx.job.room.name, "room_sid": ctx.job.room.sid or None,
                "agent_identity": identity, "agent_name": ctx.job.agent_name or None,
                "worker_id": ctx.worker_id, "mode": self.mode, "fake_job": ctx.is_fake_job(),
                "url": self.server_url}),
            Fact(sid, None, now, "process", {
                "pid": ctx.proc.pid, "executor_type": ctx.proc.executor_type.name,
                "thread": threading.current_thread().name,
                "userdata_keys": sorted(map(str, ctx.proc.userdata))}),
            ContextSnapshot(sid, None, now, hook="entrypoint", context_kind="JobContext",
                            actual_class=f"{type(ctx).__module__}.{type(ctx).__qualname__}",
                            agent=identity, exposed={
                                "job.id": sid, "job.room.name": ctx.job.room.name,
                                "room.name": ctx.room.name, "local_participant_identity": identity,
                                "worker_id": ctx.worker_id, "proc.pid": ctx.proc.pid,
                                "proc.executor_type": ctx.proc.executor_type.name,
                                "is_fake_job": ctx.is_fake_job(),
                                "log_context_fields": dict(ctx.log_context_fields)}),
        ]
        with self._log_lock:
            self.session_id = sid
            self.userdata_seen = fields
            self.trace.extend(records)
            early, self._early_logs = self._early_logs, []
            for record in early:
                record.session_id = sid
            self.trace.extend(early)

    def fact(self, topic: str, data: dict[str, Any], invocation_id: str | None = None) -> None:
        """Record a fact about the job (its entrypoint, connection, shutdown)."""
        self.append(Fact(self.session_id, invocation_id, time.time(), topic, data))

    @guarded
    def record_shutdown(self, reason: str, callbacks: list[str]) -> None:
        self.shutdown_reason = reason
        self.fact("shutdown", {"event": "shutdown", "reason": reason, "callbacks": callbacks})
        if self.session is not None:
            self.record_userdata(None, "userdata")
            self.record_usage(self.session)

    # -- the AgentSession --------------------------------------------------------------------

    @guarded
    def attach(self, session: Any) -> None:
        """Follow `session` (the job's primary AgentSession); the ready callback runs when it
        has started."""
        if session is self.session:
            return
        self.session = session
        # Usage is read once per turn (`record_usage`), not at each model call.
        for name, handler in zip(SESSION_EVENTS, (
                self.on_item, self.on_tools_executed, self.on_tool_update, self.on_agent_state,
                self.on_error, self.on_close), strict=True):
            session.on(name, emitted(handler))
        self._later("the userdata", self._build_userdata, fields_of(userdata_of(session)),
                    None, None, "", "initial", time.time())
        if session.agent_state != "initializing":
            self.on_session_ready()

    @guarded
    def on_item(self, ev: Any) -> None:
        item = ev.item
        if item.type == "agent_handoff":
            self._later("a handoff", self._build_event, self.invocation, item.id,
                        item.created_at, item.old_agent_id or "", "handoff",
                        {"text": f"{item.old_agent_id or ''} → {item.new_agent_id}".strip(),
                         "transfer_to_agent": item.new_agent_id})
        elif item.type == "message":
            kind = {"user": "user", "assistant": "model"}.get(item.role, item.role)
            # The participant who sent the text, when a room's chat started the reply.
            author = (input_sender.get() or "user") if item.role == "user" else self.agent_id()
            if item.interrupted and self.invocation:
                self.turn_interrupted.add(self.invocation)
            self._later("a message", self._build_event, self.invocation, item.id,
                        item.created_at, author, kind, {"text": item.text_content or ""})
        # Writes made outside a tool or a turn (an `on_enter`, a task group's results) show up
        # with the conversation item that follows them.
        self.record_userdata(None, "userdata")

    @guarded
    def on_tool_update(self, ev: Any) -> None:
        update = ev.update
        if update.type == "tool_call_started":
            self._record_call(update.function_call)
        elif update.type == "tool_call_ended" and update.status == "error":
            # The tool's own error text; the output the model gets is LiveKit's generic one.
            self._call_errors[update.call_id] = update.message

    @guarded
    def on_tools_executed(self, ev: Any) -> None:
        for fc in ev.function_calls:
            if fc.call_id not in self._call_names:
                self._record_call(fc)
        responses = []
        for out in ev.function_call_outputs:
            if out is None:
                continue
            responses.append({"id": out.call_id, "name": out.name, "response": out.output,
                              "is_error": out.is_error})
            message = self._call_errors.pop(out.call_id, None)
            # A ToolError is LiveKit's way of handing a message back to the model: its text is
            # the output the model gets, and the call alone is an error. Any other exception
            # reaches the model as LiveKit's generic text, and the turn failed.
            handed_back = message is not None and message == out.output
            if out.is_error and not handed_back and self.invocation:
                self.turn_errors.setdefault(self.invocation, []).append(
                    f"{out.name}: {message or out.output}")
        names = {fc.name for fc in ev.function_calls}
        source = f"tool:{names.pop()}" if len(names) == 1 else "userdata"
        self._later("a tool response", self._build_response, responses,
                    fields_of(userdata_of(self.session)), self.invocation, ev.created_at,
                    self.agent_id(), source, time.time())

    def _build_response(self, responses: list[dict[str, Any]], userdata: dict[str, Any],
                        invocation: str | None, created_at: float, agent: str, source: str,
                        now: float) -> list[Record]:
        event_id = new_id("ev")
        written = self._build_userdata(userdata, invocation, event_id, agent, source, now)
        return [Event(self.sid, invocation, event_id, created_at, agent, "function_response",
                      function_responses=responses,
                      state_delta={c.key: c.new for c in written}), *written]

    @guarded
    def on_agent_state(self, ev: Any) -> None:
        if ev.old_state == "initializing":  # AgentSession.start() has done its work
            self.on_session_ready()
        self._later("an agent state", self._build_event, self.invocation, None, ev.created_at,
                    self.agent_id(), "agent_state", {"text": f"{ev.old_state} → {ev.new_state}"})

    @guarded
    def record_usage(self, session: Any) -> None:
        """The session's usage so far, when it changed: once per turn, not once per model call
        (LiveKit's `session_usage_updated`), which cost a `model_dump` at each call. LiveKit
        hands out deep copies of its counters: the build compares them with the last and
        dumps them only when they changed."""
        self._later("the usage", self._build_usage, session.usage.model_usage, self.invocation,
                    time.time())

    def _build_usage(self, models: list[Any], invocation: str | None, now: float) -> list[Fact]:
        if models == self._usage_seen:   # pydantic models compare field by field
            return []
        self._usage_seen = models
        return [Fact(self.session_id, invocation, now, "usage",
                     {"model_usage": [model.model_dump(mode="json") for model in models]})]

    @guarded
    def on_error(self, ev: Any) -> None:
        error = getattr(ev.error, "error", ev.error)
        text = describe(error) if isinstance(error, BaseException) else str(error)
        source = getattr(ev.source, "label", type(ev.source).__name__)
        self.append(Event(self.sid, self.invocation, new_id("ev"),
                          ev.created_at, source, "error", text=text, error=text))

    @guarded
    def on_close(self, ev: Any) -> None:
        self.session_closed = ev.reason.value
        self.append(Fact(self.session_id, self.invocation, ev.created_at, "session",
                         {"event": "close", "reason": ev.reason.value,
                          "error": str(ev.error) if ev.error else None}))

    # -- logs --------------------------------------------------------------------------------

    def on_log(self, record: logging.LogRecord) -> None:
        ctx = self.ctx
        in_job = ctx is not None and job_context() is ctx
        # The job's records at the job's level; the server's own (worker start, job runner
        # warm-up) only when they warn.
        if not in_job and record.thread != self.job_thread_id and not (
                record.levelno >= logging.WARNING and record.thread == self.server_thread_id):
            return
        fields = {}
        if in_job:
            fields = {k: copy_value(getattr(record, k)) for k in ctx.log_context_fields
                      if hasattr(record, k)}
        data = log_data(record, fields)
        invocation = self.invocation if in_job else None
        if invocation and record.levelno >= logging.ERROR and record.name.startswith("livekit") \
                and not hasattr(record, "function"):
            # LiveKit loses a reply with only a logged error ("Error in _tts_inference_task",
            # "Error in _text_forwarding_task"): the turn did not reach the user. A failing
            # tool's record (it has `function`) is reported by its output instead.
            self.turn_errors.setdefault(invocation, []).append(
                record.getMessage()[:LOG_ERROR_CHARS])
        fact = Fact(self.session_id, invocation, record.created, "log", data)
        with self._log_lock:
            if self.session_id is None:
                self._early_logs.append(fact)
                return
        self.append(fact)

    # -- helpers -----------------------------------------------------------------------------

    def append(self, *records: Record) -> None:
        if records:
            if self._sealed:  # a job thread that outlived aclose() (see the "stuck" fact)
                self.dropped_after_close += len(records)
                return
            self.trace.extend(records)

    def keep(self, record: Record) -> None:
        """`record` (a turn's start or end, from the notebook's thread) in its place among what
        the handlers kept: a turn builds nothing on its way, the trace's next read does. Not
        dropped once sealed (as `_later` is): these are the job's own records, not LiveKit's."""
        self.backlog.keep("a turn", _as_is, record)

    def _later(self, what: str, build: Callable[..., Sequence[Record]], *args: Any) -> None:
        """`build(*args)` makes the records of `what` when the trace is next read."""
        if self._sealed:
            self.dropped_after_close += 1
            return
        self.backlog.keep(what, build, *args)

    def seal(self) -> None:
        """The job is closed: its trace is final (what was kept before is built now)."""
        self._sealed = True
        self.trace.settle()

    def agent_id(self) -> str:
        """Who is speaking: the agent whose activity LiveKit runs the caller in, else the
        session's current agent (after a handoff the old agent still answers its own tool)."""
        try:
            speaking = activity_agent()
            if speaking is not None:
                return str(speaking.id)
            return str(self.session.current_agent.id)
        except Exception:
            return getattr(self.agent, "id", None) or "agent"

    def record_userdata(self, event_id: str | None, source: str) -> None:
        """The userdata's values now; a change for each field that differs from the last."""
        self._later("the userdata", self._build_userdata, fields_of(userdata_of(self.session)),
                    self.invocation, event_id, self.agent_id(), source, time.time())

    def _build_userdata(self, current: dict[str, Any], invocation: str | None,
                        event_id: str | None, author: str, source: str,
                        now: float) -> list[StateChange]:
        written = [StateChange(self.sid, invocation, event_id, now, author, source, key,
                               "userdata", old, new, True)
                   for key, old, new in changes(self.userdata_seen, current)]
        self.userdata_seen = current
        return written

    def _build_event(self, invocation: str | None, event_id: str | None, created_at: float,
                     author: str, kind: str, fields: dict[str, Any]) -> list[Record]:
        return [Event(self.sid, invocation, event_id or new_id("ev"), created_at, author, kind,
                      **fields)]

    def _record_call(self, fc: Any) -> None:
        self._call_names[fc.call_id] = fc.name
        self._later("a tool call", self._build_call, self.invocation, fc.id, fc.created_at,
                    self.agent_id(), fc.call_id, fc.name, fc.arguments)

    def _build_call(self, invocation: str | None, item_id: str, created_at: float, agent: str,
                    call_id: str, name: str, args: str) -> list[Record]:
        return [Event(self.sid, invocation, item_id, created_at, agent, "function_call",
                      function_calls=[{"id": call_id, "name": name, "args": arguments(args)}])]


def _as_is(record: Record) -> tuple[Record]:
    return (record,)
