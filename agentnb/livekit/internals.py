"""Every place agentnb relies on LiveKit Agents 1.8 beyond its documented API, in one module,
each pinned by a test in tests/test_livekit_faults.py. When LiveKit changes, look here first."""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import dataclasses
import functools
import inspect
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_VARARGS = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])
TOOL_TASK = "tool_exec_"        # LiveKit runs a tool in a task named tool_exec_<name> ...
TOOL_REPORTER_TASK = "func_exec_"  # ... awaited by func_exec_<name>, which reports its output


def import_livekit() -> None:
    import livekit.agents

    # The mock room imports unittest.mock; imported inside the job it blocks the job's loop.
    import livekit.agents.ipc.mock_room  # noqa: F401
    install_job_hooks()


# -- the job's hold on the sessions and agents its entrypoint makes ------------------------------

def _nothing(*_: Any) -> None:
    return None


@dataclass
class JobHooks:
    """What a running NotebookJob asks of the AgentSessions and Agents made inside it (under
    `current_hooks`): `llm` replaces their models, `userdata` the sessions' userdata;
    `console` (no server: no audio anywhere) sets their STT and TTS aside; `on_start(session)`
    runs as a session starts; `note(topic, data)` records what was done."""
    llm: Any = None
    userdata: Any = None
    replace_agent_models: bool = False
    console: bool = False
    on_start: Callable[[Any], None] = _nothing
    note: Callable[[str, dict[str, Any]], None] = _nothing
    failed: Callable[[str], None] = _nothing    # what agentnb could not do (never raised)
    on_text: Callable[[str | None, str | None, str], None] = _nothing   # chat text received


# Set at the top of the job's entrypoint: the tasks it starts inherit it, so the wrappers below
# act for this job only; anywhere else they call LiveKit's own methods unchanged.
current_hooks: contextvars.ContextVar[JobHooks | None] = contextvars.ContextVar(
    "agentnb_job_hooks", default=None)


def install_job_hooks() -> None:
    """Class-level wrappers on `AgentSession.__init__`, `AgentSession.start` and
    `Agent.__init__` (so `AgentTask`s too), installed once. An example's `AgentSession(llm=
    openai.LLM(...))` prewarms that model in `__init__`, and every agent activity prewarms its
    models again as it starts: the model must be swapped before LiveKit's own `__init__`."""
    from livekit.agents import Agent, AgentSession
    if getattr(AgentSession, "_agentnb_hooked", False):
        return
    session_init, session_start, agent_init = AgentSession.__init__, AgentSession.start, Agent.__init__

    @functools.wraps(session_init)
    def init_session(self: Any, *args: Any, **kwargs: Any) -> None:
        hooks = current_hooks.get()
        if hooks is not None:
            try:
                kwargs = session_kwargs(hooks, kwargs)
            except Exception:
                hooks.failed("AgentSession's arguments")
        session_init(self, *args, **kwargs)

    @functools.wraps(agent_init)
    def init_agent(self: Any, *args: Any, **kwargs: Any) -> None:
        hooks = current_hooks.get()
        if hooks is not None:
            try:
                kwargs = agent_kwargs(hooks, kwargs, type(self).__name__)
            except Exception:
                hooks.failed("an Agent's arguments")
        agent_init(self, *args, **kwargs)

    @functools.wraps(session_start)
    async def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = current_hooks.get()
        if hooks is not None:
            try:
                kwargs = start_kwargs(hooks, self, args[0] if args else kwargs.get("agent"),
                                      kwargs)
                hooks.on_start(self)
            except Exception:
                hooks.failed("AgentSession.start's arguments")
        return await session_start(self, *args, **kwargs)

    AgentSession.__init__ = init_session  # type: ignore[method-assign]
    AgentSession.start = start  # type: ignore[method-assign]
    Agent.__init__ = init_agent  # type: ignore[method-assign]
    from livekit.agents import inference
    for kind, needed in ((inference.LLM, _replaced), (inference.STT, _set_aside),
                         (inference.TTS, _set_aside)):
        kind.__init__ = _built_offline(kind.__init__, needed)  # type: ignore[method-assign]
    AgentSession._agentnb_hooked = True  # type: ignore[attr-defined]


