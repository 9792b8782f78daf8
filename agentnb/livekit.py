"""The LiveKit adapter: runs a real LiveKit job from a notebook and maps it onto the neutral trace.

`NotebookJob` starts LiveKit's own `AgentServer` on a private event loop thread and hands it one
job: on LiveKit's console/fake-job path when no server is configured, or in a real room when one
is. The entrypoint (agentnb's built-in text session, or the user's seed-style
`async def entrypoint(ctx)`) gets a real `JobContext` and runs on the job's own loop, in the job's
own thread; `ask()` schedules each turn there, inside the job's context variables, so
`get_job_context()` works in a tool. Observers only copy what LiveKit hands them into records;
they are sync and never raise into LiveKit.

`import agentnb.livekit` does not import LiveKit (~4 s): `NotebookJob.start()` does, and so does
the first use of `ScriptedLLM`, which must subclass LiveKit's `llm.LLM`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import functools
import inspect
import json
import logging
import os
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Mapping

from ._recorded import Recorded
from ._records import (ContextSnapshot, Event, Fact, InvocationEnd, InvocationStart, Session,
                       StateChange, copy_value)
from ._steps import Call, Script, call, reply
from ._trace import Trace

__all__ = ["NotebookJob", "ScriptedLLM", "reply", "call", "mint_token"]

log = logging.getLogger("agentnb.livekit")

CONSOLE_MODE = "console (no LiveKit server)"
# LiveKit retries a connection for 20-32 s by itself; the whole attempt is bounded here so a
# refused or silent server fails start() within 10 s.
CONNECT_TIMEOUT_S = 5.0
START_TIMEOUT_S = 30.0       # server start, job process initialisation, entrypoint entered
SETTLE_S = 2.0               # start() waits this long for the entrypoint to end or start a session
SESSION_WAIT_S = 10.0        # ask() waits this long for the entrypoint's AgentSession
SESSION_POLL_S = 0.05
INTERRUPTED_TURN_WAIT_S = 6.0
# aclose() returns within 5 s: every step below is bounded, and all of them by CLOSE_BUDGET_S.
CLOSE_BUDGET_S = 4.3
TURN_STOP_S = 0.5            # cut off a running turn and its tools
ENTRY_CANCEL_S = 0.5
SERVER_CLOSE_S = 3.0
THREAD_STOP_S = 0.5          # the closer thread, once its work is done
CUT_OFF = "job closed during the turn"
LOG_TEXT_CHARS = 4000


# --- the scripted model ---------------------------------------------------------------------

def __getattr__(name):
    # ScriptedLLM subclasses LiveKit's llm.LLM: the class is built on first use, not on import.
    if name == "ScriptedLLM":
        return _scripted_llm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _scripted_llm_class():
    from livekit.agents import llm, utils
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN

    class ScriptedLLM(llm.LLM):
        """A real LiveKit `llm.LLM` that plays a script instead of calling a model (see `_steps`):
        `reply(text)`, `call(name, **args)`, a list of `call(...)`, or `f(chat_ctx) -> step`.
        No steps (None) echoes the last user text; running out of steps is an error."""

        def __init__(self, steps=None, *, model: str = "scripted"):
            super().__init__()
            self._script = Script(steps, "ScriptedLLM")
            self._model = model

        @property
        def model(self) -> str:
            return self._model

        @property
        def provider(self) -> str:
            return "agentnb"

        @property
        def calls(self) -> int:
            """How many times the model has been called."""
            return self._script.calls

        def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS,
                 parallel_tool_calls=NOT_GIVEN, tool_choice=NOT_GIVEN, extra_kwargs=NOT_GIVEN):
            return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [],
                                   conn_options=conn_options)

    class _ScriptedStream(llm.LLMStream):
        async def _run(self) -> None:
            # Raised here, a step error takes LiveKit's own path for a failing model: an
            # `error` event, and the run's RunResult raises it.
            step = self._llm._script.next(self._chat_ctx, lambda: _last_user_text(self._chat_ctx))
            if isinstance(step[0], Call):
                delta = llm.ChoiceDelta(role="assistant", tool_calls=[
                    llm.FunctionToolCall(name=c.name, arguments=json.dumps(c.args),
                                         call_id=utils.shortuuid("call_"))
                    for c in step])
            else:
                delta = llm.ChoiceDelta(role="assistant", content=step[0].text)
            self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("scripted_"), delta=delta))

    ScriptedLLM.__module__ = _ScriptedStream.__module__ = __name__
    ScriptedLLM.__qualname__ = "ScriptedLLM"
    return ScriptedLLM


def _last_user_text(chat_ctx) -> str:
    for item in reversed(chat_ctx.items):
        if getattr(item, "type", None) == "message" and item.role == "user" and item.text_content:
            return item.text_content
    return ""


# --- tokens, environment, logging -----------------------------------------------------------

def mint_token(api_key: str, api_secret: str, *, identity: str, room: str) -> str:
    """An agent's access token to join `room` as `identity` (LiveKit's `AccessToken`)."""
    from livekit import api
    return (api.AccessToken(api_key, api_secret)
            .with_identity(identity)
            .with_kind("agent")
            .with_grants(api.VideoGrants(room_join=True, room=room, agent=True))
            .to_jwt())


def _livekit_env() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith("LIVEKIT_")}


def _restore_livekit_env(saved: dict) -> None:
    """Undo `AgentServer.run()`, which writes LIVEKIT_URL/API_KEY/API_SECRET into os.environ:
    left there, they would turn every later job in this process online."""
    for key in [k for k in os.environ if k.startswith("LIVEKIT_") and k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


class _RootLevel:
    """Lowers the root logger's level while jobs run, so their INFO records are created at all
    (below a logger's effective level no record exists), and hides the records that exist only
    because of that from the other root handlers. Jobs overlap: the lowest requested level
    holds until the last job ends."""

    _lock = threading.Lock()
    _held: list = []
    _saved = logging.WARNING

    @classmethod
    def hold(cls, level: int) -> None:
        root = logging.getLogger()
        with cls._lock:
            if not cls._held:
                cls._saved = root.level
                for handler in root.handlers:
                    if not isinstance(handler, _JobLogCapture):
                        handler.addFilter(cls._existed_before)
            cls._held.append(level)
            root.setLevel(min([cls._saved, *cls._held]))

    @classmethod
    def release(cls, level: int) -> None:
        root = logging.getLogger()
        with cls._lock:
            if level not in cls._held:
                return
            cls._held.remove(level)
            root.setLevel(min([cls._saved, *cls._held]))
            if not cls._held:
                for handler in root.handlers:
                    handler.removeFilter(cls._existed_before)

    @classmethod
    def _existed_before(cls, record) -> bool:
        """Whether `record` would have been created with the root level as it was."""
        if record.levelno >= cls._saved:
            return True
        logger = logging.getLogger(record.name) if record.name != "root" else logging.root
        while logger is not None and logger.level == logging.NOTSET:
            logger = logger.parent
        return logger is not None and logger is not logging.root


class _JobLogCapture(logging.Handler):
    """A root handler that copies one job's log records into its trace. It must be on the root
    logger before the job starts: LiveKit adds its `log_context_fields` filter only to the root
    handlers present then."""

    def __init__(self, job: NotebookJob, level: int):
        super().__init__(level)
        self.job = job

    def install(self) -> None:
        _RootLevel.hold(self.level)
        logging.getLogger().addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
        _RootLevel.release(self.level)

    def handle(self, record) -> bool:
        # Python prints WARNING and above to stderr only while the root logger has no
        # handler; this one must not silence that, so it passes them on when it stands alone.
        root = logging.getLogger()
        if record.levelno >= logging.WARNING and logging.lastResort is not None:
            others = [h for h in root.handlers if not isinstance(h, _JobLogCapture)]
            captures = [h for h in root.handlers if isinstance(h, _JobLogCapture)]
            if not others and captures and captures[0] is self:
                logging.lastResort.handle(record)
        return super().handle(record)

    def emit(self, record) -> None:
        try:
            self.job._on_log(record)
        except Exception:
            self.job.observer_errors += 1

    def handleError(self, record) -> None:
        self.job.observer_errors += 1


def _never_raises(method):
    """An observer LiveKit calls: an error in it is counted, never raised into LiveKit."""
    @functools.wraps(method)
    def observer(self, *args):
        try:
            method(self, *args)
        except Exception:
            self.observer_errors += 1
            log.debug("agentnb observer %s failed", method.__name__, exc_info=True)
    return observer


_VARARGS = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])


def _emitted(observer):
    """`observer` (a bound `_never_raises` method) as the handler LiveKit's EventEmitter gets.
    Its `emit` runs `inspect.signature` on every handler at every event, to pass each only the
    arguments it takes: ~14 µs for a decorated bound method, ~1.6 µs for a plain function that
    carries its own `__signature__`. The arguments are trimmed here, once worked out."""
    taken = len([p for p in inspect.signature(observer).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])

    def emitted(*args):
        observer(*args[:taken])
    emitted.__signature__ = _VARARGS
    emitted.__qualname__ = emitted.__name__ = getattr(observer, "__name__", "observer")
    return emitted


# --- small helpers --------------------------------------------------------------------------

def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _fields_of(userdata) -> dict:
    """A copy of `userdata` as {field: value}: a dataclass's fields, a mapping's items, a
    pydantic model's dump or an object's public attributes."""
    if userdata is None:
        return {}
    if dataclasses.is_dataclass(userdata) and not isinstance(userdata, type):
        return {f.name: copy_value(getattr(userdata, f.name)) for f in dataclasses.fields(userdata)}
    if isinstance(userdata, Mapping):
        return {str(k): copy_value(v) for k, v in userdata.items()}
    if callable(getattr(userdata, "model_dump", None)):
        return copy_value(userdata.model_dump())
    if hasattr(userdata, "__dict__"):
        return {k: copy_value(v) for k, v in vars(userdata).items() if not k.startswith("_")}
    return {"userdata": copy_value(userdata)}


_MISSING = object()


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _changes(old: dict, new: dict) -> list:
    """(key, old, new) for every key whose value differs; a removed key's new value is None."""
    keys = list(old) + [k for k in new if k not in old]
    return [(k, old.get(k), new.get(k)) for k in keys
            if not _same(old.get(k, _MISSING), new.get(k, _MISSING))]


def _arguments(text: str):
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _resolve(future: concurrent.futures.Future, exc: BaseException | None = None) -> None:
    if not future.done():
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


def _enum_name(enum_type, value) -> str:
    try:
        return enum_type.Name(value)
    except Exception:
        return str(value)


class _LoopThread:
    """A private event loop in a daemon thread. LiveKit's server runs here, not on the notebook's
    loop: its periodic executor calls would otherwise leave threads behind on the kernel's loop."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    def submit(self, coro) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float) -> None:
        if self.thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)


async def _first(*futures: concurrent.futures.Future, timeout: float) -> None:
    """Wait, on the caller's loop, until one of `futures` is done or `timeout` passes. Nothing
    is chained to their outcome (`asyncio.wrap_future` would leave "exception never retrieved"
    errors behind for the ones that fail later)."""
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_):
        with contextlib.suppress(RuntimeError):  # the caller's loop may be closed by then
            loop.call_soon_threadsafe(lambda: woken.done() or woken.set_result(None))

    for future in futures:
        future.add_done_callback(wake)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken, timeout)


# Jobs not closed by their owner are closed before Python joins non-daemon threads at exit:
# LiveKit's job thread is one, and it would wait forever for the server loop, a daemon.
_running_jobs: weakref.WeakSet = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _close_running_jobs() -> None:
    for job in list(_running_jobs):
        with contextlib.suppress(Exception):
            job._shutdown_blocking()


def _register_exit_hook() -> None:
    global _exit_hook_registered
    with _exit_hook_lock:
        if not _exit_hook_registered:
            threading._register_atexit(_close_running_jobs)
            _exit_hook_registered = True


# --- the job --------------------------------------------------------------------------------

class NotebookJob(Recorded):
    """One LiveKit job driven from a notebook: `await job.start()`, `await job.ask(text)` (a
    LiveKit `RunResult`), `job.context` (the real `JobContext`), `await job.aclose()`.

    With `agent=`, a built-in entrypoint starts a text-only `AgentSession(llm=..., userdata=...)`
    (`llm` defaults to the agent's own, else an echoing `ScriptedLLM`). With `entrypoint=`, the
    user's `async def entrypoint(ctx)` runs and `ask()` talks to the AgentSession it starts.
    A real server is used when `url` (or LIVEKIT_URL, with a key and secret) is set; otherwise
    LiveKit's console path with its mock room. `LIVEKIT_*` variables that LiveKit writes into
    os.environ are put back as they were, so inside a job `ctx.api` sees only the caller's own.
    """

    def __init__(self, *, agent=None, entrypoint=None, llm=None, userdata=None, room="agentnb",
                 url=None, api_key=None, api_secret=None, display=True, log_level=logging.INFO):
        if (agent is None) == (entrypoint is None):
            raise TypeError("agentnb: NotebookJob needs exactly one of agent= or entrypoint=")
        if entrypoint is not None and (llm is not None or userdata is not None):
            raise TypeError("agentnb: llm= and userdata= are for the built-in session (agent=); "
                            "an entrypoint passes them to the AgentSession it starts")
        if entrypoint is not None and not asyncio.iscoroutinefunction(entrypoint):
            raise TypeError("agentnb: entrypoint must be an `async def entrypoint(ctx)` function")
        self.server_url = url or os.environ.get("LIVEKIT_URL") or None
        self._api_key = api_key or os.environ.get("LIVEKIT_API_KEY") or None
        self._api_secret = api_secret or os.environ.get("LIVEKIT_API_SECRET") or None
        if self.server_url and not (self._api_key and self._api_secret):
            raise ValueError(f"agentnb: the LiveKit server at {self.server_url} needs api_key= "
                             f"and api_secret= (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)")
        self.agent, self.entrypoint, self.llm, self.userdata = agent, entrypoint, llm, userdata
        self.room, self.display, self.log_level = room, display, log_level
        self.mode = f"LiveKit server at {self.server_url}" if self.server_url else CONSOLE_MODE
        self.title = f"LiveKit job · room {room} · {self.mode}"
        self.agent_identity = _new_id("agentnb-agent")
        self.trace = Trace()
        self.session_id: str | None = None
        self.last_result = None
        self.observer_errors = 0

        self._started = self._closed = False
        self._start_lock = asyncio.Lock()
        self._server = None
        self._loop_thread: _LoopThread | None = None
        self._log_capture: _JobLogCapture | None = None
        self._env_before: dict | None = None
        # Set from the job's thread; the notebook waits on them with `_first`.
        self._entered = concurrent.futures.Future()       # entrypoint running (connected)
        self._entry_done = concurrent.futures.Future()    # entrypoint returned or raised
        self._session_ready = concurrent.futures.Future()  # an observed AgentSession started
        # Known once the entrypoint runs: the job's context, loop, context variables, thread.
        self._ctx = None
        self._job_loop: asyncio.AbstractEventLoop | None = None
        self._job_vars: contextvars.Context | None = None
        self._job_thread_id: int | None = None
        self._entry_task: asyncio.Task | None = None
        self._session_watch: asyncio.Task | None = None
        # What the observers keep (written on the job's thread only).
        self._session = None
        self._session_closed: str | None = None
        self._userdata_seen: dict = {}
        self._invocation: str | None = None
        self._last_run = None
        self._turn_errors: dict[str, list] = {}
        self._turn_interrupted: set = set()
        self._turn_cut_off: set = set()      # turns still running when aclose() began
        self._turn_tasks: set = set()        # the job loop's tasks running turns
        self._open_turns: set = set()        # invocations started and not yet ended
        self._turn_lock = threading.Lock()
        self._usage_seen: list | None = None
        self._call_names: dict[str, str] = {}
        self._call_errors: dict[str, str] = {}
        self._participant_attributes: dict[str, dict] = {}
        self._early_logs: list = []
        self._sealed = False                 # set when closed: nothing is recorded after
        self._dropped_after_close = 0
        self._log_lock = threading.RLock()  # a trace listener may log while it is held

    # -- public API ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def context(self):
        """The job's real `livekit.agents.JobContext` (it lives on the job's own loop)."""
        if self._ctx is None:
            raise RuntimeError("agentnb: the job has not started: await job.start() first")
        return self._ctx

    @property
    def session(self):
        """The `AgentSession` that `ask()` talks to, once there is one."""
        return self._session

    async def start(self) -> None:
        """Start LiveKit's server on a private loop thread and run the job's entrypoint."""
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
            if self._started:
                return
            self._started = True
            _import_livekit()
            self._env_before = _livekit_env()
            self._log_capture = _JobLogCapture(self, self.log_level)
            self._log_capture.install()
            self._loop_thread = _LoopThread(f"agentnb-livekit-{self.room}")
            _running_jobs.add(self)
            _register_exit_hook()
            try:
                await self._start_server()
                await self._launch_job()
            except BaseException:
                await self._close_in_thread()
                self._closed = True
                raise

    async def ask(self, text: str):
        """One user turn on the job's AgentSession; returns LiveKit's `RunResult`."""
        if not self._started:
            await self.start()
        if self._closed:
            raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
        session = await self._primary_session()
        if self._session_closed:
            raise RuntimeError(f"agentnb: the job's AgentSession has closed "
                               f"({self._session_closed}); make a new NotebookJob")
        invocation_id = _new_id("inv")
        with self._turn_lock:
            if self._closed:  # closed while ask() waited for the session
                raise RuntimeError("agentnb: this job is closed; make a new NotebookJob")
            self._open_turns.add(invocation_id)
            self.trace.append(InvocationStart(self.session_id, invocation_id,
                                              self._agent_id(session), str(text), time.time()))
        status, error = "ok", None
        with self._live(invocation_id):  # the end record lands before the live card's last flush
            try:
                turn = self._in_job(lambda: self._turn(session, str(text), invocation_id),
                                    tasks=self._turn_tasks)
                result = await asyncio.wrap_future(turn)
            except BaseException as exc:  # cancelled or KeyboardInterrupt: interrupted
                if self._closed:  # aclose() cut the turn off
                    status, error = "interrupted", CUT_OFF
                    if isinstance(exc, asyncio.CancelledError) and not _cancelling():
                        # Nobody cancelled this ask(): the job was closed under it.
                        raise RuntimeError(f"agentnb: the {CUT_OFF}") from None
                else:
                    status = "error" if isinstance(exc, Exception) else "interrupted"
                    error = _describe(exc)
                raise
            else:
                if invocation_id in self._turn_cut_off:
                    status, error = "interrupted", CUT_OFF
                elif errors := self._turn_errors.get(invocation_id):
                    status, error = "error", "; ".join(errors)
                elif invocation_id in self._turn_interrupted:
                    status = "interrupted"
                self.last_result = result
                return result
            finally:
                self._turn_errors.pop(invocation_id, None)
                self._turn_interrupted.discard(invocation_id)
                self._turn_cut_off.discard(invocation_id)
                self._end_turn(invocation_id, status, error)

    async def aclose(self) -> None:
        """Shut the job down: a running turn is cut off (its tools cancelled, the turn recorded
        "interrupted"), shutdown callbacks run, the entrypoint is cancelled if it is still
        running, and no thread is left. Returns within 5 s; nothing is recorded after."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            began = time.monotonic()
            await self._close_in_thread()
            # The last record: the trace is sealed (see `_shutdown_blocking`).
            self.trace.append(Fact(self.session_id, None, time.time(), "shutdown", {
                "event": "closed", "seconds": round(time.monotonic() - began, 3)}))

    # -- starting -----------------------------------------------------------------------------

    async def _start_server(self) -> None:
        from livekit.agents import AgentServer, JobExecutorType
        self._server = server = AgentServer(
            job_executor_type=JobExecutorType.THREAD,
            host="127.0.0.1",             # LiveKit binds every interface by default
            load_fnc=lambda: 0.0,         # the default starts a process-wide CPU-sampling thread
            num_idle_processes=1,         # a warm job thread: no "no warmed process" warning
            shutdown_process_timeout=SERVER_CLOSE_S,
            ws_url=self.server_url, api_key=self._api_key, api_secret=self._api_secret)
        server.rtc_session(self._run_entrypoint)
        worker_started = concurrent.futures.Future()
        server.once("worker_started", lambda: _resolve(worker_started))
        running = self._loop_thread.submit(server.run(devmode=True, unregistered=True))
        try:
            await _first(worker_started, running, timeout=START_TIMEOUT_S)
        finally:
            _restore_livekit_env(self._env_before)
        if running.done():
            running.result()  # raises why run() ended
            raise RuntimeError("agentnb: LiveKit's AgentServer stopped as it started")
        if not worker_started.done():
            raise TimeoutError(f"agentnb: LiveKit's AgentServer did not start within "
                               f"{START_TIMEOUT_S:g} s")

    async def _launch_job(self) -> None:
        from livekit.protocol import models
        if self.server_url:
            token = mint_token(self._api_key, self._api_secret, identity=self.agent_identity,
                               room=self.room)
            room_info = models.Room(name=self.room)
        else:
            # The console job needs no token, but with one `ctx.token_claims()` and
            # `ctx.local_participant_identity` work as on a server. Its key never leaves here.
            token = mint_token("console", uuid.uuid4().hex, identity=self.agent_identity,
                               room=self.room)
            room_info = None
        # The job takes the warm job thread; LiveKit would then warm another one, and a close
        # while that one initializes trips LiveKit (the thread dies on "first message must be
        # proto.InitializeRequest", the close waits for it past its bound, the server's health
        # port stays open). One job per server: no thread is warmed after it.
        pool = getattr(self._server, "_proc_pool", None)
        if pool is not None and hasattr(pool, "set_target_idle_processes"):
            pool.set_target_idle_processes(0)
        launched = self._loop_thread.submit(self._server.simulate_job(
            self.room, fake_job=not self.server_url, token=token, room_info=room_info))
        await asyncio.wait_for(asyncio.wrap_future(launched), START_TIMEOUT_S)
        await _first(self._entered, self._entry_done, timeout=START_TIMEOUT_S)
        for future in (self._entered, self._entry_done):
            if future.done() and future.exception() is not None:
                raise future.exception()
        if not self._entered.done():
            raise TimeoutError(f"agentnb: the job's entrypoint did not start within "
                               f"{START_TIMEOUT_S:g} s")
        await _first(self._entry_done, self._session_ready, timeout=SETTLE_S)
        if self._entry_done.done() and self._entry_done.exception() is not None:
            raise self._entry_done.exception()

    # -- the job's side (these run on the job's loop, in its thread) --------------------------

    async def _run_entrypoint(self, ctx) -> None:
        """LiveKit's entrypoint for this job: records the JobContext, connects to a real server
        within a bound, then runs the built-in session or the user's entrypoint."""
        try:
            self._bind_job(ctx)
            ctx.add_shutdown_callback(self._on_job_shutdown)
            if self.server_url and not await self._connect(ctx):
                return
        except Exception as exc:
            _resolve(self._entered, exc)
            _resolve(self._entry_done)
            raise
        self._record_room(ctx)
        _resolve(self._entered)
        self._session_watch = asyncio.create_task(self._watch_for_session(ctx))
        try:
            if self.entrypoint is not None:
                await self.entrypoint(ctx)
            else:
                await self._start_builtin_session(ctx)
        except BaseException as exc:
            ended = ({"event": "entrypoint cancelled"} if isinstance(exc, asyncio.CancelledError)
                     else {"event": "entrypoint failed", "error": _describe(exc)})
            self._append(Fact(self.session_id, None, time.time(), "job", ended))
            _resolve(self._entry_done, exc)
            raise
        session = _primary_session_of(ctx)
        if session is not None:
            self._attach(session)
        _resolve(self._entry_done)

    async def _connect(self, ctx) -> bool:
        """Connect the job's real Room within CONNECT_TIMEOUT_S; on failure, end the job and
        hand start() a ConnectionError that names the URL and the cause."""
        try:
            await asyncio.wait_for(ctx.connect(), CONNECT_TIMEOUT_S)
        except Exception as exc:
            cause = (f"no answer within {CONNECT_TIMEOUT_S:g} s"
                     if isinstance(exc, TimeoutError) else _describe(exc))
            self._append(Fact(self.session_id, None, time.time(), "connection",
                              {"state": "failed", "url": self.server_url, "cause": cause}))
            _resolve(self._entered, ConnectionError(
                f"agentnb: could not connect to the LiveKit server at {self.server_url}: "
                f"{cause}"))
            _resolve(self._entry_done)
            ctx.shutdown("agentnb: could not connect")
            return False
        self._watch_room(ctx.room)
        return True

    def _bind_job(self, ctx) -> None:
        self._ctx = ctx
        self._job_loop = asyncio.get_running_loop()
        self._job_vars = contextvars.copy_context()
        self._job_thread_id = threading.get_ident()
        self._entry_task = asyncio.current_task()
        now = time.time()
        sid = ctx.job.id
        userdata = _fields_of(self.userdata)
        identity = ctx.local_participant_identity
        records = [Session(sid, ctx.job.room.name, identity, "livekit", now, dict(userdata))]
        records += [StateChange(sid, None, None, now, "", "initial", key, "userdata", None, value,
                                True) for key, value in userdata.items()]
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
            self._userdata_seen = userdata
            self.trace.extend(records)
            early, self._early_logs = self._early_logs, []
            for record in early:
                record.session_id = sid
            self.trace.extend(early)

    @_never_raises
    def _record_room(self, ctx) -> None:
        from livekit import rtc
        room, now = ctx.room, time.time()
        participants = [_participant_data(p) for p in room.remote_participants.values()]
        data = {"name": ctx.job.room.name, "room_object_name": room.name,
                "connection_state": _enum_name(rtc.ConnectionState, room.connection_state),
                "participants": [p["identity"] for p in participants]}
        if ctx.is_fake_job():
            data["mock"] = True
            data["note"] = ("LiveKit's console mock room: ctx.room.name is always 'console'; "
                            "the job's room is ctx.job.room.name")
        records = [Fact(self.session_id, None, now, "room", data)]
        records += [Fact(self.session_id, None, now, "participant",
                         {"event": "present", **p, "mock": ctx.is_fake_job()})
                    for p in participants]
        self._append(*records)
        if not ctx.is_fake_job():
            for participant in room.remote_participants.values():
                self._on_attributes_changed(dict(participant.attributes), participant)

    def _watch_room(self, room) -> None:
        room.on("connection_state_changed", _emitted(self._on_connection_state))
        room.on("disconnected", _emitted(self._on_disconnected))
        room.on("participant_connected", _emitted(self._on_participant_connected))
        room.on("participant_disconnected", _emitted(self._on_participant_disconnected))
        room.on("participant_attributes_changed", _emitted(self._on_attributes_changed))

    async def _start_builtin_session(self, ctx) -> None:
        from livekit.agents import AgentSession
        from livekit.agents.types import NOT_GIVEN
        await ctx.connect()
        model = self.llm
        if model is None and not _is_given(getattr(self.agent, "llm", NOT_GIVEN)):
            model = _scripted_llm_class()()
        session = AgentSession(
            llm=NOT_GIVEN if model is None else model, vad=None,
            turn_handling={"turn_detection": None},  # text turns only: no audio to segment
            user_away_timeout=None,
            userdata=NOT_GIVEN if self.userdata is None else self.userdata)
        self._attach(session)
        # No room: the mock room would turn audio output on, which fails without a TTS.
        await session.start(self.agent)

    async def _watch_for_session(self, ctx) -> None:
        """Attach the observers to the AgentSession a user's entrypoint starts, as soon as it
        becomes the job's primary session (LiveKit offers no event for that)."""
        while self._session is None:
            session = _primary_session_of(ctx)
            if session is not None:
                self._attach(session)
                return
            await asyncio.sleep(SESSION_POLL_S)

    def _attach(self, session) -> None:
        if session is self._session:
            return
        self._session = session
        # Usage is read once per turn (`_record_usage`), not at each model call.
        for name, handler in (("conversation_item_added", self._on_item),
                              ("function_tools_executed", self._on_tools_executed),
                              ("tool_execution_updated", self._on_tool_update),
                              ("agent_state_changed", self._on_agent_state),
                              ("error", self._on_error),
                              ("close", self._on_close)):
            session.on(name, _emitted(handler))
        current = _fields_of(_userdata_of(session))
        now = time.time()
        self._append(*[StateChange(self.session_id, None, None, now, "", "initial", key,
                                   "userdata", old, new, True)
                       for key, old, new in _changes(self._userdata_seen, current)])
        self._userdata_seen = current
        if session.agent_state != "initializing":
            _resolve(self._session_ready)

    async def _turn(self, session, text: str, invocation_id: str):
        if self._last_run is not None and not self._last_run.done():
            # An interrupted turn ends when LiveKit has stopped its speech (up to 5 s); a new
            # run before that fails with "nested runs are not supported".
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(self._last_run)),
                                       INTERRUPTED_TURN_WAIT_S)
        self._invocation = invocation_id
        try:
            self._last_run = session.run(user_input=text)
            return await self._last_run
        except asyncio.CancelledError:
            # The caller gave up on the turn: stop the reply LiveKit is still producing.
            _interrupt(session)
            raise
        finally:
            if self._closed:  # aclose() cut the turn off
                self._turn_cut_off.add(invocation_id)
            # Writes outside a tool (e.g. in on_user_turn_completed) show up here.
            self._record_userdata(None, "userdata")
            self._record_usage(session)
            self._invocation = None

    async def _on_job_shutdown(self, reason: str) -> None:
        if self._session_watch is not None:
            self._session_watch.cancel()
        self._record_shutdown(reason)

    @_never_raises
    def _record_shutdown(self, reason: str) -> None:
        callbacks = [getattr(cb, "__qualname__", repr(cb))
                     for cb in getattr(self._ctx, "_shutdown_callbacks", ())
                     if cb != self._on_job_shutdown]
        self._append(Fact(self.session_id, None, time.time(), "shutdown",
                          {"event": "shutdown", "reason": reason, "callbacks": callbacks}))
        if self._session is not None:
            self._record_userdata(None, "userdata")
            self._record_usage(self._session)

    # -- observers (sync, on the job's thread, never raising) ---------------------------------

    @_never_raises
    def _on_item(self, ev) -> None:
        item = ev.item
        if item.type == "agent_handoff":
            self._append(Event(self.session_id, self._invocation, item.id, item.created_at,
                               item.old_agent_id or "", "handoff",
                               text=f"{item.old_agent_id or ''} → {item.new_agent_id}".strip(),
                               transfer_to_agent=item.new_agent_id))
        elif item.type == "message":
            kind = {"user": "user", "assistant": "model"}.get(item.role, item.role)
            author = "user" if item.role == "user" else self._agent_id(self._session)
            if item.interrupted and self._invocation:
                self._turn_interrupted.add(self._invocation)
            self._append(Event(self.session_id, self._invocation, item.id, item.created_at,
                               author, kind, text=item.text_content or ""))

    @_never_raises
    def _on_tool_update(self, ev) -> None:
        update = ev.update
        if update.type == "tool_call_started":
            self._record_call(update.function_call)
        elif update.type == "tool_call_ended" and update.status == "error":
            # The tool's own error text; the output the model gets is LiveKit's generic one.
            self._call_errors[update.call_id] = update.message

    @_never_raises
    def _on_tools_executed(self, ev) -> None:
        for fc in ev.function_calls:
            if fc.call_id not in self._call_names:
                self._record_call(fc)
        responses = []
        for out in ev.function_call_outputs:
            if out is None:
                continue
            responses.append({"id": out.call_id, "name": out.name, "response": out.output,
                              "is_error": out.is_error})
            message = self._call_errors.pop(out.call_id, None) or out.output
            if out.is_error and self._invocation:
                self._turn_errors.setdefault(self._invocation, []).append(
                    f"{out.name}: {message}")
        names = {fc.name for fc in ev.function_calls}
        source = f"tool:{names.pop()}" if len(names) == 1 else "userdata"
        event_id = _new_id("ev")
        changes = self._userdata_changes(event_id, source)
        self._append(Event(self.session_id, self._invocation, event_id, ev.created_at,
                           self._agent_id(self._session), "function_response",
                           function_responses=responses,
                           state_delta={c.key: c.new for c in changes}), *changes)

    @_never_raises
    def _on_agent_state(self, ev) -> None:
        if ev.old_state == "initializing":  # AgentSession.start() has done its work
            _resolve(self._session_ready)
        self._append(Event(self.session_id, self._invocation, _new_id("ev"), ev.created_at,
                           self._agent_id(self._session), "agent_state",
                           text=f"{ev.old_state} → {ev.new_state}"))

    @_never_raises
    def _record_usage(self, session) -> None:
        """The session's usage so far, when it changed: once per turn, not once per model call
        (LiveKit's `session_usage_updated`), which cost a `model_dump` at each call."""
        usage = [usage.model_dump(mode="json") for usage in session.usage.model_usage]
        if usage != self._usage_seen:
            self._usage_seen = usage
            self._append(Fact(self.session_id, self._invocation, time.time(), "usage",
                              {"model_usage": usage}))

    @_never_raises
    def _on_error(self, ev) -> None:
        error = getattr(ev.error, "error", ev.error)
        text = _describe(error) if isinstance(error, BaseException) else str(error)
        source = getattr(ev.source, "label", type(ev.source).__name__)
        self._append(Event(self.session_id, self._invocation, _new_id("ev"), ev.created_at,
                           source, "error", text=text, error=text))

    @_never_raises
    def _on_close(self, ev) -> None:
        self._session_closed = ev.reason.value
        self._append(Fact(self.session_id, self._invocation, ev.created_at, "session",
                          {"event": "close", "reason": ev.reason.value,
                           "error": str(ev.error) if ev.error else None}))

    @_never_raises
    def _on_connection_state(self, state) -> None:
        from livekit import rtc
        self._append(Fact(self.session_id, None, time.time(), "connection",
                          {"state": _enum_name(rtc.ConnectionState, state)}))

    @_never_raises
    def _on_disconnected(self, reason) -> None:
        from livekit import rtc
        self._append(Fact(self.session_id, None, time.time(), "connection",
                          {"state": "disconnected",
                           "reason": _enum_name(rtc.DisconnectReason, reason)}))

    @_never_raises
    def _on_participant_connected(self, participant) -> None:
        self._append(Fact(self.session_id, None, time.time(), "participant",
                          {"event": "connected", **_participant_data(participant)}))
        self._on_attributes_changed(dict(participant.attributes), participant)

    @_never_raises
    def _on_participant_disconnected(self, participant) -> None:
        self._append(Fact(self.session_id, None, time.time(), "participant",
                          {"event": "disconnected", **_participant_data(participant)}))

    @_never_raises
    def _on_attributes_changed(self, changed: dict, participant) -> None:
        """Participant attributes as state: scope `attributes`, key `identity.name`."""
        known = self._participant_attributes.setdefault(participant.identity, {})
        now, records = time.time(), []
        for name, value in changed.items():
            key = f"{participant.identity}.{name}"
            records.append(StateChange(self.session_id, self._invocation, None, now,
                                       participant.identity, f"participant:{participant.identity}",
                                       key, "attributes", known.get(name), value or None, True))
            known[name] = value or None
        self._append(*records)

    def _on_log(self, record) -> None:
        ctx = self._ctx
        in_job = ctx is not None and _job_context() is ctx
        # The job's records at the job's level; the server's own (worker start, job runner
        # warm-up) only when they warn.
        if not in_job and record.thread != self._job_thread_id and not (
                record.levelno >= logging.WARNING and self._loop_thread is not None
                and record.thread == self._loop_thread.thread.ident):
            return
        fields = {}
        if in_job:
            fields = {k: copy_value(getattr(record, k)) for k in ctx.log_context_fields
                      if hasattr(record, k)}
        data = {"level": record.levelname, "logger": record.name,
                "message": record.getMessage()[:LOG_TEXT_CHARS], "fields": fields,
                "thread": record.threadName}
        if record.exc_info:
            data["exception"] = "".join(traceback.format_exception(*record.exc_info))[
                -LOG_TEXT_CHARS:]
        fact = Fact(self.session_id, self._invocation if in_job else None, record.created,
                    "log", data)
        with self._log_lock:
            if self.session_id is None:
                self._early_logs.append(fact)
                return
        self._append(fact)

    # -- helpers ------------------------------------------------------------------------------

    def _append(self, *records) -> None:
        if records:
            if self._sealed:  # a job thread that outlived aclose() (see the "stuck" fact)
                self._dropped_after_close += len(records)
                return
            self.trace.extend(records)

    def _agent_id(self, session) -> str:
        try:
            return session.current_agent.id
        except Exception:
            return getattr(self.agent, "id", None) or "agent"

    def _userdata_changes(self, event_id, source) -> list:
        current = _fields_of(_userdata_of(self._session))
        now = time.time()
        changes = [StateChange(self.session_id, self._invocation, event_id, now,
                               self._agent_id(self._session), source, key, "userdata", old, new,
                               True)
                   for key, old, new in _changes(self._userdata_seen, current)]
        self._userdata_seen = current
        return changes

    def _record_userdata(self, event_id, source) -> None:
        self._append(*self._userdata_changes(event_id, source))

    def _record_call(self, fc) -> None:
        self._call_names[fc.call_id] = fc.name
        self._append(Event(self.session_id, self._invocation, fc.id, fc.created_at,
                           self._agent_id(self._session), "function_call",
                           function_calls=[{"id": fc.call_id, "name": fc.name,
                                            "args": _arguments(fc.arguments)}]))

    def _in_job(self, make_coro, *, tasks: set | None = None) -> concurrent.futures.Future:
        """Run `make_coro()` as a task on the job's loop WITH the job's context variables
        (`run_coroutine_threadsafe` would lose them, and tools then find no job context).
        Cancelling the returned future cancels the task. With `tasks`, the task is in that set
        while it runs; once the job is closing, no such task starts."""
        done = concurrent.futures.Future()

        def spawn():
            if done.cancelled():
                return
            if tasks is not None and self._closed:
                done.cancel()
                return
            task = self._job_loop.create_task(make_coro())
            if tasks is not None:
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            done.add_done_callback(functools.partial(_cancel_with, task))
            task.add_done_callback(functools.partial(_copy_outcome, done))

        try:
            self._job_loop.call_soon_threadsafe(spawn, context=self._job_vars)
        except RuntimeError:  # the job's loop is closed
            if tasks is not None and self._closed:
                done.cancel()
            else:
                done.set_exception(RuntimeError("agentnb: the LiveKit job has ended"))
        return done

    async def _primary_session(self):
        if not self._session_ready.done():
            await _first(self._session_ready, self._entry_done, timeout=SESSION_WAIT_S)
        if not self._session_ready.done():
            if self._entry_done.done():
                raise RuntimeError("agentnb: the entrypoint started no AgentSession, and ask() "
                                   "needs one (`await session.start(agent)` in the entrypoint)")
            raise TimeoutError(f"agentnb: the entrypoint started no AgentSession within "
                               f"{SESSION_WAIT_S:g} s")
        return self._session

    async def _close_in_thread(self) -> None:
        """`_shutdown_blocking` in a short-lived thread, so the notebook's loop keeps running
        and no executor thread is left behind on it."""
        done = concurrent.futures.Future()

        def close():
            try:
                self._shutdown_blocking()
            except BaseException as exc:
                done.set_exception(exc)
            else:
                done.set_result(None)

        closer = threading.Thread(target=close, name="agentnb-livekit-close", daemon=True)
        closer.start()
        try:
            await asyncio.wrap_future(done)
        finally:
            closer.join(THREAD_STOP_S)

    def _end_turn(self, invocation_id: str, status: str, error: str | None) -> None:
        """The turn's end record, once: from `ask()`, or from `aclose()` for a turn it cut off
        (before it returns, whatever the notebook's loop does meanwhile)."""
        with self._turn_lock:
            if invocation_id not in self._open_turns:
                return
            self._open_turns.discard(invocation_id)
            self.trace.append(InvocationEnd(self.session_id, invocation_id, time.time(),
                                            status, error))

    async def _stop_turns(self, timeout: float) -> None:
        """On the job's loop, in its context: cut off the running turn and cancel the tools
        LiveKit is running, which its close would otherwise wait for (an interruption cancels
        a tool only after 5 s; the session's drain awaits a tool not marked cancellable to its
        end). The turn is let end by itself first, so what LiveKit reports about it (the
        cancelled tools' outputs, its userdata writes) lands in the turn."""
        began = time.monotonic()
        turns = [task for task in self._turn_tasks if not task.done()]
        if turns and self._session is not None:
            _interrupt(self._session)
        # LiveKit runs a tool in a `tool_exec_<name>` task, awaited by a `func_exec_<name>`
        # task that reports its output: cancelled, the tool ends as "cancelled" and the
        # reporter ends by itself.
        tools = _tasks_named("tool_exec_")
        for task in tools:
            task.cancel()
        waiting = turns + tools + _tasks_named("func_exec_")
        if waiting:
            await asyncio.wait(waiting, timeout=timeout / 2)
        # What did not end by itself is cancelled: a cancelled turn interrupts the session.
        leftover = _tasks_named("func_exec_") + [task for task in turns if not task.done()]
        for task in leftover:
            task.cancel()
        if pending := [task for task in waiting + leftover if not task.done()]:
            await asyncio.wait(pending, timeout=max(0.0, timeout - (time.monotonic() - began)))

    def _shutdown_blocking(self) -> None:
        """Close everything this job started, each step bounded and all of them within
        CLOSE_BUDGET_S; safe to call twice."""
        _running_jobs.discard(self)
        self._closed = True  # from here no turn starts, and a turn that ends is cut off
        deadline = time.monotonic() + CLOSE_BUDGET_S

        def left(most: float) -> float:
            return max(0.0, min(most, deadline - time.monotonic()))

        job_alive = (self._job_loop is not None and not self._job_loop.is_closed()
                     and self._job_thread_id in {t.ident for t in threading.enumerate()})
        if job_alive:
            stopped = self._in_job(lambda: self._stop_turns(TURN_STOP_S))
            concurrent.futures.wait([stopped], left(TURN_STOP_S + 0.1))
        for invocation_id in list(self._open_turns):
            self._end_turn(invocation_id, "interrupted", CUT_OFF)
        if self._entry_task is not None and not self._entry_done.done():
            # LiveKit waits 15 s for a running entrypoint before its shutdown callbacks.
            with contextlib.suppress(RuntimeError):
                self._job_loop.call_soon_threadsafe(self._entry_task.cancel)
            concurrent.futures.wait([self._entry_done], left(ENTRY_CANCEL_S))
        stuck = False
        if self._server is not None and self._loop_thread.thread.is_alive():
            try:
                self._loop_thread.submit(self._server.aclose()).result(left(SERVER_CLOSE_S))
            except concurrent.futures.TimeoutError:
                stuck = True
        if self._loop_thread is not None:
            self._loop_thread.stop(left(CLOSE_BUDGET_S))
        job_thread = next((t for t in threading.enumerate()
                           if t.ident == self._job_thread_id), None)
        if job_thread is not None and job_thread is not threading.current_thread():
            job_thread.join(left(CLOSE_BUDGET_S))
            stuck = stuck or job_thread.is_alive()
        if self._log_capture is not None:
            self._log_capture.uninstall()
            self._log_capture = None
        if self._env_before is not None:
            _restore_livekit_env(self._env_before)
        if stuck:
            self._append(Fact(self.session_id, None, time.time(), "shutdown", {
                "event": "stuck", "warning": "LiveKit's job did not finish within the bound; "
                                             "its thread may still be running, and what it "
                                             "does from here on is not recorded"}))
        self._sealed = True  # a closed job's trace is final


