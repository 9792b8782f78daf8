"""pandas DataFrames built from a trace's records. pandas is imported only when one is asked for."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .fold import final_state
from .mask import MASK, is_payment_key, is_secret_key, mask_value
from .columns import ChangeColumns
from .records import InvocationEnd, InvocationStart, Record, StateChange

HISTORY_COLUMNS = ["session_id", "invocation_id", "event_id", "seq", "timestamp", "author",
                   "source", "key", "scope", "old", "new", "persisted"]
EVENT_COLUMNS = ["session_id", "invocation_id", "event_id", "seq", "timestamp", "author", "kind",
                 "text", "state_delta", "artifact_delta", "function_calls", "function_responses",
                 "transfer_to_agent", "escalate", "error", "branch", "node", "output"]
ARTIFACT_COLUMNS = ["session_id", "invocation_id", "event_id", "timestamp", "filename", "version",
                    "mime_type", "size_bytes", "source"]
INVOCATION_COLUMNS = ["session_id", "invocation_id", "agent", "user_text", "started", "ended",
                      "duration_s", "n_events", "n_state_changes", "n_artifacts", "status", "error",
                      "parent_invocation_id", "parent_call_id"]

_PLAIN = frozenset({int, float, bool, type(None)})   # values that are never masked


def _pd() -> Any:
    import pandas
    return pandas


def _objects(values: Any) -> Any:
    """A column of Python objects as they are: pandas 3 would turn a column of strings and
    None into its string dtype, with NaN for None."""
    # copy=False: the arrays are ours and fresh; a copy here (pandas 3's default for arrays)
    # and the DataFrame's consolidating copy were half of history()'s time for 1M rows
    return _pd().Series(values, dtype=object, copy=False)


def _times(values: Sequence[float]) -> Any:
    import numpy
    # a float64 array, not a list: pandas converts a list of a million floats ~15x slower
    return _pd().to_datetime(numpy.asarray(values, dtype="float64"), unit="s", utc=True)


def _seconds_to_utc(seconds: Any) -> Any:
    """`pd.to_datetime(seconds, unit="s", utc=True)` for a float64 array, 5x faster: pandas'
    own rule (whole seconds, then the fraction rounded to 9 places, truncated to ns) in numpy."""
    import numpy
    whole = numpy.trunc(seconds)
    ns = whole.astype("int64") * 1_000_000_000 + (numpy.round(seconds - whole, 9) * 1e9).astype("int64")
    return _pd().DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def _select(records: Iterable[Record], kind: str, session_id: str | None) -> list[Any]:
    return [r for r in records
            if r.kind == kind and (session_id is None or r.session_id == session_id)]


def _shown(value: Any, key: object, reveal: bool) -> Any:
    """A value as a frame shows it: masked unless `reveal`, whatever its type (a dataclass or
    pydantic value field by field, any other object by its repr)."""
    if reveal or value is None:
        return value
    return mask_value(value, key)


def _shown_column(keys: Any, values: Any, reveal: bool, distinct: Iterable[Any],
                  plain: bool) -> Any:
    """`values` (the old or new of each change, whose keys are `keys`, among `distinct`) as
    shown: masked unless `reveal`. Built for a million rows: numbers and None pass untouched (a
    column of only those, `plain`, skips the per-value pass), and only keys that name secrets
    get a second pass."""
    if reveal:
        return values
    payment = {k for k in distinct if is_payment_key(k)}   # even its numbers are masked
    if not payment and plain:
        return values
    out = [v if type(v) in _PLAIN else mask_value(v) for v in values]
    secret = {k for k in distinct if is_secret_key(k)}
    if secret:
        for i, k in enumerate(keys):
            if k in secret and out[i] is not None and (
                    type(out[i]) not in _PLAIN or k in payment):
                out[i] = MASK
    return out


def history(records: Sequence[Record] | ChangeColumns, session_id: str | None = None,
            reveal: bool = False) -> Any:
    """One row per state key change, in the trace's order (which is `seq` order per session).
    Built from columns (`Trace.changes()`, or the changes among `records`) with no Python loop
    per row but the masking of values that are not numbers."""
    import numpy
    pd = _pd()
    cols = records if isinstance(records, ChangeColumns) else ChangeColumns(
        r for r in records if type(r) is StateChange)
    pick: Any = slice(None)
    if session_id is not None:
        sessions = cols.session_id
        code = sessions.values.index(session_id) if session_id in sessions.values else -1
        pick = numpy.array(sessions.codes, dtype=numpy.int32) == code
    keys = cols.key.array()[pick]

    def objects(values: list[Any]) -> Any:
        return cols.objects(values)[pick]

    def shown(values: list[Any]) -> Any:
        column = objects(values)
        masked = _shown_column(keys, column, reveal, cols.key.values, cols.only_plain)
        return _objects(column if masked is column else _as_objects(masked))
    frame = pd.DataFrame({
        "session_id": _objects(cols.session_id.array()[pick]),
        "invocation_id": _objects(cols.invocation_id.array()[pick]),
        "event_id": _objects(objects(cols.event_id)),
        "seq": numpy.array(cols.seq, dtype="int64")[pick],
        "timestamp": _seconds_to_utc(numpy.array(cols.time, dtype="float64")[pick]),
        "author": _objects(cols.author.array()[pick]),
        "source": _objects(cols.source.array()[pick]),
        "key": _objects(keys),
        "scope": _objects(cols.scope.array()[pick]),
        "old": shown(cols.old),
        "new": shown(cols.new),
        "persisted": numpy.array(cols.persisted, dtype="bool")[pick],
    }, columns=HISTORY_COLUMNS, copy=False)
    return frame


def _as_objects(values: Sequence[Any]) -> Any:
    import numpy
    out = numpy.empty(len(values), dtype=object)
    out[:] = values
    return out


def timeline(records: Sequence[Record] | tuple[ChangeColumns, list[tuple[int, Any]]],
             session_id: str | None = None, reveal: bool = False) -> Any:
    """Wide: one row per state-changing event (and one for the starting state), one column per
    key holding its value after that event. `records`, or (columns, invocation ends each with
    how many changes precede it) from `Trace.changes_and("invocation_end")`.

    Built per (session, key) with numpy searches, not per row: a row is a run of consecutive
    changes of one (session, event, invocation, starting state); a key's value in a row is
    the last written by the row's last change in its session; an invocation's end writes None
    to the session's `temp:` keys written before it."""
    import numpy
    pd = _pd()
    if isinstance(records, tuple):
        cols, ends = records
    else:
        cols, ends = ChangeColumns(), []
        for r in records:
            if type(r) is StateChange:
                cols.add(r)
            elif isinstance(r, InvocationEnd):
                ends.append((len(cols), r))
    rows = numpy.arange(len(cols))                         # the changes shown, by trace index
    session_codes = numpy.array(cols.session_id.codes, dtype=numpy.int64)
    if session_id is not None:
        code = cols.session_id.values.index(session_id) if session_id in cols.session_id.values else -1
        rows = rows[session_codes == code]
    session_codes, key_codes = session_codes[rows], numpy.array(cols.key.codes, dtype=numpy.int64)[rows]
    sessions, keys = cols.session_id.array()[rows], cols.key.array()[rows]
    events, invocations = cols.objects(cols.event_id)[rows], cols.invocation_id.array()[rows]
    initial = cols.source.array()[rows] == "initial"
    values = cols.objects(cols.new)[rows]
    masked = _shown_column(keys, values, reveal, cols.key.values, cols.only_plain)
    if masked is not values:
        values = _as_objects(masked)
    n = len(rows)
    starts = numpy.ones(n, dtype=bool)   # a new row where (session, event, invocation, initial) changes
    if n > 1:
        starts[1:] = ((session_codes[1:] != session_codes[:-1]) | (events[1:] != events[:-1])
                      | (invocations[1:] != invocations[:-1]) | (initial[1:] != initial[:-1]))
    group = numpy.cumsum(starts) - 1                       # each change's output row
    last = numpy.flatnonzero(numpy.append(starts[1:], True)) if n else rows
    key_order = list(dict.fromkeys(keys.tolist()))         # columns: keys as first written
    out = {k: numpy.full(len(last), None, dtype=object) for k in key_order}
    row_session = session_codes[last]
    pair = session_codes * (len(cols.key.values) + 1) + key_codes
    order = numpy.argsort(pair, kind="stable")             # by (session, key), then trace order
    bounds = numpy.flatnonzero(numpy.diff(pair[order])) + 1
    for mine in numpy.split(order, bounds) if n else ():
        sid, key = sessions[mine[0]], keys[mine[0]]
        at, vals = group[mine], values[mine]
        if ends and key.startswith("temp:"):
            at, vals = _with_resets(at, vals, mine, rows, session_codes, group, ends, sid)
        its_rows = numpy.flatnonzero(row_session == session_codes[mine[0]])
        latest = numpy.searchsorted(at, its_rows, side="right") - 1
        seen = latest >= 0
        out[key][its_rows[seen]] = vals[latest[seen]]
    data = {"session_id": _objects(sessions[last]), "invocation_id": _objects(invocations[last]),
            "event_id": _objects(events[last]),
            "seq": numpy.array(cols.seq, dtype="int64")[rows][last],
            **{k: _objects(v) for k, v in out.items()}}
    frame = pd.DataFrame(data, columns=["session_id", "invocation_id", "event_id", "seq", *key_order],
                         copy=False)
    frame["seq"] = frame["seq"].astype("int64")
    return frame


