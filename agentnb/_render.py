"""Pure renderers: records -> escaped HTML fragments and plain text. One path for every face:
the live widget inserts the same fragments the static snapshot is made of.

Everything that came from an agent, a user or a tool goes through `esc`, and through masking.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import re
from functools import lru_cache
from importlib import resources

from ._mask import mask_text, mask_value

MAX_ROWS = 200          # rows a section keeps in a snapshot (and in the live view)
CONTEXT_ROWS = 50       # context rows are many (about ten per invocation): fewer are kept
MAX_CELL = 300          # characters of one value shown
LANES = ("app", "user", "session", "temp", "userdata", "attributes")
LANE_TITLES = {"app": "app: (every user of the app)", "user": "user: (this user, every session)",
               "session": "session (this conversation)", "temp": "temp: (this invocation only)",
               "userdata": "userdata (LiveKit session)", "attributes": "participant attributes"}
# Characters that can reorder or hide text (Unicode "Cf": bidi controls, zero-width joiners,
# invisible operators, tag characters used to smuggle hidden text): shown as visible codes.
_INVISIBLE = re.compile("[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
                        "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
                        "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]")


def visible(text: str) -> str:
    """`text` with every invisible or reordering character shown as its code."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def esc(value) -> str:
    """Text safe to put in HTML content or a quoted attribute."""
    text = html.escape(str(value), quote=True)
    return text if text.isascii() else visible(text)   # every invisible character is non-ASCII