# --- module helpers that need LiveKit -------------------------------------------------------

def _import_livekit() -> None:
    import livekit.agents  # noqa: F401  (~4 s the first time)
    # The mock room imports unittest.mock; imported inside the job it blocks the job's loop.
    import livekit.agents.ipc.mock_room  # noqa: F401


def _job_context():
    from livekit.agents import get_job_context
    return get_job_context(required=False)


def _is_given(value) -> bool:
    from livekit.agents.utils import is_given
    return is_given(value)


def _primary_session_of(ctx):
    if ctx is None:
        return None
    try:
        return ctx.primary_session
    except RuntimeError:
        return None


def _userdata_of(session):
    try:
        return session.userdata
    except (ValueError, AttributeError):
        return None


def _participant_data(participant) -> dict:
    from livekit import rtc
    attributes = participant.attributes
    return {"identity": participant.identity, "sid": participant.sid,
            "kind": _enum_name(rtc.ParticipantKind, participant.kind),
            "attributes": dict(attributes) if isinstance(attributes, Mapping) else {}}


def _cancel_with(task: asyncio.Task, future: concurrent.futures.Future) -> None:
    """Cancel `task` (from any thread) when `future` was cancelled."""
    if future.cancelled():
        with contextlib.suppress(RuntimeError):  # the task's loop is closed: nothing runs
            task.get_loop().call_soon_threadsafe(task.cancel)


def _interrupt(session) -> None:
    """`session.interrupt(force=True)`, whose outcome nobody awaits."""
    try:
        done = session.interrupt(force=True)
    except RuntimeError:  # the session is not running
        return
    done.add_done_callback(lambda f: f.cancelled() or f.exception())


def _tasks_named(prefix: str) -> list:
    """The running loop's unfinished tasks whose name starts with `prefix`."""
    return [task for task in asyncio.all_tasks()
            if task.get_name().startswith(prefix) and not task.done()]


def _cancelling() -> bool:
    """Whether someone asked to cancel the running task (not just a future it awaited)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _copy_outcome(done: concurrent.futures.Future, task: asyncio.Task) -> None:
    # The notebook may cancel `done` from its thread at any moment.
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if task.cancelled():
            done.cancel()
        elif task.exception() is not None:
            done.set_exception(task.exception())
        else:
            done.set_result(task.result())