def _with_resets(at: Any, vals: Any, mine: Any, rows: Any, session_codes: Any, group: Any,
                 ends: list[tuple[int, Any]], session_id: str) -> tuple[Any, Any]:
    """A `temp:` key's writes (output rows `at`, values `vals`, shown changes `mine`) with a
    None written by each end of an invocation of its session after its first write."""
    import numpy
    first = rows[mine[0]]
    same = numpy.flatnonzero(session_codes == session_codes[mine[0]])   # shown changes, session
    # each end resets from the session's first change after it (none after it: no row sees it)
    nxt = numpy.searchsorted(rows[same], [c for c, e in ends if e.session_id == session_id
                                          and c > first])
    nxt = same[nxt[nxt < len(same)]]
    if not len(nxt):
        return at, vals
    order = numpy.argsort(numpy.concatenate([mine * 2 + 1, nxt * 2]), kind="stable")
    return (numpy.concatenate([at, group[nxt]])[order],
            numpy.concatenate([vals, numpy.full(len(nxt), None, dtype=object)])[order])


def events(records: Sequence[Record], session_id: str | None = None, reveal: bool = False) -> Any:
    import numpy
    pd = _pd()
    evs = _select(records, "event", session_id)
    n = len(evs)
    columns: dict[str, list[Any]] = {name: [None] * n for name in (
        "session_id", "invocation_id", "event_id", "seq", "timestamp", "author", "kind", "text",
        "state_delta", "artifact_delta", "function_calls", "function_responses",
        "transfer_to_agent", "escalate", "error", "branch", "node", "output")}
    (sessions, invocations, event_ids, seqs, times, authors, kinds, texts, deltas, artifact_deltas,
     calls, responses, transfers, escalates, errors, branches, nodes, outputs) = columns.values()
    counters: dict[str, int] = {}
    shown: Callable[[Any], Any] = _as_is if reveal else _masked
    # One pass over the events, every column at once (was one pass per column).
    for i, e in enumerate(evs):
        sid = e.session_id
        seq = counters.get(sid, 0)
        counters[sid] = seq + 1
        sessions[i], invocations[i], event_ids[i], seqs[i], times[i] = \
            sid, e.invocation_id, e.event_id, seq, e.time
        authors[i], kinds[i], texts[i] = e.author, e.event_kind, shown(e.text)
        deltas[i], artifact_deltas[i] = shown(e.state_delta), e.artifact_delta
        calls[i], responses[i] = shown(e.function_calls), shown(e.function_responses)
        transfers[i], escalates[i], errors[i] = e.transfer_to_agent, e.escalate, e.error
        branches[i], nodes[i], outputs[i] = e.branch, e.node, shown(e.output)
    data = {name: _objects(_as_objects(values)) for name, values in columns.items()}
    data["seq"] = numpy.array(seqs, dtype="int64")
    data["timestamp"] = _seconds_to_utc(numpy.array(times, dtype="float64"))
    data["escalate"] = numpy.array(escalates, dtype="bool")
    for name in ("session_id", "invocation_id", "event_id", "author", "kind", "text",
                 "transfer_to_agent"):   # as before: pandas' own inference for plain columns
        data[name] = columns[name]
    return pd.DataFrame(data, columns=EVENT_COLUMNS, copy=False)