def safe_repr(value) -> str:
    """repr() that never raises: an object whose repr fails is named, not allowed to break a view."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object; repr failed: {type(exc).__name__}>"


def clip(text: str, limit: int = MAX_CELL) -> str:
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit:,} chars)"


def show(value, key=None, reveal=False, limit=MAX_CELL) -> str:
    """A value as short escaped text, masked unless `reveal`."""
    if not reveal:
        value = mask_value(value, key)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=safe_repr)
        except (TypeError, ValueError):
            text = safe_repr(value)
    if not reveal:   # secrets inside an object's repr, a set, a key
        text = mask_text(text)
    return esc(clip(text, limit))


def clock(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return resources.files("agentnb").joinpath("static/agentnb.css").read_text(encoding="utf-8")


# --- fragments, one per record -----------------------------------------------------------------

def _chip(text, cls="") -> str:
    return f'<span class="anb-chip {cls}">{esc(text)}</span>'


def _names(names, limit: int = 20) -> str:
    """The first `limit` names, and how many more there are."""
    names = [clip(str(n), 80) for n in names]
    more = f" (+{len(names) - limit:,} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def event_html(e, reveal=False) -> str:
    parts = [f'<span class="anb-time">{clock(e.time)}</span>',
             _chip(e.event_kind, f"anb-k-{esc(e.event_kind)}"),
             f'<span class="anb-author">{esc(e.author)}</span>']
    if e.text:
        text = e.text if reveal else mask_value(e.text)
        parts.append(f'<span class="anb-text">{esc(clip(text, 600))}</span>')
    for c in e.function_calls:
        parts.append(f'<span class="anb-call">→ {esc(c["name"])}({show(c["args"], reveal=reveal)})'
                     f' <span class="anb-id">{esc(c.get("id") or "")}</span></span>')
    for r in e.function_responses:
        parts.append(f'<span class="anb-resp">← {esc(r["name"])}: {show(r["response"], reveal=reveal)}'
                     f' <span class="anb-id">{esc(r.get("id") or "")}</span></span>')
    if e.state_delta:
        parts.append(_chip("state: " + _names(e.state_delta), "anb-state"))
    if e.artifact_delta:
        parts.append(_chip("artifact: " + _names(f"{f} v{v}" for f, v in e.artifact_delta.items()),
                           "anb-art"))
    if e.transfer_to_agent:
        parts.append(_chip(f"transfer → {e.transfer_to_agent}", "anb-transfer"))
    if e.escalate:
        parts.append(_chip("escalate", "anb-transfer"))
    if e.auth_requests:
        parts.append(_chip("auth requested", "anb-auth"))
    if e.error:
        parts.append(f'<span class="anb-error">{esc(clip(e.error))}</span>')
    return f'<div class="anb-row anb-event">{" ".join(parts)}</div>'


def change_html(c, reveal=False) -> str:
    temp = ' <span class="anb-note">invocation-only</span>' if c.scope == "temp" else ""
    kind = f" · {esc(c.context_kind)}" if c.context_kind else ""
    return (f'<div class="anb-row anb-change"><span class="anb-key">{esc(clip(c.key, 120))}</span> '
            f'<span class="anb-old">{show(c.old, c.key, reveal)}</span> → '
            f'<span class="anb-new">{show(c.new, c.key, reveal)}</span>{temp} '
            f'<span class="anb-prov">{esc(c.source)}{kind} #{c.seq}</span></div>')


RASTER_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}")


def artifact_html(a) -> str:
    # An <img> only for a raster type whose preview is exactly a base64 data URL of that type.
    if a.mime_type in RASTER_IMAGES and _DATA_URL.fullmatch(a.preview) \
            and a.preview.startswith(f"data:{a.mime_type};"):
        preview = f'<img class="anb-img" alt="{esc(a.filename)}" src="{esc(a.preview)}">'
    elif a.preview:
        preview = f'<pre class="anb-pre">{esc(clip(mask_value(a.preview), 1000))}</pre>'
    else:
        preview = ""
    return (f'<div class="anb-row anb-artifact"><span class="anb-key">{esc(clip(a.filename, 120))}</span> '
            f'{_chip(f"v{a.version}")} <span class="anb-prov">{esc(a.mime_type or "?")} · '
            f'{a.size_bytes:,} bytes · {esc(a.source)}</span>{preview}</div>')


def context_html(s, reveal=False) -> str:
    exposed = {k: v for k, v in s.exposed.items() if v not in (None, "", [], {})}
    shown = "".join(f'<span class="anb-kv">{esc(k)}={show(v, k, reveal, 120)}</span>'
                    for k, v in exposed.items())
    fc = f' <span class="anb-id">function_call_id={esc(s.function_call_id)}</span>' if s.function_call_id else ""
    return (f'<div class="anb-row anb-context"><span class="anb-time">{clock(s.time)}</span> '
            f'<span class="anb-hook">{esc(s.hook)}</span> {_chip(s.context_kind, "anb-ctx")}'
            f'<span class="anb-prov">received {esc(s.actual_class)}</span>{fc} '
            f'<span class="anb-prov">agent={esc(s.agent or "")} · {len(s.state)} state keys</span>'
            f'<div class="anb-exposed">{shown}</div></div>')


def context_line(s) -> str:
    """One line per context, for the dashboard: each invocation's card has the full rows."""
    return (f'<div class="anb-row anb-context"><span class="anb-time">{clock(s.time)}</span> '
            f'<span class="anb-hook">{esc(s.hook)}</span> {_chip(s.context_kind, "anb-ctx")}'
            f'<span class="anb-prov">received {esc(s.actual_class)} · agent={esc(s.agent or "")}</span></div>')


JOB_TOPICS = ("job", "process", "room", "connection", "participant", "shutdown")


def fact_section(topic: str) -> str:
    """Where a fact goes: LiveKit's job facts and log records have sections of their own."""
    return "job" if topic in JOB_TOPICS else "logs" if topic == "log" else "facts"


def log_html(f, reveal=False) -> str:
    d = f.data
    fields = "".join(f'<span class="anb-kv">{esc(k)}={show(v, k, reveal, 120)}</span>'
                     for k, v in (d.get("fields") or {}).items())
    return (f'<div class="anb-row anb-log"><span class="anb-time">{clock(f.time)}</span> '
            f'{_chip(d.get("level", ""), "anb-topic")} <span class="anb-prov">{esc(d.get("logger", ""))}</span> '
            f'<span class="anb-text">{esc(clip(mask_value(d.get("message", "")) if not reveal else d.get("message", ""), 300))}</span> '
            f'{fields}</div>')


def fact_html(f, reveal=False) -> str:
    if f.topic == "log":
        return log_html(f, reveal)
    items = "".join(f'<span class="anb-kv">{esc(k)}={show(v, k, reveal, 200)}</span>'
                    for k, v in f.data.items() if v not in (None, "", [], {}))
    return (f'<div class="anb-row anb-fact"><span class="anb-time">{clock(f.time)}</span> '
            f'{_chip(f.topic, "anb-topic")} {items}</div>')


