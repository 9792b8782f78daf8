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
from ..core.records import Event, Fact
from ..core.trace import Trace
from ..core.values import copy_value, same
from .logs import captured
from .mapping import call_dicts
from .memory import ObservedMemory
from .observer import AdkObserver

_APP_NAME = re.compile(r"^[A-Za-z][\w-]*$")


def _as_content(message: Any) -> Any:
    if isinstance(message, types.Content):
        return message
    if isinstance(message, str):
        return types.Content(role="user", parts=[types.Part(text=message)])
    raise TypeError(f"agentnb: ask() takes a str or google.genai.types.Content, "
                    f"not {type(message).__name__}")


class NotebookRunner(Recorded):
    """An ADK `Runner` on an `App` observed by agentnb (CONTRACT.md)."""

    def __init__(self, agent: Any, *, app_name: str = "agentnb", user_id: str = "user",
                 state: dict[str, Any] | None = None, session_id: str | None = None,
                 session_service: Any = None, artifact_service: Any = None,
                 memory_service: Any = None, plugins: Any = (), display: bool = True,
                 credential_service: Any = None, capture_logs: bool = True) -> None:
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
        self.capture_logs = capture_logs   # ADK's log records of a run: into its card
        self.title = f"ADK app {app_name}"
        self.trace = Trace()
        self.observer = AdkObserver(self.trace)
        self._plugins = tuple(plugins)
        self.memory = ObservedMemory(memory_service or InMemoryMemoryService(), self.trace)
        self.app = App(name=app_name, root_agent=agent, plugins=[self.observer, *self._plugins])
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
        if session is None:
            initial = self._initial_state if state is None else state
            session = await service.create_session(app_name=self.app_name, user_id=self.user_id,
                                                   state=dict(initial), session_id=session_id)
        parent, forked_at = self._parent or (None, None)
        self.observer.start_session(session_id, self.app_name, self.user_id, dict(session.state),
                                    parent, forked_at)
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
                async for _ in self.adk_runner.run_async(
                        user_id=self.user_id, session_id=session_id, invocation_id=invocation_id,
                        new_message=content, state_delta=state_delta):
                    pass
            except BaseException as exc:
                __tracebackhide__ = True   # IPython leaves this frame out of what it prints
                # Interrupts and cancellation skip ADK's after_run/on_run_error hooks.
                status = "error" if isinstance(exc, Exception) else "interrupted"
                self.observer.end(session_id, invocation_id, status,
                                  f"{type(exc).__name__}: {exc}", full_traceback(exc))
                # The card has it all; the cell gets the user's own frames and the exception.
                raise for_the_user(exc, invocation_id)  # noqa: B904
            self.observer.end(session_id, invocation_id, "ok")   # if recording the end failed
        return invocation

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

    # -- credentials (ADK's auth flow) --
    def pending_credentials(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """Credential requests not answered yet: `{"id", "tool_call_id", "auth_type", "scheme"}`."""
        session_id = session_id or self.session_id
        asked: dict[str, dict[str, Any]] = {}
        answered: set[str] = set()
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

    async def answer_credential(self, secret: str, *, request_id: str | None = None,
                                session_id: str | None = None) -> Invocation:
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
    async def rewind(self, before: str, *, session_id: str | None = None) -> str:
        """ADK's `rewind_async`: the session goes back to before invocation `before`. ADK
        re-derives state from event deltas (keys from the starting state become None), leaves
        `app:`/`user:` keys alone, and keeps old events hidden from the model."""
        session_id = session_id or self.session_id
        self._check_invocation(before, session_id)
        await self.adk_runner.rewind_async(user_id=self.user_id, session_id=session_id,
                                           rewind_before_invocation_id=before)
        session = await self.get_session(session_id)
        event = session.events[-1]   # plugins never see the rewind event: read it back
        calls, responses = call_dicts(event)
        now = time.time()
        record = Event(session_id, event.invocation_id, event.id, event.timestamp or now,
                       event.author, "rewind", f"rewind before {before}", calls, responses,
                       copy_value(dict(event.actions.state_delta)), dict(event.actions.artifact_delta))
        current = self.observer._state.get(session_id, {})
        writes = [("rewind", "InvocationContext", k, copy_value(v)) for k, v in session.state.items()
                  if k not in current or not same(current[k], v)]
        self.trace.extend([record, *self.observer._changes(
            session_id, event.invocation_id, event.id, now, "user", writes),
            Fact(session_id, event.invocation_id, now, "rewind", {"before": before})])
        return event.id

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
            self.agent, app_name=self.app_name, user_id=self.user_id, state=state,
            session_service=self.session_service,
            artifact_service=self.adk_runner.artifact_service,
            memory_service=self.memory.inner, plugins=self._plugins,
            display=self.display, credential_service=self.adk_runner.credential_service)
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


def _credential_for(config: Any, secret: str) -> Any:
    """The exchanged credential of `config`'s type, holding `secret`."""
    from google.adk.auth.auth_credential import (
        AuthCredential,
        AuthCredentialTypes,
        HttpAuth,
        HttpCredentials,
        OAuth2Auth,
    )
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
