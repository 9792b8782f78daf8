"""Trace: order, per-session seq and listeners, from any thread."""
import threading

from agentnb.core.records import Event, StateChange
from agentnb.core.trace import Lazy, Trace


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
    # back exactly, from any start, with lazy records built in place.
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
            r = Fact("s", None, float(i), "lazy", {"i": i})
            trace.append(Lazy(lambda i: Fact("s", None, float(i), "lazy", {"i": i}), (i,)))
        expected.append(r)
    assert len(trace) == len(expected)
    for start in range(0, len(expected) + 2):
        assert trace.snapshot(start) == expected[start:]
    assert trace.of("state_change", "s1") == [r for r in expected
                                              if r.kind == "state_change" and r.session_id == "s1"]
    assert trace.of("fact") == [r for r in expected if r.kind == "fact"]


def test_a_lazy_record_that_cannot_be_built_is_named_not_raised():
    trace = Trace()
    trace.append(Lazy(lambda: 1 / 0, ()))
    (fact,) = trace.snapshot()
    assert fact.topic == "unrecorded" and "ZeroDivisionError" in fact.data["error"]


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