def _session_words(session) -> tuple[str, str]:
    """Where a session runs and who runs it, in its framework's words."""
    if session.framework == "livekit":
        return f"room {session.app}", f"agent {session.user}"
    return f"app {session.app}", f"user {session.user}"


def invocation_head(start, end, session, ended_early=False, branch=None) -> str:
    status = end.status if end else "running"
    took = f" · {end.time - start.time:.3f} s" if end else ""
    if ended_early:
        took += " " + _chip("end_invocation", "anb-transfer")
    err = f' <span class="anb-error">{esc(clip(end.error))}</span>' if end and end.error else ""
    who = " · ".join(map(esc, _session_words(session))) + " · " if session else ""
    return (f'<div class="anb-head"><span class="anb-title">invocation {esc(start.invocation_id)}</span> '
            f'{_chip(status, f"anb-s-{esc(status)}")}{took}{err}<div class="anb-sub">{who}'
            f'session {esc(start.session_id)} · agent {esc(start.agent)}'
            f'{f" · branch {esc(branch)}" if branch else ""} · user said: '
            f'<q>{esc(clip(mask_value(start.user_text), 300))}</q></div></div>')


# --- views as sections ------------------------------------------------------------------------

SECTION_TITLES = {"events": "Timeline", "state": "State (old → new, as it happens)",
                  "artifacts": "Artifacts", "context": "Context explorer", "facts": "Facts: memory, auth, usage, errors",
                  "job": "Job, room and process", "logs": "Logs (with their log_context_fields)",
                  "invocations": "Invocations", "sessions": "Sessions"}


