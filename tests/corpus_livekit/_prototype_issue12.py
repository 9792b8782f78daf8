"""REFERENCE ONLY, not imported by any test: a monkeypatch prototype of the issue-12 fixes,
written against agentnb/livekit.py as of fb196a9 (before the split into a package), used to
check that tests/test_livekit_corpus.py is satisfiable: with it, tests/test_livekit.py,
test_livekit_faults.py and test_livekit_corpus.py pass except the `%lk --llm/--userdata` test
(magic not prototyped). Try it:

    AGENTNB_PROTO=1 PYTHONPATH=.:tests:/dir/of/sitecustomize python -m pytest tests/test_livekit_corpus.py

with a sitecustomize.py doing `import corpus_livekit._prototype_issue12` when AGENTNB_PROTO=1
(the subprocess test needs it too). Delete this file once the adapter implements the items.
"""
import asyncio, concurrent.futures, contextvars, copy, inspect, json, logging, time
import agentnb.livekit as L
from agentnb._steps import Reply, Call, ScriptRanOut, normalize

_current_job = contextvars.ContextVar("agentnb_job", default=None)

orig_init = L.NotebookJob.__init__
def __init__(self, *, agent=None, entrypoint=None, llm=None, userdata=None, prewarm=None, **kw):
    if entrypoint is not None:
        orig_init(self, entrypoint=entrypoint, **kw)
        self.llm, self.userdata = llm, None
        self.session_userdata = userdata
    else:
        orig_init(self, agent=agent, llm=llm, userdata=userdata, **kw)
        self.session_userdata = None
    if prewarm is not None and not callable(prewarm):
        raise TypeError("prewarm must be callable")
    self.prewarm = prewarm
L.NotebookJob.__init__ = __init__

async def _start_server(self) -> None:
    from livekit.agents import AgentServer, JobExecutorType
    self._server = server = AgentServer(
        job_executor_type=JobExecutorType.THREAD, host="127.0.0.1", load_fnc=lambda: 0.0,
        num_idle_processes=1, shutdown_process_timeout=L.SERVER_CLOSE_S,
        setup_fnc=None if self.prewarm is None else self._guarded_prewarm,
        ws_url=self.server_url, api_key=self._api_key, api_secret=self._api_secret)
    server.rtc_session(self._run_entrypoint)
    worker_started = concurrent.futures.Future()
    server.once("worker_started", lambda: L._resolve(worker_started))
    running = self._loop_thread.submit(server.run(devmode=True, unregistered=True))
    try:
        await L._first(worker_started, running, timeout=L.START_TIMEOUT_S)
    finally:
        L._restore_livekit_env(self._env_before)
    if running.done():
        running.result()
        raise RuntimeError("stopped")
L.NotebookJob._start_server = _start_server

def _guarded_prewarm(self, proc):
    try:
        self.prewarm(proc)
    except Exception as exc:   # raised here it would kill LiveKit's job thread
        self._prewarm_error = exc
L.NotebookJob._guarded_prewarm = _guarded_prewarm

orig_run_entrypoint = L.NotebookJob._run_entrypoint
async def _run_entrypoint(self, ctx):
    _current_job.set(self)
    error = getattr(self, "_prewarm_error", None)
    if error is not None:
        user = self.entrypoint
        async def failing(ctx):
            raise error
        self.entrypoint = failing
    return await orig_run_entrypoint(self, ctx)
L.NotebookJob._run_entrypoint = _run_entrypoint

orig_turn = L.NotebookJob._turn
async def _turn(self, session, text, invocation_id):
    try:
        await asyncio.wait_for(session.wait_for_idle(), 5)
    except Exception:
        pass
    return await orig_turn(self, session, text, invocation_id)
L.NotebookJob._turn = _turn

orig_on_log = L.NotebookJob._on_log
def _on_log(self, record):
    orig_on_log(self, record)
    if (record.levelno >= logging.ERROR and self._invocation and record.name.startswith("livekit")
            and not hasattr(record, "function")   # a tool's failure: reported by its output
            and L._job_context() is self._ctx):
        self._turn_errors.setdefault(self._invocation, []).append(record.getMessage()[:200])
