"""The fixes bench/ANALYSIS.md proposes, as patches to a scratch copy of agentnb, so their
effect can be measured without touching the package:

    python bench/prototype_fixes.py /tmp/agentnb-proto [adk,view,ctx,mask,history,livekit,rows]
    AGENTNB_BENCH_SRC=/tmp/agentnb-proto python bench/run.py --only view_bytes_per_s

Written against the tree of the commit that added it; each patch asserts the code it replaces,
so a patch that no longer applies fails loudly instead of measuring something else. The groups:
  adk      adk.py: JSON fast path in _copy, user text once per invocation, event text once;
           _trace.py: no listener bookkeeping without listeners
  mask     _mask.py: is_secret_key cached per key
  history  _frames.py: float64 array for to_datetime, column-wise masking
  view     _views.py: byte budget per view (newest rows, `skipped` count), full snapshot at most
           every 2 s; static/view.js counts `skipped` rows
  ctx      _render.py: one-line context rows in the dashboard (cards keep the full ones)
  rows     _render.py / view.js: 100 rows per section instead of 200
  livekit  livekit.py: session handlers carry a precomputed __signature__
"""
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEST = Path(sys.argv[1])
which = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else {
    "adk", "view", "ctx", "mask", "history", "livekit"}
if DEST.resolve() == REPO or REPO in DEST.resolve().parents:
    sys.exit("prototype_fixes: DEST must be outside the repository")
shutil.rmtree(DEST, ignore_errors=True)
DEST.mkdir(parents=True)
shutil.copytree(REPO / "agentnb", DEST / "agentnb", ignore=shutil.ignore_patterns("__pycache__"))
A = DEST / "agentnb"
def edit(name, fn):
    p = A / name; s = p.read_text(); t = fn(s); assert t != s, name; p.write_text(t)
def rep(old, new, count=1):
    def f(s):
        assert old in s, old[:80]
        return s.replace(old, new, count)
    return f

if "adk" in which:
    edit("adk.py", rep('''def _copy(value):
    try:
        return copy.deepcopy(value)
    except Exception:
        return value
''', '''_ATOMIC = frozenset((str, int, float, bool, type(None), bytes))


def _copy(value):
    """A deep copy; JSON-like values without copy.deepcopy's memo and dispatch (~5 us even for
    a one-key dict)."""
    t = type(value)
    if t in _ATOMIC:
        return value
    if t is dict:
        return {k: v if type(v) in _ATOMIC else _copy(v) for k, v in value.items()}
    if t is list:
        return [v if type(v) in _ATOMIC else _copy(v) for v in value]
    try:
        return copy.deepcopy(value)
    except Exception:
        return value
'''))
    def snap(s):
        s = s.replace('_text_of(getattr(ctx, "user_content", None))', 'self._user_text(getattr(ctx, "user_content", None))', 1)
        s = s.replace("    def _snapshot(self,", '''    def _user_text(self, content):
        """The user's text of an invocation: one Content object for all its hooks."""
        cached = self._last_user
        if cached is not None and cached[0] is content:
            return cached[1]
        text = _text_of(content)
        self._last_user = (content, text)
        return text

    def _snapshot(self,''', 1)
        s = s.replace("        self._lock = threading.Lock()\n", "        self._lock = threading.Lock()\n        self._last_user = None\n", 1)
        s = s.replace("def _event_kind(event, calls, responses) -> str:", "def _event_kind(event, calls, responses, text=None) -> str:")
        s = s.replace('''    if _text_of(event.content):
        return "model"''', '''    if (text if text is not None else _text_of(event.content)):
        return "model"''')
        assert "_event_kind(event, calls, responses), _text_of(event.content)," in s
        s = s.replace("_event_kind(event, calls, responses), _text_of(event.content),", "_event_kind(event, calls, responses, text), text,")
        s = s.replace("        now = time.time()\n        record = Event(", "        now = time.time()\n        text = _text_of(event.content)\n        record = Event(", 1)
        return s
    edit("adk.py", snap)
    edit("_trace.py", rep('''            n = len(self._records)
            listeners = tuple(self._listeners)''', '''            if not self._listeners:
                return
            n = len(self._records)
            listeners = tuple(self._listeners)'''))

