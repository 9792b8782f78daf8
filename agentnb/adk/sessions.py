"""What the ADK observer knows of each session: the last recorded value of every key (the old
side of the next change), which ADK events are in the trace, and which function calls wait for
an answer. ADK events become records here, whoever saw them: a plugin hook, the runner (a
rewind), or a reconciliation with the session service (events appended outside the runner)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.records import (ArtifactVersion, Event, Fact, InvocationEnd, Record, Session,
                            StateChange, scope_of)
from ..core.trace import Trace
from ..core.values import copy_value, same
from .mapping import (
    call_dicts,
    code_parts,
    describe_part,
    event_kind,
    event_output,
    interrupt_ids,
    node_path,
    text_of,
    transcription_of,
)
from .provenance import Carried, Write, Writers, event_writes

SHARED_PREFIXES = ("app:", "user:")   # keys every session of the app (or user) shares
TOMBSTONE = "(absent after rewind)"


class SessionBook:
    """The per-session bookkeeping of `AdkObserver` (a base class of it)."""

    trace: Trace

    def _init_book(self) -> None:
        self._recorded: set[str] = set()            # ids of the ADK events in the trace
        self._state: dict[str, dict[str, Any]] = {}  # session id -> key -> last recorded value
        self._open: dict[str, dict[str, str]] = {}  # session id -> interrupt call id -> invocation
        self._agents: dict[str, Any] = {}           # agent name -> agent, as hooks meet them
        self._scanned: dict[str, int] = {}          # session id -> events looked at for unseen ones
        self._lock = threading.Lock()

    def knows(self, session_id: str) -> bool:
        return session_id in self._state

    def start_session(self, session_id: str, app: str, user: str, state: dict[str, Any],
                      parent: str | None = None, forked_at: str | None = None,
                      events: Iterable[Any] = (), now: float | None = None) -> None:
        """Record a session's starting state (ADK makes no event for `create_session(state=)`).
        `events` already in the session are part of that state: they are not recorded again.
        `now`: when it started (default: now)."""
        self.trace.settle()   # what the hooks kept back comes first
        now = time.time() if now is None else now
        records: list[Record] = [Session(session_id, app, user, "adk", now, dict(state), parent,
                                         forked_at)]
        records += [StateChange(session_id, None, None, now, "", "initial", k, scope_of(k), None,
                                copy_value(v), not k.startswith("temp:")) for k, v in state.items()]
        with self._lock:
            self._state[session_id] = {k: copy_value(v) for k, v in state.items()}
            self._recorded.update(e.id for e in events)
        self.trace.extend(records)

    def _changes(self, session_id: str, invocation_id: str | None, event_id: str | None, now: float,
                 author: str, writes: Sequence[Write]) -> list[StateChange]:
        """StateChange records for (source, context kind, key, value) writes, updating old values."""
        out = []
        with self._lock:
            current = self._state.setdefault(session_id, {})
            for source, kind, key, value in writes:
                out.append(StateChange(session_id, invocation_id, event_id, now, author, source,
                                       key, scope_of(key), current.get(key), value,
                                       not key.startswith("temp:"), kind))
                current[key] = value
        return out

    def _capture_event(self, event: Any, session_id: str, writers: Writers | None,
                       source: str | None = None) -> tuple[Any, ...]:
        """What must be read of an event at once; `_build_event` makes of it an Event record and
        one StateChange per write, each with its writer: `source` for every key when given
        (user, external, rewind), else as `writers` found. Taken at once: its delta (ADK
        strips `temp:` keys from it when it appends the event, and a value in it can be changed
        in place) and who wrote each key (the writers' snapshots move on with the run). Its
        content (text, calls, responses) is read at the build: ADK hands a tool a deep copy of
        its call's arguments, and its requests copy an event's content and parts, leaving
        their nested fields alone (flows/llm_flows/context/_contents.py)."""
        self._recorded.add(event.id)
        actions = event.actions
        raw = actions.state_delta
        carried = delta = None   # most events write nothing: no dict
        if raw:
            shallow = dict(raw)
            delta = copy_value(shallow)
            if source is None and writers is not None:
                agent = self._agents.get(event.author)
                carried = writers.carried(event, shallow, getattr(agent, "output_key", None))
        artifacts = actions.artifact_delta
        return (event, session_id, delta, dict(artifacts) if artifacts else None, carried, source,
                time.time())

    def _build_event(self, event: Any, session_id: str, delta: dict[str, Any] | None,
                     artifacts: dict[str, int] | None, carried: Carried | None,
                     source: str | None, now: float) -> list[Record]:
        actions = event.actions
        calls, responses = call_dicts(event)
        answer = text_of(event.content)
        text = answer or transcription_of(event)   # a live event's words are its transcription
        code = code_parts(event)
        if code is not None:
            text = code[1]
        waits = interrupt_ids(event, calls)
        record = Event(
            session_id, event.invocation_id, event.id, event.timestamp or now, event.author,
            event_kind(event, calls, responses, text, code), text, calls, responses,
            delta or {}, artifacts or {}, actions.transfer_to_agent,
            bool(actions.escalate), bool(actions.end_of_agent),
            list((actions.requested_auth_configs or {}).keys()),
            event.error_message or event.error_code, event.branch, node_path(event),
            event_output(event), waits, code[2] if code is not None else None)
        if waits or (responses and event.author == "user"):
            self._track_interrupts(session_id, event.author, event.invocation_id, responses, waits)
        if not delta:
            return [record]
        if source is not None:
            kind = "InvocationContext" if source == "user" else None
            writes = [(source, kind, k, v) for k, v in delta.items()]
        elif carried is not None:
            writes = event_writes(carried, delta, event.author, bool(answer) and not event.partial)
        else:
            writes = [(f"event:{event.author}", None, k, v) for k, v in delta.items()]
        return [record, *self._changes(session_id, event.invocation_id, event.id, now,
                                       event.author, writes)]

    def record_event(self, event: Any, session_id: str, source: str | None = None,
                     at: float | None = None) -> list[Record]:
        """Record an ADK event no hook saw; its changes have `source`, else `event:<author>`
        (which stage of the event wrote a key is not stored with it), and the time `at` when
        given (a stored session's: the event's own). Returns the records."""
        self.trace.settle()
        records = self._build_event(*self._capture_event(event, session_id, None, source))
        if at is not None:   # before appending: the trace keeps changes as columns
            for record in records:
                if isinstance(record, StateChange):
                    record.time = at
        self.trace.extend(records)
        return records

    def _track_interrupts(self, session_id: str, author: str, invocation_id: str | None,
                          responses: list[dict[str, Any]], waits: list[str]) -> None:
        """ADK's rule (events/_interrupts.index_open_interrupts): a user's function response
        answers the call of the same id; then the event's own interrupt calls are open."""
        with self._lock:
            open_ = self._open.setdefault(session_id, {})
            if author == "user":
                for r in responses:
                    open_.pop(r["id"], None)
            for call_id in waits:
                open_[call_id] = invocation_id or ""

    def _build_end(self, session_id: str, invocation_id: str, now: float, status: str,
                   error: str | None, traceback: str | None) -> list[Record]:
        """The end of an invocation: its `temp:` keys end with it, and an "ok" end with a call
        still unanswered is "waiting"."""
        with self._lock:
            current = self._state.get(session_id, {})
            for key in [k for k in current if k.startswith("temp:")]:
                del current[key]
        if status == "ok" and self.waiting(session_id, invocation_id):
            status = "waiting"
        return [InvocationEnd(session_id, invocation_id, now, status, error, traceback)]

    def waiting(self, session_id: str, invocation_id: str) -> bool:
        """Whether an interrupt call this invocation made is still unanswered."""
        return invocation_id in self._open.get(session_id, {}).values()

    # -- what the observer never saw --
    def unseen_records(self, session: Any, skip: Any = None, live: bool = False) -> list[Record]:
        """Events of `session` not in the trace (appended outside the runner: ADK fires no hook
        for `append_event`), as records whose changes have the source `external`. `live`: the
        look is from inside a live run, whose flow appends the user's messages and state deltas
        itself, with no hook: those user events are the user's (source `user`)."""
        return [record for capture in self._capture_unseen(session, skip, live)
                for record in self._build_event(*capture)]

    def _capture_unseen(self, session: Any, skip: Any = None,
                        live: bool = False) -> list[tuple[Any, ...]]:
        """`unseen_records`, taken now and built later (`_build_event`)."""
        captures = []
        events = session.events
        start = self._scanned.get(session.id, 0)   # events are only ever appended
        recorded = self._recorded
        for event in events[start if start <= len(events) else 0:]:
            if event.id not in recorded and event is not skip:
                source = "user" if live and event.author == "user" else "external"
                captures.append(self._capture_event(event, session.id, None, source))
        self._scanned[session.id] = len(events)
        return captures

    def drift_records(self, session_id: str, state: dict[str, Any],
                      prefixes: tuple[str, ...] | None = SHARED_PREFIXES) -> list[StateChange]:
        """A change (source `external`, no event) for each key of `state` whose value is not
        the one recorded last: `app:` and `user:` keys another session (or process) wrote, or
        with `prefixes=None` any persisted key."""
        current = self._state.get(session_id, {})
        writes: list[Write] = [
            ("external", None, k, copy_value(v)) for k, v in state.items()
            if (k.startswith(prefixes) if prefixes is not None else not k.startswith("temp:"))
            and (k not in current or not same(current[k], v))]
        return self._changes(session_id, None, None, time.time(), "", writes) if writes else []

    def reconcile(self, session: Any) -> list[Record]:
        """Record what `session` (fresh from the session service) holds that the trace lacks:
        its unseen events, then any key whose value still differs. Returns the new records."""
        self.trace.settle()
        records = self.unseen_records(session)
        records += self.drift_records(session.id, dict(session.state), None)
        self.trace.extend(records)
        return records

    async def record_rewind(self, session: Any, before: str, artifact_service: Any,
                            app_name: str, user_id: str) -> str:
        """`rewind_async` appends an event plugins never see, and saves artifact versions that
        restore the files (old content, or a tombstone for a file made after the rewind
        point): read it back from the session and record the state and versions it restores."""
        self.trace.settle()
        event = session.events[-1]
        self._recorded.add(event.id)
        calls, responses = call_dicts(event)
        now = time.time()
        sid = session.id
        record = Event(sid, event.invocation_id, event.id, event.timestamp or now, event.author,
                       "rewind", f"rewind before {before}", calls, responses,
                       copy_value(dict(event.actions.state_delta)), dict(event.actions.artifact_delta))
        # ADK never rewinds app:/user: keys: a value of theirs that differs was written elsewhere.
        drift = self.drift_records(sid, session.state)
        current = self._state.get(sid, {})
        writes: list[Write] = [("rewind", "InvocationContext", k, copy_value(v))
                               for k, v in session.state.items()
                               if k not in current or not same(current[k], v)]
        versions = []
        for filename, version in event.actions.artifact_delta.items():
            part = None
            if artifact_service is not None:
                part = await artifact_service.load_artifact(
                    app_name=app_name, user_id=user_id, session_id=sid, filename=filename,
                    version=version)
            mime, size, preview = describe_part(part)
            versions.append(ArtifactVersion(sid, event.invocation_id, event.id, now, filename,
                                            version, mime, size,
                                            preview if part is not None else TOMBSTONE, "rewind"))
        self.trace.extend([*drift, record, *self._changes(sid, event.invocation_id, event.id, now,
                                                          "user", writes),
                           *versions, Fact(sid, event.invocation_id, now, "rewind", {"before": before})])
        return str(event.id)
