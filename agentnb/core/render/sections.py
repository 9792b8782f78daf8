"""Views as sections: the rendered picture of a set of records, a head and rows per section.

One path for every face: the live widget inserts the same fragments the static snapshot is
made of (`Sections.add` returns them as patch ops, see `..patch`), and an empty section shell
the page adds when a first row arrives is the one `html()` would have drawn, in the place
`html()` draws it (`shells()` lists them in that order): nothing moves when a run ends.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..mask import mask_value
from ..patch import CONTEXT_ROWS, MAX_ROWS, SHOWN_ROWS, AppendOp, HeadOp, Op, TailOp
from ..records import (SCOPES, ArtifactVersion, ContextSnapshot, Event, Fact, InvocationEnd,
                       InvocationStart, Record, Session, StateChange)
from .diagram import Step, sequence_steps
from .escape import ROOT_CLASS, chip, clip, esc, stylesheet, visible
from .evals import eval_chip, eval_html, eval_text
from .rows import (REQUESTS, artifact_html, change_html, context_facts, context_html,
                   context_line, event_html, event_text, fact_html, fact_section, group_html,
                   invocation_head, invocation_line, nested_run_html, no_op, running_html,
                   session_words, short)
from .waterfall import waterfall_html, waterfall_text

LANE_TITLES = {"app": "app: (every user of the app)", "user": "user: (this user, every session)",
               "session": "session (this conversation)", "temp": "temp: (this invocation only)",
               "userdata": "userdata (LiveKit session)", "attributes": "participant attributes"}
SECTION_TITLES = {"sessions": "Sessions", "job": "Job, room and process",
                  "invocations": "Invocations",
                  "evals": "Evaluation (ADK's metrics; expected and actual side by side)",
                  "events": "Timeline", "time": "Where the time went (OpenTelemetry spans)",
                  "state": "State (old → new as applied; seq: order in the session)",
                  "artifacts": "Artifacts", "logs": "Logs (with their log_context_fields)",
                  "facts": "Memory, auth, usage and more", "context": "Context explorer"}
ORDER = tuple(SECTION_TITLES)   # the order sections are drawn in, live and in a snapshot
CLOSED = ("context",)           # sections drawn folded, live and in a snapshot


class Sections:
    """The rendered view of a set of records: a head, and rows per section (state lanes are
    sections `lane-<scope>`). `add(records)` returns the patch ops for what they add, which is
    what the live widget sends; `html()` and `text()` are the static faces. A view of one
    invocation is its card; with `session_id` (and no invocation) it is the card of one
    session, as an eval case's is."""

    def __init__(self, invocation_id: str | None = None, title: str = "agentnb",
                 reveal: bool = False, session_id: str | None = None) -> None:
        self.invocation_id, self.title, self.reveal = invocation_id, title, reveal
        self.session_id = session_id
        self._verdict: str | None = None       # a session card's eval verdict, once known
        self.head = dashboard_head(title, None)
        self.rows: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.tails: dict[str, str] = {}          # section -> what is going on now
        self.lines: list[str] = []
        self._sessions: dict[str, Session] = {}
        self._starts: dict[str, InvocationStart] = {}
        self._resumed: dict[str, float] = {}     # invocation id -> when it resumed
        self._ends: dict[str, InvocationEnd] = {}
        self.steps: list[Step] = []   # sequence-diagram arrows, for a view of one invocation
        self._ended_early: set[str | None] = set()
        self._exposed_before: dict[str, dict[str, Any]] = {}   # kind or hook -> last shown
        self._last_author: str | None = None
        self._numbers: dict[str, int] = {}       # invocation id -> its number in its session
        self._per_session: dict[str, int] = {}
        self._calls: dict[str, int] = {}         # function call id -> its number in the view
        self._branches: dict[str | None, str] = {}
        self._nested: dict[str, InvocationStart] = {}   # runs started by this one's tool calls
        self._group: tuple[str | None, str | None] = (None, None)   # node and branch shown last
        self._speaking: str | None = None      # who speaks after the card's last handoff
        self._connection: str | None = None    # a LiveKit job's room connection, in words
        self._running: dict[str, ContextSnapshot] = {}   # call id -> its before_tool context
        self._asks: dict[str, tuple[str | None, str]] = {}   # request call id -> (inv, what)

    def _mine(self, r: Record) -> bool:
        if self.session_id is not None and getattr(r, "session_id", None) != self.session_id:
            return False
        return self.invocation_id is None or getattr(r, "invocation_id", None) == self.invocation_id

    def add(self, records: Iterable[Record]) -> list[Op]:
        ops: dict[str, list[str]] = {}
        head_changed = False
        running = list(self._running)
        for r in records:
            try:
                head_changed |= self._add_one(r, ops)
            except Exception as exc:   # one odd record must not take the whole view down
                self._put(ops, "facts", f'<div class="anb-row anb-error">agentnb could not show a '
                          f'{esc(r.kind)} record: {esc(type(exc).__name__)}</div>',
                          f"agentnb could not show a {r.kind} record: {type(exc).__name__}")
        patch: list[Op] = [AppendOp(op="append", section=s, html=rows) for s, rows in ops.items()]
        if list(self._running) != running:
            self.tails["events"] = "".join(
                running_html(s, self._calls.get(call_id), self.reveal)
                for call_id, s in self._running.items())
            patch.append(TailOp(op="tail", section="events", html=self.tails["events"]))
        if head_changed:
            head = (self._invocation_head() if self.invocation_id is not None
                    else dashboard_head(self.title, self._connection, self._verdict))
            if head != self.head:
                self.head = head
                patch.insert(0, HeadOp(op="head", html=head))
        return patch

    def _add_one(self, r: Record, ops: dict[str, list[str]]) -> bool:
        """Render one record into `ops`; True when the head changes."""
        if isinstance(r, Session):
            self._sessions[r.session_id] = r
            if self.invocation_id is None and self._mine(r):
                parent = (f" · fork of {r.parent_session_id} after {r.forked_at}"
                          if r.parent_session_id else "")
                where, who = session_words(r)
                self._put(ops, "sessions", f'<div class=anb-row>{chip(r.framework)} '
                          f'<span class=anb-key>{esc(r.session_id)}</span> {esc(where)} · '
                          f'{esc(who)}{esc(parent)}</div>',
                          f"session {r.session_id} {where} · {who}{parent}")
            return False
        if isinstance(r, InvocationStart) and r.invocation_id not in self._numbers:
            # invocations are numbered per session (#1, #2 ... as adk web does)
            per_session = self._per_session[r.session_id] = self._per_session.get(r.session_id, 0) + 1
            self._numbers[r.invocation_id] = per_session
        if not self._mine(r):
            return self._add_nested(r, ops)
        if self.invocation_id is not None:
            self.steps += sequence_steps(r)
        if isinstance(r, InvocationStart):
            if r.invocation_id in self._starts:   # resumed (an answer came): running again
                self._resumed[r.invocation_id] = r.time
                self._ends.pop(r.invocation_id, None)
                self._ended_early.discard(r.invocation_id)   # that end_invocation paused it
            else:
                self._starts[r.invocation_id] = r
            return True
        if isinstance(r, InvocationEnd):
            self._ends[r.invocation_id] = r
            for call_id in [c for c, s in self._running.items() if s.invocation_id == r.invocation_id]:
                del self._running[call_id]
            start = self._starts.get(r.invocation_id)
            if self.invocation_id is None and start is not None:
                self._put(ops, "invocations",
                          invocation_line(start, r, self._numbers.get(r.invocation_id),
                                          self._waiting(r.invocation_id)),
                          f"invocation {r.invocation_id} {r.status} "
                          f"{clip(repr(mask_value(start.user_text)), 80)}")
            return True
        if isinstance(r, Event):
            for c in r.function_calls:
                if c.get("name") in REQUESTS:
                    self._asks[c.get("id") or ""] = (r.invocation_id, REQUESTS[c["name"]])
            for response in r.function_responses:
                self._running.pop(response.get("id") or "", None)
                self._asks.pop(response.get("id") or "", None)
            self._put_event(ops, r)
            if self.invocation_id is not None and r.event_kind == "handoff" \
                    and r.transfer_to_agent:
                self._speaking = r.transfer_to_agent
                return True
        elif isinstance(r, StateChange):
            if no_op(r):   # the same value again: history() has it, the lanes show changes
                return False
            lane = r.scope if r.scope in SCOPES else "session"
            self._put(ops, f"lane-{lane}", change_html(r, self.reveal),
                      f"[{lane}] {r.key}: {short(r.old, r.key, self.reveal)} -> "
                      f"{short(r.new, r.key, self.reveal)} ({r.source})")
        elif isinstance(r, ArtifactVersion):
            self._put(ops, "artifacts", artifact_html(r),
                      f"artifact {r.filename} v{r.version} {r.mime_type} {r.size_bytes} bytes")
        elif isinstance(r, ContextSnapshot):
            self._add_context(r, ops)
        elif isinstance(r, Fact) and r.topic == "spans":   # a card's waterfall
            if self.invocation_id is not None or self.session_id is not None:
                self._put(ops, "time", waterfall_html(r.data.get("spans") or [], self._calls),
                          waterfall_text(r.data.get("spans") or []))
        elif isinstance(r, Fact) and r.topic == "eval":
            self._put(ops, "evals", eval_html(r.data, self.reveal), eval_text(r.data))
            if self.session_id is not None:
                self._verdict = str(r.data.get("status", ""))
                return True
        elif isinstance(r, Fact):
            if r.topic == "tool_error":
                self._running.pop(r.data.get("function_call_id") or "", None)
            self._put(ops, fact_section(r.topic), fact_html(r, self.reveal, self._calls),
                      f"{r.topic}: {short(r.data, None, self.reveal)}")
            if r.topic == "end_invocation":
                self._ended_early.add(r.invocation_id)
                return True
            if r.topic == "connection" and self.invocation_id is None:
                words = connection_words(r.data, self._connection)
                changed, self._connection = words != self._connection, words
                return changed
        return False

    def _put_event(self, ops: dict[str, list[str]], r: Event, nested: bool = False) -> None:
        # Events come grouped by workflow node (a path inside a Workflow; a root agent alone
        # is node `<name>@1`) or by agent branch (ParallelAgent's sub-agents).
        group = (r.node if r.node and "/" in r.node else None, r.branch)
        if group != self._group:
            self._group = group
            if group != (None, None):
                self._put(ops, "events", group_html(group[0], r.branch, nested),
                          f"-- {group[0] or ''} {r.branch or ''}".rstrip())
        for c in r.function_calls:
            self._calls.setdefault(c.get("id") or "", len(self._calls) + 1)
        self._put(ops, "events", event_html(r, self.reveal, self._last_author, self._calls, nested),
                  ("  ↳ " if nested else "") + event_text(r))
        self._last_author = r.author

    def _add_nested(self, r: Record, ops: dict[str, list[str]]) -> bool:
        """A card shows the runs its tool calls started (AgentTool), nested under it: their
        start and end, and their events."""
        if self.invocation_id is None:
            return False
        if isinstance(r, InvocationStart):
            parent = r.parent_invocation_id
            if parent is not None and (parent == self.invocation_id or parent in self._nested):
                self._nested[r.invocation_id] = r
                self._put(ops, "events", nested_run_html(r, None),
                          f"  ↳ nested run {r.agent} (call {r.parent_call_id})")
            return False
        start = self._nested.get(getattr(r, "invocation_id", None) or "")
        if start is None:
            return False
        if isinstance(r, InvocationEnd):
            self._put(ops, "events", nested_run_html(start, r),
                      f"  ↳ nested run {start.agent} {r.status}")
        elif isinstance(r, Event):
            self._put_event(ops, r, nested=True)
        return False

    def _add_context(self, r: ContextSnapshot, ops: dict[str, list[str]]) -> None:
        if r.branch:
            self._branches.setdefault(r.invocation_id, r.branch)
        if r.function_call_id and r.hook == "before_tool_callback":   # a tool starts
            self._running[r.function_call_id] = r
        elif r.function_call_id and r.hook == "after_tool_callback":  # and returns
            self._running.pop(r.function_call_id, None)
        if self.invocation_id:
            # Unchanged: what the last context of its kind or of its hook showed.
            facts = context_facts(r)
            if r.function_call_id in self._calls:
                facts["function_call_id"] = f"#{self._calls[r.function_call_id]}"
            before = [self._exposed_before.get(r.context_kind, {}),
                      self._exposed_before.get(r.hook, {})]
            row = context_html(r, self.reveal, before,
                               first_of_kind=r.context_kind not in self._exposed_before,
                               facts=facts)
            self._exposed_before[r.context_kind] = self._exposed_before[r.hook] = facts
        else:
            row = context_line(r)
        self._put(ops, "context", row, None)   # too many for the text face

    def _waiting(self, invocation_id: str | None) -> str | None:
        """What an invocation that ended waits for (a credential, a confirmation), if anything."""
        return next((what for inv, what in self._asks.values() if inv == invocation_id), None)

    def _invocation_head(self) -> str:
        start = self._starts.get(self.invocation_id or "")
        if start is None:
            return self.head
        return invocation_head(start, self._ends.get(start.invocation_id),
                               self._sessions.get(start.session_id),
                               self.invocation_id in self._ended_early,
                               self._branches.get(self.invocation_id),
                               self._numbers.get(start.invocation_id),
                               self._waiting(start.invocation_id),
                               self._resumed.get(start.invocation_id), self._speaking)

    def _put(self, ops: dict[str, list[str]], section: str, fragment: str,
             line: str | None) -> None:
        rows = self.rows.setdefault(section, [])
        rows.append(fragment)
        self.counts[section] = self.counts.get(section, 0) + 1
        if len(rows) > (CONTEXT_ROWS if section == "context" else MAX_ROWS):
            del rows[0]
        if line is not None:
            self.lines.append(line)
            if len(self.lines) > 4 * MAX_ROWS:
                del self.lines[: len(self.lines) - 4 * MAX_ROWS]
        ops.setdefault(section, []).append(fragment)

    def status(self) -> str:
        """running, ok, error, interrupted, or waiting (ended asking the client something)."""
        if self.session_id is not None and not self.invocation_id:   # an eval case's card
            return {None: "running", "passed": "ok"}.get(self._verdict, "error")
        if not self.invocation_id:
            return ""
        end = self._ends.get(self.invocation_id)
        if end is None:
            return "running" if self.invocation_id in self._starts else ""
        return "waiting" if end.status == "ok" and self._waiting(self.invocation_id) else end.status

    def html(self, style: bool = True) -> str:
        """The static snapshot: bounded, with no script; self-contained with `style` (without,
        it leans on a stylesheet an earlier output of the page carries)."""
        kind = "card" if self.invocation_id or self.session_id else "dashboard"
        css = f"<style>{stylesheet()}</style>" if style else ""
        # mathjax_ignore (in ROOT_CLASS): JupyterLab typesets $…$ in HTML outputs with MathJax
        return (f'<div class="{ROOT_CLASS}" data-view="{kind}" data-status="{esc(self.status())}">'
                f'{css}{self.head}<div class=anb-body>{self.body()}</div></div>')

    def body(self) -> str:
        out = []
        lanes = [f"lane-{scope}" for scope in SCOPES if f"lane-{scope}" in self.rows]
        for name in ORDER:
            if name == "state":
                if lanes:
                    out.append(state_section("".join(self.section(s) for s in lanes)))
            elif name in self.rows:
                out.append(self.section(name))
        return "".join(out)

    def section(self, name: str) -> str:
        """One section (or state lane, `lane-<scope>`): the newest SHOWN_ROWS of the rows it
        keeps, the others behind a "show all", and what is going on now (its tail)."""
        rows = self.rows.get(name, [])
        hidden = self.counts.get(name, 0) - len(rows)
        more = f'<div class=anb-more>… {hidden:,} earlier rows not shown</div>' if hidden else ""
        older, newest = rows[:-SHOWN_ROWS], rows[-SHOWN_ROWS:]
        if older:
            more += (f'<details class=anb-all><summary>show all {len(rows):,}</summary>'
                     f'<div class=anb-older>{"".join(older)}</div></details>')
        tail = self.tails.get(name, "")
        body = (f'{more}<div class=anb-rows>{"".join(newest)}</div>'
                f'{f"<div class=anb-tail>{tail}</div>" if tail else ""}')
        if name.startswith("lane-"):
            return (f'<div class=anb-lane data-section={esc(name)}><div class=anb-lane-title>'
                    f'{esc(LANE_TITLES[name[5:]])}</div>{body}</div>')
        opened = "" if name in CLOSED else " open"
        return (f'<details class=anb-sec data-section={esc(name)}{opened}><summary>'
                f'{esc(SECTION_TITLES[name])} <span class=anb-count>{self.counts.get(name, 0)}'
                f'</span></summary>{body}</details>')

    def text(self) -> str:
        head = self.title + (f" [{self._connection}]" if self._connection else "") + (
            f" [{self._verdict}]" if self._verdict else "")
        if self.invocation_id:
            start = self._starts.get(self.invocation_id)
            head = f"invocation {self.invocation_id} [{self.status()}]" + (
                f" agent={start.agent} user said {clip(repr(mask_value(start.user_text)), 200)}"
                if start else "") + (f" speaking now={self._speaking}" if self._speaking else "")
        shown = 60 if self.invocation_id is None else 2   # a card's text face is its summary
        return visible("\n".join([clip(head, 400),
                                  *("  " + clip(line, 200) for line in self.lines[-shown:])]))


