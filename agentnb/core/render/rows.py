"""Fragments, one per record: escaped HTML rows and their one-line text faces.

A saved notebook keeps every card, and stores each `"` of its HTML as two bytes: attribute
values that are one constant word go unquoted (`class=anb-row`, valid HTML)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ..mask import mask_text, mask_value
from ..records import (ArtifactVersion, ContextSnapshot, Event, Fact, InvocationEnd,
                       InvocationStart, Session, StateChange)
from ..values import RASTER_IMAGES, safe_repr, same
from .escape import chip, clip, clock, esc, names, show

# The function calls through which ADK asks the client something and waits for its answer.
REQUESTS = {"adk_request_credential": "a credential", "adk_request_confirmation": "a confirmation"}


def event_html(e: Event, reveal: bool = False, author_before: str | None = None,
               calls: dict[str, int] | None = None, nested: bool = False) -> str:
    """One event's row. Its author is named when it differs from the row before's
    (`author_before`) and from its kind ("user"); calls are numbered (`calls`: call id ->
    number), the call carrying its full id as a tooltip; `nested`: an event of a run started by
    a tool call of the invocation shown (an AgentTool's run), indented under it."""
    calls = calls or {}
    parts = [f'<time>{clock(e.time)}</time>',
             chip(e.event_kind, f"anb-k-{esc(e.event_kind)}")]
    if e.author not in (author_before, e.event_kind):
        parts.append(esc(e.author))
    if e.code:
        parts += [chip(f"{k} {v}") for k, v in e.code.items() if v]
    if e.text:
        text = e.text if reveal else mask_value(e.text)
        parts.append(f'<pre class=anb-pre>{esc(clip(text, 1000))}</pre>' if e.code else
                     f'<span class=anb-text>{esc(clip(text, 600))}</span>')
    if e.output is not None:
        parts.append(f'<span class=anb-kv>output={show(e.output, reveal=reveal)}</span>')
    for c in e.function_calls:
        parts.append(f'<span class=anb-call title="{esc(c.get("id") or "")}">→ '
                     f'{call_label(c, calls)}({show(c["args"], reveal=reveal)})</span>')
    for r in e.function_responses:
        parts.append(f'<span class=anb-resp>← {call_label(r, calls)}: '
                     f'{show(r["response"], reveal=reveal)}</span>')
    if e.state_delta:
        parts.append(chip("state: " + names(e.state_delta)))
    if e.artifact_delta:
        parts.append(chip("artifact: " + names(f"{f} v{v}" for f, v in e.artifact_delta.items()),
                           "anb-art"))
    if e.transfer_to_agent:
        parts.append(chip(f"transfer → {e.transfer_to_agent}", "anb-transfer"))
    if e.escalate:
        parts.append(chip("escalate", "anb-transfer"))
    if e.auth_requests:
        parts.append(chip("auth requested", "anb-auth"))
    if e.long_running:
        parts.append(chip("waits for an answer", "anb-auth"))
    if e.error:
        parts.append(f'<span class=anb-error>{esc(clip(e.error))}</span>')
    row = '"anb-row anb-child anb-exposed"' if nested else "anb-row"
    return f'<div class={row}>{" ".join(parts)}</div>'


def call_label(call: dict[str, Any], calls: dict[str, int]) -> str:
    number = calls.get(call.get("id") or "")
    return esc(call["name"]) + (f" #{number}" if number else "")


def group_html(node: str | None, branch: str | None, nested: bool = False) -> str:
    """The head of a run of events from one workflow node or branch."""
    words = " · ".join(f"{name} {value}" for name, value in (("node", node), ("branch", branch))
                       if value)
    child = " anb-child anb-exposed" if nested else ""
    return f'<div class="anb-row anb-group anb-lane-title{child}">{esc(clip(words, 300))}</div>'


def nested_run_html(start: InvocationStart, end: InvocationEnd | None) -> str:
    """A run started by a tool call (ADK's AgentTool), as a row of its caller's card."""
    status = end.status if end else "running"
    return (f'<div class="anb-row anb-child anb-exposed">↳ {chip("nested run")} '
            f'<span class="anb-author">{esc(start.agent)}</span> {chip(status, f"anb-s-{esc(status)}")}'
            f' <span class="anb-prov">call {esc(start.parent_call_id or "")} · session '
            f'{esc(start.session_id)} · invocation {esc(start.invocation_id)}</span></div>')


def running_html(s: ContextSnapshot, number: int | None, reveal: bool = False) -> str:
    """A tool that has started and not returned (from its `before_tool_callback` context): its
    name, arguments and since when. The page turns `data-started` into a running clock."""
    name = {"name": s.exposed.get("tool", "?"), "id": s.function_call_id}
    label = call_label(name, {s.function_call_id or "": number} if number else {})
    return (f'<div class="anb-row anb-running">{chip("running", "anb-s-running")} '
            f'<span class=anb-call title="{esc(s.function_call_id or "")}">{label}'
            f'({show(s.exposed.get("args", {}), reveal=reveal)})</span> '
            f'<time data-started="{s.time:.3f}">since {clock(s.time)}</time> '
            f'<span class=anb-note>the state it writes shows when ADK applies it, with its '
            f'response</span></div>')


def change_html(c: StateChange, reveal: bool = False) -> str:
    """One state change; `seq` is its order among its session's changes (as in `history()`)."""
    temp = ' <span class=anb-note>invocation-only</span>' if c.scope == "temp" else ""
    kind = f" · {esc(c.context_kind)}" if c.context_kind else ""
    return (f'<div class="anb-row anb-change"><span class=anb-key>{esc(clip(c.key, 120))}</span> '
            f'<span class=anb-old>{show(c.old, c.key, reveal)}</span> → '
            f'<span class=anb-new>{show(c.new, c.key, reveal)}</span>{temp} '
            f'<span class=anb-prov>{esc(c.source)}{kind} · seq {c.seq}</span></div>')


def no_op(c: StateChange) -> bool:
    """A write of the value the key already had: `history()` keeps it, the lanes show changes.
    (A key that held None, or did not exist, cannot be told apart: such a write is shown.)"""
    return c.source != "initial" and c.old is not None and same(c.old, c.new)


_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}")


