"""`NotebookJob`: one LiveKit job driven from a notebook. It composes the runtime (LiveKit's
server on a private loop thread), the observer (events -> records) and log capture, and owns
the turns: starting them on the job's loop and ending each one exactly once."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..core.failure import for_the_user, full_traceback
from ..core.recorded import Recorded
from ..core.records import Fact, InvocationEnd, InvocationStart
from ..core.trace import Trace
from . import internals, runtime
from .entry import JobEntry
from .expect import watch_checks
from .logs import JobLogCapture
from .mapping import describe, new_id
from .observer import JobObserver

CONSOLE_MODE = "console (no LiveKit server)"
SETTLE_S = 2.0               # start() waits this long for the entrypoint to end or start a session
SESSION_WAIT_S = 10.0        # ask() waits this long for the entrypoint's AgentSession
INTERRUPTED_TURN_WAIT_S = 6.0
SETTLE_TURN_S = 5.0          # a turn waits this long for the session's greeting to end
# aclose() returns within 5 s: every step below is bounded, and all of them by CLOSE_BUDGET_S.
CLOSE_BUDGET_S = 4.3
TURN_STOP_S = 0.5            # cut off a running turn and its tools
ENTRY_CANCEL_S = 0.5
THREAD_STOP_S = 0.5          # the closer thread, once its work is done
CUT_OFF = "job closed during the turn"


class NotebookJob(Recorded):
    """One LiveKit job driven from a notebook: `await job.start()`, `await job.ask(text)` (a
    LiveKit `RunResult`), `job.context` (the real `JobContext`), `await job.aclose()`.

    With `agent=`, a built-in entrypoint starts a text-only `AgentSession(llm=..., userdata=...)`
    (`llm` defaults to the agent's own, else an echoing `ScriptedLLM`). With `entrypoint=`, the
    user's `async def entrypoint(ctx)` runs unchanged and `ask()` talks to the AgentSession it
    starts; `llm=` then becomes the model of every session and agent it makes (an example's
    `openai.LLM(...)` is never built into a call), and `userdata=` its sessions' userdata.
    `prewarm=fn` is LiveKit's `setup_fnc`: called with the job process before the job.
    A real server is used when `url` (or LIVEKIT_URL, with a key and secret) is set; otherwise
    LiveKit's console path with its mock room. `LIVEKIT_*` variables that LiveKit writes into
    os.environ are put back as they were, so inside a job `ctx.api` sees only the caller's own.
    """

    def __init__(self, *, agent: Any = None,
                 entrypoint: Callable[[Any], Coroutine[Any, Any, Any]] | None = None,
                 llm: Any = None, userdata: Any = None,
                 prewarm: Callable[[Any], Any] | None = None, room: str = "agentnb",
                 url: str | None = None, api_key: str | None = None,
                 api_secret: str | None = None, display: bool = True,
                 log_level: int = logging.INFO) -> None:
        if (agent is None) == (entrypoint is None):
            raise TypeError("agentnb: NotebookJob needs exactly one of agent= or entrypoint=")
        if entrypoint is not None and not asyncio.iscoroutinefunction(entrypoint):
            raise TypeError("agentnb: entrypoint must be an `async def entrypoint(ctx)` function")
        if prewarm is not None and not callable(prewarm):
            raise TypeError(f"agentnb: prewarm must be a function of the job process "
                            f"(`def prewarm(proc)`), not {type(prewarm).__name__}")
        self.server_url = url or os.environ.get("LIVEKIT_URL") or None
        self._api_key = api_key or os.environ.get("LIVEKIT_API_KEY") or None
        self._api_secret = api_secret or os.environ.get("LIVEKIT_API_SECRET") or None
        if self.server_url and not (self._api_key and self._api_secret):
            raise ValueError(f"agentnb: the LiveKit server at {self.server_url} needs api_key= "
                             f"and api_secret= (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
        self.agent, self.entrypoint, self.llm, self.userdata = agent, entrypoint, llm, userdata
        self.prewarm = prewarm
        self.room, self.display, self.log_level = room, display, log_level
        self.mode = f"LiveKit server at {self.server_url}" if self.server_url else CONSOLE_MODE
        self.title = f"LiveKit job · room {room} · {self.mode}"
        self.agent_identity = new_id("agentnb-agent")
        self.trace = Trace()
        self.last_result: Any = None
        self.observer = JobObserver(self.trace, mode=self.mode, server_url=self.server_url,
                                    agent=agent, on_session_ready=self._session_is_ready)
        self._entry = JobEntry(self.observer, agent=agent, entrypoint=entrypoint, llm=llm,
                               userdata=userdata, prewarm=prewarm, server_url=self.server_url)

        self._started = self._closed = False
        self._start_lock = asyncio.Lock()
        self._server: Any = None
        self._loop_thread: runtime.LoopThread | None = None
        self._log_capture: JobLogCapture | None = None
        self._env_before: dict[str, str] | None = None
        # The turns (`_open_turns` under `_turn_lock`: a turn ends once, from ask() or aclose()).
        self._last_run: Any = None
        self._turn_cut_off: set[str] = set()      # turns still running when aclose() began
        self._turn_tasks: set[asyncio.Task[Any]] = set()   # the job loop's tasks running turns
        self._open_turns: set[str] = set()        # invocations started and not yet ended
        self._turn_lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session_id(self) -> str | None:
        """The job's id, which is its session's id in the trace (known once it runs)."""
        return self.observer.session_id

    @property
    def context(self) -> Any:
        """The job's real `livekit.agents.JobContext` (it lives on the job's own loop)."""
        if self._entry.ctx is None:
            raise RuntimeError("agentnb: the job has not started: await job.start() first")
        return self._entry.ctx

    @property
    def session(self) -> Any:
        """The `AgentSession` that `ask()` talks to, once there is one."""
        return self.observer.session

    async def start(self) -> None:
        """Start LiveKit's server on a private loop thread and run the job's entrypoint."""
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
            if self._started:
                return
            self._started = True
            internals.import_livekit()
            self._env_before = internals.livekit_env()
            self._log_capture = JobLogCapture(self.observer.on_log, self.observer.guard,
                                              self.log_level)
            self._log_capture.install()
            self._loop_thread = runtime.LoopThread(f"agentnb-livekit-{self.room}")
            self.observer.server_thread_id = self._loop_thread.thread.ident
            runtime.close_at_exit(self)
            try:
                await self._launch_job()
            except BaseException:
                await runtime.in_thread(self.shutdown_blocking, "agentnb-livekit-close", THREAD_STOP_S)
                self._closed = True
                raise

    async def ask(self, text: str) -> Any:
        """One user turn on the job's AgentSession; returns LiveKit's `RunResult`."""
        if not self._started:
            await self.start()
        if self._closed:
            raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
        session = await self._primary_session()
        if self.observer.shutdown_reason and not self._closed:
            raise RuntimeError(f"agentnb: LiveKit ended the job ({self.observer.shutdown_reason})"
                               f"; make a new NotebookJob")
        if self.observer.session_closed:
            raise RuntimeError(f"agentnb: the job's AgentSession has closed "
                               f"({self.observer.session_closed}); make a new NotebookJob")
        invocation_id = new_id("inv")
        with self._turn_lock:
            if self._closed:  # closed while ask() waited for the session
                raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
            self._open_turns.add(invocation_id)
            self.observer.keep(InvocationStart(self.session_id or "", invocation_id,
                                               self.observer.agent_id(), str(text), time.time()))
        status, error, full = "ok", None, None
        with self._live(invocation_id):  # the end record lands before the live card's last flush
            try:
                turn = self._in_job(lambda: self._turn(session, str(text), invocation_id),
                                    tasks=self._turn_tasks)
                result = await asyncio.wrap_future(turn)
            except BaseException as exc:  # cancelled or KeyboardInterrupt: interrupted
                __tracebackhide__ = True   # IPython leaves this frame out of what it prints
                if self._closed:  # aclose() cut the turn off
                    status, error = "interrupted", CUT_OFF
                    if isinstance(exc, asyncio.CancelledError) and not runtime.cancelling():
                        # Nobody cancelled this ask(): the job was closed under it.
                        raise RuntimeError(f"agentnb: the {CUT_OFF}") from None
                    raise
                status = "error" if isinstance(exc, Exception) else "interrupted"
                error, full = describe(exc), full_traceback(exc)
                # The card has it all; the cell gets the user's own frames and the exception.
                raise for_the_user(exc, invocation_id)  # noqa: B904
            else:
                if invocation_id in self._turn_cut_off:
                    status, error = "interrupted", CUT_OFF
                elif errors := self.observer.turn_errors.get(invocation_id):
                    status, error = "error", "; ".join(errors)
                elif invocation_id in self.observer.turn_interrupted:
                    status = "interrupted"
                self.last_result = result
                watch_checks(result, self.trace, self.session_id or "", invocation_id,
                             bool(getattr(self, "display", False)))
                return result
            finally:
                self.observer.turn_errors.pop(invocation_id, None)
                self.observer.turn_interrupted.discard(invocation_id)
                self._turn_cut_off.discard(invocation_id)
                self._end_turn(invocation_id, status, error, full)

    async def aclose(self) -> None:
        """Shut the job down: a running turn is cut off (its tools cancelled, the turn recorded
        "interrupted"), shutdown callbacks run, the entrypoint is cancelled if it is still
        running, and no thread is left. Returns within 5 s; nothing is recorded after."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            began = time.monotonic()
            await runtime.in_thread(self.shutdown_blocking, "agentnb-livekit-close", THREAD_STOP_S)
            # The last record: the trace is sealed (see `shutdown_blocking`).
            self.trace.append(Fact(self.session_id, None, time.time(), "shutdown", {
                "event": "closed", "seconds": round(time.monotonic() - began, 3)}))

    # -- starting -----------------------------------------------------------------------------

    async def _launch_job(self) -> None:
        assert self._loop_thread is not None and self._env_before is not None
        entry = self._entry
        self._server = runtime.new_server(
            entry.run, url=self.server_url, api_key=self._api_key, api_secret=self._api_secret,
            setup=None if self.prewarm is None else entry.run_prewarm)
        await runtime.run_server(self._loop_thread, self._server, self._env_before)
        await runtime.launch_job(self._loop_thread, self._server, self.room, url=self.server_url,
                         api_key=self._api_key, api_secret=self._api_secret,
                         identity=self.agent_identity)
        await runtime.first(entry.entered, entry.done, timeout=runtime.START_TIMEOUT_S)
        for future in (entry.entered, entry.done):
            if future.done() and (failure := future.exception()) is not None:
                raise failure
        if not entry.entered.done():
            raise TimeoutError(f"agentnb: the job's entrypoint did not start within "
                               f"{runtime.START_TIMEOUT_S:g} s")
        await runtime.first(entry.done, entry.session_ready, timeout=SETTLE_S)
        if entry.done.done() and (failure := entry.done.exception()) is not None:
            raise failure

    def _session_is_ready(self) -> None:
        runtime.resolve(self._entry.session_ready)

    # -- turns and shutdown -------------------------------------------------------------------

    async def _turn(self, session: Any, text: str, invocation_id: str) -> Any:
        if self._last_run is not None and not self._last_run.done():
            # An interrupted turn ends when LiveKit has stopped its speech (up to 5 s); a new
            # run before that fails with "nested runs are not supported".
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(self._last_run)),
                                       INTERRUPTED_TURN_WAIT_S)
            except Exception:
                pass
        # An `on_enter` greeting may still be running: it is not this turn's.
        await internals.settle(session, SETTLE_TURN_S)
        self.observer.invocation = invocation_id
        try:
            self._last_run = session.run(user_input=text)
            return await self._last_run
        except asyncio.CancelledError:
            # The caller gave up on the turn: stop the reply LiveKit is still producing.
            internals.interrupt(session)
            raise
        finally:
            if self._closed:  # aclose() cut the turn off
                self._turn_cut_off.add(invocation_id)
            # Writes outside a tool (e.g. in on_user_turn_completed) show up here.
            self.observer.record_userdata(None, "userdata")
            self.observer.record_usage(session)
            self.observer.invocation = None

    def _in_job(self, make_coro: Callable[[], Coroutine[Any, Any, Any]], *,
                tasks: set[asyncio.Task[Any]] | None = None) -> concurrent.futures.Future[Any]:
        """`make_coro()` as a task on the job's loop, in the job's context variables (so
        `get_job_context()` works in a tool); with `tasks`, none starts once the job closes."""
        assert self._entry.loop is not None
        return runtime.run_in_loop(self._entry.loop, self._entry.variables, make_coro,
                                   tasks=tasks, refused=lambda: self._closed)

    async def _primary_session(self) -> Any:
        entry = self._entry
        if not entry.session_ready.done():
            await runtime.first(entry.session_ready, entry.done, timeout=SESSION_WAIT_S)
        if not entry.session_ready.done():
            if entry.done.done():
                raise RuntimeError("agentnb: the entrypoint started no AgentSession, and ask() "
                                   "needs one (`await session.start(agent)` in the entrypoint)")
            raise TimeoutError(f"agentnb: the entrypoint started no AgentSession within "
                               f"{SESSION_WAIT_S:g} s")
        return self.observer.session

    def _end_turn(self, invocation_id: str, status: str, error: str | None,
                  traceback: str | None = None) -> None:
        """The turn's end record, once: from `ask()`, or from `aclose()` for a turn it cut off
        (before it returns, whatever the notebook's loop does meanwhile)."""
        with self._turn_lock:
            if invocation_id not in self._open_turns:
                return
            self._open_turns.discard(invocation_id)
            self.observer.keep(InvocationEnd(self.session_id or "", invocation_id, time.time(),
                                             status, error, traceback))

    def shutdown_blocking(self) -> None:
        """Close everything this job started, each step bounded and all of them within
        CLOSE_BUDGET_S; safe to call twice."""
        runtime.running_jobs.discard(self)
        self._closed = True  # from here no turn starts, and a turn that ends is cut off
        left = runtime.Budget(CLOSE_BUDGET_S)
        job_thread = runtime.thread_with_id(self.observer.job_thread_id)
        entry = self._entry
        if job_thread is not None and entry.loop is not None and not entry.loop.is_closed():
            stopped = self._in_job(lambda: internals.stop_turns(
                set(self._turn_tasks), self.observer.session, TURN_STOP_S))
            concurrent.futures.wait([stopped], left(TURN_STOP_S + 0.1))
        for invocation_id in list(self._open_turns):
            self._end_turn(invocation_id, "interrupted", CUT_OFF)
        if entry.task is not None and entry.loop is not None and not entry.done.done():
            # LiveKit waits 15 s for a running entrypoint before its shutdown callbacks.
            with contextlib.suppress(RuntimeError):
                entry.loop.call_soon_threadsafe(entry.task.cancel)
            concurrent.futures.wait([entry.done], left(ENTRY_CANCEL_S))
        stuck = self._loop_thread is not None and not runtime.stop_server(
            self._loop_thread, self._server, job_thread, left)
        if self._log_capture is not None:
            self._log_capture.uninstall()
            self._log_capture = None
        if self._env_before is not None:
            internals.restore_livekit_env(self._env_before)
        if not self.server_url:
            internals.forget_console_calls()
        if stuck:
            self.observer.fact("shutdown", {
                "event": "stuck", "warning": "LiveKit's job did not finish within the bound; "
                                             "its thread may still be running, and what it "
                                             "does from here on is not recorded"})
        self.observer.seal()  # a closed job's trace is final
