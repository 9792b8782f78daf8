"""IPython magics: thin words over plain functions.

`%%adk` and `%%lk` cells are rewritten by an input transformer into a top-level `await` of
`run_cell(...)`, so IPython's own autoawait runs the agent on the kernel's loop: driving that
loop from inside a magic (nest_asyncio) hangs a real JupyterLab with live widgets (see
docs/architecture.md).
"""
from __future__ import annotations

import asyncio
import os
import re
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..core.failure import MARK, STOPPED_MARK

FRAMES = ("history", "timeline", "events", "artifacts", "invocations")
_CELL_MAGICS = ("adk", "lk")

# The objects the magics act on: the current ADK runner, LiveKit job, and whichever was last.
current: dict[str, Any] = {"adk": None, "lk": None, "last": None}


def help_text() -> str:
    """Every magic's help, from their docstrings (what `%adk?` shows)."""
    import inspect
    return "\n\n".join(f"%{'%' if cell else ''}{name}\n" + (inspect.getdoc(fn) or "")
                       for name, cell, fn in (("agentnb", False, AgentnbMagics.agentnb),
                                              ("adk", False, AgentnbMagics.adk),
                                              ("adk", True, AgentnbMagics.adk_cell),
                                              ("lk", False, AgentnbMagics.lk),
                                              ("lk", True, AgentnbMagics.lk_cell)))


def _fail(message: str) -> NoReturn:
    raise UsageError(f"agentnb: {message}")


def parse(line: str, positional: int, options: tuple[str, ...],
          usage: str) -> tuple[list[str], dict[str, str]]:
    """Split a magic's line into positionals and --options; a clear one-line error otherwise."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        _fail(f"{exc}; usage: {usage}")
    args: list[str] = []
    opts: dict[str, str] = {}
    while words:
        word = words.pop(0)
        if word.startswith("--"):
            name = word[2:]
            if name not in options:
                _fail(f"unknown option {word!r}; usage: {usage}")
            if not words:
                _fail(f"{word} needs a value; usage: {usage}")
            opts[name] = words.pop(0)
        else:
            args.append(word)
    if len(args) != positional:
        _fail(f"expected {positional} argument{'s' if positional != 1 else ''}, got {len(args)}; "
              f"usage: {usage}")
    return args, opts


def lookup(shell: Any, name: str) -> Any:
    """A variable of the user's namespace by (dotted) name, without evaluating any code."""
    first, *rest = name.split(".")
    if not first.isidentifier() or first not in shell.user_ns:
        _fail(f"no variable named {name!r}")
    value = shell.user_ns[first]
    for attr in rest:
        if not attr.isidentifier() or not hasattr(value, attr):
            _fail(f"{name!r} has no attribute {attr!r}")
        value = getattr(value, attr)
    return value


def _need(kind: str) -> Any:
    target = current[kind]
    if target is None:
        what = {"adk": "ADK runner: run %adk AGENT first", "lk": "LiveKit job: run %lk AGENT first",
                "last": "runner, job or trace: run %adk AGENT, %lk AGENT or %agentnb load PATH"}
        _fail(f"no current {what[kind]}")
    return target


def make_runner(shell: Any, line: str) -> Any:
    usage = "%adk AGENT [--app NAME] [--user ID] [--session ID]"
    (name,), opts = parse(line, 1, ("app", "user", "session"), usage)
    agent = lookup(shell, name)
    from google.adk.apps import App
    from google.adk.workflow import BaseNode  # any agent, or an ADK 2.x Workflow

    from ..adk import NotebookRunner
    if isinstance(agent, NotebookRunner):   # an existing runner becomes the current one
        if opts:
            _fail("--app, --user and --session apply to a new runner, not to an existing one")
        current["adk"] = current["last"] = agent
        return agent
    if not isinstance(agent, (BaseNode, App)):
        _fail(f"{name!r} is a {type(agent).__name__}, not an ADK agent or NotebookRunner")
    try:
        runner = NotebookRunner(agent, app_name=opts.get("app"),
                                user_id=opts.get("user", "user"), session_id=opts.get("session"))
    except (TypeError, ValueError) as exc:
        _fail(str(exc).removeprefix("agentnb: "))
    current["adk"] = current["last"] = runner
    return runner