def _as_is(value: Any) -> Any:
    return value


def _masked(value: Any) -> Any:
    """mask_value, with empty text and containers (most of an event's fields) taken as they
    are without the call (a new empty container, as mask_value would give)."""
    if not value and value is not None:
        kind = type(value)
        if kind is str:
            return value
        if kind is dict:
            return {}
        if kind is list:
            return []
    return mask_value(value)


def artifacts(records: Sequence[Record], session_id: str | None = None, reveal: bool = False) -> Any:
    pd = _pd()
    arts = _select(records, "artifact", session_id)
    return pd.DataFrame({
        "session_id": [a.session_id for a in arts],
        "invocation_id": [a.invocation_id for a in arts],
        "event_id": [a.event_id for a in arts],
        "timestamp": _times([a.time for a in arts]),
        "filename": [a.filename for a in arts],
        "version": pd.array([a.version for a in arts], dtype="int64"),
        "mime_type": [a.mime_type for a in arts],
        "size_bytes": pd.array([a.size_bytes for a in arts], dtype="int64"),
        "source": [a.source for a in arts],
    }, columns=ARTIFACT_COLUMNS)


def invocations(records: Sequence[Record], session_id: str | None = None, reveal: bool = False) -> Any:
    pd = _pd()
    table: dict[str, dict[str, Any]] = {}
    for r in records:
        if session_id is not None and r.session_id != session_id:
            continue
        inv = getattr(r, "invocation_id", None)
        if isinstance(r, InvocationStart) and inv in table:   # resumed (e.g. after a credential)
            table[inv].update(status="running", ended=None, error=None)
        elif isinstance(r, InvocationStart):
            table[r.invocation_id] = {"session_id": r.session_id, "invocation_id": inv, "agent": r.agent,
                          "user_text": r.user_text if reveal else mask_value(r.user_text),
                          "started": r.time, "ended": None, "n_events": 0,
                          "n_state_changes": 0, "n_artifacts": 0, "status": "running",
                          "error": None, "parent_invocation_id": r.parent_invocation_id,
                          "parent_call_id": r.parent_call_id}
        elif inv in table:
            row = table[inv]
            if isinstance(r, InvocationEnd):
                row.update(ended=r.time, status=r.status, error=r.error)
            elif r.kind == "event":
                row["n_events"] += 1
            elif r.kind == "state_change":
                row["n_state_changes"] += 1
            elif r.kind == "artifact":
                row["n_artifacts"] += 1
    rows = list(table.values())
    frame = pd.DataFrame(rows, columns=INVOCATION_COLUMNS)
    started = _times([r["started"] for r in rows])
    ended = _times([float("nan") if r["ended"] is None else r["ended"] for r in rows])
    frame["started"], frame["ended"] = started, ended
    frame["duration_s"] = pd.array(
        [None if r["ended"] is None else r["ended"] - r["started"] for r in rows], dtype="Float64")
    for col in ("n_events", "n_state_changes", "n_artifacts"):
        frame[col] = frame[col].astype("int64")
    for col in ("error", "parent_invocation_id", "parent_call_id"):   # None, not NaN
        frame[col] = _objects([r[col] for r in rows])
    return frame


def compare(a_records: Sequence[Record], b_records: Sequence[Record], a_session: str | None = None,
            b_session: str | None = None, reveal: bool = False) -> Any:
    """One row per key whose final value differs between two traces' (or sessions') states."""
    pd = _pd()
    a, b = final_state(a_records, a_session), final_state(b_records, b_session)
    scopes = {c.key: c.scope for c in (*a_records, *b_records) if isinstance(c, StateChange)}
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, _MISSING), b.get(key, _MISSING)
        if va != vb:
            rows.append({"key": key, "scope": scopes[key],
                         "a": None if va is _MISSING else _shown(va, key, reveal),
                         "b": None if vb is _MISSING else _shown(vb, key, reveal)})
    return pd.DataFrame(rows, columns=["key", "scope", "a", "b"])


_MISSING = object()