class Sections:
    """The rendered view of a set of records: a head, and rows per section (state lanes are
    sections `lane-<scope>`). `add(records)` returns the patch ops for what they add, which is
    what the live widget sends; `html()` and `text()` are the static faces."""

    def __init__(self, invocation_id=None, title="agentnb", reveal=False):
        self.invocation_id, self.title, self.reveal = invocation_id, title, reveal
        self.head = f'<div class="anb-head"><span class="anb-title">{esc(title)}</span></div>'
        self.rows: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.lines: list[str] = []
        self._sessions, self._starts, self._ends = {}, {}, {}
        self.steps: list = []   # sequence-diagram arrows, for a view of one invocation
        self._ended_early, self._branches = set(), {}

    def _mine(self, r) -> bool:
        return self.invocation_id is None or getattr(r, "invocation_id", None) == self.invocation_id

    def add(self, records) -> list[dict]:
        ops: dict[str, list[str]] = {}
        head_changed = False
        for r in records:
            try:
                head_changed |= self._add_one(r, ops)
            except Exception as exc:   # one odd record must not take the whole view down
                self._put(ops, "facts", f'<div class="anb-row anb-error">agentnb could not show a '
                          f'{esc(r.kind)} record: {esc(type(exc).__name__)}</div>',
                          f"agentnb could not show a {r.kind} record: {type(exc).__name__}")
        patch = [{"op": "append", "section": s, "html": rows} for s, rows in ops.items()]
        if head_changed and self.invocation_id is not None:
            self.head = self._invocation_head()
            patch.insert(0, {"op": "head", "html": self.head})
        return patch

    def _add_one(self, r, ops) -> bool:
        """Render one record into `ops`; True when the head changes."""
        kind = r.kind
        if kind == "session":
            self._sessions[r.session_id] = r
            if self.invocation_id is None:
                parent = f" · fork of {r.parent_session_id} after {r.forked_at}" if r.parent_session_id else ""
                where, who = _session_words(r)
                self._put(ops, "sessions", f'<div class="anb-row">{_chip(r.framework)} '
                          f'<span class="anb-key">{esc(r.session_id)}</span> {esc(where)} · '
                          f'{esc(who)}{esc(parent)}</div>', f"session {r.session_id} {where} · {who}{parent}")
            return False
        if not self._mine(r):
            return False
        if self.invocation_id is not None:
            self.steps += sequence_steps(r)
        if kind == "invocation_start":
            self._starts[r.invocation_id] = r
            return True
        if kind == "invocation_end":
            self._ends[r.invocation_id] = r
            start = self._starts.get(r.invocation_id)
            if self.invocation_id is None and start is not None:
                self._put(ops, "invocations", invocation_head(start, r, self._sessions.get(r.session_id)),
                          f"invocation {r.invocation_id} {r.status} {clip(repr(mask_value(start.user_text)), 80)}")
            return True
        if kind == "event":
            self._put(ops, "events", event_html(r, self.reveal), _event_text(r))
        elif kind == "state_change":
            lane = r.scope if r.scope in LANES else "session"
            self._put(ops, f"lane-{lane}", change_html(r, self.reveal),
                      f"[{lane}] {r.key}: {_short(r.old, r.key, self.reveal)} -> "
                      f"{_short(r.new, r.key, self.reveal)} ({r.source})")
        elif kind == "artifact":
            self._put(ops, "artifacts", artifact_html(r),
                      f"artifact {r.filename} v{r.version} {r.mime_type} {r.size_bytes} bytes")
        elif kind == "context":
            if r.branch:
                self._branches.setdefault(r.invocation_id, r.branch)
            row = context_html(r, self.reveal) if self.invocation_id else context_line(r)
            self._put(ops, "context", row,
                      f"{r.hook}: {r.context_kind} (received {r.actual_class})")
        elif kind == "fact":
            self._put(ops, fact_section(r.topic), fact_html(r, self.reveal),
                      f"{r.topic}: {_short(r.data, None, self.reveal)}")
            if r.topic == "end_invocation":
                self._ended_early.add(r.invocation_id)
                return True
        return False

    def _invocation_head(self) -> str:
        start = self._starts.get(self.invocation_id)
        if start is None:
            return self.head
        return invocation_head(start, self._ends.get(self.invocation_id),
                               self._sessions.get(start.session_id),
                               self.invocation_id in self._ended_early,
                               self._branches.get(self.invocation_id))

    def _put(self, ops, section, fragment, line):
        rows = self.rows.setdefault(section, [])
        rows.append(fragment)
        self.counts[section] = self.counts.get(section, 0) + 1
        if len(rows) > (CONTEXT_ROWS if section == "context" else MAX_ROWS):
            del rows[0]
        self.lines.append(line)
        if len(self.lines) > 4 * MAX_ROWS:
            del self.lines[: len(self.lines) - 4 * MAX_ROWS]
        ops.setdefault(section, []).append(fragment)

    def status(self) -> str:
        end = self._ends.get(self.invocation_id) if self.invocation_id else None
        return end.status if end else ("running" if self.invocation_id in self._starts else "")

    def html(self) -> str:
        """The static snapshot: self-contained, styled, bounded, with no script."""
        return (f'<div class="anb-root"><style>{stylesheet()}</style>{self.head}'
                f'<div class="anb-body">{self.body()}</div></div>')

    def body(self) -> str:
        out = []
        lanes = [s for s in (f"lane-{l}" for l in LANES) if s in self.rows]
        order = ["sessions", "job", "invocations", "events"] + (["state"] if lanes else []) + \
                ["artifacts", "logs", "facts", "context", "diagram"]
        for section in order:
            if section == "state":
                inner = "".join(self._section(s, LANE_TITLES[s[5:]], "anb-lane") for s in lanes)
                out.append(f'<details class="anb-sec" open data-section="state"><summary>'
                           f'{SECTION_TITLES["state"]}</summary><div class="anb-lanes">{inner}</div></details>')
            elif section == "diagram":
                if self.steps and self.status() != "running":
                    out.append(f'<details class="anb-sec" data-section="diagram"><summary>Sequence '
                               f'diagram</summary>{sequence_svg(self.steps)}</details>')
            elif section in self.rows:
                out.append(self._section(section, SECTION_TITLES[section], "anb-sec",
                                         closed=section == "context"))
        return "".join(out)

    def _section(self, name, title, cls, closed=False):
        rows = self.rows.get(name, [])
        hidden = self.counts.get(name, 0) - len(rows)
        more = f'<div class="anb-more">… {hidden:,} earlier rows not shown</div>' if hidden else ""
        tag = "details" if cls == "anb-sec" else "div"
        summary = (f"<summary>{esc(title)} <span class=\"anb-count\">{self.counts.get(name, 0)}</span></summary>"
                   if tag == "details" else f'<div class="anb-lane-title">{esc(title)}</div>')
        opened = "" if closed or tag == "div" else " open"
        return (f'<{tag} class="{cls}" data-section="{esc(name)}"{opened}>{summary}{more}'
                f'<div class="anb-rows">{"".join(rows)}</div></{tag}>')

    def text(self) -> str:
        head = self.title
        if self.invocation_id:
            start = self._starts.get(self.invocation_id)
            head = f"invocation {self.invocation_id} [{self.status()}]" + (
                f" agent={start.agent} user said {clip(repr(mask_value(start.user_text)), 200)}"
                if start else "")
        return visible("\n".join([clip(head, 400), *("  " + clip(line, 200) for line in self.lines[-60:])]))