OFFLINE_CREDENTIAL = "agentnb-offline-placeholder-never-sent"  # >= 32 bytes: no JWT warning


def _replaced(hooks: JobHooks) -> bool:
    return hooks.llm is not None


def _set_aside(hooks: JobHooks) -> bool:
    return hooks.console


def _built_offline(init: Callable[..., None], needed: Callable[[JobHooks], bool]) -> Callable[..., None]:
    """LiveKit Inference's `LLM`, `STT` and `TTS` (what the examples build: `inference.LLM(
    "openai/gpt-4.1-mini")`) refuse to be built without LiveKit credentials. In a job whose
    `llm=` replaces the model, or on the console room where STT and TTS are set aside, such an
    object is never used: it is built with placeholder credentials, so the example runs
    unchanged offline. Anywhere else LiveKit's own constructor runs as it is."""
    @functools.wraps(init)
    def build(self: Any, *args: Any, **kwargs: Any) -> None:
        hooks = current_hooks.get()
        if hooks is not None and needed(hooks) and not _has_credentials(kwargs):
            kwargs = {**kwargs, "api_key": OFFLINE_CREDENTIAL, "api_secret": OFFLINE_CREDENTIAL}
            hooks.note("models", {"event": "built with placeholder credentials, never used",
                                  "where": f"inference.{type(self).__name__}",
                                  "model": str(args[0] if args else kwargs.get("model"))})
        init(self, *args, **kwargs)
    return build


def _has_credentials(kwargs: dict[str, Any]) -> bool:
    def given(name: str, *variables: str) -> bool:
        value = kwargs.get(name)
        return bool(value and is_given(value)) or any(os.environ.get(v) for v in variables)
    return given("api_key", "LIVEKIT_INFERENCE_API_KEY", "LIVEKIT_API_KEY") and \
        given("api_secret", "LIVEKIT_INFERENCE_API_SECRET", "LIVEKIT_API_SECRET")


def _model_name(model: Any) -> str:
    if isinstance(model, str):
        return model
    name = getattr(model, "model", None)
    return f"{type(model).__name__}({name})" if isinstance(name, str) else type(model).__name__


