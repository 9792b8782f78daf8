"""Trace: order, per-session seq and listeners, from any thread."""
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