def _short(value, key, reveal) -> str:
    if not reveal:
        value = mask_value(value, key)
    text = safe_repr(value)
    return clip(text if reveal else mask_text(text), 80)


def _event_text(e) -> str:
    bits = [f"{e.event_kind:<17} {e.author}"]
    if e.text:
        bits.append(repr(clip(mask_value(e.text), 80)))
    bits += [f"call {c['name']}({clip(repr(mask_value(c['args'])), 60)})" for c in e.function_calls]
    bits += [f"response {r['name']}" for r in e.function_responses]
    if e.state_delta:
        bits.append(f"state {sorted(map(str, e.state_delta))}")
    if e.error:
        bits.append(f"error {clip(e.error, 80)}")
    return " ".join(bits)


PARTICIPANTS = (("U", "user"), ("R", "runner"), ("A", "agent"), ("M", "model"), ("T", "tool"),
                ("S", "state"))


def sequence_steps(r) -> list[tuple[str, str, str, bool]]:
    """The arrows one record adds to an invocation's sequence diagram: (from, to, label, reply)."""
    kind = r.kind
    if kind == "invocation_start":
        return [("U", "R", mask_value(r.user_text), False), ("R", "A", f"run {r.agent}", False)]
    if kind == "event" and r.author != "user":
        steps = []
        if r.function_calls:
            steps.append(("A", "M", "request", False))
            steps += [("M", "A", f"call {c['name']}", True) for c in r.function_calls]
            steps += [("A", "T", f"{c['name']}({_short(c['args'], None, False)})", False)
                      for c in r.function_calls]
        steps += [("T", "A", f"{c['name']} result", True) for c in r.function_responses]
        if r.event_kind == "model":
            steps += [("A", "M", "request", False), ("M", "A", mask_value(r.text), True)]
        if r.transfer_to_agent:
            steps.append(("A", "A", f"transfer to {r.transfer_to_agent}", False))
        return steps
    if kind == "state_change" and r.source != "initial":
        writer = "T" if r.source.startswith("tool:") else ("U" if r.source == "user" else "A")
        return [(writer, "S", f"{r.key} = {_short(r.new, r.key, False)}", False)]
    if kind == "invocation_end":
        return [("R", "U", r.status, True)]
    return []


def mermaid(steps) -> str:
    """Mermaid sequence-diagram source for the steps of one invocation."""
    def label(text):  # Mermaid has no escaping: keep labels to plain, short words
        return "".join(ch if ch.isalnum() or ch in " _-.:=" else " " for ch in str(text))[:60].strip() or "."
    lines = ["sequenceDiagram", *(f"    participant {p} as {name}" for p, name in PARTICIPANTS)]
    lines += [f"    {a}{'-->>' if reply else '->>'}{b}: {label(text)}" for a, b, text, reply in steps]
    return "\n".join(lines)