if "mask" in which:
    edit("_mask.py", lambda s: s.replace("def is_secret_key(key) -> bool:\n", "@functools.lru_cache(maxsize=4096)\ndef _secret_str(key: str) -> bool:\n    words = [w.lower() for w in _WORD.findall(key)]\n    if any(w in _SECRET_WORDS for w in words):\n        return True\n    joined = {a + b for a, b in zip(words, words[1:])}\n    return bool(joined & _SECRET_WORDS)\n\n\ndef is_secret_key(key) -> bool:\n    if isinstance(key, str):\n        return _secret_str(key)\n", 1).replace("import re\n", "import functools\nimport re\n", 1))

if "history" in which:
    def hist(s):
        s = rep('''def _times(values):
    return _pd().to_datetime(values, unit="s", utc=True)''', '''def _times(values):
    import numpy
    # A float64 array converts ~20x faster than a list of floats, with identical results.
    return _pd().to_datetime(numpy.asarray(values, dtype="float64"), unit="s", utc=True)''')(s)
        s = s.replace('''def history(records, session_id=None, reveal=False):''', '''_SCALARS = frozenset((int, float, bool, type(None)))


def _shown_column(values, keys, reveal):
    """`[_shown(v, k, reveal) ...]` for a whole column: secret keys decided once per distinct
    key, scalars passed through without a call."""
    if reveal:
        return list(values)
    secret = {k for k in set(keys) if _secret_key(k)}
    out = []
    add = out.append
    for v, k in zip(values, keys):
        if v is None:
            add(v)
        elif k in secret:
            add(MASK)
        elif type(v) in _SCALARS:
            add(v)
        elif isinstance(v, (str, dict, list, tuple)):
            add(mask_value(v))
        else:
            add(v)
    return out


def history(records, session_id=None, reveal=False):''', 1)
        old = '''        "old": _objects([_shown(c.old, c.key, reveal) for c in changes]),
        "new": _objects([_shown(c.new, c.key, reveal) for c in changes]),'''
        assert old in s
        s = s.replace(old, '''        "old": _objects(_shown_column([c.old for c in changes], [c.key for c in changes], reveal)),
        "new": _objects(_shown_column([c.new for c in changes], [c.key for c in changes], reveal)),''')
        return s
    edit("_frames.py", hist)

