"""The seam between what is recorded and how it is shown.

Runners, jobs and loaded traces ask for their views through here, so that neither the core nor
an adapter imports the Jupyter layer (imports point down only). The package face
(`agentnb/__init__.py`) registers the Jupyter layer, lazily, when `agentnb` is imported.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .trace import Trace


class Faces(Protocol):
    def view(self, trace: Trace, invocation_id: str | None = None, title: str = "agentnb",
             reveal: bool = False, owner: Any = None) -> Any:
        """A view of a whole trace (`invocation_id=None`) or of one invocation: live in a
        kernel, an HTML and a text face everywhere. `owner`: a runner whose state the
        dashboard's editor writes (None: no editor)."""

    def live_card(self, trace: Trace, invocation_id: str, enabled: bool = True,
                  owner: Any = None) -> AbstractContextManager[bool]:
        """Around one run: shows its card live in a notebook; yields whether it did."""

    def refresh_card(self, trace: Trace, invocation_id: str) -> None:
        """Draw a finished card again with what was recorded about its run since (LiveKit's
        `expect` checks made after `ask` returned)."""

    def live_session_card(self, trace: Trace, session_id: str, title: str,
                          enabled: bool = True) -> AbstractContextManager[bool]:
        """Around the runs of one session (an eval case): shows the session's card live in a
        notebook; yields whether it did."""


_factory: Callable[[], Faces] | None = None


def register(factory: Callable[[], Faces]) -> None:
    """Name what draws views: `factory()` is called when a view is first needed."""
    global _factory
    _factory = factory


def faces() -> Faces:
    if _factory is None:
        raise RuntimeError("agentnb: no front end registered (import agentnb first)")
    return _factory()