def artifact_html(a: ArtifactVersion) -> str:
    # An <img> only for a raster type whose preview is exactly a base64 data URL of that type.
    if a.mime_type in RASTER_IMAGES and _DATA_URL.fullmatch(a.preview) \
            and a.preview.startswith(f"data:{a.mime_type};"):
        preview = f'<img class=anb-img alt="{esc(a.filename)}" src="{esc(a.preview)}">'
    elif a.preview:
        preview = f'<pre class=anb-pre>{esc(clip(mask_value(a.preview), 1000))}</pre>'
    else:
        preview = ""
    return (f'<div class="anb-row anb-artifact"><span class=anb-key>{esc(clip(a.filename, 120))}</span> '
            f'{chip(f"v{a.version}")} <span class=anb-prov>{esc(a.mime_type or "?")} · '
            f'{a.size_bytes:,} bytes · {esc(a.source)}</span>{preview}</div>')


def context_html(s: ContextSnapshot, reveal: bool = False,
                 before: Sequence[dict[str, Any]] = (), first_of_kind: bool = True,
                 facts: dict[str, Any] | None = None) -> str:
    """One context a hook received and what it exposed. With `before` (what the previous
    context of its kind exposed, as `context_facts` gives it), only what differs is listed,
    and how many are unchanged: a card's rows say what is new at each hook."""
    exposed = context_facts(s) if facts is None else facts
    unchanged = [k for k, v in exposed.items()
                 if any(k in b and same(b[k], v) for b in before or ())]
    # A card has many of these rows and a saved notebook keeps every card: lean markup.
    shown = " · ".join(f'{esc(k)}={show(v, k, reveal, 120)}'
                       for k, v in exposed.items() if k not in unchanged)
    shown = f"<code>{shown}</code>" if shown else ""
    if unchanged:
        shown += f'<i>+{len(unchanged)} unchanged</i>'
    kind = (f"{s.context_kind} (class {s.actual_class})"
            if first_of_kind and s.actual_class != s.context_kind else s.context_kind)
    return f'<div class="anb-row anb-context">{esc(s.hook)} <b>{esc(kind)}</b> {shown}</div>'


