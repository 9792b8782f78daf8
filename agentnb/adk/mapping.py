"""Pure mapping functions: ADK objects -> the plain values records hold. No state, no I/O;
each is tested directly on real ADK objects."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.values import bytes_preview, copy_value, text_preview

# ADK's names for the function calls that pause a run for an answer (utils/_function_call_names).
REQUEST_CREDENTIAL = "adk_request_credential"
REQUEST_CONFIRMATION = "adk_request_confirmation"
REQUEST_INPUT = "adk_request_input"
_MISSING = object()

# The seed's four kinds of context, by the hook that receives one. ADK 2.x passes a single class,
# `Context`, for both CallbackContext and ToolContext: the records keep both names.
CONTEXT_KIND = {
    "on_user_message_callback": "InvocationContext", "before_run_callback": "InvocationContext",
    "on_event_callback": "InvocationContext", "after_run_callback": "InvocationContext",
    "before_agent_callback": "CallbackContext", "after_agent_callback": "CallbackContext",
    "before_model_callback": "CallbackContext", "after_model_callback": "CallbackContext",
    "before_tool_callback": "ToolContext", "after_tool_callback": "ToolContext",
}



def last_user_text(contents: Any) -> str:
    for content in reversed(contents or []):
        if content.role == "user":
            text = text_of(content)
            if text:
                return text
    return ""


def text_of(content: Any) -> str:
    if content is None or not content.parts:
        return ""
    return "".join(p.text for p in content.parts if p.text and not p.thought)


def transcription_of(event: Any) -> str:
    """What a live event's transcription says: the agent's spoken words (output) or the
    caller's (input). Empty for any other event."""
    for transcription in (getattr(event, "output_transcription", None),
                          getattr(event, "input_transcription", None)):
        if transcription is not None and transcription.text:
            return str(transcription.text)
    return ""


