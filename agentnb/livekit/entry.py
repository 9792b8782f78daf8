"""`JobEntry`: the job's side of a NotebookJob. LiveKit calls `run(ctx)` as the job's entrypoint,
on the job's own loop in its thread: it records the JobContext, connects a real room within a
bound, and runs the built-in session or the user's entrypoint under the job's hooks (see
`internals.JobHooks`). The notebook's side waits on its futures (`entered`, `done`,
`session_ready`), set from the job's thread."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from . import internals, runtime
from .mapping import connection_cause, describe
from .observer import JobObserver
from .scripted import scripted_llm_class

# LiveKit retries a connection for 20-32 s by itself; the whole attempt is bounded here so a
# refused or silent server fails start() within 10 s.
CONNECT_TIMEOUT_S = 5.0
SESSION_POLL_S = 0.05


class JobEntry:
    """What runs inside LiveKit's job for one NotebookJob, and what it learnt there: the
    JobContext (`ctx`), the job's loop, its context variables and the entrypoint's task."""

    def __init__(self, observer: JobObserver, *, agent: Any,
                 entrypoint: Callable[[Any], Coroutine[Any, Any, Any]] | None, llm: Any,
                 userdata: Any, prewarm: Callable[[Any], Any] | None,
                 server_url: str | None) -> None:
        self.observer, self.agent, self.entrypoint = observer, agent, entrypoint
        self.llm, self.userdata, self.prewarm, self.server_url = llm, userdata, prewarm, server_url
        self.prewarm_error: BaseException | None = None
        # Set from the job's thread; the notebook waits on them with `runtime.first`.
        self.entered: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.session_ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        # Known once the entrypoint runs.
        self.ctx: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.variables: contextvars.Context | None = None
        self.task: asyncio.Task[Any] | None = None
        self._session_watch: asyncio.Task[Any] | None = None

    def hooks(self) -> internals.JobHooks:
        """What the sessions and agents made in this job get from it."""
        user_entry = self.entrypoint is not None
        observer = self.observer
        return internals.JobHooks(
            llm=self.llm if user_entry else None, userdata=self.userdata if user_entry else None,
            replace_agent_models=user_entry, console=not self.server_url,
            on_start=observer.attach, failed=observer.guard.failed, on_text=observer.on_text,
            note=lambda topic, data: observer.fact(topic, data, observer.invocation))

    def run_prewarm(self, proc: Any) -> None:
        """LiveKit's `setup_fnc`, in the job's thread before the job. Raised there, an error
        would kill LiveKit's job thread and leave start() waiting; `run` raises it instead."""
        try:
            assert self.prewarm is not None
            self.prewarm(proc)
        except BaseException as exc:
            self.prewarm_error = exc

    async def run(self, ctx: Any) -> None:
        """LiveKit's entrypoint for this job: records the JobContext, connects to a real server
        within a bound, then runs the built-in session or the user's entrypoint."""
        try:
            # Before the context is copied: turns, and every task the entrypoint starts, see it.
            internals.current_hooks.set(self.hooks())
            self.ctx = ctx
            self.loop = asyncio.get_running_loop()
            self.variables = contextvars.copy_context()
            self.task = asyncio.current_task()
            self.observer.bind(ctx, self.userdata)
            ctx.add_shutdown_callback(self._on_job_shutdown)
            if self.prewarm_error is not None:
                raise self.prewarm_error
            if self.server_url and not await self._connect(ctx):
                return
        except Exception as exc:
            runtime.resolve(self.entered, exc)
            runtime.resolve(self.done)
            raise
        self.observer.record_room(ctx)
        runtime.resolve(self.entered)
        self._session_watch = asyncio.create_task(self._watch_for_session(ctx))
        try:
            if self.entrypoint is not None:
                await self.entrypoint(ctx)
            else:
                await self._start_builtin_session(ctx)
        except BaseException as exc:
            self.observer.fact("job", {"event": "entrypoint cancelled"}
                               if isinstance(exc, asyncio.CancelledError)
                               else {"event": "entrypoint failed", "error": describe(exc)})
            runtime.resolve(self.done, exc)
            raise
        session = internals.primary_session_of(ctx)
        if session is not None:
            self.observer.attach(session)
        runtime.resolve(self.done)

    async def _connect(self, ctx: Any) -> bool:
        """Connect the job's real Room within CONNECT_TIMEOUT_S; on failure, end the job and
        hand start() a ConnectionError that names the URL and the cause."""
        try:
            await asyncio.wait_for(ctx.connect(), CONNECT_TIMEOUT_S)
        except Exception as exc:
            cause = (f"no answer within {CONNECT_TIMEOUT_S:g} s"
                     if isinstance(exc, TimeoutError) else connection_cause(describe(exc)))
            self.observer.fact("connection", {"state": "failed", "url": self.server_url,
                                              "cause": cause})
            runtime.resolve(self.entered, ConnectionError(
                f"agentnb: could not connect to the LiveKit server at {self.server_url}: "
                f"{cause}"))
            runtime.resolve(self.done)
            ctx.shutdown("agentnb: could not connect")
            return False
        self.observer.watch_room(ctx.room)
        return True

    async def _start_builtin_session(self, ctx: Any) -> None:
        from livekit.agents import AgentSession
        from livekit.agents.types import NOT_GIVEN
        await ctx.connect()
        model = self.llm
        if model is None and not internals.is_given(getattr(self.agent, "llm", NOT_GIVEN)):
            model = scripted_llm_class()()
        session = AgentSession(
            llm=NOT_GIVEN if model is None else model, vad=None,
            turn_handling={"turn_detection": None},  # text turns only: no audio to segment
            user_away_timeout=None,
            userdata=NOT_GIVEN if self.userdata is None else self.userdata)
        self.observer.attach(session)
        if self.server_url:
            # A real room: chat in on `lk.chat`, replies out on `lk.transcription`, text only
            # (no TTS, no STT: the job's hooks turn RoomIO's audio off).
            await session.start(self.agent, room=ctx.room)
        else:
            # No room: the console room has no one to talk to but the notebook.
            await session.start(self.agent)

    async def _watch_for_session(self, ctx: Any) -> None:
        """Attach the observer to the AgentSession a user's entrypoint starts, as soon as it
        becomes the job's primary session, should it not have been started through the hook
        on `AgentSession.start`."""
        while self.observer.session is None:
            session = internals.primary_session_of(ctx)
            if session is not None:
                self.observer.attach(session)
                return
            await asyncio.sleep(SESSION_POLL_S)

    async def _on_job_shutdown(self, reason: str) -> None:
        if self._session_watch is not None:
            self._session_watch.cancel()
        self.observer.record_shutdown(
            reason, internals.shutdown_callback_names(self.ctx, self._on_job_shutdown))