def context_facts(s: ContextSnapshot) -> dict[str, Any]:
    """What a context row shows: the agent, the call, how many state keys, what it exposed."""
    facts = {"agent": s.agent, "function_call_id": s.function_call_id,
             "state keys": len(s.state), **s.exposed}
    return {k: v for k, v in facts.items() if v not in (None, "", [], {})}


def context_line(s: ContextSnapshot) -> str:
    """One line per context, for the dashboard: each invocation's card has the full rows."""
    return (f'<div class="anb-row anb-context"><time>{clock(s.time)}</time> '
            f'{_context_words(s.hook, s.context_kind, s.agent, s.actual_class)}</div>')


@lru_cache(maxsize=256)
def _context_words(hook: str, kind: str, agent: str | None, actual_class: str) -> str:
    # A run repeats a few (hook, kind, agent, class): a dashboard line per context costs a
    # lookup, not five escapes.
    about = [f"agent {esc(agent)}"] if agent else []
    if actual_class != kind:
        about.append(f"class {esc(actual_class)}")
    return f'{esc(hook)} <b>{esc(kind)}</b> <span class=anb-prov>{" · ".join(about)}</span>'


JOB_TOPICS = ("job", "process", "room", "connection", "participant", "track", "data", "text",
              "models", "room_io", "shutdown", "call")


def fact_section(topic: str) -> str:
    """Where a fact goes: LiveKit's job facts and log records have sections of their own."""
    return "job" if topic in JOB_TOPICS else "logs" if topic == "log" else "facts"


def log_html(f: Fact, reveal: bool = False) -> str:
    d = f.data
    fields = "".join(f'<span class=anb-kv>{esc(k)}={show(v, k, reveal, 120)}</span>'
                     for k, v in (d.get("fields") or {}).items())
    return (f'<div class="anb-row anb-log"><time>{clock(f.time)}</time> '
            f'{chip(d.get("level", ""), "anb-topic")} <span class=anb-prov>{esc(d.get("logger", ""))}</span> '
            f'<span class=anb-text>{esc(clip(mask_value(d.get("message", "")) if not reveal else d.get("message", ""), 300))}</span> '
            f'{fields}</div>')


# What each kind of fact is called on its row.
FACT_NAMES = {"memory_search": "memory search", "memory_add": "memory add",
              "auth_request": "auth request", "usage": "usage", "end_invocation": "end_invocation",
              "tool_error": "tool error", "model_error": "model error", "rewind": "rewind",
              "fork": "fork", "expect": "expect"}


def fact_html(f: Fact, reveal: bool = False, calls: dict[str, int] | None = None) -> str:
    """A fact as a named row that says what happened, in words and numbers; a topic with no
    words of its own lists its fields."""
    if f.topic == "log":
        return log_html(f, reveal)
    words = _fact_words(f, reveal, calls or {})
    if words is None:
        words = "".join(f'<span class=anb-kv>{esc(k)}={show(v, k, reveal, 200)}</span>'
                        for k, v in f.data.items() if v not in (None, "", [], {}))
    return (f'<div class="anb-row anb-fact"><time>{clock(f.time)}</time> '
            f'{chip(FACT_NAMES.get(f.topic, f.topic), "anb-topic")} {words}</div>')


def _by(d: dict[str, Any], calls: dict[str, int]) -> str:
    """`by tool #n`, for a fact a tool call caused."""
    if not d.get("tool"):
        return ""
    return " by " + call_label({"name": d["tool"], "id": d.get("function_call_id")}, calls)


