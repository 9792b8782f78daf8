"""Trace: order, per-session seq and listeners, from any thread."""
import logging
import threading

from agentnb.core.records import Event, StateChange
from agentnb.core.trace import Trace


def test_trace_keeps_order_and_seq_under_threads():
    trace = Trace()

    def writer(n):
        for i in range(500):
            trace.append(StateChange("s", None, None, 0.0, "", "t", f"k{n}", "session", None, i, True))
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    changes = trace.of("state_change")
    assert [c.seq for c in changes] == list(range(2000))
    for n in range(4):
        assert [c.new for c in changes if c.key == f"k{n}"] == list(range(500))


def test_listener_failure_never_reaches_the_appender():
    trace = Trace()
    trace.subscribe(lambda n: 1 / 0)
    trace.append(Event("s", "i", "e", 0.0, "a", "model", "hi"))
    assert len(trace) == 1 and trace.listener_errors == 1


def test_snapshot_from_any_start_keeps_the_appended_order():
    # State changes are kept as columns and the rest as objects: reading must interleave them
    # back exactly, from any start.
    import random

    from agentnb.core.records import Fact
    rng = random.Random(7)
    trace, expected = Trace(), []
    for i in range(300):
        pick = rng.random()
        if pick < 0.5:
            r = StateChange(f"s{i % 3}", f"i{i % 7}", None, float(i), "a", "tool:t", f"k{i % 5}",
                            "session", {"old": i}, [i], i % 2 == 0, None if i % 4 else "ToolContext")
            trace.append(r)
        elif pick < 0.8:
            r = Event("s", "i", f"e{i}", float(i), "a", "model", f"t{i}")
            trace.append(r)
        else:
            r = Fact("s", None, float(i), "f", {"i": i})
            trace.append(r)
        expected.append(r)
    assert len(trace) == len(expected)
    for start in range(0, len(expected) + 2):
        assert trace.snapshot(start) == expected[start:]
    assert trace.of("state_change", "s1") == [r for r in expected
                                              if r.kind == "state_change" and r.session_id == "s1"]
    assert trace.of("fact") == [r for r in expected if r.kind == "fact"]


def test_history_from_columns_matches_the_records():
    # history() is built from the trace's columns: every column equals the records', and
    # times equal pandas' own conversion of the same floats (frames rounds as pandas does).
    import random

    import pandas as pd

    from agentnb.core import frames
    rng = random.Random(3)
    trace = Trace()
    for i in range(500):
        trace.append(StateChange(f"s{i % 2}", f"i{i % 9}", f"e{i}", rng.uniform(0, 2e9), "a",
                                 "tool:t", f"k{i % 4}", "session", None, rng.choice([i, "x", {"v": i}]),
                                 i % 3 > 0, "ToolContext"))
    records = trace.snapshot()
    for session in (None, "s1"):
        df = frames.history(trace.changes(), session)
        rows = [r for r in records if session is None or r.session_id == session]
        assert df["new"].tolist() == [r.new for r in rows]
        assert df["seq"].tolist() == [r.seq for r in rows]
        assert df["persisted"].tolist() == [r.persisted for r in rows]
        assert (df["timestamp"] == pd.to_datetime([r.time for r in rows], unit="s", utc=True)).all()
        assert df.equals(frames.history(records, session))


def _timeline_by_rows(records, session_id=None):
    """The timeline's definition, one record at a time (what frames.timeline computes)."""
    from agentnb.core.mask import mask_value
    from agentnb.core.records import InvocationEnd
    rows, state, order = [], {}, {}
    for c in records:
        if session_id is not None and c.session_id != session_id:
            continue
        if isinstance(c, InvocationEnd):
            for key in [k for k in state.get(c.session_id, {}) if k.startswith("temp:")]:
                state[c.session_id][key] = None
            continue
        if not isinstance(c, StateChange):
            continue
        group = (c.session_id, c.event_id, c.invocation_id, c.source == "initial")
        state.setdefault(c.session_id, {})[c.key] = mask_value(c.new, c.key)
        order.setdefault(c.key, len(order))
        if rows and rows[-1][0] == group:
            rows[-1] = (group, c.seq, dict(state[c.session_id]))
        else:
            rows.append((group, c.seq, dict(state[c.session_id])))
    keys = sorted(order, key=order.__getitem__)
    return [[g[0], g[2], g[1], seq, *[v.get(k) for k in keys]] for g, seq, v in rows], keys


