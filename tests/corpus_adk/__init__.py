"""A corpus of ADK agents written the way ADK's own samples and docs write them (issue 20).

One module per shape. Each module has `build() -> Case`: the thing to hand to `NotebookRunner`
(an agent, an `App` or a `Workflow`), the runner's keyword arguments, and the turns the test
plays, plus what the test should expect of agentnb. Every model is agentnb's `ScriptedLlm`, so
the corpus runs offline and deterministically.

Turns are plain strings (a user message) or one of the step objects below; `tests/test_adk_corpus.py`
plays them and checks agentnb against ADK's own services after each case.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

MODULES = [
    "workflow_graph", "app_plugins", "pipelines", "custom_agent", "agent_tools", "code_executor",
    "memory", "short_circuit", "long_running", "confirmation", "credential", "rewind",
    "external_append", "typed_state", "tool_error", "builtin_tools", "set_state",
]


@dataclass
class Ask:
    """A user message, optionally with ADK's `state_delta` of `run_async`."""
    text: str
    state_delta: dict | None = None


@dataclass
class Answer:
    """Answer the pending long-running call of `tool` with `response`: `runner.answer(...)`."""
    tool: str
    response: Any


@dataclass
class Confirm:
    """Answer the pending confirmation of `tool`: `runner.confirm(call_id, confirmed, payload)`."""
    tool: str
    confirmed: bool = True
    payload: Any = None


@dataclass
class Credential:
    """Answer the pending credential request with `secret`: `runner.answer_credential(...)`."""
    secret: str


@dataclass
class Rewind:
    """`runner.rewind(...)` to before the invocation of turn number `turn` (0-based)."""
    turn: int


@dataclass
class External:
    """The docs' pattern: `session_service.append_event(session, Event(actions=EventActions(
    state_delta=...)))`, outside the runner; then `await runner.sync()` if `sync`."""
    state_delta: dict
    author: str = "system"
    sync: bool = True


@dataclass
class SetState:
    """`await runner.set_state(delta)`: the notebook writes state between runs."""
    delta: dict


@dataclass
class Remember:
    """Add the runner's current session to the memory service, then start a new session."""


@dataclass
class Case:
    name: str
    root: Any                                   # BaseAgent, App or Workflow
    turns: list
    runner_kwargs: dict = field(default_factory=dict)
    # What agentnb must show, checked besides the generic checks against ADK:
    statuses: list | None = None                # invocations().status of the user's session(s)
    sources: list = field(default_factory=list)  # (key, source) pairs history() must have
    event_kinds: set = field(default_factory=set)  # kinds events() must have
    extra: dict = field(default_factory=dict)     # anything a case-specific test needs
    notes: str = ""


def load(name: str) -> Case:
    return importlib.import_module(f"{__name__}.{name}").build()
