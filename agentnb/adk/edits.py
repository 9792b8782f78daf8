"""What the notebook does to a conversation besides asking: `set_state` writes state the way
ADK's docs do it (an event whose `actions.state_delta` holds the values, appended through the
session service), and `stop` cancels the task that runs an invocation."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..core.failure import STOPPED_MARK
from ..core.trace import Trace
from .observer import AdkObserver

NOTEBOOK = "notebook"   # the source of a change made with set_state
STOPPED = "stopped from the notebook (its card's Stop button, or runner.stop())"


class Edits:
    """`set_state()` and `stop()` of `NotebookRunner`."""

    # What NotebookRunner provides.
    trace: Trace
    session_id: str
    observer: AdkObserver
    session_service: Any
    _ensure_session: Callable[..., Awaitable[None]]
    get_session: Callable[..., Awaitable[Any]]

    def _init_edits(self) -> None:
        # invocation id -> (its loop, the task running it, its session id), while it runs
        self._running: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], str]] = {}
        self._stopped: set[str] = set()

    async def set_state(self, delta: dict[str, Any], *, session_id: str | None = None) -> str:
        """Write `delta` (key -> value) into a session's state as ADK's docs do: an event with
        `actions.state_delta`, appended with `session_service.append_event`. ADK puts `app:`
        and `user:` keys where every session of the app (or user) reads them. Recorded with
        the source `notebook`. `temp:` keys are refused (they live for one invocation and ADK
        never stores them), and so is a session with a run going on. Returns the event's id."""
        from google.adk.events import Event, EventActions
        if not isinstance(delta, dict) or not delta:
            raise TypeError("agentnb: set_state() takes a non-empty dict of key -> value")
        for key in delta:
            if not isinstance(key, str) or not key:
                raise TypeError(f"agentnb: state keys are non-empty strings, not {key!r}")
            if key.startswith("temp:"):
                raise ValueError(f"agentnb: cannot set {key!r}: temp: keys live only during one "
                                 "invocation and ADK never stores them")
        session_id = session_id or self.session_id
        busy = [inv for inv, (_, _, sid) in self._running.items() if sid == session_id]
        if busy:
            raise RuntimeError(f"agentnb: session {session_id!r} has a run going on ({busy[0]}); "
                               "set its state when the run has ended")
        await self._ensure_session(session_id)
        session = await self.get_session(session_id)
        self.observer.reconcile(session)   # so the old values are the stored ones
        # author "user": ADK routes the next turn past user events; an unknown author is warned
        # about at every run ("Event from an unknown agent").
        event = Event(author="user", invocation_id=f"e-notebook-{uuid.uuid4()}",
                      actions=EventActions(state_delta=dict(delta)))
        await self.session_service.append_event(session, event)
        self.observer.record_event(event, session_id, NOTEBOOK)
        return str(event.id)

    def running(self) -> list[str]:
        """Ids of the invocations this runner is running now (started by `ask` and its kin)."""
        return list(self._running)

    def stop(self, invocation_id: str | None = None) -> str:
        """Cancel a running invocation (default: the only one running): its task is cancelled,
        ADK stops where it is, what it recorded stays, and it ends `interrupted`. The cell
        that awaited it gets the cancellation (one line with `%load_ext agentnb`). Safe to
        call from any thread. Returns the invocation's id."""
        running = dict(self._running)
        if invocation_id is None:
            if len(running) != 1:
                raise ValueError("agentnb: no run is going on" if not running else
                                 f"agentnb: {len(running)} runs are going on; name one of "
                                 f"{', '.join(running)}")
            invocation_id = next(iter(running))
        if invocation_id not in running:
            raise ValueError(f"agentnb: invocation {invocation_id!r} is not running")
        loop, task, _ = running[invocation_id]
        self._stopped.add(invocation_id)
        loop.call_soon_threadsafe(task.cancel)
        return invocation_id

    async def _stoppable(self, invocation_id: str, session_id: str,
                         run: Coroutine[Any, Any, None]) -> None:
        """Run `run` in a task of its own, which `stop()` can cancel without touching the
        cell's task (an interrupt of the cell still cancels both)."""
        task = asyncio.ensure_future(run)
        self._running[invocation_id] = (asyncio.get_running_loop(), task, session_id)
        try:
            await task
        finally:
            self._running.pop(invocation_id, None)

    def _stopped_here(self, invocation_id: str, exc: BaseException) -> bool:
        """Whether `exc` ended a run `stop()` cancelled (then marked so the cell says so)."""
        if not isinstance(exc, asyncio.CancelledError) or invocation_id not in self._stopped:
            return False
        self._stopped.discard(invocation_id)
        setattr(exc, STOPPED_MARK, True)
        return True
