"""Where a job runs: LiveKit's server on a private loop thread, cross-thread plumbing, and the
exit hook that closes jobs nobody closed. Knows no records."""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from . import internals

START_TIMEOUT_S = 30.0       # server start, job process initialisation, entrypoint entered
SERVER_CLOSE_S = 3.0         # the server's own close, at most


class LoopThread:
    """A private event loop in a daemon thread. LiveKit's server runs here, not on the notebook's
    loop: its periodic executor calls would otherwise leave threads behind on the kernel's loop."""

    def __init__(self, name: str) -> None:
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

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, timeout: float) -> None:
        if self.thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)


class Budget:
    """Time left of a budget: `left(most)` is at most `most` seconds and never past the end."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def __call__(self, most: float) -> float:
        return max(0.0, min(most, self.deadline - time.monotonic()))


def thread_with_id(ident: int | None) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.ident == ident), None)


def stop_server(loop_thread: LoopThread, server: Any, job_thread: threading.Thread | None,
                left: Budget) -> bool:
    """Close LiveKit's server and its loop thread, and wait for the job's thread, within
    `left`; False when something did not finish in time."""
    finished = True
    if server is not None and loop_thread.thread.is_alive():
        try:
            loop_thread.submit(server.aclose()).result(left(SERVER_CLOSE_S))
        except concurrent.futures.TimeoutError:
            finished = False
    loop_thread.stop(left(float("inf")))
    if job_thread is not None and job_thread is not threading.current_thread():
        job_thread.join(left(float("inf")))
        finished = finished and not job_thread.is_alive()
    return finished


def resolve(future: concurrent.futures.Future[Any], exc: BaseException | None = None) -> None:
    if not future.done():
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


async def first(*futures: concurrent.futures.Future[Any], timeout: float) -> None:
    """Wait, on the caller's loop, until one of `futures` is done or `timeout` passes. Nothing
    is chained to their outcome (`asyncio.wrap_future` would leave "exception never retrieved"
    errors behind for the ones that fail later)."""
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_: object) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop may be closed by then
            loop.call_soon_threadsafe(_wake_once, woken)

    for future in futures:
        future.add_done_callback(wake)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken, timeout)


def _wake_once(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def run_in_loop(loop: asyncio.AbstractEventLoop, variables: Any,
                make_coro: Callable[[], Coroutine[Any, Any, Any]], *,
                tasks: set[asyncio.Task[Any]] | None = None,
                refused: Callable[[], bool] = lambda: False) -> concurrent.futures.Future[Any]:
    """Run `make_coro()` as a task on `loop` WITH the context `variables`
    (`run_coroutine_threadsafe` would lose them, and tools then find no job context).
    Cancelling the returned future cancels the task. With `tasks`, the task is in that set
    while it runs, and none starts once `refused()` (the job is closing)."""
    done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def spawn() -> None:
        if done.cancelled():
            return
        if tasks is not None and refused():
            done.cancel()
            return
        task = loop.create_task(_handing_over(make_coro(), done))
        if tasks is not None:
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        done.add_done_callback(functools.partial(_cancel_with, task))
        task.add_done_callback(functools.partial(_copy_outcome, done))

    try:
        loop.call_soon_threadsafe(spawn, context=variables)
    except RuntimeError:  # the loop is closed
        if tasks is not None and refused():
            done.cancel()
        else:
            done.set_exception(RuntimeError("agentnb: the LiveKit job has ended"))
    return done


async def in_thread(blocking: Callable[[], None], name: str, join_s: float) -> None:
    """`blocking()` in a short-lived thread, so the caller's loop keeps running and no executor
    thread is left behind on it."""
    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        try:
            blocking()
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        await asyncio.wrap_future(done)
    finally:
        worker.join(join_s)


def cancelling() -> bool:
    """Whether someone asked to cancel the running task (not just a future it awaited)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _cancel_with(task: asyncio.Task[Any], future: concurrent.futures.Future[Any]) -> None:
    """Cancel `task` (from any thread) when `future` was cancelled."""
    if future.cancelled():
        with contextlib.suppress(RuntimeError):  # the task's loop is closed: nothing runs
            task.get_loop().call_soon_threadsafe(task.cancel)


async def _handing_over(coro: Coroutine[Any, Any, Any],
                        done: concurrent.futures.Future[Any]) -> Any:
    """`coro`, whose result `done` gets the moment it is there: a done callback of its task
    runs a turn of the loop later, after whatever else the loop has ready (LiveKit's own work
    at a turn's end), and the waiting thread is woken only then. A failure or a cancellation
    still reaches `done` through `_copy_outcome`."""
    result = await coro
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        done.set_result(result)
    return result