L.NotebookJob._on_log = _on_log

orig_tool_update = L.NotebookJob._on_tool_update.__wrapped__
@L._never_raises
def _on_tool_update(self, ev):
    update = ev.update
    if update.type == "tool_call_started":
        self._record_call(update.function_call)
    elif update.type == "tool_call_ended" and update.status == "error":
        self._call_errors[update.call_id] = update.message
L.NotebookJob._on_tool_update = _on_tool_update

@L._never_raises
def _on_tools_executed(self, ev):
    from agentnb._records import Event
    for fc in ev.function_calls:
        if fc.call_id not in self._call_names:
            self._record_call(fc)
    responses = []
    for out in ev.function_call_outputs:
        if out is None:
            continue
        message = self._call_errors.pop(out.call_id, None)
        tool_error = out.is_error and message == out.output
        responses.append({"id": out.call_id, "name": out.name, "response": out.output,
                          "is_error": out.is_error})
        if out.is_error and not tool_error and self._invocation:
            self._turn_errors.setdefault(self._invocation, []).append(f"{out.name}: {message or out.output}")
    names = {fc.name for fc in ev.function_calls}
    source = f"tool:{names.pop()}" if len(names) == 1 else "userdata"
    event_id = L._new_id("ev")
    changes = self._userdata_changes(event_id, source)
    self._append(Event(self.session_id, self._invocation, event_id, ev.created_at,
                       self._agent_id(self._session), "function_response",
                       function_responses=responses,
                       state_delta={c.key: c.new for c in changes}), *changes)
L.NotebookJob._on_tools_executed = _on_tools_executed

def install_livekit_patches():
    from livekit.agents import Agent, AgentSession, room_io
    from livekit.agents.utils import is_given
    from livekit.agents.types import NOT_GIVEN
    if getattr(AgentSession, "_proto", False):
        return
    AgentSession._proto = True
    o_sinit, o_ainit, o_start = AgentSession.__init__, Agent.__init__, AgentSession.start

    def s_init(self, *a, **kw):
        job = _current_job.get()
        if job is not None and job.entrypoint is not None:
            if job.llm is not None:
                kw["llm"] = job.llm
            if job.session_userdata is not None:
                kw["userdata"] = job.session_userdata
        o_sinit(self, *a, **kw)

    def a_init(self, *a, **kw):
        job = _current_job.get()
        if job is not None and job.entrypoint is not None and job.llm is not None:
            given = kw.get("llm", NOT_GIVEN)
            if is_given(given) and given is not None:
                kw["llm"] = job.llm
        o_ainit(self, *a, **kw)

    async def start(self, agent, **kw):
        job = _current_job.get()
        if job is not None and job.entrypoint is not None:
            if is_given(kw.get("room", NOT_GIVEN)) and not job.server_url:
                opts = room_io.RoomOptions._ensure_options(
                    kw.pop("room_options", NOT_GIVEN),
                    room_input_options=kw.pop("room_input_options", NOT_GIVEN),
                    room_output_options=kw.pop("room_output_options", NOT_GIVEN))
                opts = copy.copy(opts)
                if not is_given(opts.audio_output):
                    opts.audio_output = False
                if not is_given(opts.audio_input):
                    opts.audio_input = False
                kw["room_options"] = opts
            if job._session is None:
                job._attach(self)
        return await o_start(self, agent, **kw)

    AgentSession.__init__, Agent.__init__, AgentSession.start = s_init, a_init, start

    SL = L._scripted_llm_class()
    cells = dict(zip(SL.chat.__code__.co_freevars, SL.chat.__closure__))
    Stream = cells["_ScriptedStream"].cell_contents
    o_chat = SL.chat
    def chat(self, *, chat_ctx, tools=None, tool_choice=NOT_GIVEN, **kw):
        stream = o_chat(self, chat_ctx=chat_ctx, tools=tools, tool_choice=tool_choice, **kw)
        from livekit.agents.voice.agent_activity import _AgentActivityContextVar
        act = _AgentActivityContextVar.get(None)
        stream._agentnb_extra = {"tools": list(tools or []), "tool_choice": tool_choice,
                                 "agent": act.agent if act is not None else None}
        return stream
    SL.chat = chat
    async def _run(self):
        from livekit.agents import llm, utils
        script = self._llm._script
        with script._lock:
            index = script.calls
            script.calls += 1
        if script.steps is None:
            step = [Reply(L._last_user_text(self._chat_ctx))]
        else:
            if index >= len(script.steps):
                raise ScriptRanOut(f"agentnb: ScriptedLLM ran out of steps: it had {len(script.steps)} steps and this is model call {index + 1}")
            step = script.steps[index]
            if callable(step) and not isinstance(step, (Reply, Call)):
                extra = getattr(self, "_agentnb_extra", {})
                params = inspect.signature(step).parameters
                if any(p.kind == p.VAR_KEYWORD for p in params.values()):
                    kwargs = extra
                else:
                    kwargs = {k: v for k, v in extra.items() if k in params}
                step = step(self._chat_ctx, **kwargs)
            step = normalize(step, "ScriptedLLM", index)
        if isinstance(step[0], Call):
            delta = llm.ChoiceDelta(role="assistant", tool_calls=[
                llm.FunctionToolCall(name=c.name, arguments=json.dumps(c.args),
                                     call_id=utils.shortuuid("call_")) for c in step])
        else:
            delta = llm.ChoiceDelta(role="assistant", content=step[0].text)
        self._event_ch.send_nowait(llm.ChatChunk(id=utils.shortuuid("scripted_"), delta=delta))
    Stream._run = _run