def _fact_words(f: Fact, reveal: bool, calls: dict[str, int]) -> str | None:
    d, topic = f.data, f.topic
    if topic == "memory_search":
        hits = d.get("hits") or []
        texts = " · ".join(show(h.get("text", ""), None, reveal, 120) for h in hits[:5]
                           if isinstance(h, dict))
        return (f'<q>{esc(clip(mask_value(d.get("query", "")), 200))}</q>{_by(d, calls)} → '
                f'{len(hits)} hit{"" if len(hits) == 1 else "s"}{": " + texts if texts else ""}')
    if topic == "memory_add":
        return f'session {esc(d.get("session_id", ""))} ({d.get("events", 0)} events) added'
    if topic == "auth_request":
        config: dict[str, Any] = d["auth_config"] if isinstance(d.get("auth_config"), dict) else {}
        scheme = config.get("authScheme") or config.get("auth_scheme") or {}
        how = " ".join(str(scheme.get(k) or scheme.get(f"{k}_")) for k in ("type", "in", "name")
                       if isinstance(scheme, dict) and (scheme.get(k) or scheme.get(f"{k}_")))
        return f"a credential{f' ({esc(how)})' if how else ''} asked{_by(d, calls)}; the run waits"
    if topic == "usage":
        return " · ".join(_usage(u) for u in d.get("model_usage") or [] if isinstance(u, dict))
    if topic == "end_invocation":
        return (f"set by agent {esc(d.get('agent') or '?')}: the invocation ended before its "
                f"agents were done")
    if topic == "tool_error":
        lost = d.get("lost_state_writes") or {}
        return (f'{call_label({"name": d.get("tool", "?"), "id": d.get("function_call_id")}, calls)}: '
                f'<span class=anb-error>{esc(clip(mask_text(str(d.get("error", ""))), 300))}</span>'
                f'{f" · state writes lost: {esc(names(lost))}" if lost else ""}')
    if topic == "model_error":
        return (f'agent {esc(d.get("agent") or "?")}: '
                f'<span class=anb-error>{esc(clip(mask_text(str(d.get("error", ""))), 300))}</span>')
    if topic == "rewind":
        return f"the session went back to before invocation {esc(d.get('before', ''))}"
    if topic == "expect":   # a LiveKit RunResult.expect check made in the cell
        held = chip("held", "anb-s-ok") if d.get("passed") else chip("failed", "anb-s-error")
        why = (f' <span class=anb-error>{esc(clip(mask_text(str(d["message"])), 300))}</span>'
               if d.get("message") else "")
        return f'{held} <code>{esc(clip(mask_text(str(d.get("check", ""))), 300))}</code>{why}'
    if topic == "fork":
        over = d.get("overrides") or []
        return (f"forked into session {esc(d.get('child_session_id', ''))}"
                f"{f' (overriding {esc(names(over))})' if over else ''}")
    return None


def _usage(u: dict[str, Any]) -> str:
    """One model's usage as numbers: its input and output tokens, and the other counts that are
    not zero."""
    counts = [f"{esc(k.removesuffix('_tokens').replace('_', ' '))} "
              f"{f'{v:,}' if isinstance(v, int) else f'{v:,.2f}'}"
              + (" tokens" if k.endswith("_tokens") else "")
              for k, v in u.items() if k not in ("type", "provider", "model")
              and isinstance(v, int | float) and not isinstance(v, bool)
              and (v or k in ("input_tokens", "output_tokens"))]
    kind = str(u.get("type", "")).removesuffix("_usage")
    who = " ".join(esc(x) for x in (kind, u.get("model")) if x)
    return f"<b>{who}</b> {', '.join(counts) or 'no counts'}"


def session_words(session: Session) -> tuple[str, str]:
    """Where a session runs and who runs it, in its framework's words."""
    if session.framework == "livekit":
        return f"room {session.app}", f"agent {session.user}"
    return f"app {session.app}", f"user_id {session.user}"