def _copy_outcome(done: concurrent.futures.Future[Any], task: asyncio.Task[Any]) -> None:
    # The notebook may cancel `done` from its thread at any moment.
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if task.cancelled():
            done.cancel()
        elif task.exception() is not None:
            done.set_exception(task.exception())
        else:
            done.set_result(task.result())


class Closable(Protocol):
    def shutdown_blocking(self) -> None: ...


# Jobs not closed by their owner are closed before Python joins non-daemon threads at exit:
# LiveKit's job thread is one, and it would wait forever for the server loop, a daemon.
running_jobs: weakref.WeakSet[Any] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def close_at_exit(job: Closable) -> None:
    """Close `job` before Python waits for non-daemon threads at exit, unless closed before."""
    global _exit_hook_registered
    running_jobs.add(job)
    with _exit_hook_lock:
        if not _exit_hook_registered:
            threading._register_atexit(_close_running_jobs)  # type: ignore[attr-defined]
            _exit_hook_registered = True


def _close_running_jobs() -> None:
    for job in list(running_jobs):
        with contextlib.suppress(Exception):
            job.shutdown_blocking()


def mint_token(api_key: str, api_secret: str, *, identity: str, room: str) -> str:
    """An agent's access token to join `room` as `identity` (LiveKit's `AccessToken`)."""
    from livekit import api
    return str(api.AccessToken(api_key, api_secret)
               .with_identity(identity)
               .with_kind("agent")
               .with_grants(api.VideoGrants(room_join=True, room=room, agent=True))
               .to_jwt())


def new_server(entrypoint: Callable[[Any], Coroutine[Any, Any, None]], *, url: str | None,
               api_key: str | None, api_secret: str | None,
               setup: Callable[[Any], None] | None = None) -> Any:
    """LiveKit's own `AgentServer`, to run jobs in threads with `entrypoint`; `setup` is its
    `setup_fnc` (a prewarm: called with each job process before its job)."""
    from livekit.agents import AgentServer, JobExecutorType
    server = AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        host="127.0.0.1",             # LiveKit binds every interface by default
        load_fnc=lambda: 0.0,         # the default starts a process-wide CPU-sampling thread
        num_idle_processes=1,         # a warm job thread: no "no warmed process" warning
        shutdown_process_timeout=SERVER_CLOSE_S, setup_fnc=setup,
        ws_url=url, api_key=api_key, api_secret=api_secret)
    server.rtc_session(entrypoint)
    return server


async def run_server(loop_thread: LoopThread, server: Any, env_before: dict[str, str]) -> None:
    """Run `server` on `loop_thread` until its worker has started."""
    worker_started: concurrent.futures.Future[None] = concurrent.futures.Future()
    server.once("worker_started", lambda: resolve(worker_started))
    running = loop_thread.submit(server.run(devmode=True, unregistered=True))
    try:
        await first(worker_started, running, timeout=START_TIMEOUT_S)
    finally:
        internals.restore_livekit_env(env_before)
    if running.done():
        running.result()  # raises why run() ended
        raise RuntimeError("agentnb: LiveKit's AgentServer stopped as it started")
    if not worker_started.done():
        raise TimeoutError(f"agentnb: LiveKit's AgentServer did not start within "
                           f"{START_TIMEOUT_S:g} s")


async def launch_job(loop_thread: LoopThread, server: Any, room: str, *, url: str | None,
                     api_key: str | None, api_secret: str | None, identity: str) -> None:
    """Hand `server` one job in `room`: in a real room when `url` is set, else LiveKit's
    console job with its mock room."""
    from livekit.protocol import models
    if url:
        assert api_key is not None and api_secret is not None
        token = mint_token(api_key, api_secret, identity=identity, room=room)
        room_info = models.Room(name=room)
    else:
        # The console job needs no token, but with one `ctx.token_claims()` and
        # `ctx.local_participant_identity` work as on a server. Its key never leaves here.
        token = mint_token("console", uuid.uuid4().hex, identity=identity, room=room)
        room_info = None
    internals.warm_no_more_job_threads(server)
    launched = loop_thread.submit(server.simulate_job(
        room, fake_job=not url, token=token, room_info=room_info))
    await asyncio.wait_for(asyncio.wrap_future(launched), START_TIMEOUT_S)
