"""Pure mapping functions: ADK objects -> the plain values records hold. No state, no I/O;
each is tested directly on real ADK objects."""
from __future__ import annotations

from typing import Any

from ..core.values import bytes_preview, copy_value, text_preview

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


def state_of(ctx: Any) -> dict[str, Any]:
    """A copy of a context's state without reading through ADK's `State` (whose reads take
    snapshots of containers for its nested-write tracking)."""
    state = ctx.session.state if type(ctx).__name__ == "InvocationContext" else ctx.state
    raw = getattr(state, "_value", None)
    return dict(raw if raw is not None else state)


def call_dicts(event: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An event's function calls and responses as plain dicts, copied."""
    calls = [{"id": c.id, "name": c.name, "args": copy_value(dict(c.args or {}))}
             for c in event.get_function_calls()]
    responses = [{"id": r.id, "name": r.name, "response": copy_value(r.response)}
                 for r in event.get_function_responses()]
    return calls, responses


def event_kind(event: Any, calls: list[Any], responses: list[Any], text: str) -> str:
    if event.author == "user":
        return "rewind" if event.actions.rewind_before_invocation_id else "user"
    if event.error_code or event.error_message:
        return "error"
    if calls:
        return "function_call"
    if responses:
        return "function_response"
    if event.actions.transfer_to_agent:
        return "transfer"
    if text:
        return "model"
    return "state" if event.actions.state_delta else "other"


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