def sequence_svg(steps, max_steps: int = 120) -> str:
    """The same diagram drawn as an SVG (escaped text, no script), for every face."""
    column = {p: i for i, (p, _) in enumerate(PARTICIPANTS)}
    width, step_h, top = 130, 24, 34
    shown = steps[:max_steps]
    height = top + step_h * (len(shown) + 1)
    out = [f'<svg class="anb-seq" xmlns="http://www.w3.org/2000/svg" width="{width * len(PARTICIPANTS)}" '
           f'height="{height}" role="img" aria-label="sequence diagram">']
    for p, name in PARTICIPANTS:
        x = column[p] * width + width // 2
        out.append(f'<text x="{x}" y="16" text-anchor="middle" class="anb-seq-name">{esc(name)}</text>'
                   f'<line x1="{x}" y1="22" x2="{x}" y2="{height}" class="anb-seq-life"/>')
    for i, (a, b, text, reply) in enumerate(shown):
        y = top + step_h * i + 12
        x1, x2 = (column[a] * width + width // 2, column[b] * width + width // 2)
        if x1 == x2:
            x2 = x1 + 30
        mid = (x1 + x2) // 2
        dash = ' stroke-dasharray="4 3"' if reply else ""
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" class="anb-seq-arrow"{dash}/>'
                   f'<text x="{mid}" y="{y - 3}" text-anchor="middle" class="anb-seq-label">'
                   f'{esc(clip(text, 34))}</text>')
        tip = -6 if x2 > x1 else 6
        out.append(f'<path d="M{x2},{y} l{tip},-4 l0,8 z" class="anb-seq-head"/>')
    if len(steps) > max_steps:
        out.append(f'<text x="4" y="{height - 4}" class="anb-seq-label">… {len(steps) - max_steps} more steps</text>')
    out.append("</svg>")
    return "".join(out)


def states_by_turn(records, session_id) -> list[tuple[str, dict]]:
    """(label, persisted state) at the start of a session and after each of its invocations."""
    turns, state, starts = [], {}, {}
    for r in records:
        if r.session_id != session_id:
            continue
        if r.kind == "state_change" and r.persisted:
            state[r.key] = r.new
        elif r.kind == "invocation_start":
            starts[r.invocation_id] = r.user_text
        elif r.kind == "invocation_end":
            turns.append((f"after “{clip(mask_value(starts.get(r.invocation_id, '')), 40)}”", dict(state)))
        elif r.kind == "session" and not turns:
            turns.append(("start", dict(r.state)))
    return turns


def comparison(a_turns, b_turns, names=("a", "b"), reveal=False):
    """Two sessions' states side by side, aligned by turn, differences marked: (html, text)."""
    rows, lines = [], []
    for i in range(max(len(a_turns), len(b_turns))):
        (a_label, a_state), (b_label, b_state) = [
            turns[i] if i < len(turns) else ("—", None) for turns in (a_turns, b_turns)]
        keys = sorted(set(a_state or {}) | set(b_state or {}), key=lambda k: (LANES.index(scope_lane(k)), k))
        cells = []
        for key in keys:
            va = (a_state or {}).get(key, _ABSENT)
            vb = (b_state or {}).get(key, _ABSENT)
            differs = a_state is not None and b_state is not None and va != vb
            mark = " anb-diff" if differs else ""
            cells.append(f'<tr class="anb-cmp-row{mark}"><td class="anb-key">{esc(clip(key, 80))}</td>'
                         f'<td>{_cmp_value(va, key, reveal)}</td><td>{_cmp_value(vb, key, reveal)}</td></tr>')
            if differs:
                lines.append(f"turn {i}: {key}: {_short(None if va is _ABSENT else va, key, reveal)} | "
                             f"{_short(None if vb is _ABSENT else vb, key, reveal)}")
        rows.append(f'<tr class="anb-cmp-turn"><th>turn {i}</th><th>{esc(a_label)}</th><th>{esc(b_label)}</th></tr>'
                    + "".join(cells))
    head = (f'<tr><th>key</th><th>{esc(names[0])}</th><th>{esc(names[1])}</th></tr>')
    html = (f'<div class="anb-root"><style>{stylesheet()}</style><div class="anb-head">'
            f'<span class="anb-title">{esc(names[0])} vs {esc(names[1])}</span> '
            f'<span class="anb-sub">{len(lines)} differing values</span></div>'
            f'<table class="anb-cmp">{head}{"".join(rows)}</table></div>')
    text = "\n".join([f"{names[0]} vs {names[1]}: {len(lines)} differing values", *lines])
    return html, text


_ABSENT = object()


def scope_lane(key: str) -> str:
    from ._records import scope_of
    return scope_of(key)


def _cmp_value(value, key, reveal):
    if value is _ABSENT:
        return '<span class="anb-note">absent</span>'
    return show(value, key, reveal, 120)
