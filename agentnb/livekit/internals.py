"""Every place agentnb relies on LiveKit Agents 1.8 beyond its documented API, in one module,
each pinned by a test in tests/test_livekit_faults.py. When LiveKit changes, look here first."""
from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

_VARARGS = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])
TOOL_TASK = "tool_exec_"        # LiveKit runs a tool in a task named tool_exec_<name> ...
TOOL_REPORTER_TASK = "func_exec_"  # ... awaited by func_exec_<name>, which reports its output


def import_livekit() -> None:
    import livekit.agents

    # The mock room imports unittest.mock; imported inside the job it blocks the job's loop.
    import livekit.agents.ipc.mock_room  # noqa: F401


def emitted(handler: Callable[..., None]) -> Callable[..., None]:
    """`handler` as the function LiveKit's EventEmitter gets. Its `emit` runs
    `inspect.signature` on every handler at every event, to pass each only the arguments it
    takes: ~14 µs for a decorated bound method, ~1.6 µs for a plain function that carries its
    own `__signature__`. The arguments are trimmed here, once worked out."""
    taken = len([p for p in inspect.signature(handler).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])

    def emit(*args: Any) -> None:
        handler(*args[:taken])
    emit.__signature__ = _VARARGS  # type: ignore[attr-defined]
    emit.__qualname__ = emit.__name__ = getattr(handler, "__name__", "handler")
    return emit


def livekit_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("LIVEKIT_")}


def restore_livekit_env(saved: dict[str, str]) -> None:
    """Undo `AgentServer.run()`, which writes LIVEKIT_URL/API_KEY/API_SECRET into os.environ:
    left there, they would turn every later job in this process online."""
    for key in [k for k in os.environ if k.startswith("LIVEKIT_") and k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def warm_no_more_job_threads(server: Any) -> None:
    """The job takes the warm job thread; LiveKit would then warm another one, and a close
    while that one initializes trips LiveKit (the thread dies on "first message must be
    proto.InitializeRequest", the close waits for it past its bound, the server's health port
    stays open). One job per server: no thread is warmed after it."""
    pool = getattr(server, "_proc_pool", None)
    if pool is not None and hasattr(pool, "set_target_idle_processes"):
        pool.set_target_idle_processes(0)


def shutdown_callback_names(ctx: Any, leave_out: Any) -> list[str]:
    """The names of the shutdown callbacks a JobContext holds (but `leave_out`)."""
    return [getattr(cb, "__qualname__", repr(cb)) for cb in getattr(ctx, "_shutdown_callbacks", ())
            if cb != leave_out]


def job_context() -> Any:
    from livekit.agents import get_job_context
    return get_job_context(required=False)


def is_given(value: Any) -> bool:
    from livekit.agents.utils import is_given as given
    return bool(given(value))


def primary_session_of(ctx: Any) -> Any:
    if ctx is None:
        return None
    try:
        return ctx.primary_session
    except RuntimeError:
        return None


def userdata_of(session: Any) -> Any:
    try:
        return session.userdata
    except (ValueError, AttributeError):
        return None


def interrupt(session: Any) -> None:
    """`session.interrupt(force=True)`, whose outcome nobody awaits."""
    try:
        done = session.interrupt(force=True)
    except RuntimeError:  # the session is not running
        return
    done.add_done_callback(lambda f: f.cancelled() or f.exception())


def tasks_named(prefix: str) -> list[asyncio.Task[Any]]:
    """The running loop's unfinished tasks whose name starts with `prefix`."""
    return [task for task in asyncio.all_tasks()
            if task.get_name().startswith(prefix) and not task.done()]


async def stop_turns(turn_tasks: set[asyncio.Task[Any]], session: Any, timeout: float) -> None:
    """On the job's loop, in its context: cut off the running turns and cancel the tools
    LiveKit is running, which its close would otherwise wait for (an interruption cancels a
    tool only after 5 s; the session's drain awaits a tool not marked cancellable to its end).
    The turns are let end by themselves first, so what LiveKit reports about them (the
    cancelled tools' outputs, their userdata writes) lands in them."""
    began = time.monotonic()
    turns = [task for task in turn_tasks if not task.done()]
    if turns and session is not None:
        interrupt(session)
    # Cancelled, a tool ends as "cancelled" and its reporter task ends by itself.
    tools = tasks_named(TOOL_TASK)
    for task in tools:
        task.cancel()
    waiting = turns + tools + tasks_named(TOOL_REPORTER_TASK)
    if waiting:
        await asyncio.wait(waiting, timeout=timeout / 2)
    # What did not end by itself is cancelled: a cancelled turn interrupts the session.
    leftover = tasks_named(TOOL_REPORTER_TASK) + [task for task in turns if not task.done()]
    for task in leftover:
        task.cancel()
    if pending := [task for task in waiting + leftover if not task.done()]:
        await asyncio.wait(pending, timeout=max(0.0, timeout - (time.monotonic() - began)))