orig_import = L._import_livekit
def _import_livekit():
    orig_import()
    install_livekit_patches()
L._import_livekit = _import_livekit

# item 6: who is speaking = the agent of the activity LiveKit runs the callback in
orig_agent_id = L.NotebookJob._agent_id
def _agent_id(self, session):
    try:
        from livekit.agents.voice.agent_activity import _AgentActivityContextVar
        act = _AgentActivityContextVar.get(None)
        if act is not None and act.agent is not None:
            return act.agent.id
    except Exception:
        pass
    return orig_agent_id(self, session)
L.NotebookJob._agent_id = _agent_id

# item 6: the card head names who speaks after a handoff
import agentnb._render as R
orig_add_one = R.Sections._add_one
def _add_one(self, r, ops):
    changed = orig_add_one(self, r, ops)
    if (self.invocation_id is not None and r.kind == "event" and r.event_kind == "handoff"
            and getattr(r, "invocation_id", None) == self.invocation_id):
        self._speaking = r.transfer_to_agent
        return True
    return changed
R.Sections._add_one = _add_one
orig_head = R.Sections._invocation_head
def _invocation_head(self):
    head = orig_head(self)
    speaking = getattr(self, "_speaking", None)
    if speaking:
        head = head.replace("</div></div>", f" · speaking now: {R.esc(speaking)}</div></div>", 1)
    return head
R.Sections._invocation_head = _invocation_head

# item 3: snapshots that copy plain values and keep live objects by identity
import dataclasses as _dc
from collections.abc import Mapping as _Mapping
_ATOMS = (str, int, float, bool, type(None), bytes)

class _Ref:
    __slots__ = ("obj",)
    def __init__(self, obj): self.obj = obj
    def __eq__(self, other): return isinstance(other, _Ref) and other.obj is self.obj
    def __hash__(self): return id(self.obj)
    def __repr__(self):
        from agentnb._render import safe_repr, clip
        return clip(safe_repr(self.obj), 200)