def make_job(shell: Any, line: str) -> Any:
    usage = "%lk AGENT_OR_ENTRYPOINT [--room NAME] [--llm VAR] [--userdata VAR]"
    (name,), opts = parse(line, 1, ("room", "llm", "userdata"), usage)
    target = lookup(shell, name)
    given = {k: lookup(shell, opts[k]) for k in ("llm", "userdata") if k in opts}
    import inspect

    from ..livekit import NotebookJob
    if isinstance(target, NotebookJob):   # an existing job becomes the current one
        if opts:
            _fail("--room, --llm and --userdata apply to a new job, not to an existing one")
        current["lk"] = current["last"] = target
        return target
    kind = "entrypoint" if inspect.iscoroutinefunction(target) else "agent"
    try:
        job = NotebookJob(**{kind: target}, room=opts.get("room", "agentnb"), **given)
    except (TypeError, ValueError) as exc:
        _fail(str(exc).removeprefix("agentnb: "))
    current["lk"] = current["last"] = job
    return job


async def run_cell(magic: str, line: str, body: str) -> None:
    """What a `%%adk` / `%%lk` cell becomes: one turn with the cell as the user's message."""
    message = body.strip()
    if not message:
        _fail(f"%%{magic} needs a message in the cell body")
    if magic == "adk":
        (), opts = parse(line, 0, ("session",), "%%adk [--session ID]")
        await _need("adk").ask(message, session_id=opts.get("session"))
    else:
        parse(line, 0, (), "%%lk")
        job = _need("lk")
        if not job.started:
            await job.start()
        await job.ask(message)


def agentnb_command(shell: Any, line: str) -> Any:
    words = line.split(None, 1)
    if not words:
        print(help_text())
        return None
    command, rest = words[0], (words[1] if len(words) > 1 else "")
    if command in FRAMES:
        (), opts = parse(rest, 0, ("session",), f"%agentnb {command} [--session ID]")
        return getattr(_need("last"), command)(opts.get("session"))
    if command == "save":
        (path,), _ = parse(rest, 1, (), "%agentnb save PATH")
        return _need("last").save(path)
    if command == "load":
        (path,), _ = parse(rest, 1, (), "%agentnb load PATH")
        from ..core.codec import is_trace
        from ..core.recorded import load
        try:
            if is_trace(path) or not os.path.isfile(path):
                loaded = load(path)
            else:   # an ADK session file (`adk run --save_session`, `adk web`'s export)
                from ..adk.imported import load_session
                loaded = load_session(path)
        except (OSError, ValueError) as exc:
            _fail(str(exc).removeprefix("agentnb: "))
        current["last"] = loaded
        return loaded
    if command == "compare":
        (a, b), _ = parse(rest, 2, (), "%agentnb compare A B")
        from ..core.recorded import compare
        try:
            return compare(lookup(shell, a), lookup(shell, b))
        except TypeError as exc:
            _fail(str(exc).removeprefix("agentnb: "))
    if command in ("rewind", "fork"):
        # In a notebook the input transformer turns this line into an await of time_travel();
        # reached here, it was called from plain code, with no loop running.
        import asyncio
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(time_travel(command, rest))
        _fail(f"%agentnb {command} must stand on its own line of a cell (optionally `x = ...`)")
    _fail(f"unknown command {command!r}; run %agentnb for help")


async def time_travel(command: str, rest: str) -> Any:
    """`%agentnb rewind ID` / `%agentnb fork ID` on the current ADK runner."""
    (invocation_id,), _ = parse(rest, 1, (), f"%agentnb {command} INVOCATION_ID")
    runner = _need("adk")
    try:
        if command == "rewind":
            return await runner.rewind(before=invocation_id)
        child = await runner.fork(at=invocation_id)
    except ValueError as exc:
        _fail(str(exc).removeprefix("agentnb: "))
    current["adk"] = current["last"] = child
    return child