def connection_words(data: dict[str, Any], before: str | None) -> str | None:
    """A room connection's state as the dashboard's head says it: "connected", "reconnecting",
    "disconnected: REASON" (the reason stays once known), "failed: CAUSE"."""
    state = str(data.get("state", "")).removeprefix("CONN_").lower()
    if state == "disconnected":
        if data.get("reason"):
            return f"disconnected: {data['reason']}"
        return before if before and before.startswith("disconnected") else "disconnected"
    if state == "failed":
        return f"failed: {data.get('cause', '')}".rstrip(": ")
    return state or before


def dashboard_head(title: str, connection: str | None, verdict: str | None = None) -> str:
    """A dashboard's head: its title, and a LiveKit job's room connection when it has one (a
    session's card: its eval verdict)."""
    chip_html = " " + eval_chip(verdict) if verdict else ""
    if connection:
        word = connection.split(":", 1)[0]
        status = {"connected": "ok", "reconnecting": "running", "connecting": "running"}.get(
            word, "error")
        chip_html = " " + chip(clip(connection, 120), f"anb-s-{status}")
    return f'<div class="anb-head"><span class="anb-title">{esc(title)}</span>{chip_html}</div>'


def state_section(lanes_html: str) -> str:
    """The state section around its lanes."""
    return (f'<details class=anb-sec open data-section=state><summary>'
            f'{esc(SECTION_TITLES["state"])}</summary><div class=anb-lanes>{lanes_html}</div>'
            f'</details>')


def shells() -> dict[str, str]:
    """Every section empty, as the page adds it when its first row arrives, in the order the
    snapshot draws them (the page places a new section by it): the sections, then the lanes."""
    empty = Sections()
    out = {name: state_section("") if name == "state" else empty.section(name) for name in ORDER}
    out.update({f"lane-{scope}": empty.section(f"lane-{scope}") for scope in SCOPES})
    return out
