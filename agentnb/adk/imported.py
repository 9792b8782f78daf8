"""ADK sessions from elsewhere: the JSON `adk run --save_session` writes and `adk web` exports
(ADK's `Session` dumped by alias), or a `Session` object, read into records (`load`) or put
into a runner's session service to go on live (`NotebookRunner.from_session`).

A stored session keeps its events and its final state, not who inside an event wrote a key:
a user event's changes have the source `user`, any other event's `event:<author>`. Keys no
event wrote are its starting state. Invocations are the events' invocation ids."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..core.recorded import LoadedTrace
from ..core.records import InvocationEnd, InvocationStart, Record
from ..core.trace import Trace
from .mapping import text_of
from .observer import AdkObserver


def read_session(source: Any) -> Any:
    """An ADK `Session` from a `Session`, a dict, or the path of a session JSON file."""
    from google.adk.sessions import Session
    from pydantic import ValidationError
    if isinstance(source, Session):
        return source
    where = "the dict"
    if isinstance(source, (str, os.PathLike)):
        where = str(source)
        try:
            source = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"agentnb: cannot read {where} as an ADK session: {exc}") from None
    if not isinstance(source, dict) or "events" not in source:
        raise ValueError(f"agentnb: {where} is not an agentnb trace (no 'agentnb-trace' header) "
                         "nor an ADK session (a JSON object with id, appName, userId, state "
                         "and events)")
    try:
        return Session.model_validate(source)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"agentnb: {where} is not an ADK session: "
                         f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def starting_state(session: Any) -> dict[str, Any]:
    """What of the session's state no stored event wrote."""
    written = {k for e in session.events for k in (e.actions.state_delta or {})}
    return {k: v for k, v in session.state.items() if k not in written}


def record_session(observer: AdkObserver, session: Any, session_id: str | None = None) -> None:
    """Record `session`'s start, events and invocations into `observer.trace`, as they
    happened (times are the events' own)."""
    sid = session_id or session.id
    events = list(session.events)
    first = events[0].timestamp if events else session.last_update_time
    observer.start_session(sid, session.app_name, session.user_id, starting_state(session),
                           now=first)
    last_of: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.invocation_id:
            last_of[event.invocation_id] = index
    runs = {inv for inv in last_of
            if any(e.content for e in events if e.invocation_id == inv)}   # not a bare state write
    started: set[str] = set()
    for index, event in enumerate(events):
        inv = event.invocation_id
        if inv in runs and inv not in started:
            started.add(inv)
            mine = [e for e in events if e.invocation_id == inv]
            agent = next((e.author for e in mine if e.author != "user"), observer.root)
            said = next((text_of(e.content) for e in mine if e.author == "user" and e.content), "")
            observer.trace.append(InvocationStart(sid, inv, agent, said, event.timestamp))
        observer.record_event(event, sid, "user" if event.author == "user" else None,
                              at=event.timestamp)
        if inv in runs and last_of[inv] == index:
            observer.trace.append(_end(observer, sid, inv, [e for e in events if e.invocation_id == inv]))
    # A value no event explains (an app:/user: key another session wrote later): `external`.
    observer.trace.extend(observer.drift_records(sid, dict(session.state), None))


def _end(observer: AdkObserver, sid: str, inv: str, events: list[Any]) -> Record:
    failed = next((e for e in events if e.error_code or e.error_message), None)
    status = ("error" if failed is not None else
              "waiting" if observer.waiting(sid, inv) else "ok")
    error = (f"{failed.error_code or 'error'}: {failed.error_message or ''}".rstrip(": ")
             if failed is not None else None)
    return InvocationEnd(sid, inv, events[-1].timestamp, status, error)


def load_session(source: Any) -> LoadedTrace:
    """An ADK session (file, dict or `Session`) as a loaded trace: DataFrames and `view()`."""
    session = read_session(source)
    trace = Trace()
    record_session(AdkObserver(trace), session)
    where = source if isinstance(source, (str, os.PathLike)) else f"session {session.id}"
    loaded = LoadedTrace(trace, {"format": "adk-session", "app_name": session.app_name,
                                 "user_id": session.user_id, "session_id": session.id}, where)
    loaded.title = f"ADK session {session.id} ({session.app_name})"
    return loaded


async def restore(observer: AdkObserver, service: Any, session: Any, app_name: str,
                  user_id: str, session_id: str) -> None:
    """Put `session`'s events into a new session of `service` as `adk run --resume` does (a
    session made with the stored state, then each event appended, marked restored), and
    record it. Refuses a session id the service already has."""
    from google.adk.events._internal_metadata import mark_restored
    if await service.get_session(app_name=app_name, user_id=user_id, session_id=session_id):
        raise ValueError(f"agentnb: the session service already has session {session_id!r} of "
                         f"{app_name}/{user_id}; pass session_id= for a new one")
    made = await service.create_session(app_name=app_name, user_id=user_id,
                                        state=dict(session.state), session_id=session_id)
    for event in session.events:
        await service.append_event(made, mark_restored(event.model_copy(deep=True)))
    stored = await service.get_session(app_name=app_name, user_id=user_id, session_id=session_id)
    record_session(observer, stored.model_copy(update={"app_name": app_name, "user_id": user_id}))