def invocation_head(start: InvocationStart, end: InvocationEnd | None, session: Session | None,
                    ended_early: bool = False, branch: str | None = None,
                    number: int | None = None, waiting: str | None = None,
                    resumed_at: float | None = None, speaking: str | None = None) -> str:
    """The card's head: number, status (a run that ended asking the client for something
    says it waits), time, and who said what. `resumed_at`: when the run resumed after an
    answer (the time counts from then); `speaking`: the agent a handoff in it passed the
    conversation to (an agent or an AgentTask), when it is not the one the turn began with."""
    status = end.status if end else "running"
    label = status
    if end and status in ("ok", "waiting") and waiting:
        status, label = "waiting", f"waiting for {waiting}"
    took = f" · {end.time - (resumed_at or start.time):.3f} s" if end else ""
    if resumed_at is not None:
        took += " · resumed after an answer"
    if ended_early:
        took += " " + chip("end_invocation", "anb-transfer")
    err = f' <span class=anb-error>{esc(clip(end.error))}</span>' if end and end.error else ""
    if end and end.traceback:   # the whole of it, folded: the cell shows only the user's frames
        err += (f'<details class=anb-tb><summary>full traceback</summary><pre class=anb-pre>'
                f'{esc(clip(mask_text(end.traceback), 8000))}</pre></details>')
    who = " · ".join(map(esc, session_words(session))) + " · " if session else ""
    if start.parent_invocation_id:
        who += (f"nested in {esc(start.parent_invocation_id)} (call "
                f"{esc(start.parent_call_id or '')}) · ")
    return (f'<div class=anb-head><span class=anb-title title="{esc(start.invocation_id)}">'
            f'invocation {f"#{number}" if number else esc(start.invocation_id)}</span> '
            f'{chip(label, f"anb-s-{esc(status)}")}{took}{err}<div class=anb-sub>{who}'
            f'session {esc(start.session_id)} · agent {esc(start.agent)}'
            f'{f" · speaking now: <b>{esc(speaking)}</b>" if speaking else ""}'
            f'{f" · branch {esc(branch)}" if branch else ""} · user said: '
            f'<q>{esc(clip(mask_value(start.user_text), 300))}</q></div></div>')


def invocation_line(start: InvocationStart, end: InvocationEnd, number: int | None,
                    waiting: str | None = None) -> str:
    """One invocation as a dashboard row: number, status, time, agent, what the user said."""
    err = f' <span class=anb-error>{esc(clip(end.error, 120))}</span>' if end.error else ""
    status, label = end.status, end.status
    if status in ("ok", "waiting") and waiting:
        status, label = "waiting", f"waiting for {waiting}"
    return (f'<div class=anb-row title="{esc(start.invocation_id)} · session '
            f'{esc(start.session_id)}">#{number or "?"} {chip(label, f"anb-s-{esc(status)}")} '
            f'{end.time - start.time:.3f} s · {esc(start.agent)} · '
            f'<q>{esc(clip(mask_value(start.user_text), 120))}</q>{err}</div>')


def short(value: Any, key: object, reveal: bool) -> str:
    if not reveal:
        value = mask_value(value, key)
    text = safe_repr(value)
    return clip(text if reveal else mask_text(text), 80)


def event_text(e: Event) -> str:
    bits = [f"{e.event_kind:<17}" + ("" if e.author == e.event_kind else f" {e.author}")]
    if e.text:
        bits.append(repr(clip(mask_value(e.text), 80)))
    bits += [f"call {c['name']}({clip(repr(mask_value(c['args'])), 60)})" for c in e.function_calls]
    bits += [f"response {r['name']}" for r in e.function_responses]
    if e.state_delta:
        bits.append(f"state {sorted(map(str, e.state_delta))}")
    if e.error:
        bits.append(f"error {clip(e.error, 80)}")
    return " ".join(bits)