def session_kwargs(hooks: JobHooks, kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(kwargs)
    if hooks.llm is not None:
        replaced = kwargs.get("llm")
        kwargs["llm"] = hooks.llm
        if replaced is not None and replaced is not hooks.llm and is_given(replaced):
            hooks.note("models", {"event": "llm replaced", "where": "AgentSession",
                                  "replaced": _model_name(replaced)})
    if hooks.userdata is not None:
        kwargs["userdata"] = hooks.userdata
    if hooks.console:
        aside = {k: _model_name(kwargs.pop(k)) for k in ("stt", "tts")
                 if kwargs.get(k) is not None and is_given(kwargs[k])}
        kwargs["stt"] = kwargs["tts"] = None
        if aside:
            hooks.note("models", {"event": "set aside on the console room (no audio)",
                                  "where": "AgentSession", **aside})
    return kwargs


def agent_kwargs(hooks: JobHooks, kwargs: dict[str, Any], agent: str) -> dict[str, Any]:
    kwargs = dict(kwargs)
    own = kwargs.get("llm")
    if hooks.replace_agent_models and hooks.llm is not None and own is not None \
            and is_given(own) and own is not hooks.llm:
        kwargs["llm"] = hooks.llm
        hooks.note("models", {"event": "llm replaced", "where": agent, "replaced": _model_name(own)})
    if hooks.console:
        aside = {k: _model_name(kwargs.pop(k)) for k in ("stt", "tts")
                 if kwargs.get(k) is not None and is_given(kwargs[k])}
        if aside:
            hooks.note("models", {"event": "set aside on the console room (no audio)",
                                  "where": agent, **aside})
    return kwargs


def start_kwargs(hooks: JobHooks, session: Any, agent: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`session.start(agent, room=...)`'s options with text output where there is no voice.
    LiveKit's RoomIO turns audio output on by default, and a reply's text then goes to a TTS
    that is not there: the reply is lost with only a logged error. On the console room there
    is no audio at all (its STT and TTS are set aside): audio is off whatever was asked. In a
    real room audio output is off when neither the agent nor the session has a TTS, audio
    input when there is no STT, unless the entrypoint chose; a realtime model keeps its audio.
    In a real room, the chat text participants send is recorded on its way in."""
    from livekit.agents import llm, room_io
    from livekit.agents.types import NOT_GIVEN
    if not is_given(kwargs.get("room", NOT_GIVEN)):
        return kwargs

    def model(kind: str) -> Any:
        own = getattr(agent, kind, NOT_GIVEN)
        return own if is_given(own) else getattr(session, kind, None)
    realtime = not hooks.console and isinstance(model("llm"), llm.RealtimeModel)
    no_voice = not realtime and (hooks.console or model("tts") is None)
    no_ears = not realtime and (hooks.console or model("stt") is None)
    if not (no_voice or no_ears or not hooks.console):
        return kwargs
    kwargs = dict(kwargs)
    options = copy.copy(room_io.RoomOptions._ensure_options(
        kwargs.pop("room_options", NOT_GIVEN),
        room_input_options=kwargs.pop("room_input_options", NOT_GIVEN),
        room_output_options=kwargs.pop("room_output_options", NOT_GIVEN)))
    changed = {}
    for off, name in ((no_voice, "audio_output"), (no_ears, "audio_input")):
        chosen = getattr(options, name)
        if off and chosen is not False and (hooks.console or not is_given(chosen)):
            setattr(options, name, False)
            changed[name] = False if not is_given(chosen) else f"False (asked: {chosen!r:.60})"
    if not hooks.console and options.text_input is not False:
        given = options.text_input if isinstance(options.text_input, room_io.TextInputOptions) \
            else room_io.TextInputOptions()
        options.text_input = dataclasses.replace(
            given, text_input_cb=_recording_text_input(given.text_input_cb, hooks))
    kwargs["room_options"] = options
    if changed:
        hooks.note("room_io", {"event": "text output" if no_voice else "no audio input",
                               "why": "console room: no audio" if hooks.console
                               else "no TTS/STT", **changed})
    return kwargs


# Who sent the text a turn answers, in the tasks LiveKit starts from its text input callback.
input_sender: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "agentnb_input_sender", default=None)


def _recording_text_input(answer: Callable[..., Any], hooks: JobHooks) -> Callable[..., Any]:
    """RoomIO's text input callback (`TextInputOptions.text_input_cb`, LiveKit's default or the
    entrypoint's own), recording the text first; the reply it starts knows its sender."""
    async def text_input(session: Any, ev: Any) -> None:
        sender = getattr(ev.participant, "identity", None)
        try:
            hooks.on_text(sender, getattr(ev.info, "topic", None), ev.text)
        except Exception:
            hooks.failed("a chat text")
        token = input_sender.set(sender)
        try:
            result = answer(session, ev)
            if inspect.isawaitable(result):
                await result
        finally:
            input_sender.reset(token)
    return text_input


def activity_agent() -> Any:
    """The agent whose activity LiveKit is running the caller in (its speech tasks, tools and
    model calls run under `_AgentActivityContextVar`), or None. After a handoff the old agent
    still finishes its tool reply while `session.current_agent` already names the new one."""
    from livekit.agents.voice.agent_activity import _AgentActivityContextVar
    activity = _AgentActivityContextVar.get(None)
    return getattr(activity, "agent", None)


async def settle(session: Any, timeout: float) -> None:
    """Wait, at most `timeout`, until the session is idle (an `on_enter` greeting still being
    spoken would otherwise land inside the next turn)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(session.wait_for_idle(), timeout)


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


def forget_console_calls() -> None:
    """Let closed console jobs be collected. LiveKit's console path gives every job in the
    process the same mock room (`ipc.mock_room.create_mock_room` is a `functools.cache`), and
    a mock keeps every call made to it: `room.on("participant_disconnected",
    ctx._on_simulator_disconnected)` held each closed job's JobContext, and through its
    shutdown callbacks and session the job and its whole trace (~50k objects a job). Nothing
    reads the calls a mock recorded; what it was configured to return stays."""
    from livekit.agents.ipc.mock_room import create_mock_room
    if create_mock_room.cache_info().currsize:
        create_mock_room().reset_mock()


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
