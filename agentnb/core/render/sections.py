"""Views as sections: the rendered picture of a set of records, a head and rows per section.

One path for every face: the live widget inserts the same fragments the static snapshot is
made of (`Sections.add` returns them as patch ops, see `..patch`), and an empty section shell
the page adds when a first row arrives is the one `html()` would have drawn.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..mask import mask_value
from ..patch import MAX_ROWS, AppendOp, HeadOp, Op
from ..records import (
    SCOPES,
    ArtifactVersion,
    ContextSnapshot,
    Event,
    Fact,
    InvocationEnd,
    InvocationStart,
    Record,
    Session,
    StateChange,
)
from .diagram import Step, sequence_steps
from .escape import chip, clip, esc, stylesheet, visible
from .rows import (
    artifact_html,
    change_html,
    context_facts,
    context_html,
    context_line,
    event_html,
    event_text,
    fact_html,
    fact_section,
    invocation_head,
    invocation_line,
    session_words,
    short,
)

CONTEXT_ROWS = 50       # context rows are many (about ten per invocation): fewer are kept
LANE_TITLES = {"app": "app: (every user of the app)", "user": "user: (this user, every session)",
               "session": "session (this conversation)", "temp": "temp: (this invocation only)",
               "userdata": "userdata (LiveKit session)", "attributes": "participant attributes"}
SECTION_TITLES = {"events": "Timeline", "state": "State (old → new, as it happens)",
                  "artifacts": "Artifacts", "context": "Context explorer",
                  "facts": "Facts: memory, auth, usage, errors",
                  "job": "Job, room and process", "logs": "Logs (with their log_context_fields)",
                  "invocations": "Invocations", "sessions": "Sessions"}
ORDER = ("sessions", "job", "invocations", "events", "state", "artifacts", "logs", "facts",
         "context")


class Sections:
    """The rendered view of a set of records: a head, and rows per section (state lanes are
    sections `lane-<scope>`). `add(records)` returns the patch ops for what they add, which is
    what the live widget sends; `html()` and `text()` are the static faces."""

    def __init__(self, invocation_id: str | None = None, title: str = "agentnb",
                 reveal: bool = False) -> None:
        self.invocation_id, self.title, self.reveal = invocation_id, title, reveal
        self.head = f'<div class="anb-head"><span class="anb-title">{esc(title)}</span></div>'
        self.rows: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.lines: list[str] = []
        self._sessions: dict[str, Session] = {}
        self._starts: dict[str, InvocationStart] = {}
        self._ends: dict[str, InvocationEnd] = {}
        self.steps: list[Step] = []   # sequence-diagram arrows, for a view of one invocation
        self._ended_early: set[str | None] = set()
        self._exposed_before: dict[str, dict[str, Any]] = {}   # kind or hook -> last shown
        self._last_author: str | None = None
        self._numbers: dict[str, int] = {}       # invocation id -> its number in its session
        self._per_session: dict[str, int] = {}
        self._calls: dict[str, int] = {}         # function call id -> its number in the view
        self._branches: dict[str | None, str] = {}

    def _mine(self, r: Record) -> bool:
        return self.invocation_id is None or getattr(r, "invocation_id", None) == self.invocation_id

    def add(self, records: Iterable[Record]) -> list[Op]:
        ops: dict[str, list[str]] = {}
        head_changed = False
        for r in records:
            try:
                head_changed |= self._add_one(r, ops)
            except Exception as exc:   # one odd record must not take the whole view down
                self._put(ops, "facts", f'<div class="anb-row anb-error">agentnb could not show a '
                          f'{esc(r.kind)} record: {esc(type(exc).__name__)}</div>',
                          f"agentnb could not show a {r.kind} record: {type(exc).__name__}")
        patch: list[Op] = [AppendOp(op="append", section=s, html=rows) for s, rows in ops.items()]
        if head_changed and self.invocation_id is not None:
            self.head = self._invocation_head()
            patch.insert(0, HeadOp(op="head", html=self.head))
        return patch

    def _add_one(self, r: Record, ops: dict[str, list[str]]) -> bool:
        """Render one record into `ops`; True when the head changes."""
        if isinstance(r, Session):
            self._sessions[r.session_id] = r
            if self.invocation_id is None:
                parent = (f" · fork of {r.parent_session_id} after {r.forked_at}"
                          if r.parent_session_id else "")
                where, who = session_words(r)
                self._put(ops, "sessions", f'<div class="anb-row">{chip(r.framework)} '
                          f'<span class="anb-key">{esc(r.session_id)}</span> {esc(where)} · '
                          f'{esc(who)}{esc(parent)}</div>',
                          f"session {r.session_id} {where} · {who}{parent}")
            return False
        if isinstance(r, InvocationStart) and r.invocation_id not in self._numbers:
            # invocations are numbered per session (#1, #2 ... as adk web does)
            per_session = self._per_session[r.session_id] = self._per_session.get(r.session_id, 0) + 1
            self._numbers[r.invocation_id] = per_session
        if not self._mine(r):
            return False
        if self.invocation_id is not None:
            self.steps += sequence_steps(r)
        if isinstance(r, InvocationStart):
            self._starts[r.invocation_id] = r
            return True
        if isinstance(r, InvocationEnd):
            self._ends[r.invocation_id] = r
            start = self._starts.get(r.invocation_id)
            if self.invocation_id is None and start is not None:
                self._put(ops, "invocations",
                          invocation_line(start, r, self._numbers.get(r.invocation_id)),
                          f"invocation {r.invocation_id} {r.status} "
                          f"{clip(repr(mask_value(start.user_text)), 80)}")
            return True
        if isinstance(r, Event):
            for c in r.function_calls:
                self._calls.setdefault(c.get("id") or "", len(self._calls) + 1)
            self._put(ops, "events", event_html(r, self.reveal, self._last_author, self._calls),
                      event_text(r))
            self._last_author = r.author
        elif isinstance(r, StateChange):
            lane = r.scope if r.scope in SCOPES else "session"
            self._put(ops, f"lane-{lane}", change_html(r, self.reveal),
                      f"[{lane}] {r.key}: {short(r.old, r.key, self.reveal)} -> "
                      f"{short(r.new, r.key, self.reveal)} ({r.source})")
        elif isinstance(r, ArtifactVersion):
            self._put(ops, "artifacts", artifact_html(r),
                      f"artifact {r.filename} v{r.version} {r.mime_type} {r.size_bytes} bytes")
        elif isinstance(r, ContextSnapshot):
            if r.branch:
                self._branches.setdefault(r.invocation_id, r.branch)
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
        elif isinstance(r, Fact):
            self._put(ops, fact_section(r.topic), fact_html(r, self.reveal),
                      f"{r.topic}: {short(r.data, None, self.reveal)}")
            if r.topic == "end_invocation":
                self._ended_early.add(r.invocation_id)
                return True
        return False

    def _invocation_head(self) -> str:
        start = self._starts.get(self.invocation_id or "")
        if start is None:
            return self.head
        return invocation_head(start, self._ends.get(start.invocation_id),
                               self._sessions.get(start.session_id),
                               self.invocation_id in self._ended_early,
                               self._branches.get(self.invocation_id),
                               self._numbers.get(start.invocation_id))

    def _put(self, ops: dict[str, list[str]], section: str, fragment: str,
             line: str | None) -> None:
        rows = self.rows.setdefault(section, [])
        rows.append(fragment)
        self.counts[section] = self.counts.get(section, 0) + 1
        if len(rows) > (CONTEXT_ROWS if section == "context" else MAX_ROWS):
            del rows[0]
        if line is None:
            ops.setdefault(section, []).append(fragment)
            return
        self.lines.append(line)
        if len(self.lines) > 4 * MAX_ROWS:
            del self.lines[: len(self.lines) - 4 * MAX_ROWS]
        ops.setdefault(section, []).append(fragment)

    def status(self) -> str:
        end = self._ends.get(self.invocation_id) if self.invocation_id else None
        return end.status if end else ("running" if self.invocation_id in self._starts else "")

    def html(self, style: bool = True) -> str:
        """The static snapshot: bounded, with no script; self-contained with `style` (without,
        it leans on a stylesheet an earlier output of the page carries)."""
        kind = "card" if self.invocation_id else "dashboard"
        css = f"<style>{stylesheet()}</style>" if style else ""
        # mathjax_ignore: JupyterLab typesets $…$ in HTML outputs with MathJax, which skips this
        return (f'<div class="anb-root mathjax_ignore" data-view="{kind}" '
                f'data-status="{esc(self.status())}">'
                f'{css}{self.head}<div class="anb-body">{self.body()}</div></div>')

    def body(self) -> str:
        out = []
        lanes = [f"lane-{scope}" for scope in SCOPES if f"lane-{scope}" in self.rows]
        for name in ORDER:
            if name == "state":
                if lanes:
                    out.append(state_section("".join(self.section(s) for s in lanes)))
            elif name in self.rows:
                out.append(self.section(name, closed=name == "context"))
        return "".join(out)

    def section(self, name: str, closed: bool = False) -> str:
        """One section (or state lane, `lane-<scope>`) with the rows it keeps."""
        rows = self.rows.get(name, [])
        count = self.counts.get(name, 0)
        hidden = count - len(rows)
        more = f'<div class="anb-more">… {hidden:,} earlier rows not shown</div>' if hidden else ""
        if name.startswith("lane-"):
            return (f'<div class="anb-lane" data-section="{esc(name)}"><div class="anb-lane-title">'
                    f'{esc(LANE_TITLES[name[5:]])}</div>{more}'
                    f'<div class="anb-rows">{"".join(rows)}</div></div>')
        opened = "" if closed else " open"
        return (f'<details class="anb-sec" data-section="{esc(name)}"{opened}><summary>'
                f'{esc(SECTION_TITLES[name])} <span class="anb-count">{count}</span></summary>'
                f'{more}<div class="anb-rows">{"".join(rows)}</div></details>')

    def text(self) -> str:
        head = self.title
        if self.invocation_id:
            start = self._starts.get(self.invocation_id)
            head = f"invocation {self.invocation_id} [{self.status()}]" + (
                f" agent={start.agent} user said {clip(repr(mask_value(start.user_text)), 200)}"
                if start else "")
        shown = 60 if self.invocation_id is None else 4   # a card's text face is its summary
        return visible("\n".join([clip(head, 400),
                                  *("  " + clip(line, 200) for line in self.lines[-shown:])]))


def state_section(lanes_html: str) -> str:
    """The state section around its lanes."""
    return (f'<details class="anb-sec" open data-section="state"><summary>'
            f'{esc(SECTION_TITLES["state"])}</summary><div class="anb-lanes">{lanes_html}</div>'
            f'</details>')


def shells() -> dict[str, str]:
    """Every section empty, as the page adds it when its first row arrives."""
    empty = Sections()
    out = {name: empty.section(name) for name in SECTION_TITLES if name != "state"}
    out.update({f"lane-{scope}": empty.section(f"lane-{scope}") for scope in LANE_TITLES})
    out["state"] = state_section("")
    return out