def test_timeline_from_columns_matches_its_definition():
    import random

    from agentnb.core import frames
    from agentnb.core.records import InvocationEnd
    rng = random.Random(11)
    for trial in range(20):
        trace = Trace()
        for i in range(rng.randint(0, 120)):
            if rng.random() < 0.1:
                trace.append(InvocationEnd(rng.choice("ab"), f"i{i}", 0.0, "ok"))
                continue
            key = rng.choice(["k", "temp:t", "temp:u", "user:x", "api_token"])
            trace.append(StateChange(rng.choice("ab"), rng.choice([None, "i1", "i2"]),
                                     rng.choice([None, "e1", "e2", "e3"]), float(i), "a",
                                     rng.choice(["initial", "tool:t"]), key, "session", None,
                                     rng.choice([None, i, "secret", {"v": i}]), True))
        records = trace.snapshot()
        for session in (None, "a"):
            expected, keys = _timeline_by_rows(records, session)
            got = frames.timeline(trace.changes_and("invocation_end"), session)
            assert list(got.columns) == ["session_id", "invocation_id", "event_id", "seq", *keys]
            assert got.values.tolist() == expected, (trial, session)
            assert frames.timeline(records, session).values.tolist() == expected


def test_a_producer_appends_what_it_kept_back_before_any_read_or_append_in_order():
    trace = Trace()
    kept = []
    told = []
    trace.subscribe(told.append)

    def produce():
        records, kept[:] = list(kept), []
        trace.extend(records)   # inside the trace's settle: appends, does not settle again
    trace.build_with(produce)
    kept.append(Event("s", "i", "e1", 0.0, "a", "model", "first"))
    trace.changed()
    assert told == [0]          # a listener hears of it before anything is built
    trace.append(Event("s", "i", "e2", 0.0, "a", "model", "second"))
    kept.append(StateChange("s", "i", None, 0.0, "", "t", "k", "session", None, 1, True))
    assert [getattr(r, "text", "change") for r in trace] == ["first", "second", "change"]
    assert not kept and len(trace) == 3 and [c.new for c in trace.of("state_change")] == [1]


def test_a_listener_whose_read_builds_records_is_told_again_after_it_returns_never_inside():
    """A form's listener reads the trace from its cursor: its read settles a producer, whose
    append must not call the listener again while the first call is still reading."""
    trace = Trace()
    kept = [Event("s", "i", "e1", 0.0, "a", "model", "built late")]
    trace.build_with(lambda: trace.extend([kept.pop()] if kept else []))
    cursor, depth, calls = [0], [0], []

    def reader(n):
        depth[0] += 1
        new = trace.snapshot(cursor[0])
        cursor[0] += len(new)
        calls.append((depth[0], [r.text for r in new]))
        depth[0] -= 1
    trace.subscribe(reader)
    trace.changed()
    assert calls == [(1, ["built late"]), (1, [])] and cursor[0] == len(trace) == 1


def test_a_backlog_tells_the_listeners_once_until_a_read_builds_what_it_kept():
    """A throttled view marks itself on the first keep and reads later; a listener that reads
    (a form, the room side) builds what was kept each time it is told, and is told again on
    the next keep. No keep is left unannounced, from any thread."""
    from agentnb.core.backlog import Backlog
    from agentnb.core.guard import Guard
    trace = Trace()
    guard = Guard(logging.getLogger("test"))
    backlog = Backlog(trace, guard)
    told = []
    trace.subscribe(told.append)

    def event(text):
        return [Event("s", "i", text, 0.0, "a", "model", text)]
    for n in range(3):
        backlog.keep("an event", event, f"e{n}")
    assert told == [0]                       # once for the three: nothing is built yet
    assert [r.text for r in trace] == ["e0", "e1", "e2"] and told == [0, 3]
    backlog.keep("an event", event, "e3")    # after the read, the next keep tells again
    assert told == [0, 3, 3]

    reader_saw = []
    reading = Trace()
    reader_backlog = Backlog(reading, guard)
    reading.subscribe(lambda n: reader_saw.append(len(reading.snapshot())))
    for n in range(3):
        reader_backlog.keep("an event", event, f"r{n}")
    assert reader_saw[-1] == 3 and len(reading) == 3

    threaded = Trace()
    threaded_backlog = Backlog(threaded, guard)
    heard = threading.Event()
    threaded.subscribe(lambda n: heard.set())

    def keeper(n):
        for i in range(200):
            threaded_backlog.keep("an event", event, f"t{n}-{i}")
    for _ in range(20):   # each round: read, then kept from four threads at once: told
        len(threaded)       # the read's own append tells: what counts is the keeps after it
        heard.clear()
        threads = [threading.Thread(target=keeper, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert heard.is_set()
    assert len(threaded) == 20 * 800