@magics_class
class AgentnbMagics(Magics):
    @line_magic
    def agentnb(self, line: str) -> Any:
        """agentnb's magics, and what the current runner, job or trace can do.

        %agentnb                                  this list
        %agentnb history|timeline|events|artifacts|invocations [--session ID]
                                                  a DataFrame of the current runner, job or trace
        %agentnb save PATH | load PATH            save the current trace / load a trace or an ADK session file
        %agentnb rewind INVOCATION_ID             ADK's rewind on the current runner
        x = %agentnb fork INVOCATION_ID           a new runner from the state after an invocation
        %agentnb compare A B                      keys whose final values differ

        Also: %adk, %%adk, %lk, %%lk (each has its own help: %adk?).
        """
        return agentnb_command(self.shell, line)

    @line_magic
    def adk(self, line: str) -> Any:
        """Make an ADK runner current and show its dashboard.

        %adk AGENT [--app NAME] [--user ID] [--session ID]
            AGENT is a variable holding an ADK agent: a new NotebookRunner runs it.
        %adk RUNNER
            an existing NotebookRunner becomes the current one.

        Then each %%adk cell is one user message to it, with a live card.
        """
        runner = make_runner(self.shell, line)
        from IPython.display import display
        if runner.display:
            display(runner.view())
        return runner

    @line_magic
    def lk(self, line: str) -> Any:
        """Make a LiveKit job current.

        %lk AGENT_OR_ENTRYPOINT [--room NAME] [--llm VAR] [--userdata VAR]
            a variable holding a LiveKit Agent (agentnb starts a text AgentSession for it) or an
            `async def entrypoint(ctx)` (it gets a real JobContext); or an existing NotebookJob.
            --llm VAR: the model (a variable, e.g. a ScriptedLLM) of the sessions and agents the
            job makes; --userdata VAR: their session's userdata.

        Then each %%lk cell is one user turn, with a live card.
        """
        return make_job(self.shell, line)

    @cell_magic("adk")  # type: ignore[arg-type]
    def adk_cell(self, line: str, cell: str) -> None:
        """The cell is one user message to the current ADK runner (%adk AGENT first).

        %%adk [--session ID]
        I like tea

        Its live card shows the invocation while it runs.
        """
        _fail("a %%adk cell runs through agentnb's input transformer; run %load_ext agentnb first")

    @cell_magic("lk")  # type: ignore[arg-type]
    def lk_cell(self, line: str, cell: str) -> None:
        """The cell is one user turn on the current LiveKit job (%lk AGENT first).

        %%lk
        What is on my list?

        Its live card shows the turn while it runs; the job starts on the first turn.
        """
        _fail("a %%lk cell runs through agentnb's input transformer; run %load_ext agentnb first")


_MODULE = "__import__('agentnb.jupyter.magics', fromlist=['run_cell'])"
_TIME_TRAVEL = re.compile(r"^(?:([A-Za-z_]\w*)\s*=\s*)?%agentnb\s+(rewind|fork)\b(.*)$")


def rewrite_async_magics(lines: list[str]) -> list[str]:
    """Input transformer: a `%%adk`/`%%lk` cell becomes `await run_cell(...)`, and a line
    `[x =] %agentnb rewind|fork ID` becomes `[x =] await time_travel(...)`."""
    if not lines:
        return lines
    first = lines[0].strip()
    for magic in _CELL_MAGICS:
        if first == f"%%{magic}" or first.startswith(f"%%{magic} "):
            line, body = first[len(magic) + 2:].strip(), "".join(lines[1:])
            return [f"await {_MODULE}.run_cell({magic!r}, {line!r}, {body!r})\n"]
    out = []
    for text in lines:
        match = _TIME_TRAVEL.match(text.rstrip("\n"))
        if match:
            target, command, rest = match.groups()
            text = (f"{target + ' = ' if target else ''}await {_MODULE}"
                    f".time_travel({command!r}, {rest.strip()!r})\n")
        out.append(text)
    return out


_INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


def _one_line_interrupt(shell: Any, etype: type, value: BaseException, tb: Any,
                        tb_offset: int | None = None) -> Any:
    """An interrupt of a run agentnb recorded is one line (its card says the rest); any other
    exception is shown as IPython would."""
    invocation = getattr(value, MARK, None)
    if invocation is None:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    else:
        how = "stopped" if getattr(value, STOPPED_MARK, False) else "interrupted"
        stb = [f"agentnb: {how}; invocation {invocation} is recorded as interrupted "
               f"(see its card)"]
    shell._showtraceback(etype, value, stb)   # the cell fails, so Run All stops here
    return stb


def load_ipython_extension(ip: Any) -> None:
    # IPython ships a shell alias `lk` (list links); the contract's %lk magic takes its name.
    if ip.alias_manager.is_alias("lk"):
        ip.alias_manager.undefine_alias("lk")
    ip.register_magics(AgentnbMagics)
    if rewrite_async_magics not in ip.input_transformers_cleanup:
        ip.input_transformers_cleanup.append(rewrite_async_magics)
    ip.set_custom_exc(_INTERRUPTS, _one_line_interrupt)


def unload_ipython_extension(ip: Any) -> None:
    if rewrite_async_magics in ip.input_transformers_cleanup:
        ip.input_transformers_cleanup.remove(rewrite_async_magics)
    if ip.custom_exceptions == _INTERRUPTS:
        ip.set_custom_exc((), None)
    for kind, names in (("line", ("agentnb", "adk", "lk")), ("cell", ("adk", "lk"))):
        for name in names:
            ip.magics_manager.magics[kind].pop(name, None)
    for key in current:
        current[key] = None