def _faithful(v, depth=0):
    if depth > 20: return False
    if isinstance(v, _ATOMS): return True
    import types as _t
    if isinstance(v, (_t.FunctionType, _t.BuiltinFunctionType, _t.MethodType, type)): return True
    if isinstance(v, (list, tuple, set, frozenset)): return all(_faithful(x, depth+1) for x in v)
    if isinstance(v, dict): return all(_faithful(k, depth+1) and _faithful(x, depth+1) for k, x in v.items())
    try:
        from pydantic import BaseModel
        if isinstance(v, BaseModel): return _faithful(v.model_dump(), depth+1)
    except Exception: pass
    if _dc.is_dataclass(v) and not isinstance(v, type):
        return all(_faithful(getattr(v, f.name), depth+1) for f in _dc.fields(v))
    return False

def _snap(v, depth=0):
    if isinstance(v, _ATOMS): return v
    if _faithful(v):
        return copy.deepcopy(v)
    if depth < 3 and type(v) in (list, tuple):
        return type(v)(_snap(x, depth+1) for x in v)
    if depth < 3 and type(v) is dict:
        return {k: _snap(x, depth+1) for k, x in v.items()}
    return _Ref(v)

def _fields_of(userdata):
    if userdata is None: return {}
    if _dc.is_dataclass(userdata) and not isinstance(userdata, type):
        return {f.name: _snap(getattr(userdata, f.name)) for f in _dc.fields(userdata)}
    if isinstance(userdata, _Mapping):
        return {str(k): _snap(v) for k, v in userdata.items()}
    if callable(getattr(userdata, "model_dump", None)):
        return {k: _snap(getattr(userdata, k)) for k in userdata.model_dump()}
    if hasattr(userdata, "__dict__"):
        return {k: _snap(v) for k, v in vars(userdata).items() if not k.startswith("_")}
    return {"userdata": _snap(userdata)}
L._fields_of = _fields_of

# item 4: payment data masked by key and by Luhn value
import re as _re
import agentnb._mask as M
M._SECRET_WORDS |= {"cvv", "cvc", "cvv2", "expiry", "cardnumber", "pan"}
M._names_a_secret.cache_clear()
_CARDISH = _re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
def _luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2: d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
o_mask_text = M.mask_text
def mask_text(text):
    if not isinstance(text, str): return text
    text = o_mask_text(text)
    def sub(m):
        digits = _re.sub(r"[ -]", "", m.group())
        return M.MASK if 13 <= len(digits) <= 19 and _luhn(digits) else m.group()
    return _CARDISH.sub(sub, text)
_PAYMENT = {"cvv", "cvc", "cvv2", "expiry", "cardnumber"}
o_mask_value = M.mask_value
def mask_value(value, key=None):
    if key is not None and M.is_secret_key(key) and value is not None and isinstance(value, (int, float)) \
            and not isinstance(value, bool) and any(w in str(key).lower().replace("_", "") for w in _PAYMENT):
        return M.MASK
    if isinstance(value, _Ref):
        return mask_text(repr(value))
    if _dc.is_dataclass(value) and not isinstance(value, type):
        if key is not None and M.is_secret_key(key): return M.MASK
        return {f.name: mask_value(getattr(value, f.name), f.name) for f in _dc.fields(value)}
    try:
        from pydantic import BaseModel
        if isinstance(value, BaseModel):
            return mask_value(value.model_dump(), key)
    except Exception: pass
    if isinstance(value, str) and not (key is not None and M.is_secret_key(key)):
        return mask_text(value)
    if isinstance(value, dict):
        if key is not None and M.is_secret_key(key): return M.MASK
        return {mask_text(k) if isinstance(k, str) else mask_value(k): mask_value(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if key is not None and M.is_secret_key(key): return M.MASK
        return [mask_value(v) for v in value]
    return o_mask_value(value, key)
M.mask_text, M.mask_value = mask_text, mask_value
import agentnb._render as _R, agentnb._frames as _F, agentnb._persist as _P
for _mod in (_R, _F, _P):
    for _name in ("mask_text", "mask_value"):
        if hasattr(_mod, _name): setattr(_mod, _name, getattr(M, _name))
def _shown(value, key, reveal):
    if reveal or value is None:
        return value
    return mask_value(value, key)
_F._shown = _shown