def call_dicts(event: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An event's function calls and responses as plain dicts, copied."""
    calls: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    content = event.content
    for part in (content.parts or ()) if content is not None else ():   # one pass, not ADK's two
        call, response = part.function_call, part.function_response
        if call:
            calls.append({"id": call.id, "name": call.name, "args": copy_value(dict(call.args or {}))})
        if response:
            responses.append({"id": response.id, "name": response.name,
                              "response": copy_value(response.response)})
    return calls, responses


def response_ids(event: Any) -> list[str]:
    """The ids of an event's function responses."""
    content = event.content
    if content is None:
        return []
    return [part.function_response.id for part in content.parts or () if part.function_response]


def written(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Keys of `after` written since the snapshot `before` was taken: new, or holding another
    object (by identity: a snapshot is a shallow copy, and a write replaces the value)."""
    return [k for k, v in after.items() if before.get(k, _MISSING) is not v]


def code_parts(event: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, text, detail) of an event carrying code execution: the model's `executable_code`
    (text: the code; detail: its language) or a `code_execution_result` (the output, outcome)."""
    for part in (event.content.parts or ()) if event.content is not None else ():
        if part.executable_code is not None:
            code = part.executable_code
            return "executable_code", code.code or "", {"language": _name(code.language)}
        if part.code_execution_result is not None:
            result = part.code_execution_result
            return "code_execution_result", result.output or "", {"outcome": _name(result.outcome)}
    return None


def _name(value: Any) -> Any:
    return getattr(value, "value", value)


def node_path(event: Any) -> str | None:
    """The workflow node an event came from (ADK 2.x `event.node_info.path`), None if none."""
    info = getattr(event, "node_info", None)
    return (info.path or None) if info is not None else None


def event_output(event: Any) -> Any:
    """`Event.output` as ADK stores it: an LLM node's output is its message
    (`node_info.message_as_output`), and the runner stores such an event with output None."""
    output = getattr(event, "output", None)
    info = getattr(event, "node_info", None)
    if output is None or (info is not None and info.message_as_output and event.content):
        return None
    return copy_value(output)


def interrupt_ids(event: Any, calls: list[dict[str, Any]]) -> list[str]:
    """The function calls an event leaves waiting for an answer, as ADK's own
    `events._interrupts.extract_event_interrupt_ids` finds them (`calls`: the event's calls,
    from `call_dicts`)."""
    ids = set(event.long_running_tool_ids or ())
    ids.update(c["id"] for c in calls if c["id"] and c["name"] in (REQUEST_INPUT, REQUEST_CREDENTIAL))
    return sorted(ids) if ids else []


def pending_rows(events: Iterable[Any]) -> list[dict[str, Any]]:
    """What a session waits for, from its event records (`core.records.Event`), by ADK's rule
    (`events._interrupts.index_open_interrupts`): each interrupt call not yet answered by a
    user-authored function response. One dict per call: `kind` (long_running, confirmation,
    credential or input), `call_id` (the id to answer), `tool` and `args` (of the call that
    asked), `hint`, `payload`, `request` (the name to answer), `invocation_id`,
    `function_call_id` (the call that asked, when it is not the interrupt itself)."""
    calls: dict[Any, dict[str, Any]] = {}
    open_: dict[Any, tuple[Any, dict[str, Any]]] = {}
    for e in events:
        if e.author == "user":
            for r in e.function_responses:
                open_.pop(r.get("id"), None)
        for c in e.function_calls:
            calls[c.get("id")] = c
        for call_id in e.long_running:
            open_[call_id] = (e, calls.get(call_id) or {"id": call_id, "name": "", "args": {}})
    return [_pending_row(e, c, calls) for e, c in open_.values()]


def _pending_row(event: Any, call: dict[str, Any], calls: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    name, args = call.get("name") or "", call.get("args") or {}
    row = {"kind": "long_running", "call_id": call.get("id"), "tool": name, "args": args,
           "hint": None, "payload": None, "request": name, "invocation_id": event.invocation_id,
           "function_call_id": None}
    if name == REQUEST_CONFIRMATION:
        original = args.get("originalFunctionCall") or {}
        confirmation = args.get("toolConfirmation") or {}
        row.update(kind="confirmation", tool=original.get("name"), args=original.get("args") or {},
                   hint=confirmation.get("hint"), payload=confirmation.get("payload"),
                   function_call_id=original.get("id"))
    elif name == REQUEST_CREDENTIAL:
        original = calls.get(args.get("functionCallId")) or {}
        scheme = (args.get("authConfig") or {}).get("authScheme") or {}
        row.update(kind="credential", tool=original.get("name"), args=original.get("args") or {},
                   hint=scheme.get("type"), function_call_id=args.get("functionCallId"))
    elif name == REQUEST_INPUT:
        row.update(kind="input", hint=args.get("message"), payload=args.get("payload"))
    return row


def event_kind(event: Any, calls: list[Any], responses: list[Any], text: str,
               code: tuple[str, str, dict[str, Any]] | None = None) -> str:
    """The kind of an event (`code`: its `code_parts`, when it has code execution parts)."""
    if event.author == "user":
        if event.actions.rewind_before_invocation_id:
            return "rewind"
        # a state write with no message (runner.set_state, ADK docs' append_event pattern)
        return "state" if event.content is None and event.actions.state_delta else "user"
    if event.error_code or event.error_message:
        return "error"
    if code is not None:
        return code[0]
    if calls:
        return "function_call"
    if responses:
        return "function_response"
    if event.actions.transfer_to_agent:
        return "transfer"
    if text:   # a streamed chunk ADK does not store is partial: the whole text follows
        return "partial" if event.partial else "model"
    if event.actions.state_delta:
        return "state"
    return "turn_complete" if event.turn_complete else "other"


def invocation_exposed(ic: Any) -> dict[str, Any]:
    """What an InvocationContext exposes, for the context explorer."""
    return {"invocation_id": ic.invocation_id, "session_id": ic.session.id,
            "app_name": ic.app_name, "user_id": ic.user_id,
            "agent": getattr(ic.agent, "name", None), "branch": ic.branch,
            "end_invocation": ic.end_invocation,
            "session_service": _class_name(ic.session_service),
            "artifact_service": _class_name(ic.artifact_service),
            "memory_service": _class_name(ic.memory_service),
            "credential_service": _class_name(ic.credential_service),
            "n_session_events": len(ic.session.events)}


def _class_name(service: Any) -> str | None:
    """A service's class, or None when it is not set (not "NoneType")."""
    return None if service is None else type(service).__name__


def dump(model: Any) -> Any:
    try:
        return model.model_dump(mode="json", exclude_none=True)
    except Exception:
        return repr(model)


def describe_part(part: Any) -> tuple[str | None, int, str]:
    """(mime type, size in bytes, bounded preview) of an artifact's `types.Part`."""
    if part is None:
        return None, 0, ""
    if part.text is not None:
        return text_preview(part.text)
    blob = part.inline_data
    if blob is not None and blob.data is not None:
        return bytes_preview(blob.mime_type, blob.data)
    if part.file_data is not None:  # a reference saved instead of the content
        return part.file_data.mime_type, 0, f"reference: {part.file_data.file_uri}"
    return None, 0, ""
