"""Framework-neutral records: what a trace is made of.

Adapters build these from ADK or LiveKit objects; views and DataFrames read them. Nothing here
knows which framework produced a record. Records are slotted dataclasses because a trace may hold
a million state changes and each one's size counts (see bench/).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

# Scopes of a state key. ADK's prefixes map to the first four; LiveKit's userdata and
# participant attributes to the last two.
SCOPES = ("app", "user", "session", "temp", "userdata", "attributes")
SCOPE_PREFIXES = (("app:", "app"), ("user:", "user"), ("temp:", "temp"))


def scope_of(key: str) -> str:
    """ADK's scope of a state key, from its prefix (`app:`, `user:`, `temp:`, else session)."""
    for prefix, scope in SCOPE_PREFIXES:
        if key.startswith(prefix):
            return scope
    return "session"


@dataclass(slots=True)
class Session:
    """A conversation: ADK session or LiveKit job. `state` is the starting state."""
    kind: ClassVar[str] = "session"
    session_id: str
    app: str
    user: str
    framework: str
    time: float
    state: dict[str, Any] = field(default_factory=dict)
    parent_session_id: str | None = None  # set when the session is a fork
    forked_at: str | None = None          # invocation id of the parent the fork starts after


@dataclass(slots=True)
class InvocationStart:
    kind: ClassVar[str] = "invocation_start"
    session_id: str
    invocation_id: str
    agent: str
    user_text: str
    time: float
    parent_invocation_id: str | None = None   # a nested run (ADK's AgentTool): the caller's
    parent_call_id: str | None = None         # invocation, and the function call that ran it


@dataclass(slots=True)
class InvocationEnd:
    kind: ClassVar[str] = "invocation_end"
    session_id: str
    invocation_id: str
    time: float
    status: str  # ok | waiting (for an answer: see `pending()`) | error | interrupted
    error: str | None = None
    traceback: str | None = None   # the full traceback of an error, for the card to fold


@dataclass(slots=True)
class Event:
    """One framework event: a model turn, a tool call or response, a user message, a rewind."""
    kind: ClassVar[str] = "event"
    session_id: str
    invocation_id: str | None
    event_id: str
    time: float
    author: str
    event_kind: str  # user | model | function_call | function_response | executable_code |
    #                  code_execution_result | error | rewind | external | ...
    text: str = ""
    function_calls: list[dict[str, Any]] = field(default_factory=list)      # [{"id", "name", "args"}]
    function_responses: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "name", "response"}]
    state_delta: dict[str, Any] = field(default_factory=dict)
    artifact_delta: dict[str, int] = field(default_factory=dict)      # filename -> version
    transfer_to_agent: str | None = None
    escalate: bool = False
    end_of_agent: bool = False
    auth_requests: list[str] = field(default_factory=list)       # function call ids asking for credentials
    error: str | None = None
    branch: str | None = None
    node: str | None = None      # ADK 2.x workflow node path (`event.node_info.path`)
    output: Any = None           # ADK 2.x `Event.output`, as the session stores it
    long_running: list[str] = field(default_factory=list)   # call ids the run waits on
    code: dict[str, Any] | None = None   # code execution: {"language"} or {"outcome"}


@dataclass(slots=True)
class StateChange:
    """One key written once. `seq` is given by the trace: the change's order in its session."""
    kind: ClassVar[str] = "state_change"
    session_id: str
    invocation_id: str | None
    event_id: str | None
    time: float
    author: str
    source: str        # initial | user | rewind | external | tool:<name> | output_key:<agent> |
    #                    <callback>:<agent> | event:<author> | userdata ...
    key: str
    scope: str
    old: Any
    new: Any
    persisted: bool
    context_kind: str | None = None
    seq: int = -1


@dataclass(slots=True)
class ArtifactVersion:
    kind: ClassVar[str] = "artifact"
    session_id: str
    invocation_id: str | None
    event_id: str | None
    time: float
    filename: str
    version: int
    mime_type: str | None
    size_bytes: int
    preview: str = ""       # bounded text preview, or a data: URL for small images
    source: str = ""


@dataclass(slots=True)
class ContextSnapshot:
    """Which context object a hook or tool received, and what it exposed at that moment."""
    kind: ClassVar[str] = "context"
    session_id: str
    invocation_id: str | None
    time: float
    hook: str
    context_kind: str      # the seed's name: InvocationContext, ReadonlyContext, CallbackContext, ...
    actual_class: str      # what the framework really passed (ADK 2.x: Context for the last two)
    agent: str | None = None
    function_call_id: str | None = None
    user_text: str | None = None
    branch: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    exposed: dict[str, Any] = field(default_factory=dict)  # other attributes worth showing


@dataclass(slots=True)
class Fact:
    """Anything else a framework reports: memory searches, auth requests, LiveKit job, room,
    process, participants, log records, session events. `topic` says which; `data` is JSON-able."""
    kind: ClassVar[str] = "fact"
    session_id: str | None
    invocation_id: str | None
    time: float
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


Record = (Session | InvocationStart | InvocationEnd | Event | StateChange | ArtifactVersion
          | ContextSnapshot | Fact)

RECORD_TYPES: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (Session, InvocationStart, InvocationEnd, Event, StateChange, ArtifactVersion,
                ContextSnapshot, Fact)
}


def record_to_dict(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"type": record.kind}
    for f in fields(record):
        out[f.name] = getattr(record, f.name)
    return out


def record_from_dict(data: dict[str, Any]) -> Record:
    data = dict(data)
    cls = RECORD_TYPES.get(data.pop("type", None))
    if cls is None:
        raise ValueError(f"agentnb: unknown record type in trace: {data!r:.80}")
    return cls(**data)
