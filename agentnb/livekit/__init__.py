"""The LiveKit adapter: runs a real LiveKit job from a notebook and maps it onto the neutral trace.

`NotebookJob` starts LiveKit's own `AgentServer` on a private event loop thread and hands it one
job: on LiveKit's console/fake-job path when no server is configured, or in a real room when one
is. The entrypoint (agentnb's built-in text session, or the user's seed-style
`async def entrypoint(ctx)`) gets a real `JobContext` and runs on the job's own loop, in the job's
own thread; `ask()` schedules each turn there, inside the job's context variables, so
`get_job_context()` works in a tool.

`import agentnb.livekit` does not import LiveKit (~4 s): `NotebookJob.start()` does, and so does
the first use of `ScriptedLLM`, which must subclass LiveKit's `llm.LLM`.
"""
from __future__ import annotations

from typing import Any

from ..core.script import call, reply
from .job import NotebookJob
from .runtime import mint_token

__all__ = ["NotebookJob", "ScriptedLLM", "call", "mint_token", "reply"]


def __getattr__(name: str) -> Any:
    # ScriptedLLM subclasses LiveKit's llm.LLM: the class is built on first use, not on import.
    if name == "ScriptedLLM":
        from .scripted import scripted_llm_class
        return scripted_llm_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
