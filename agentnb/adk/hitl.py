"""Human in the loop: what a session waits for (long-running calls, tool confirmations,
credential requests), and the answers that resume it. ADK pauses a run on a function call
listed in `Event.long_running_tool_ids` and continues the invocation that made it when a
user-authored `FunctionResponse` of the same id arrives."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from google.genai import types

from ..core.recorded import Invocation
from ..core.trace import Trace
from .mapping import REQUEST_CONFIRMATION, REQUEST_CREDENTIAL, pending_rows


class Answers:
    """`pending()`, `answer()`, `confirm()` and the credential helpers of `NotebookRunner`."""

    # What NotebookRunner provides.
    trace: Trace
    session_id: str
    ask: Callable[..., Awaitable[Invocation]]
    get_session: Callable[..., Awaitable[Any]]

    def pending(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """What the session waits for, one dict per unanswered call: `kind` (`long_running`,
        `confirmation`, `credential` or `input`), `call_id` (the id to answer), `tool` and
        `args` of the call that asked, `hint`, `payload`, `request` (the function name an
        answer carries), `invocation_id` and `function_call_id` (the tool call behind a
        confirmation or credential request). Empty when nothing waits."""
        return pending_rows(self.trace.of("event", session_id or self.session_id))

    def _pending_one(self, call_id: str, session_id: str, kind: str | None = None) -> dict[str, Any]:
        rows = self.pending(session_id)
        row = next((r for r in rows if r["call_id"] == call_id), None) or next(
            (r for r in rows if r["function_call_id"] == call_id), None)
        if row is None or (kind is not None and row["kind"] != kind):
            waiting = ", ".join(f"{r['call_id']} ({r['kind']} {r['tool']})" for r in rows) or "nothing"
            raise ValueError(f"agentnb: no pending {kind or 'call'} {call_id!r} in session "
                             f"{session_id!r}; it waits for {waiting}")
        return row

    async def answer(self, call_id: str, response: Any, *,
                     session_id: str | None = None) -> Invocation:
        """Send the final `FunctionResponse` for a pending call (a long-running tool's result,
        or any interrupt's answer as ADK expects it): ADK resumes the invocation that made the
        call. `response` is a dict (anything else is sent as `{"result": response}`)."""
        session_id = session_id or self.session_id
        row = self._pending_one(call_id, session_id)
        body = response if isinstance(response, dict) else {"result": response}
        return await self.ask(_response(row["call_id"], row["request"], body), session_id=session_id)

    async def confirm(self, call_id: str, confirmed: bool = True, payload: Any = None, *,
                      session_id: str | None = None) -> Invocation:
        """Answer a tool's confirmation request (`tool_context.request_confirmation(...)` or
        `FunctionTool(..., require_confirmation=True)`): `call_id` is the request's (or the
        tool call's) id; ADK runs the tool, or tells it no, with `payload`."""
        session_id = session_id or self.session_id
        row = self._pending_one(call_id, session_id, "confirmation")
        return await self.ask(_response(row["call_id"], REQUEST_CONFIRMATION,
                                        {"confirmed": bool(confirmed), "payload": payload}),
                              session_id=session_id)

    # -- credentials (ADK's auth flow) --
    def pending_credentials(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """Credential requests not answered yet: `{"id", "tool_call_id", "auth_type", "scheme"}`."""
        session_id = session_id or self.session_id
        asked: dict[str, dict[str, Any]] = {}
        answered: set[str] = set()
        for event in self.trace.of("event", session_id):
            for c in event.function_calls:
                if c["name"] == REQUEST_CREDENTIAL:
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
        answer = _response(request["id"], REQUEST_CREDENTIAL,
                           config.model_dump(mode="json", exclude_none=True, by_alias=True))
        return await self.ask(answer, session_id=session_id)


def _response(call_id: str, name: str, response: dict[str, Any]) -> Any:
    return types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
        id=call_id, name=name, response=response))])


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
