"""`NotebookRunner`: an ADK `Runner` on an `App` whose plugins include `AdkObserver`."""
from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from typing import Any

from google.adk.apps.app import App
from google.genai import types

from ..core.failure import for_the_user, full_traceback
from ..core.fold import state_after
from ..core.recorded import Invocation, Recorded
from ..core.records import Fact
from ..core.trace import Trace
from .edits import STOPPED, Edits
from .evals import Evals
from .hitl import Answers
from .logs import captured
from .memory import ObservedMemory
from .observer import AdkObserver
from .spans import Spans

_APP_NAME = re.compile(r"^[A-Za-z][\w-]*$")


def _as_content(message: Any) -> Any:
    if isinstance(message, types.Content):
        return message
    if isinstance(message, str):
        return types.Content(role="user", parts=[types.Part(text=message)])
    raise TypeError(f"agentnb: ask() takes a str or google.genai.types.Content, "
                    f"not {type(message).__name__}")


class NotebookRunner(Answers, Edits, Evals, Spans, Recorded):
    """ADK's own `Runner` on an `App` observed by agentnb (see docs/api.md). `root` is any
    ADK agent, an `App` (its plugins and configs kept, agentnb's observer added first) or a
    `Workflow` (any ADK 2.x node)."""

    def __init__(self, root: Any, *, app_name: str | None = None, user_id: str = "user",
                 state: dict[str, Any] | None = None, session_id: str | None = None,
                 session_service: Any = None, artifact_service: Any = None,
                 memory_service: Any = None, plugins: Any = (), display: bool = True,
                 credential_service: Any = None, capture_logs: bool = True,
                 spans: bool = False) -> None:
        from google.adk.artifacts import InMemoryArtifactService
        from google.adk.memory import InMemoryMemoryService
        from google.adk.runners import Runner
        from google.adk.sessions import InMemorySessionService
        from google.adk.workflow._base_node import BaseNode

        if not isinstance(root, (App, BaseNode)) or (isinstance(root, App) and root.root_agent is None):
            raise TypeError(f"agentnb: NotebookRunner needs an ADK agent, Workflow or an App with "
                            f"a root_agent, not {type(root).__name__}")
        app_name = app_name or (root.name if isinstance(root, App) else "agentnb")
        if not isinstance(app_name, str) or not _APP_NAME.match(app_name) or app_name == "user":
            raise ValueError(f"agentnb: app name {app_name!r} must match ^[A-Za-z][\\w-]*$ "
                             "and not be 'user' (ADK's rule)")
        if state is not None and not isinstance(state, dict):
            raise TypeError(f"agentnb: state must be a dict, not {type(state).__name__}")
        self.root = root
        self.agent: Any = root.root_agent if isinstance(root, App) else root
        self.app_name, self.user_id, self.display = app_name, user_id, display
        self.capture_logs = capture_logs   # ADK's log records of a run: into its card
        self.title = f"ADK app {app_name}"
        self.trace = Trace()
        self.observer = AdkObserver(self.trace, root=getattr(self.agent, "name", ""))
        self._plugins = tuple(plugins)
        self.memory = ObservedMemory(memory_service or InMemoryMemoryService(), self.trace)
        if isinstance(root, App):   # the user's App, with the observer first among its plugins
            self.app = root.model_copy(update={
                "name": app_name, "plugins": [self.observer, *root.plugins, *self._plugins]})
        else:
            self.app = App(name=app_name, root_agent=root, plugins=[self.observer, *self._plugins])
        self.adk_runner = Runner(
            app=self.app,
            session_service=session_service or InMemorySessionService(),
            artifact_service=artifact_service or InMemoryArtifactService(),
            memory_service=self.memory,
            credential_service=credential_service)
        self.session_id = session_id or f"s-{uuid.uuid4().hex[:12]}"
        self._initial_state = dict(state or {})
        self._ready: set[str] = set()
        self._parent: tuple[str, str] | None = None
        self.last_invocation: Invocation | None = None
        if spans:   # opt-in: recording OpenTelemetry spans costs CPU (see adk/spans.py)
            self.record_spans()
        self._init_edits()

    @classmethod
    async def from_session(cls, root: Any, session: Any, *, session_id: str | None = None,
                           **options: Any) -> NotebookRunner:
        """A runner whose session holds the events of an ADK session (a file `adk run
        --save_session` wrote or `adk web` exported, or a `Session`), put into its session
        service as `adk run --resume` does, so the conversation goes on live. The app, user
        and session id are the session's unless given (`app_name=`, `user_id=`,
        `session_id=`); `options` are NotebookRunner's."""
        from .imported import read_session, restore
        stored = read_session(session)
        options.setdefault("app_name", stored.app_name)
        options.setdefault("user_id", stored.user_id)
        runner = cls(root, session_id=session_id or stored.id, **options)
        await restore(runner.observer, runner.session_service, stored, runner.app_name,
                      runner.user_id, runner.session_id)
        runner._ready.add(runner.session_id)
        return runner

    def __repr__(self) -> str:
        return (f"<NotebookRunner app={self.app_name!r} agent={self.agent.name!r} "
                f"session={self.session_id!r}: {len(self.trace)} records>")

    @property
    def session_service(self) -> Any:
        return self.adk_runner.session_service

    async def _ensure_session(self, session_id: str, state: dict[str, Any] | None = None) -> None:
        """Create the session with the async API when first needed; reuse one that exists."""
        if session_id in self._ready:
            return
        service = self.session_service
        session = await service.get_session(app_name=self.app_name, user_id=self.user_id,
                                            session_id=session_id)
        parent, forked_at = self._parent or (None, None)
        if session is None:
            initial = self._initial_state if state is None else state
            session = await service.create_session(app_name=self.app_name, user_id=self.user_id,
                                                   state=dict(initial), session_id=session_id)
            self.observer.start_session(session_id, self.app_name, self.user_id,
                                        dict(session.state), parent, forked_at, session.events)
        else:
            # A session this runner did not make (another kernel, another process, a database):
            # its history is rebuilt from its stored events. What no event wrote is its start.
            written = {k for e in session.events for k in (e.actions.state_delta or {})}
            start = {k: v for k, v in session.state.items() if k not in written}
            self.observer.start_session(session_id, self.app_name, self.user_id, start,
                                        parent, forked_at)
            self.observer.reconcile(session)
        self._ready.add(session_id)

    async def new_session(self, state: dict[str, Any] | None = None) -> str:
        """Start another session of this app and user; it becomes the runner's current one."""
        self.session_id = f"s-{uuid.uuid4().hex[:12]}"
        await self._ensure_session(self.session_id, dict(state or {}))
        return self.session_id

    async def get_session(self, session_id: str | None = None) -> Any:
        """ADK's own view of a session (state and events), from the session service."""
        return await self.session_service.get_session(
            app_name=self.app_name, user_id=self.user_id, session_id=session_id or self.session_id)

    async def sync(self, session_id: str | None = None) -> int:
        """Reconcile the trace with the session service: events appended outside the runner
        (`session_service.append_event(...)`, another process on the same database) and values
        written elsewhere are recorded with the source `external`. `ask` does the same for
        events before each run. Returns how many records it added."""
        added = 0
        await self._ensure_session(session_id or self.session_id)
        for sid in [session_id] if session_id else sorted(self._ready):
            session = await self.get_session(sid)
            if session is not None:
                added += len(self.observer.reconcile(session))
        return added

    async def ask(self, message: Any, *, session_id: str | None = None,
                  state_delta: dict[str, Any] | None = None) -> Invocation:
        """Run one invocation; in a notebook its card updates live while it runs."""
        content = _as_content(message)
        if state_delta is not None and not isinstance(state_delta, dict):
            raise TypeError(f"agentnb: state_delta must be a dict, not {type(state_delta).__name__}")
        session_id = session_id or self.session_id
        await self._ensure_session(session_id)
        invocation_id = self._resumed_invocation(content, session_id) or f"e-{uuid.uuid4()}"
        invocation = self.last_invocation = Invocation(self.trace, session_id, invocation_id)
        logs = (captured(self.trace, session_id, invocation_id) if self.capture_logs
                else contextlib.nullcontext())
        with self._live(invocation_id) as shown, logs:
            invocation.shown_live = shown
            try:
                await self._stoppable(invocation_id, session_id, self._consume(
                    session_id, invocation_id, content, state_delta))
            except BaseException as exc:
                __tracebackhide__ = True   # IPython leaves this frame out of what it prints
                # Interrupts and cancellation skip ADK's after_run/on_run_error hooks.
                status = "error" if isinstance(exc, Exception) else "interrupted"
                self.observer.end(session_id, invocation_id, status,
                                  STOPPED if self._stopped_here(invocation_id, exc)
                                  else f"{type(exc).__name__}: {exc}", full_traceback(exc))
                # The card has it all; the cell gets the user's own frames and the exception.
                raise for_the_user(exc, invocation_id)  # noqa: B904
            self.observer.end(session_id, invocation_id, "ok")   # if recording the end failed
        return invocation

    async def _consume(self, session_id: str, invocation_id: str, content: Any,
                       state_delta: dict[str, Any] | None) -> None:
        async for _ in self.adk_runner.run_async(
                user_id=self.user_id, session_id=session_id, invocation_id=invocation_id,
                new_message=content, state_delta=state_delta):
            pass

    def _resumed_invocation(self, content: Any, session_id: str) -> str | None:
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

    def ask_sync(self, message: Any, *, session_id: str | None = None,
                 state_delta: dict[str, Any] | None = None) -> Invocation:
        """`ask` from synchronous code. Inside a running loop (a notebook cell) it runs the
        invocation on a private loop in a helper thread and blocks until it ends: the card then
        updates when the kernel is free again. Prefer top-level `await runner.ask(...)`."""
        coro = self.ask(message, session_id=session_id, state_delta=state_delta)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        outcome: dict[str, Any] = {}

        def run() -> None:
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

    # -- time travel --
    async def rewind(self, before: str, *, session_id: str | None = None) -> str:
        """ADK's `rewind_async`: the session goes back to before invocation `before`. ADK
        re-derives state from event deltas (keys from the starting state become None), leaves
        `app:`/`user:` keys alone, keeps old events hidden from the model, and saves a new
        version of each artifact changed since (its old content, or a tombstone)."""
        session_id = session_id or self.session_id
        self._check_invocation(before, session_id)
        await self.adk_runner.rewind_async(user_id=self.user_id, session_id=session_id,
                                           rewind_before_invocation_id=before)
        session = await self.get_session(session_id)
        # Plugins never see the rewind event, nor the artifact versions it saves: read back.
        return await self.observer.record_rewind(session, before, self.adk_runner.artifact_service,
                                                 self.app_name, self.user_id)

    async def fork(self, at: str, *, state_overrides: dict[str, Any] | None = None,
                   session_id: str | None = None) -> NotebookRunner:
        """A new runner on a new session of the same app and user, whose state is this
        session's state right after invocation `at`, plus `state_overrides`."""
        session_id = session_id or self.session_id
        self._check_invocation(at, session_id)
        if state_overrides is not None and not isinstance(state_overrides, dict):
            raise TypeError("agentnb: state_overrides must be a dict")
        state = state_after(self.trace.snapshot(), session_id, at)
        state.update(state_overrides or {})
        child = NotebookRunner(
            self.root, app_name=self.app_name, user_id=self.user_id, state=state,
            session_service=self.session_service,
            artifact_service=self.adk_runner.artifact_service,
            memory_service=self.memory.inner, plugins=self._plugins,
            display=self.display, credential_service=self.adk_runner.credential_service,
            spans=self.records_spans)
        child._parent = (session_id, at)
        await child._ensure_session(child.session_id)
        self.trace.append(Fact(session_id, at, time.time(), "fork",
                               {"child_session_id": child.session_id,
                                "overrides": sorted(state_overrides or {})}))
        return child

    def _check_invocation(self, invocation_id: str, session_id: str) -> None:
        known = {r.invocation_id for r in self.trace.of("invocation_start", session_id)}
        if invocation_id not in known:
            raise ValueError(f"agentnb: no invocation {invocation_id!r} in session {session_id!r}")