if "view" in which:
    def view(s):
        start, end = s.index("    def flush(self):"), s.index("    def finish(self):")
        old = s[start:end]
        assert 'self._widget.send({"kind": "agentnb-patch", "ops": ops})' in old
        new = old.replace('''        self._widget.send({"kind": "agentnb-patch", "ops": ops})''', '''        # PROTOTYPE: a byte budget per view (LIVE_BYTES_PER_S, bursts up to LIVE_BURST_BYTES);
        # past it the newest rows go and the rest are counted in `skipped`.
        now = time.monotonic()
        self._budget = min(LIVE_BURST_BYTES, self._budget + (now - self._budget_at) * LIVE_BYTES_PER_S)
        self._budget_at = now
        ops, used = _trim(ops, self._budget)
        self._budget -= used
        self._widget.send({"kind": "agentnb-patch", "ops": ops})''')
        m = re.search(r"\n( +)self\._widget\.html = self\.sections\.html\(\)[^\n]*\n", new)
        assert m, "html resend"
        new = new.replace(m.group(0), f"\n{m.group(1)}self._snapshot_soon()\n")
        new += '''    def _snapshot_soon(self):
        """PROTOTYPE: the saved state keeps up at most every HTML_EVERY_S (a full snapshot is
        100-250 kB), with a trailing update so the last invocation always lands."""
        now = time.monotonic()
        if now - self._html_at >= HTML_EVERY_S or self._schedule is None:
            self._html_at = now
            self._widget.html = self.sections.html()
        elif not self._html_pending:
            self._html_pending = True

            def later():
                self._html_pending = False
                self._snapshot_soon()
            self._schedule(HTML_EVERY_S - (now - self._html_at), later)

'''
        s = s[:start] + new + s[end:]
        assert "        self._throttle = Throttle(self.flush, schedule, interval)" in s
        s = s.replace("        self._throttle = Throttle(self.flush, schedule, interval)", "        self._schedule = schedule\n        self._throttle = Throttle(self.flush, schedule, interval)")
        s = s.replace("        self.messages_sent = 0\n", "        self.messages_sent = 0\n        self._budget, self._budget_at = LIVE_BURST_BYTES, time.monotonic()\n        self._html_at, self._html_pending, self._schedule = float(\"-inf\"), False, None\n", 1)
        s = s.replace('WIDGET_MIME = "application/vnd.jupyter.widget-view+json"', '''WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LIVE_BYTES_PER_S = 30_000
LIVE_BURST_BYTES = 60_000
HTML_EVERY_S = 2.0


def _trim(ops, budget):
    """The ops with, per appended section, only the newest fragments that fit an equal share of
    `budget` bytes; the dropped ones counted in `skipped`. Returns (ops, bytes used)."""
    appends = [op for op in ops if op.get("op") == "append"]
    used = sum(len(op.get("html", "")) for op in ops if op.get("op") != "append")
    share = max(0.0, budget - used) / max(len(appends), 1)
    out = []
    for op in ops:
        if op.get("op") != "append":
            out.append(op)
            continue
        kept, size = [], 0
        for fragment in reversed(op["html"]):
            if size + len(fragment) > share:
                break
            kept.append(fragment)
            size += len(fragment)
        kept.reverse()
        used += size
        trimmed = dict(op, html=kept)
        if len(kept) < len(op["html"]):
            trimmed["skipped"] = len(op["html"]) - len(kept)
        out.append(trimmed)
    return out, used''', 1)
        if "\nimport time\n" not in s:
            s = s.replace("import sys\n", "import sys\nimport time\n", 1)
        return s
    edit("_views.py", view)
    edit("static/view.js", rep("count.textContent = String(Number(count.textContent || 0) + op.html.length);", "count.textContent = String(Number(count.textContent || 0) + op.html.length + (op.skipped || 0));"))

if "ctx" in which:
    def ctx(s):
        s = s.replace('''def fact_html(f, reveal=False) -> str:''', '''def context_brief_html(s) -> str:
    """PROTOTYPE: the dashboard's one-line form of a context snapshot (the invocation card keeps
    the full one): no exposed values to serialise, mask and escape."""
    fc = f' <span class="anb-id">{esc(s.function_call_id)}</span>' if s.function_call_id else ""
    return (f'<div class="anb-row anb-context"><span class="anb-time">{clock(s.time)}</span> '
            f'<span class="anb-hook">{esc(s.hook)}</span> {_chip(s.context_kind, "anb-ctx")}'
            f'<span class="anb-prov">received {esc(s.actual_class)}</span>{fc}</div>')


def fact_html(f, reveal=False) -> str:''', 1)
        old = '''self._put(ops, "context", context_html(r, self.reveal),'''
        assert old in s
        return s.replace(old, '''self._put(ops, "context", context_html(r, self.reveal) if self.invocation_id
                          else context_brief_html(r),''')
    edit("_render.py", ctx)

if "rows" in which:
    edit("_render.py", rep("MAX_ROWS = 200 ", "MAX_ROWS = 100 "))
    edit("static/view.js", rep("const MAX_ROWS = 200;", "const MAX_ROWS = 100;"))

if "livekit" in which:
    def lk(s):
        old = "            session.on(name, handler)\n"
        assert s.count(old) == 1
        s = s.replace(old, "            session.on(name, _emitter_handler(handler))\n")
        s = s.replace("def _never_raises(method):", '''_VARARGS = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])


def _emitter_handler(handler):
    """PROTOTYPE: LiveKit's EventEmitter.emit runs inspect.signature(callback) on every handler
    at every emit (~14 us for a functools.wraps-decorated bound method); a plain function with
    its own __signature__ costs ~1.6 us. With *args, emit passes every argument through."""
    def emitted(*args):
        handler(*args)
    emitted.__signature__ = _VARARGS
    return emitted


def _never_raises(method):''', 1)
        if "\nimport inspect\n" not in s:
            s = s.replace("\nimport json\n", "\nimport inspect\nimport json\n", 1)
        return s
    edit("livekit.py", lk)
print("made", DEST, sorted(which))
