"""Folding state changes into states: the one place where records become "the state"."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .records import InvocationEnd, InvocationStart, Record, Session, StateChange

State = dict[str, Any]


def final_state(records: Iterable[Record], session_id: str | None = None,
                persisted_only: bool = True) -> State:
    """The state a trace's changes add up to (for one session, or the last one recorded)."""
    changes = [r for r in records if isinstance(r, StateChange)]
    if session_id is None and changes:
        session_id = changes[-1].session_id
    return _fold(c for c in changes if c.session_id == session_id
                 and (c.persisted or not persisted_only))


def state_after(records: Iterable[Record], session_id: str, invocation_id: str) -> State:
    """The persisted state of a session right after an invocation ended."""
    state: State = {}
    for r in records:
        if r.session_id != session_id:
            continue
        if isinstance(r, StateChange) and r.persisted:
            state[r.key] = r.new
        elif isinstance(r, InvocationEnd) and r.invocation_id == invocation_id:
            break
    return state


def states_by_turn(records: Iterable[Record],
                   session_id: str | None) -> list[tuple[str | None, State]]:
    """(what the user said, persisted state) after each invocation of a session, after its
    start first (said: None)."""
    turns: list[tuple[str | None, State]] = []
    state: State = {}
    said: dict[str, str] = {}
    for r in records:
        if r.session_id != session_id:
            continue
        if isinstance(r, StateChange) and r.persisted:
            state[r.key] = r.new
        elif isinstance(r, InvocationStart):
            said[r.invocation_id] = r.user_text
        elif isinstance(r, InvocationEnd):
            turns.append((said.get(r.invocation_id, ""), dict(state)))
        elif isinstance(r, Session) and not turns:
            turns.append((None, dict(r.state)))
    return turns


def _fold(changes: Iterable[StateChange]) -> State:
    state: State = {}
    for c in changes:
        state[c.key] = c.new
    return state
